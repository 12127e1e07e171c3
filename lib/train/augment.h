/* augment.h - what self-training and Fourier domain adaptation do to
 * tiles and labels: pure functions on one tile ([c][h][w], x fastest) or a
 * batch, each unit-tested (tests/unit/test_augment.c).
 *
 * Pseudo-labels, ClassMix, strong augmentation and the teacher's moving
 * average follow DACS (Tranheden et al. 2021) and CBST (Zou et al. 2018);
 * the amplitude swap follows FDA (Yang and Soatto 2020). docs/methods.md
 * says where they differ. */
#ifndef LS_AUGMENT_H
#define LS_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/rng.h"
#include "nn/nn.h"

/* FDA: the low-frequency amplitude of x (c bands of h x w) replaced by
 * that of tgt, the phase kept: frequencies |fy| < b and 0 <= fx < b of the
 * half spectrum, b = floor(beta min(h, w)), a window symmetric about 0 so
 * that the result is real and its spectrum inside the window holds tgt's
 * amplitude exactly. beta = 0 (b = 0) leaves x untouched. Transforms by
 * FFTW, planned once per tile size: call from one thread at a time. */
void ls_fda(real *x, const float *tgt, int c, int h, int w, double beta);
/* The amplitude |X(fy, fx)| of band 0 of x at (fy mod h, fx), for tests. */
double ls_fda_amplitude(const real *x, int h, int w, int fy, int fx);

/* Pseudo-labels from class probabilities prob [n][k][hw]: y = the most
 * probable class where it is confident, else 255 (not trained on). With
 * share > 0 (class-balanced, CBST), confident = among the pixels whose most
 * probable class is c, the ceil(share * count) most probable (ties at the
 * cut all kept); else confident = probability >= thr. Pixels with valid[i]
 * == 0 (NULL: all valid) are 255 and not counted. Returns the share of
 * valid pixels that got a pseudo-label (DACS's weight). */
double ls_pseudo_labels(const real *prob, int n, int k, size_t hw, const uint8_t *valid, double thr,
			double share, uint8_t *y);

/* ClassMix: pick[c] = 1 for ceil(m / 2) of the m classes (< k) present in
 * the labels ys [hw], drawn at random; returns how many were picked. */
int ls_classmix_pick(const uint8_t *ys, size_t hw, int k, struct ls_rng *rng, uint8_t pick[256]);
/* Where pick[ys[i]], the source pixel replaces the target pixel in every
 * band, its label the target's label and its weight 1 in w (w NULL: no
 * weights); elsewhere the target is left as it is. Returns the pixels moved. */
size_t ls_classmix(const real *xs, const uint8_t *ys, int c, size_t hw, const uint8_t pick[256], real *xt,
		   uint8_t *yt, real *w);

/* Strong augmentation of one tile: each band's gain and offset jittered by
 * up to +-jitter, then (with probability 1/2) a Gaussian blur of sigma
 * drawn in [0.15, blur] (blur <= 0: none). scratch holds h * w reals. */
void ls_strong_augment(real *x, int c, int h, int w, double jitter, double blur, struct ls_rng *rng, real *scratch);
/* A separable Gaussian blur of each band, edges mirrored. */
void ls_blur(real *x, int c, int h, int w, double sigma, real *scratch);

/* The teacher's exponential moving average: t = decay t + (1 - decay) s,
 * parameter by parameter (both sets from the same architecture). */
void ls_ema_update(struct ls_params *teacher, const struct ls_params *student, double decay);

#endif
