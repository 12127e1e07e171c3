/* critic.h - the Wasserstein critic of WDGRL (docs/methods.md).
 *
 * An MLP f_w: Linear(d, h) - ReLU - Linear(h, h) - ReLU - Linear(h, 1), no
 * sigmoid. For source points h_s and target points h_t (m of each):
 *   W  = mean f(h_s) - mean f(h_t)
 *   GP = mean over the 3m points {h_s, h_t, h_t + a (h_s - h_t)} of
 *        (||grad_h f(h)||_2 - 1)^2, the norm taken per point.
 * The penalty's parameter gradient uses the closed form of docs/methods.md:
 * one forward, one input-gradient pass, one tangent pass, all GEMMs, the
 * ReLU masks held constant. */
#ifndef LS_CRITIC_H
#define LS_CRITIC_H

#include "nn/layers.h"

struct ls_critic {
	int d, h, cap;			/* input size, hidden width, points the buffers hold */
	struct ls_linear l1, l2, l3;
	real *z1, *a1, *z2, *a2, *f;	/* forward buffers [cap][..] */
	real *u1, *u2, *g, *r, *s1, *s2, *t;	/* penalty buffers */
	real *pts;			/* the 3m penalty points */
};

void ls_critic_init(struct ls_critic *c, struct ls_params *ps, int d, int hidden, int cap, struct ls_rng *rng);
void ls_critic_free(struct ls_critic *c);
/* f for n points x[n][d] into c->f. */
void ls_critic_forward(struct ls_critic *c, const real *x, int n);
/* W estimate for m source and m target points (forward only). vs, when not
 * NULL, weighs the source points (mean 1 over the batch): W = mean_i vs_i
 * f(h_s,i) - mean f(h_t), the source distribution reweighted by class
 * (--importance-weighted, IWDAN); the penalty stays unweighted. */
double ls_critic_w(struct ls_critic *c, const real *hs, const real *vs, const real *ht, int m);
/* Critic step gradients: adds d(-W + gamma GP)/d(params) into the critic's
 * .g; returns W and *gp. alpha[m] in [0,1) mixes the interpolates. */
double ls_critic_grad(struct ls_critic *c, const real *hs, const real *vs, const real *ht, int m, const real *alpha,
		      double gamma, double *gp);
/* Backward of f at n points x for per-point gradients df[n]: adds the
 * parameter gradients, writes dx[n][d] (when dx). */
void ls_critic_backward(struct ls_critic *c, const real *x, int n, const real *df, real *dx);
/* The same MLP as a domain classifier (DANN): logit f, source label 1,
 * target 0, loss = mean over the 2m points of the logistic loss. Adds the
 * loss's parameter gradients and writes its input gradients into dhs, dht
 * (the encoder gets them reversed, times -gamma). Returns the loss. */
double ls_domain_clf_grad(struct ls_critic *c, const real *hs, const real *ht, int m, real *dhs, real *dht);
/* Input gradient of f at n points: out[n][d] = grad_h f(h_i), scaled by s. */
void ls_critic_input_grad(struct ls_critic *c, const real *x, int n, real s, real *out);
/* The encoder's gradient of s * W (ls_critic_w, weights vs or NULL) at the
 * m source and m target points: gs [m][d] and gt [m][d] (either may alias
 * its input). */
void ls_critic_w_input_grad(struct ls_critic *c, const real *hs, const real *vs, const real *ht, int m, double s,
			    real *gs, real *gt);


/* The critic's points from a feature map f [n][c][h][w] (--critic-level
 * pixel or tile): with pixel, one point per cell of s x s pixels (ordered
 * tile, cell row, cell column), else one per tile; each point holds d
 * values, and this map's c channels, the means over the cell (or tile),
 * go at offset off. Several maps so fill one point each (the encoder
 * levels --critic-features names). Returns the number of points. */
int ls_feature_points(const struct ls_t4 *f, int s, real *pts, int d, int off, int pixel);
/* Its adjoint: the point gradients g [points][d] (this map's at offset
 * off) onto out, f's layout, each spread evenly over its cell (written,
 * not added). */
void ls_feature_points_backward(const real *g, const struct ls_t4 *f, int s, int d, int off, real *out, int pixel);

#endif
