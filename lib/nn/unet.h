/* unet.h - UNet-S (docs/methods.md) with one input stem per domain.
 *
 * Widths W, 2W, 4W, ... over `depth` levels; each level two 3x3 conv + BN +
 * ReLU; 2x2 max-pool down; bilinear x2 up, concatenation [up, skip], two
 * conv + BN + ReLU; a 1x1 convolution to class logits. The first
 * convolution is private to each domain (its bands -> W); everything after
 * it is shared. BN keeps one set of running statistics, or one per domain.
 *
 * struct ls_unet_act holds every activation and gradient buffer for one
 * batch shape, allocated once; forward and backward allocate nothing. */
#ifndef LS_UNET_H
#define LS_UNET_H

#include <stdint.h>

#include "nn/conv.h"
#include "nn/layers.h"

#define LS_MAX_DEPTH 6
#define LS_MAX_DOMAINS 8

struct ls_unet_spec {
	int width, depth, classes;
	int bn_per_domain;
	int ndom;
	char dom[LS_MAX_DOMAINS][32];
	int bands[LS_MAX_DOMAINS];
};

/* "unet width=16 depth=4 classes=2 bn_per_domain=0 stem=source:3 stem=target:1" */
int ls_unet_spec_parse(struct ls_unet_spec *s, const char *text);
void ls_unet_spec_format(const struct ls_unet_spec *s, char *buf, size_t n);
int ls_unet_domain(const struct ls_unet_spec *s, const char *name);	/* index or -1 */

struct ls_cbr {
	struct ls_conv conv;
	struct ls_bn bn;
};

struct ls_unet {
	struct ls_unet_spec spec;
	struct ls_params params;
	struct ls_conv stem[LS_MAX_DOMAINS];
	struct ls_cbr enc[LS_MAX_DEPTH][2];	/* enc[0][0].conv unused: the stems */
	struct ls_cbr dec[LS_MAX_DEPTH][2];	/* levels 0 .. depth-2 */
	struct ls_conv head;
};

struct ls_unet_act {
	int n, h, w;
	real *arena;
	struct ls_t4 x;			/* the input of the last forward */
	real *in;			/* a batch input buffer for callers: n x max bands x h x w */
	struct ls_t4 ez[LS_MAX_DEPTH][2], ea[LS_MAX_DEPTH][2], pool[LS_MAX_DEPTH];
	struct ls_t4 u[LS_MAX_DEPTH], dz[LS_MAX_DEPTH][2], da[LS_MAX_DEPTH][2];
	struct ls_t4 logits, dlogits;	/* dlogits: where the caller puts the loss gradient */
	real *g[3];			/* gradient scratch, each the largest activation */
	struct ls_t4 gskip[LS_MAX_DEPTH];
	real *ws;			/* im2col workspace, one slice per thread */
	size_t bytes;
};

int ls_unet_init(struct ls_unet *m, const struct ls_unet_spec *s, uint64_t seed);
void ls_unet_free(struct ls_unet *m);
/* Activations for batches of n tiles of h x w (h, w divisible by 2^(depth-1)). */
int ls_unet_act_init(struct ls_unet_act *a, const struct ls_unet *m, int n, int h, int w);
/* The same for inference only (gradient buffers left unmapped). */
int ls_unet_act_init_infer(struct ls_unet_act *a, const struct ls_unet *m, int n, int h, int w);
void ls_unet_act_free(struct ls_unet_act *a);
/* The bottleneck features (output of the deepest level) of the last forward. */
struct ls_t4 *ls_unet_bottleneck(struct ls_unet_act *a, const struct ls_unet *m);

/* x: [n][bands of dom][h][w]. Logits end up in a->logits. */
void ls_unet_forward(struct ls_unet *m, struct ls_unet_act *a, const struct ls_t4 *x, int dom, int train);
/* The two halves of forward: encode fills a->ea[l][1] (the skips and, at
 * the deepest level, the bottleneck); decode runs from them to the logits. */
void ls_unet_encode(struct ls_unet *m, struct ls_unet_act *a, const struct ls_t4 *x, int dom, int train);
void ls_unet_decode(struct ls_unet *m, struct ls_unet_act *a, int dom, int train);
/* Back-propagate dlogits (normally a->dlogits) and an optional gradient on
 * the bottleneck features (dfeat, NULL = none); adds into the parameters' .g.
 * With dlogits NULL, only the encoder, from dfeat (after ls_unet_encode). */
void ls_unet_backward(struct ls_unet *m, struct ls_unet_act *a, const struct ls_t4 *dlogits,
		      const struct ls_t4 *dfeat, int dom);
/* The same with a gradient on any encoder level's output a->ea[l][1],
 * laid out as it (dfeat[l], NULL = none; dfeat[depth - 1] is the
 * bottleneck's): what a critic that also sees the skips sends back. */
void ls_unet_backward_levels(struct ls_unet *m, struct ls_unet_act *a, const struct ls_t4 *dlogits,
			     const real *const dfeat[LS_MAX_DEPTH], int dom);

#endif
