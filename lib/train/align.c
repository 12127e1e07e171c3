/* align.c - the domain-similarity term WDGRL and DSN share (align.h). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "train/align.h"
#include "train/dist.h"

int ls_align_setup(struct ls_trainer *t, struct ls_align *a)
{
	const struct ls_train_opts *o = t->o;
	const struct ls_align_opts *ao = &o->align;
	struct ls_rng g;
	int D = o->depth, th = t->d->s[0].h, tw = t->d->s[0].w;
	int h = th >> (D - 1), w = tw >> (D - 1), c = o->width << (D - 1), d = 0;
	if (ls_unet_act_init(&a->act_t, &t->net, o->batch, th, tw) < 0)
		return -1;
	a->npts = o->batch * (ao->tile_level ? 1 : h * w);
	a->levels = ao->levels ? ao->levels : 1u << (D - 1);
	for (int l = 0; l < D; l++)
		if (a->levels >> l & 1) {
			d += o->width << l;
			if (l < D - 1) {
				size_t sz = (size_t)o->batch * (o->width << l) * (th >> l) * (tw >> l);
				a->gls[l] = ls_alloc_real(sz);
				a->glt[l] = ls_alloc_real(sz);
			}
		}
	ls_rng_seed(&g, (uint64_t)o->seed * 31 + 7);
	ls_critic_init(&a->critic, &a->cparams, d, ao->critic_hidden, a->npts, &g);
	ls_optim_defaults(&a->copt, LS_ADAM, ao->critic_lr);
	a->hs = ls_alloc_real((size_t)a->npts * d);
	a->ht = ls_alloc_real((size_t)a->npts * d);
	a->gfs = ls_alloc_real((size_t)o->batch * c * h * w);
	a->gft = ls_alloc_real((size_t)o->batch * c * h * w);
	a->alpha = ls_alloc_real(a->npts);
	return 0;
}

/* The critic's points of one batch's forward: the outputs of the encoder
 * levels it sees, each pooled onto the bottleneck's cells (or the tile)
 * and concatenated; with g, the point gradients back onto the levels'
 * buffers instead. Returns the points. */
static int level_points(const struct ls_trainer *t, struct ls_align *a, struct ls_unet_act *act, real *pts,
			const real *g, real **gl, real *gb)
{
	int D = t->o->depth, off = 0, m = 0, d = a->critic.d, pixel = !t->o->align.tile_level;
	for (int l = 0; l < D; l++) {
		if (!(a->levels >> l & 1))
			continue;
		const struct ls_t4 *f = &act->ea[l][1];
		int s = 1 << (D - 1 - l);
		if (g)
			ls_feature_points_backward(g, f, s, d, off, l == D - 1 ? gb : gl[l], pixel);
		else
			m = ls_feature_points(f, s, pts, d, off, pixel);
		off += f->c;
	}
	return m;
}

/* Trains the critic (n steps on -W + gamma GP) or the domain classifier
 * (one step), then writes the encoder's gradient of lambda * (W, or the
 * reversed classifier loss) onto the levels' gradient buffers. */
static void similarity(struct ls_trainer *t, struct ls_align *a, const struct ls_t4 *fs, const struct ls_t4 *ft)
{
	const struct ls_align_opts *ao = &t->o->align;
	int m = level_points(t, a, &t->act, a->hs, NULL, NULL, NULL);
	level_points(t, a, &a->act_t, a->ht, NULL, NULL, NULL);
	if (ao->dann) {
		ls_params_zero_grad(&a->cparams);
		size_t nd = (size_t)m * a->critic.d;
		real *ds = a->critic.pts, *dt = a->critic.pts + nd;	/* 3m points of room */
		a->last_dom = ls_tr_mean(ls_domain_clf_grad(&a->critic, a->hs, a->ht, m, ds, dt));
		ls_tr_average(t, &a->cparams);
		ls_optim_step(&a->copt, &a->cparams);
		for (size_t i = 0; i < nd; i++) {	/* gradient reversal */
			a->hs[i] = (real)-ao->lambda * ds[i];
			a->ht[i] = (real)-ao->lambda * dt[i];
		}
	} else {
		for (int k = 0; k < ao->n_critic; k++) {
			for (int i = 0; i < m; i++)
				a->alpha[i] = (real)ls_rng_uniform(&t->aug);
			ls_params_zero_grad(&a->cparams);
			a->last_w = ls_tr_mean(
				ls_critic_grad(&a->critic, a->hs, NULL, a->ht, m, a->alpha, ao->gamma, &a->last_gp));
			a->last_gp = ls_tr_mean(a->last_gp);
			ls_tr_average(t, &a->cparams);
			ls_optim_step(&a->copt, &a->cparams);
		}
		ls_critic_w_input_grad(&a->critic, a->hs, NULL, a->ht, m, ao->lambda, a->hs, a->ht);
	}
	level_points(t, a, &t->act, NULL, a->hs, a->gls, a->gfs);
	level_points(t, a, &a->act_t, NULL, a->ht, a->glt, a->gft);
	if (!(a->levels >> (t->o->depth - 1) & 1)) {	/* the bottleneck unseen: DSN's terms alone there */
		memset(a->gfs, 0, ls_t4_len(fs) * sizeof(real));
		memset(a->gft, 0, ls_t4_len(ft) * sizeof(real));
	}
}

double ls_align_forward(struct ls_trainer *t, struct ls_align *a, const int *idx, int n, struct ls_t4 *xs,
			struct ls_t4 *xt, int *dom_s, int *dom_t, struct ls_t4 **fs, struct ls_t4 **ft)
{
	*xs = ls_tr_source_batch(t, idx, n, dom_s);
	*xt = ls_tr_target_batch(t, n, a->act_t.in, &t->o->aug, dom_t, NULL);
	ls_unet_forward(&t->net, &t->act, xs, *dom_s, 1);
	ls_unet_encode(&t->net, &a->act_t, xt, *dom_t, 1);
	*fs = ls_unet_bottleneck(&t->act, &t->net);
	*ft = ls_unet_bottleneck(&a->act_t, &t->net);
	similarity(t, a, *fs, *ft);
	ls_params_zero_grad(&t->net.params);
	return ls_tr_source_loss(t, (*fs)->n);
}

void ls_align_level_grads(const struct ls_trainer *t, const struct ls_align *a, real *const *gl, real *g,
			  const real *df[LS_MAX_DEPTH])
{
	int D = t->o->depth;
	for (int l = 0; l < LS_MAX_DEPTH; l++)
		df[l] = l < D - 1 && a->levels >> l & 1 ? gl[l] : NULL;
	df[D - 1] = g;
}

int ls_align_state(struct ls_align *a, struct ls_method_state *st)
{
	st[0] = (struct ls_method_state){ "critic", &a->cparams, &a->copt };
	if (!a->dsn.params.n)
		return 1;
	st[1] = (struct ls_method_state){ "dsn", &a->dsn.params, &a->dopt };
	return 2;
}

void ls_align_free(struct ls_align *a)
{
	ls_unet_act_free(&a->act_t);
	ls_critic_free(&a->critic);
	ls_params_free(&a->cparams);
	free(a->hs);
	free(a->ht);
	free(a->gfs);
	free(a->gft);
	free(a->alpha);
	for (int l = 0; l < LS_MAX_DEPTH; l++) {
		free(a->gls[l]);
		free(a->glt[l]);
	}
	if (a->dsn.params.n)
		ls_dsn_free(&a->dsn);
	free(a->hc);
	free(a->hp);
	free(a->dhc);
	free(a->dhp);
	free(a->dpriv);
	free(a->tmp);
	free(a);
}
