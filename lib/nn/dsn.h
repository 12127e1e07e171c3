/* dsn.h - domain separation networks (docs/methods.md) around UNet-S.
 *
 * The UNet's encoder is the shared encoder E_c and its bottleneck the shared
 * code; its decoder and head are the task head G. This module adds what DSN
 * needs beyond that, for training only (a model file keeps the UNet):
 *   - one private encoder E_p per domain, the bands of that domain in, a
 *     code of the bottleneck's shape out: conv3x3 to W channels, then one
 *     stride-2 conv3x3 per level doubling the channels, each conv followed
 *     by batch norm + ReLU;
 *   - a shared reconstruction decoder D: per level, bilinear x2 then
 *     conv3x3 + BN + ReLU halving the channels, then a per-domain 1x1 conv
 *     (with bias) to the domain's bands; x_hat = D(E_c(x) + E_p(x));
 *   - the losses: scale-invariant MSE for the reconstruction and the
 *     difference loss between shared and private codes.
 * All gradients are checked against finite differences in test_grad. */
#ifndef LS_DSN_H
#define LS_DSN_H

#include "nn/conv.h"
#include "nn/layers.h"
#include "nn/unet.h"

struct ls_dsn {
	int ndom, depth, width, bands[LS_MAX_DOMAINS];
	struct ls_params params;
	struct ls_conv pconv[LS_MAX_DOMAINS][LS_MAX_DEPTH];
	struct ls_bn pbn[LS_MAX_DOMAINS][LS_MAX_DEPTH];
	struct ls_conv rconv[LS_MAX_DEPTH];	/* rconv[l]: level l -> l-1, l >= 1 */
	struct ls_bn rbn[LS_MAX_DEPTH];
	struct ls_conv out[LS_MAX_DOMAINS];
	/* activations for one batch of n images of h x w */
	int n, h, w;
	struct ls_t4 pz[LS_MAX_DEPTH], pa[LS_MAX_DEPTH];	/* private: conv out, BN+ReLU out */
	struct ls_t4 code;				/* shared + private */
	struct ls_t4 up[LS_MAX_DEPTH], rz[LS_MAX_DEPTH], ra[LS_MAX_DEPTH], xhat;
	real *arena, *g0, *g1, *ws;
	size_t bytes;
};

int ls_dsn_init(struct ls_dsn *d, const struct ls_unet_spec *s, int n, int h, int w, uint64_t seed);
void ls_dsn_free(struct ls_dsn *d);

/* Private code of x (n images of domain dom) into d->pa[depth-1]. */
const struct ls_t4 *ls_dsn_private_forward(struct ls_dsn *d, const struct ls_t4 *x, int dom);

/* Reconstruction of x from shared + private code (after
 * ls_dsn_private_forward on the same x), its scale-invariant MSE L (mean
 * over images) and the backward pass of alpha L: the decoder's parameter
 * gradients, alpha dL/dcode added to dshared, and the private encoder's
 * backward on alpha dL/dcode + dpriv (dpriv, the gradient of other terms on
 * the private code, may be NULL). Parameter gradients are added to
 * d->params. Returns L (unweighted). */
double ls_dsn_recon(struct ls_dsn *d, const struct ls_t4 *x, const struct ls_t4 *shared, int dom, real alpha,
		    const real *dpriv, real *dshared);

/* Scale-invariant MSE of one image of k values: (1/k)|d|^2 - (1/k^2)(sum d)^2
 * with d = x - xhat; writes dL/dxhat * scale into g (when g). */
double ls_simse(const real *x, const real *xhat, size_t k, real scale, real *g);

/* Difference loss between shared codes hc[n][k] and private codes hp[n][k]:
 * columns centred over the n rows, rows L2-normalised, C = hpᵀ hc,
 * loss = mean(C^2). Writes dL/dhc and dL/dhp times scale (when not NULL).
 * Scratch of 4 n k + k k reals is allocated inside. */
double ls_diff_loss(const real *hc, const real *hp, int n, int k, real scale, real *dhc, real *dhp);

#endif
