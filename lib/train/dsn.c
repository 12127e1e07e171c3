/* dsn.c - domain separation networks (docs/methods.md): L_task (source) +
 * alpha L_recon + beta L_difference (both domains) + lambda L_similarity on
 * the shared codes, the similarity a Wasserstein critic or DANN. */
#include <stdio.h>

#include "base/err.h"
#include "train/align.h"

static int setup(struct ls_trainer *t)
{
	const struct ls_train_opts *o = t->o;
	struct ls_align *a = ls_xcalloc(1, sizeof *a);
	t->ms = a;
	if (ls_align_setup(t, a) < 0)
		return -1;
	/* private encoders: one per stream domain for source batches, and one
	 * more for the target (even when it shares the source's stem) */
	struct ls_unet_spec spec = t->net.spec;
	int D = o->depth, h = t->d->s[0].h >> (D - 1), w = t->d->s[0].w >> (D - 1), c = o->width << (D - 1);
	size_t np = (size_t)o->batch * h * w * c;
	if (spec.ndom >= LS_MAX_DOMAINS)
		return ls_err("dsn: at most %d domains", LS_MAX_DOMAINS - 1);
	snprintf(spec.dom[spec.ndom], sizeof spec.dom[0], "target");
	spec.bands[spec.ndom++] = t->d->s[t->tgt[0]].c;
	if (ls_dsn_init(&a->dsn, &spec, o->batch, t->d->s[0].h, t->d->s[0].w, (uint64_t)o->seed) < 0)
		return -1;
	a->dopt = t->opt;
	a->dopt.t = 0;
	a->hc = ls_alloc_real(np);
	a->hp = ls_alloc_real(np);
	a->dhc = ls_alloc_real(np);
	a->dhp = ls_alloc_real(np);
	a->dpriv = ls_alloc_real(np);
	a->tmp = ls_alloc_real(np);
	ls_info("dsn: private encoders and reconstruction decoder: %zu parameters, %.0f MB of buffers",
		ls_params_count(&a->dsn.params), a->dsn.bytes / 1e6);
	return 0;
}

/* DSN's terms for one domain's batch x with shared code f: the private
 * code, beta L_difference and alpha L_recon; their gradient on the shared
 * code is added to g (which holds the similarity's), the private encoder's
 * and the decoder's to the DSN parameters. */
static void domain_terms(struct ls_trainer *t, struct ls_align *a, const struct ls_t4 *x, const struct ls_t4 *f,
			 int dom, real *g, double *recon, double *diff)
{
	const struct ls_align_opts *ao = &t->o->align;
	const struct ls_t4 *pc = ls_dsn_private_forward(&a->dsn, x, dom);
	int np = ls_feature_points(f, 1, a->hc, f->c, 0, 1);
	ls_feature_points(pc, 1, a->hp, pc->c, 0, 1);
	*diff = ls_diff_loss(a->hc, a->hp, np, f->c, (real)ao->beta, a->dhc, a->dhp);
	ls_feature_points_backward(a->dhc, f, 1, f->c, 0, a->tmp, 1);
	for (size_t i = 0; i < ls_t4_len(f); i++)
		g[i] += a->tmp[i];
	ls_feature_points_backward(a->dhp, pc, 1, pc->c, 0, a->dpriv, 1);
	*recon = ls_dsn_recon(&a->dsn, x, f, dom, (real)ao->alpha, a->dpriv, g);
}

static double step(struct ls_trainer *t, const int *idx, int n)
{
	struct ls_align *a = t->ms;
	struct ls_t4 xs, xt, *fs, *ft;
	int dom_s, dom_t;
	double rs, rt, ds, dt;
	const real *df[LS_MAX_DEPTH];
	ls_params_zero_grad(&a->dsn.params);
	double loss = ls_align_forward(t, a, idx, n, &xs, &xt, &dom_s, &dom_t, &fs, &ft);
	domain_terms(t, a, &xs, fs, dom_s, a->gfs, &rs, &ds);	/* private encoder of the source's domain */
	ls_align_level_grads(t, a, a->gls, a->gfs, df);
	ls_unet_backward_levels(&t->net, &t->act, &t->act.dlogits, df, dom_s);
	domain_terms(t, a, &xt, ft, a->dsn.ndom - 1, a->gft, &rt, &dt);	/* the target's own */
	ls_align_level_grads(t, a, a->glt, a->gft, df);
	ls_unet_backward_levels(&t->net, &a->act_t, NULL, df, dom_t);
	ls_tr_average(t, &t->net.params);
	ls_tr_average(t, &a->dsn.params);
	ls_optim_step(&t->opt, &t->net.params);
	ls_optim_step(&a->dopt, &a->dsn.params);
	loss = ls_tr_mean(loss);
	a->last_recon = ls_tr_mean((rs + rt) / 2);
	a->last_diff = ls_tr_mean((ds + dt) / 2);
	if (t->metrics) {
		if (t->o->align.dann)
			fprintf(t->metrics,
				"{\"step\":%ld,\"task_loss\":%.6g,\"recon\":%.6g,\"diff\":%.6g,\"domain_loss\":%.6g}\n",
				t->opt.t, loss, a->last_recon, a->last_diff, a->last_dom);
		else
			fprintf(t->metrics,
				"{\"step\":%ld,\"task_loss\":%.6g,\"recon\":%.6g,\"diff\":%.6g,\"w\":%.6g,\"gp\":%.6g}\n",
				t->opt.t, loss, a->last_recon, a->last_diff, a->last_w, a->last_gp);
	}
	return loss;
}

static void log_epoch(struct ls_trainer *t, char *buf, size_t n)
{
	struct ls_align *a = t->ms;
	int dann = t->o->align.dann;
	snprintf(buf, n, ", recon %.4f, diff %.4f, %s %.4f", a->last_recon, a->last_diff, dann ? "domain loss" : "W",
		 dann ? a->last_dom : a->last_w);
}

static int state(struct ls_trainer *t, struct ls_method_state *st)
{
	return ls_align_state(t->ms, st);
}

static void free_state(struct ls_trainer *t)
{
	ls_align_free(t->ms);
}

const struct ls_method ls_method_dsn = {
	.name = "dsn", .adapts = 1, .setup = setup, .step = step, .log = log_epoch, .state = state, .free = free_state,
};
