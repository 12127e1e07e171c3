/* batch.c - batches of a training step, shared by every method: source and
 * target tiles into the network's input buffers (each data-parallel rank
 * its share), gradients averaged over the ranks, and the supervised step. */
#include <string.h>

#include "base/err.h"
#include "train/augment.h"
#include "train/dist.h"
#include "train/method.h"

void ls_tr_share(int n, int *lo, int *hi)
{
	*lo = (int)((long)n * ls_dist.rank / ls_dist.size);
	*hi = (int)((long)n * (ls_dist.rank + 1) / ls_dist.size);
}

/* Tile i of a batch into x (its labels into y) when it is this rank's, else
 * into scratch: every rank draws the same augmentation numbers for every
 * tile, so the ranks together see exactly one process's batch. */
static void put(struct ls_trainer *t, const struct ls_sample *s, int i, int lo, int hi, real *x, uint8_t *y,
		const struct ls_augment *aug)
{
	size_t img = (size_t)s->c * s->h * s->w, hw = (size_t)s->h * s->w;
	int mine = i >= lo && i < hi;
	real *dx = mine ? x + (i - lo) * img : t->xskip;
	ls_batch_put(s, dx, y ? (mine ? y + (i - lo) * hw : t->yskip) : NULL, aug, &t->aug);
	if (y == t->y && mine)
		t->ylc[i - lo] = s->lcls;
	if (t->o->fda_beta > 0 && y) {	/* source tiles: a random target tile's low frequencies */
		const struct ls_sample *g = &t->d->s[t->tgt[ls_rng_u64(&t->aug) % (uint64_t)t->ntgt]];
		if (mine)
			ls_fda(dx, g->x, s->c, s->h, s->w, t->o->fda_beta);
	}
}

struct ls_t4 ls_tr_source_batch(struct ls_trainer *t, const int *idx, int n, int *dom)
{
	const struct ls_sample *s0 = &t->d->s[idx[0]];
	int lo, hi;
	ls_tr_share(n, &lo, &hi);
	for (int i = 0; i < n; i++)
		put(t, &t->d->s[idx[i]], i, lo, hi, t->act.in, t->y, &t->o->aug);
	*dom = s0->dom;
	return ls_t4_make(t->act.in, hi - lo, s0->c, s0->h, s0->w);
}

struct ls_t4 ls_tr_target_batch(struct ls_trainer *t, int n, real *x, const struct ls_augment *aug, int *dom,
				int *ti)
{
	int lo, hi, dt = t->d->s[t->tgt[0]].dom, first = t->tgt[0];
	ls_tr_share(n, &lo, &hi);
	for (int i = 0; i < n; i++) {
		int k = t->tgt[ls_rng_u64(&t->aug) % (uint64_t)t->ntgt];
		if (t->d->s[k].dom != dt)
			k = first;
		if (ti)
			ti[i] = k;
		put(t, &t->d->s[k], i, lo, hi, x, NULL, aug);
	}
	const struct ls_sample *s0 = &t->d->s[first];
	*dom = dt;
	return ls_t4_make(x, hi - lo, s0->c, s0->h, s0->w);
}

void ls_tr_average(struct ls_trainer *t, struct ls_params *ps)
{
	if (ls_dist.size == 1)
		return;
	size_t n = 0, k = 0;
	for (int i = 0; i < ps->n; i++)
		n += ps->p[i]->n;
	t->gbuf = ls_xrealloc(t->gbuf, n * sizeof *t->gbuf);
	for (int i = 0; i < ps->n; k += ps->p[i]->n, i++)
		memcpy(t->gbuf + k, ps->p[i]->g, ps->p[i]->n * sizeof(real));
	ls_dist_sum_f(t->gbuf, n);
	k = 0;
	for (int i = 0; i < ps->n; i++)
		for (size_t j = 0; j < ps->p[i]->n; j++)
			ps->p[i]->g[j] = t->gbuf[k++] / (real)ls_dist.size;
}

/* The task loss of a data-parallel step is the mean over the labelled
 * pixels of the whole batch: this rank's mean (and its gradient) is scaled
 * by its share of the batch's label weight. */
double ls_tr_xent_scale(struct ls_trainer *t, int n_own, size_t hw, struct ls_t4 *dl)
{
	if (ls_dist.size == 1)
		return 1;
	double w = 0;
	for (size_t i = 0; i < (size_t)n_own * hw; i++)
		if (t->y[i] < t->o->classes)
			w += t->cw[t->y[i]];
	double tot = w;
	ls_dist_sum_d(&tot, 1);
	double f = tot > 0 ? w * ls_dist.size / tot : 0;
	size_t n = ls_t4_len(dl);
	for (size_t i = 0; i < n; i++)
		dl->d[i] *= (real)f;
	return f;
}

double ls_tr_mean(double v)
{
	ls_dist_sum_d(&v, 1);
	return v / ls_dist.size;
}

double ls_tr_source_loss(struct ls_trainer *t, int n_own)
{
	struct ls_t4 *lg = &t->act.logits;
	double loss = ls_softmax_xent_partial(lg, t->y, t->ylc, t->cw, NULL, &t->act.dlogits, NULL);
	loss *= ls_tr_xent_scale(t, n_own, (size_t)lg->h * lg->w, &t->act.dlogits);
	if (t->o->dice > 0) {
		/* every rank's counts, so each takes the gradient of the whole batch's
		 * Dice; the step's mean over ranks then needs it times the ranks */
		double s[3 * 253];
		ls_dice_sums(lg, t->y, t->ylc, s);
		ls_dist_sum_d(s, 3 * (size_t)(lg->c - 1));
		ls_dice_grad(lg, t->y, t->ylc, s, t->o->dice * ls_dist.size, &t->act.dlogits);
		loss += t->o->dice * ls_dice_loss(s, lg->c);
	}
	return loss;
}

double ls_tr_supervised_step(struct ls_trainer *t, const int *idx, int n)
{
	int dom;
	struct ls_t4 x = ls_tr_source_batch(t, idx, n, &dom);
	ls_params_zero_grad(&t->net.params);
	ls_unet_forward(&t->net, &t->act, &x, dom, 1);
	double loss = ls_tr_source_loss(t, x.n);
	ls_unet_backward(&t->net, &t->act, &t->act.dlogits, NULL, dom);
	ls_tr_average(t, &t->net.params);
	ls_optim_step(&t->opt, &t->net.params);
	return ls_tr_mean(loss);
}

int ls_tr_bn_list(struct ls_unet *m, struct ls_bn **bn)
{
	int n = 0, D = m->spec.depth;
	for (int l = 0; l < D; l++) {
		bn[n++] = &m->enc[l][0].bn;
		bn[n++] = &m->enc[l][1].bn;
		if (l < D - 1) {
			bn[n++] = &m->dec[l][0].bn;
			bn[n++] = &m->dec[l][1].bn;
		}
	}
	return n;
}

static double supervised_step(struct ls_trainer *t, const int *idx, int n)
{
	return ls_tr_supervised_step(t, idx, n);
}

const struct ls_method ls_method_supervised = { .name = "source-only", .step = supervised_step };
