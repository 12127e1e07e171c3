/* layers.h - batch normalisation, activations, pooling, upsampling,
 * concatenation, fully connected layers and the segmentation loss. */
#ifndef LS_LAYERS_H
#define LS_LAYERS_H

#include <stdint.h>

#include "nn/nn.h"

/* Batch normalisation with optional separate running statistics per domain. */
struct ls_bn {
	int c, ndom;
	struct ls_param *gamma, *beta;
	struct ls_param *rmean, *rvar;	/* [ndom][c], frozen (not trained) */
	real *mean, *invstd;		/* batch statistics saved for backward */
	double *sums;			/* [2c] scratch of forward and backward (no allocation in a step) */
	real momentum, eps;
};

/* Sums of batch statistics across the processes of a data-parallel run
 * (synchronised batch norm): in-place sums of n doubles over every rank.
 * NULL (the default) in one process; the trainer sets it. */
extern void (*ls_bn_reduce)(double *v, size_t n);

void ls_bn_init(struct ls_bn *b, struct ls_params *ps, const char *name, int c, int ndom);
void ls_bn_free(struct ls_bn *b);
/* train: batch statistics (and update running statistics of domain dom).
 * relu: apply ReLU to the output in the same pass. */
/* Inference's batch norm as y = x * scale[c] + shift[c] (the running
 * statistics of domain dom, 0 where it has none). */
void ls_bn_affine(const struct ls_bn *b, int dom, real *scale, real *shift);
void ls_bn_forward(struct ls_bn *b, const struct ls_t4 *x, struct ls_t4 *y, int train, int dom, int relu);
/* y: non-NULL when the forward output went through ReLU: dy is then masked
 * where x * gamma * invstd + (beta - mean * gamma * invstd) was not above
 * zero, recomputed from x (y itself is not read). */
void ls_bn_backward(struct ls_bn *b, const struct ls_t4 *x, const struct ls_t4 *y, const struct ls_t4 *dy,
		    struct ls_t4 *dx);

/* ReLU (slope 0) or leaky ReLU, in place; backward masks dy by y > 0. */
void ls_relu_forward(struct ls_t4 *x, real slope);
void ls_relu_backward(const struct ls_t4 *y, struct ls_t4 *dy, real slope);

/* 2x2 max-pool, stride 2 (odd edges dropped). */
void ls_maxpool_forward(const struct ls_t4 *x, struct ls_t4 *y);
void ls_maxpool_backward(const struct ls_t4 *x, const struct ls_t4 *y, const struct ls_t4 *dy, struct ls_t4 *dx);

/* Bilinear x2 upsampling, align_corners = false (as PyTorch's default).
 * The output may be a channel slice of a wider tensor: out_c channels
 * total, written at channel offset c0 (so upsampling writes straight into a
 * concatenation buffer). */
void ls_upsample_forward(const struct ls_t4 *x, real *y, int out_c, int c0);
void ls_upsample_backward(const real *dy, int out_c, int c0, struct ls_t4 *dx);

/* Copy x into channels [c0, c0 + x.c) of y (out_c channels), and back. */
void ls_concat_put(const struct ls_t4 *x, real *y, int out_c, int c0);
void ls_concat_get_add(const real *y, int out_c, int c0, struct ls_t4 *x);

/* Fully connected: y[n][out] = x[n][in] . Wᵀ + b. */
struct ls_linear {
	int in, out;
	struct ls_param *w, *b;
};

void ls_linear_init(struct ls_linear *l, struct ls_params *ps, const char *name, int in, int out, struct ls_rng *rng);
void ls_linear_forward(const struct ls_linear *l, const real *x, real *y, int n);
/* dx may be NULL. */
void ls_linear_backward(struct ls_linear *l, const real *x, const real *dy, real *dx, int n);

/* Softmax cross-entropy over [n][k][h][w] logits; labels [n][h][w], 255 =
 * ignored; class weights (NULL = 1). Returns the weighted mean loss over
 * counted pixels and writes dlogits (NULL to skip). *counted gets the
 * number of pixels that counted. */
double ls_softmax_xent(const struct ls_t4 *logits, const uint8_t *labels, const real *cw, struct ls_t4 *dlogits,
		       size_t *counted);
/* The same with a weight per pixel pw [n][h][w] on each pixel's term (the
 * confidence of a pseudo-label); the mean is still over the class weights
 * of the counted pixels, so weights below 1 lower the loss. */
double ls_softmax_xent_pw(const struct ls_t4 *logits, const uint8_t *labels, const real *cw, const real *pw,
			  struct ls_t4 *dlogits, size_t *counted);
/* The same for partial labels: lcls[n] (NULL: none) lists, as bits, the
 * classes image n's labels speak for (0: every class); its 0 pixels then
 * mean "none of these": the loss pushes down their probability only, and
 * leaves the classes the labels do not speak for free (the marginal
 * cross-entropy -log sum of the probabilities of background and those
 * classes). A labelled class is never taken for background elsewhere. */
double ls_softmax_xent_partial(const struct ls_t4 *logits, const uint8_t *labels, const uint64_t *lcls, const real *cw,
			       const real *pw, struct ls_t4 *dlogits, size_t *counted);
/* Soft Dice loss of the foreground classes (V-Net's, smoothed by 1):
 * 1 - mean over c = 1..k-1 of (2 I_c + 1) / (P_c + T_c + 1), where over the
 * pixels that count for class c, I_c sums p_c t_c, P_c sums p_c and T_c
 * sums t_c (t_c = 1 where the label is c). A pixel counts unless its label
 * is 255 (or k and above), or it is a 0 of partial labels (lcls as in
 * ls_softmax_xent_partial) that do not speak for c. In two steps, so that
 * a data-parallel run can sum the counts of every rank in between:
 * ls_dice_sums writes I, P, T of class c at s[3(c-1)], s[3(c-1)+1],
 * s[3(c-1)+2]; ls_dice_loss is the loss of those sums; ls_dice_grad adds w
 * times the loss's gradient with respect to this batch's logits to dl. */
void ls_dice_sums(const struct ls_t4 *logits, const uint8_t *labels, const uint64_t *lcls, double *s);
double ls_dice_loss(const double *s, int k);
void ls_dice_grad(const struct ls_t4 *logits, const uint8_t *labels, const uint64_t *lcls, const double *s, double w,
		  struct ls_t4 *dl);
/* Per-pixel class probabilities (softmax over channels), in place allowed. */
void ls_softmax(const struct ls_t4 *logits, struct ls_t4 *probs);

#endif
