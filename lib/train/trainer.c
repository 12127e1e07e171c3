/* trainer.c - the training loop every method shares (trainer.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/err.h"
#include "base/progress.h"
#include "score/metrics.h"
#include "train/dist.h"
#include "train/method.h"

void ls_train_defaults(struct ls_train_opts *o)
{
	memset(o, 0, sizeof *o);
	o->method = "source-only";
	o->epochs = 20;
	o->batch = 8;
	o->seed = 1;
	o->lr = 2e-3;
	o->weight_decay = 1e-4;
	o->val_frac = 0.2;
	o->weights = "f32";
	o->optimiser = "adam";
	o->schedule = "cosine";
	o->width = 16;
	o->depth = 4;
	o->classes = 2;
	o->select = "val-iou";
	o->adapt_warmup = 2;
	o->aug.flip = o->aug.rot90 = 1;
	o->aug.jitter = 0.1;
	o->align = (struct ls_align_opts){ .lambda = 0.1, .gamma = 10, .critic_lr = 5e-4, .n_critic = 5,
					   .critic_hidden = 64, .alpha = 0.1, .beta = 0.05 };
	o->st = (struct ls_selftrain_opts){ .ema = 0.99, .threshold = 0.968, .classmix = 1, .target_bn = 1,
					    .jitter = 0.2, .blur = 1.15 };
}

static const struct ls_method *method_find(const char *name)
{
	static const struct ls_method *all[] = { &ls_method_supervised, &ls_method_wdgrl, &ls_method_dsn,
						  &ls_method_selftrain };
	if (!strcmp(name, "oracle"))	/* supervised, on target labels */
		return &ls_method_supervised;
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}

int ls_train_method_known(const char *name, int *adapts)
{
	const struct ls_method *m = method_find(name);
	if (adapts)
		*adapts = m && m->adapts;
	return m != NULL;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static long steps_per_epoch(const struct ls_trainer *t)
{
	return t->o->epoch_steps > 0 ? t->o->epoch_steps : (t->ntrain + t->o->batch - 1) / t->o->batch;
}

/* k comma-separated values, each finite and not negative, into out */
static int per_class(const char *text, int k, real *out)
{
	struct ls_strlist l = { 0 };
	ls_strlist_split(&l, text, ',');
	int ok = l.n == k;
	for (int c = 0; c < l.n && ok; c++) {
		char *end;
		double v = strtod(l.v[c], &end);
		ok = end != l.v[c] && !*end && v >= 0 && isfinite(v);
		out[c] = (real)v;
	}
	ls_strlist_free(&l);
	return ok ? 0 : ls_err("class weights: %d values needed (one per class, none negative), not '%s'", k, text);
}

static void make_spec(const struct ls_trainer *t, struct ls_unet_spec *s)
{
	const struct ls_dataset *d = t->d;
	memset(s, 0, sizeof *s);
	s->width = t->o->width;
	s->depth = t->o->depth;
	s->classes = t->o->classes;
	s->ndom = d->ndom;
	for (int i = 0; i < d->ndom; i++) {
		snprintf(s->dom[i], sizeof s->dom[i], "%s", d->dom[i]);
		for (int k = 0; k < d->n; k++)
			if (d->s[k].dom == i) {
				s->bands[i] = d->s[k].c;
				break;
			}
	}
}

static int lists(struct ls_trainer *t)
{
	struct ls_dataset *d = t->d;
	ls_dataset_split(d, t->o->val_frac);
	t->order = ls_xmalloc((d->n + 1) * sizeof *t->order);
	t->train = ls_xmalloc((d->n + 1) * sizeof *t->train);
	t->val = ls_xmalloc((d->n + 1) * sizeof *t->val);
	t->tgt = ls_xmalloc((d->n + 1) * sizeof *t->tgt);
	for (int i = 0; i < d->n; i++) {
		if (!d->s[i].y)
			t->tgt[t->ntgt++] = i;
		else if (d->s[i].val)
			t->val[t->nval++] = i;
		else
			t->train[t->ntrain++] = i;
	}
	if (t->ntrain == 0)
		return ls_err("no labelled training tiles (all %d are unlabelled or held out)", d->n);
	for (int i = 0; i < d->n; i++)	/* a class the model has no output for is not background */
		for (size_t p = 0; d->s[i].y && p < (size_t)d->s[i].h * d->s[i].w; p++)
			if (d->s[i].y[p] != 255 && d->s[i].y[p] >= t->o->classes)
				return ls_err("tile %d (of raster %s) holds class %d, and the model has %d classes (0 to %d): "
					      "map the labels to them, or train more classes",
					      i, d->srcs.v[d->s[i].src], d->s[i].y[p], t->o->classes, t->o->classes - 1);
	if (t->m->adapts && !t->ntgt)
		return ls_err("%s learns from unlabelled target tiles, and none were given", t->o->method);
	if (t->o->fda_beta > 0) {
		if (!t->ntgt)
			return ls_err("Fourier domain adaptation takes the amplitude of target tiles, and none were given");
		for (int i = 0; i < t->ntrain; i++)
			if (d->s[t->train[i]].c != d->s[t->tgt[0]].c)
				return ls_err("Fourier domain adaptation needs the target's band count (%d) on the source (%d)",
					      d->s[t->tgt[0]].c, d->s[t->train[i]].c);
	}
	return 0;
}

static int setup(struct ls_trainer *t)
{
	const struct ls_train_opts *o = t->o;
	struct ls_unet_spec spec;
	if (lists(t) < 0)
		return -1;
	make_spec(t, &spec);
	ls_unet_init(&t->net, &spec, (uint64_t)o->seed);
	if (o->init_path && ls_train_init_from(&t->net, t->d, o->init_path) < 0)
		return -1;
	if (ls_unet_act_init(&t->act, &t->net, o->batch, t->d->s[0].h, t->d->s[0].w) < 0)
		return -1;
	ls_optim_defaults(&t->opt, LS_ADAM, o->lr);
	if (ls_optim_parse(&t->opt, o->optimiser, o->schedule) < 0)
		return -1;
	t->opt.weight_decay = o->weight_decay;
	t->opt.warmup = o->warmup;
	t->opt.total = (long)o->epochs * steps_per_epoch(t);
	t->cw = ls_alloc_real(o->classes);
	for (int c = 0; c < o->classes; c++)
		t->cw[c] = 1;
	if (o->class_weights && per_class(o->class_weights, o->classes, t->cw) < 0)
		return -1;
	t->y = ls_xmalloc((size_t)o->batch * t->d->s[0].h * t->d->s[0].w);
	t->ylc = ls_xcalloc((size_t)o->batch, sizeof *t->ylc);
	int maxc = 1;
	for (int i = 0; i < t->d->n; i++)
		maxc = t->d->s[i].c > maxc ? t->d->s[i].c : maxc;
	t->xskip = ls_alloc_real((size_t)maxc * t->d->s[0].h * t->d->s[0].w);
	t->yskip = ls_xmalloc((size_t)t->d->s[0].h * t->d->s[0].w);
	if (t->m->setup && t->m->setup(t) < 0)
		return -1;
	ls_rng_seed(&t->shuffle, (uint64_t)o->seed * 7919 + 1);
	ls_rng_seed(&t->aug, (uint64_t)o->seed * 104729 + 2);
	t->best = INFINITY;
	snprintf(t->ckpt, sizeof t->ckpt, "%s.ckpt", o->model_path);
	ls_tr_describe(t);
	if (o->resume && ls_tr_resume(t) < 0)
		return ls_err_ctx("resuming");
	if (ls_dist.size > o->batch)
		return ls_err("%d ranks need batches of %d tiles or more (one tile per rank at least)", ls_dist.size,
			      ls_dist.size);
	if (o->metrics_path && ls_dist.rank == 0) {
		t->metrics = o->resume ? ls_tr_metrics_resume(o->metrics_path, t->epoch) : fopen(o->metrics_path, "w");
		if (!t->metrics)
			return ls_err("cannot write metrics %s", o->metrics_path);
	}
	if (!t->nval && strcmp(o->select, "last"))
		ls_warn("no labelled area is held out for validation, so the validation %s cannot choose the epoch: the last one is kept",
			strcmp(o->select, "val-loss") ? "IoU" : "loss");
	ls_info("training %s: %d tiles (%d held out for validation), %d domains, %zu parameters, %.0f MB of buffers",
		o->method, t->ntrain, t->nval, t->d->ndom, ls_params_count(&t->net.params), t->act.bytes / 1e6);
	return 0;
}

/* Validation of net: loss and confusion over the held-out tiles, batch norm
 * in inference mode; iou[c] per class (NAN: absent from the labels). A class
 * is scored only on the tiles whose labels speak for it. */
static double validate(struct ls_trainer *t, struct ls_unet *net, double *iou)
{
	int k = t->o->classes;
	uint64_t *conf = ls_xcalloc((size_t)k * k, sizeof *conf);
	double loss = 0;
	size_t counted = 0;
	for (int b = 0; b < t->nval;) {
		int n = 0, idx[256] = { 0 }, dom = t->d->s[t->val[b]].dom;
		while (n < t->o->batch && n < 256 && b + n < t->nval && t->d->s[t->val[b + n]].dom == dom) {
			idx[n] = t->val[b + n];
			n++;
		}
		struct ls_sample *s0 = &t->d->s[idx[0]];
		size_t img = (size_t)s0->c * s0->h * s0->w, hw = (size_t)s0->h * s0->w;
		uint64_t lc[256];
		for (int i = 0; i < n; i++) {
			ls_batch_put(&t->d->s[idx[i]], t->act.in + i * img, t->y + i * hw, NULL, NULL);
			lc[i] = t->d->s[idx[i]].lcls;
		}
		struct ls_t4 x = ls_t4_make(t->act.in, n, s0->c, s0->h, s0->w);
		ls_unet_forward(net, &t->act, &x, dom, 0);
		size_t cnt;
		loss += ls_softmax_xent_partial(&t->act.logits, t->y, lc, NULL, NULL, NULL, &cnt) * (double)cnt;
		counted += cnt;
		for (int i = 0; i < n; i++) {
			const real *z = ls_t4_img(&t->act.logits, i);
			for (size_t p = 0; p < hw; p++) {
				int y = t->y[i * hw + p], best = 0;
				for (int c = 1; c < k && y < k; c++)
					best = z[c * hw + p] > z[best * hw + p] ? c : best;
				if (lc[i] && !ls_label_class_listed(lc[i], best))
					best = 0;	/* partial labels: a class they do not speak for is "none of them" */
				if (y < k)
					conf[y * k + best]++;
			}
		}
		b += n;
	}
	for (int c = 0; c < k; c++) {
		struct ls_class_score sc;
		ls_class_score(conf, k, c, &sc);
		iou[c] = sc.ref ? sc.iou : NAN;
	}
	free(conf);
	return counted ? loss / (double)counted : NAN;
}

/* Shuffle, then cut batches of one domain each; returns their count. */
static int next_batches(struct ls_trainer *t, int *batches, int *sizes)
{
	int nb = 0, *perm = t->order, k = 0;
	/* every epoch shuffles the stream order afresh, so that a resumed run
	 * (which restores only the generator) sees the same batches */
	memcpy(perm, t->train, t->ntrain * sizeof *perm);
	for (int i = t->ntrain - 1; i > 0; i--) {
		int j = (int)(ls_rng_u64(&t->shuffle) % (uint64_t)(i + 1)), s = perm[i];
		perm[i] = perm[j];
		perm[j] = s;
	}
	int *tmp = ls_xmalloc(t->ntrain * sizeof *tmp);
	for (int d = 0; d < t->d->ndom; d++) {	/* a stable partition by domain */
		int start = k;
		for (int i = 0; i < t->ntrain; i++)
			if (t->d->s[perm[i]].dom == d)
				tmp[k++] = perm[i];
		for (int b = start; b < k; b += t->o->batch) {
			batches[nb] = b;
			sizes[nb++] = b + t->o->batch <= k ? t->o->batch : k - b;
		}
	}
	memcpy(perm, tmp, t->ntrain * sizeof *tmp);
	free(tmp);
	return nb;
}

/* One epoch's steps; returns the mean task loss. */
static double epoch_steps(struct ls_trainer *t, int *batches, int *sizes, struct ls_progress *prog, long *done)
{
	int nb = next_batches(t, batches, sizes), steps = 0, want = t->o->epoch_steps, pass0 = 0;
	double sum = 0;
	/* one pass over the shuffled tiles, or with epoch_steps as many steps as
	 * asked, each pass shuffled afresh */
	for (int b = 0; want ? steps < want : b < nb; b++) {
		if (b == nb) {
			if (steps == pass0)
				break;	/* a pass without a batch of two tiles */
			nb = next_batches(t, batches, sizes);
			b = 0;
			pass0 = steps;
		}
		if (sizes[b] < 2 && nb > 1)
			continue;	/* batch norm needs more than one tile */
		const int *idx = t->order + batches[b];
		sum += t->adapting ? t->m->step(t, idx, sizes[b]) : ls_tr_supervised_step(t, idx, sizes[b]);
		steps++;
		ls_progress_update(prog, ++*done);
	}
	return steps ? sum / steps : NAN;
}

/* Is epoch e's model better than the best so far (lower is better: the
 * validation loss, or minus the mean foreground IoU)? */
static int improved(struct ls_trainer *t, double vl, const double *iou)
{
	const char *sel = t->o->select;
	double fg = 0;
	int nfg = 0;
	for (int c = 1; c < t->o->classes && t->nval; c++)
		if (!isnan(iou[c]))
			fg += iou[c], nfg++;
	/* val-iou on a validation area without a pixel of any class but
	 * background: the IoU cannot rank epochs, so the loss does */
	int by_loss = !strcmp(sel, "val-loss") || (!strcmp(sel, "val-iou") && t->nval && !nfg);
	if (by_loss && strcmp(sel, "val-loss") && !t->warned_no_fg++) {
		ls_warn("the validation tiles hold no labelled pixel of any class but background: epochs are chosen by validation loss, not IoU");
		ls_meta_set(&t->meta, "selected_by", "val-loss");
	}
	double score = by_loss ? vl : -(fg / (nfg ? nfg : 1));
	if (!strcmp(sel, "last") || !t->nval || isnan(score))
		return 1;
	if (score >= t->best)
		return 0;
	t->best = score;
	return 1;
}

static int params_finite(const struct ls_params *ps)
{
	for (int i = 0; i < ps->n; i++)
		for (size_t j = 0; j < ps->p[i]->n; j++)
			if (!isfinite(ps->p[i]->w[j]))
				return 0;
	return 1;
}

static int run_epochs(struct ls_trainer *t)
{
	const struct ls_train_opts *o = t->o;
	int *batches = ls_xmalloc((t->d->n + 1) * sizeof *batches), *sizes = ls_xmalloc((t->d->n + 1) * sizeof *sizes);
	double iou[256];
	struct ls_progress prog;
	long done = 0;
	int rc = 0;
	ls_progress_start(&prog, "training", (steps_per_epoch(t) + t->d->ndom) * (o->epochs - t->epoch));
	for (int e = t->epoch; rc == 0 && e < o->epochs; e++) {
		double t0 = now();
		if (t->m->adapts && !t->adapting && e >= o->adapt_warmup) {
			t->adapting = 1;
			t->best = INFINITY;	/* an adapted run returns an adapted model */
			if (t->m->begin && t->m->begin(t) < 0) {
				rc = -1;
				break;
			}
		}
		double loss = epoch_steps(t, batches, sizes, &prog, &done);
		ls_progress_end(&prog);
		if (t->m->finish && t->m->finish(t) < 0) {
			rc = -1;
			break;
		}
		struct ls_unet *model = t->m->model ? t->m->model(t) : &t->net;
		double vl = t->nval ? validate(t, model, iou) : NAN, viou = NAN, fg = 0;
		int nfg = 0;
		for (int c = 1; c < o->classes && t->nval; c++)
			if (!isnan(iou[c]))
				fg += iou[c], nfg++;
		viou = nfg ? fg / nfg : NAN;
		int better = improved(t, vl, iou);
		char mtxt[160] = "";
		if (t->adapting && t->m->log)
			t->m->log(t, mtxt, sizeof mtxt);
		char vtxt[96] = "";	/* nothing held out: no validation figures to print */
		if (t->nval)
			snprintf(vtxt, sizeof vtxt, ", validation loss %.4f, validation IoU %.3f", vl, viou);
		ls_info("epoch %d/%d: loss %.4f%s%s, lr %.2g, %.1f s%s", e + 1, o->epochs, loss, vtxt, mtxt,
			ls_optim_lr(&t->opt, t->opt.t), now() - t0,
			better && t->nval && strcmp(o->select, "last") ? " (best)" : "");
		if (t->metrics) {
			fprintf(t->metrics,
				"{\"epoch\":%d,\"step\":%ld,\"loss\":%.6g,\"val_loss\":%.6g,\"val_iou\":%.6g,\"lr\":%.6g,"
				"\"seconds\":%.2f,\"adapting\":%d}\n",
				e + 1, t->opt.t, loss, isnan(vl) ? -1 : vl, isnan(viou) ? -1 : viou,
				ls_optim_lr(&t->opt, t->opt.t), now() - t0, t->adapting);
			fflush(t->metrics);
		}
		if (!isfinite(loss) || !params_finite(&t->net.params))
			rc = ls_err("training diverged at epoch %d (%s): the last good checkpoint is kept; lower the "
				    "learning rate",
				    e + 1, isfinite(loss) ? "a weight is not finite" : "the loss is not finite");
		else if (ls_tr_checkpoint(t, e + 1, better) < 0)
			rc = -1;
	}
	free(batches);
	free(sizes);
	return rc;
}

static void release(struct ls_trainer *t)
{
	if (t->m && t->m->free)
		t->m->free(t);
	free(t->xskip);
	free(t->yskip);
	free(t->gbuf);
	free(t->tgt);
	free(t->order);
	free(t->train);
	free(t->val);
	free(t->cw);
	free(t->y);
	free(t->ylc);
	ls_unet_act_free(&t->act);
	if (t->net.params.n)
		ls_unet_free(&t->net);
	ls_meta_free(&t->meta);
}

int ls_train_run(const struct ls_train_opts *o, struct ls_dataset *d)
{
	struct ls_trainer t;
	memset(&t, 0, sizeof t);
	t.o = o;
	t.d = d;
	t.m = method_find(o->method);
	if (!t.m)
		return ls_err("no training method '%s'", o->method);
	ls_bn_reduce = ls_dist.size > 1 ? ls_dist_sum_d : NULL;	/* synchronised batch norm across ranks */
	int rc = setup(&t);
	if (rc == 0)
		rc = run_epochs(&t);
	if (t.metrics && fclose(t.metrics) != 0 && rc == 0)
		rc = ls_err("writing %s failed", o->metrics_path);
	release(&t);
	return rc;
}
