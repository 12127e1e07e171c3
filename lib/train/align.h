/* align.h - what WDGRL and DSN share: the target batch through the
 * encoder, and the domain-similarity term on the features of both
 * batches (a Wasserstein critic with gradient penalty, or a domain
 * classifier behind gradient reversal), whose gradients go back into the
 * encoder (docs/methods.md). Internal to train/. */
#ifndef LS_ALIGN_H
#define LS_ALIGN_H

#include "nn/critic.h"
#include "nn/dsn.h"
#include "train/method.h"

struct ls_align {
	struct ls_unet_act act_t;	/* the target batch's activations */
	struct ls_critic critic;	/* the critic, or DANN's domain classifier */
	struct ls_params cparams;
	struct ls_optim copt;
	real *hs, *ht, *alpha;		/* the critic's points, [npts][d] */
	real *gfs, *gft;		/* the encoder's gradients at the bottleneck */
	real *gls[LS_MAX_DEPTH], *glt[LS_MAX_DEPTH];	/* and at the shallower levels it sees */
	int npts;
	unsigned levels;		/* the encoder levels the critic sees (bit l) */
	double last_w, last_gp, last_dom;
	/* DSN */
	struct ls_dsn dsn;
	struct ls_optim dopt;
	real *hc, *hp, *dhc, *dhp, *dpriv, *tmp;
	double last_recon, last_diff;
};

int ls_align_setup(struct ls_trainer *t, struct ls_align *a);
/* Both batches through the network (the source whole, the target to its
 * bottleneck), the similarity term (which trains the critic or classifier
 * and leaves its encoder gradients in a->gfs, a->gft, a->gls, a->glt), the
 * network's gradients zeroed and the source task loss with its gradient in
 * t->act.dlogits. Returns the task loss. */
double ls_align_forward(struct ls_trainer *t, struct ls_align *a, const int *idx, int n, struct ls_t4 *xs,
			struct ls_t4 *xt, int *dom_s, int *dom_t, struct ls_t4 **fs, struct ls_t4 **ft);
/* The per-level gradients ls_unet_backward_levels takes: gl's on the levels
 * the critic sees, g at the bottleneck. */
void ls_align_level_grads(const struct ls_trainer *t, const struct ls_align *a, real *const *gl, real *g,
			  const real *df[LS_MAX_DEPTH]);
int ls_align_state(struct ls_align *a, struct ls_method_state *st);
void ls_align_free(struct ls_align *a);

#endif
