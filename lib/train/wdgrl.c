/* wdgrl.c - WDGRL (docs/methods.md): each step, n critic steps on
 * -W + gamma GP with the encoder frozen, then the encoder and head on the
 * source task loss + lambda W. */
#include <stdio.h>

#include "base/err.h"
#include "train/align.h"

static int setup(struct ls_trainer *t)
{
	struct ls_align *a = ls_xcalloc(1, sizeof *a);
	t->ms = a;
	return ls_align_setup(t, a);
}

static double step(struct ls_trainer *t, const int *idx, int n)
{
	struct ls_align *a = t->ms;
	struct ls_t4 xs, xt, *fs, *ft;
	int dom_s, dom_t;
	const real *df[LS_MAX_DEPTH];
	double loss = ls_align_forward(t, a, idx, n, &xs, &xt, &dom_s, &dom_t, &fs, &ft);
	ls_align_level_grads(t, a, a->gls, a->gfs, df);
	ls_unet_backward_levels(&t->net, &t->act, &t->act.dlogits, df, dom_s);
	ls_align_level_grads(t, a, a->glt, a->gft, df);
	ls_unet_backward_levels(&t->net, &a->act_t, NULL, df, dom_t);
	ls_tr_average(t, &t->net.params);
	ls_optim_step(&t->opt, &t->net.params);
	loss = ls_tr_mean(loss);
	if (t->metrics)
		fprintf(t->metrics, "{\"step\":%ld,\"task_loss\":%.6g,\"w\":%.6g,\"gp\":%.6g,\"lambda\":%.4g}\n", t->opt.t,
			loss, a->last_w, a->last_gp, t->o->align.lambda);
	return loss;
}

static void log_epoch(struct ls_trainer *t, char *buf, size_t n)
{
	struct ls_align *a = t->ms;
	snprintf(buf, n, ", W %.4f, GP %.4f", a->last_w, a->last_gp);
}

static int state(struct ls_trainer *t, struct ls_method_state *st)
{
	return ls_align_state(t->ms, st);
}

static void free_state(struct ls_trainer *t)
{
	ls_align_free(t->ms);
}

const struct ls_method ls_method_wdgrl = {
	.name = "wdgrl", .adapts = 1, .setup = setup, .step = step, .log = log_epoch, .state = state, .free = free_state,
};
