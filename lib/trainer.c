#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "critic.h"
#include "metrics.h"
#include "progress.h"
#include "dist.h"
#include "dsn.h"
#include "trainer.h"

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
	o->optimiser = "adam";
	o->schedule = "cosine";
	o->width = 16;
	o->depth = 4;
	o->classes = 2;
	o->aug.flip = o->aug.rot90 = 1;
	o->aug.jitter = 0.1;
	o->lambda = 0.1;
	o->gamma = 10;
	o->critic_lr = 5e-4;
	o->n_critic = 5;
	o->critic_hidden = 64;
	o->adapt_warmup = 2;
	o->critic_level = "pixel";
	o->critic_patch = 4;
	o->lambda_schedule = "const";
	o->select = "val-iou";
	o->alpha = 0.1;
	o->beta = 0.05;
	o->similarity = "critic";
}

struct run {
	const struct ls_train_opts *o;
	struct ls_dataset *d;
	struct ls_unet net;
	struct ls_unet_act act;
	struct ls_optim opt;
	struct ls_rng shuffle, aug;
	struct ls_model_meta meta;
	real *cw;
	uint8_t *y;
	int *base, *order, ntrain, nval, *val;	/* base: training tiles in stream order */
	int epoch;
	double best_val;
	FILE *metrics;
	char ckpt[4096];
	/* WDGRL, and the similarity term of DSN */
	int wdgrl, *tgt, ntgt;
	struct ls_unet_act act_t;
	struct ls_critic critic;
	struct ls_params cparams;
	struct ls_optim copt;
	real *hs, *ht, *gfs, *gft, *alpha;
	int npts;
	unsigned levels;	/* the encoder levels the critic sees (bit l), the bottleneck's by default */
	real *gls[LS_MAX_DEPTH], *glt[LS_MAX_DEPTH];	/* their gradients; the bottleneck's are gfs, gft */
	int output;		/* --critic-level output: the critic sees class-probability patches */
	real *prob_s, *prob_t;	/* their softmax, kept for the backward */
	double last_w, last_gp;
	int warned_no_fg;	/* --select val-iou without foreground: said once */
	double lam;		/* lambda of this step (--lambda-schedule) */
	/* --importance-weighted: the critic's source points weighed by class */
	double *iw;		/* [classes] w_c = p_target(c) / p_source(c), 1 until first estimated */
	double *vconf;		/* the last validation's confusion [reference][predicted], counts */
	double *mu;		/* the model's predicted class proportions on the target tiles */
	real *vs;		/* a step's source point weights, mean 1 over the batch */
	/* DSN */
	int dsn, dann;
	struct ls_dsn net_dsn;
	struct ls_optim dopt;
	real *hc, *hp, *dhc, *dhp, *dpriv, *tmp;
	double last_recon, last_diff, last_dom;
	/* data-parallel runs: this rank's share of a batch, scratch for the rest */
	real *xskip, *gbuf;
	uint8_t *yskip;
};

/* This rank's share [*lo, *hi) of a batch of n tiles. */
static void share(int n, int *lo, int *hi)
{
	*lo = (int)((long)n * ls_dist.rank / ls_dist.size);
	*hi = (int)((long)n * (ls_dist.rank + 1) / ls_dist.size);
}

/* Put tile i of a batch into x (and its labels into y) when it is this
 * rank's, else into scratch: every rank draws the same augmentation numbers
 * for every tile, so the ranks together see exactly one process's batch. */
static void put_shared(struct run *r, const struct ls_sample *t, int i, int lo, int hi, real *x, uint8_t *y,
		       size_t img, size_t hw)
{
	int mine = i >= lo && i < hi;
	ls_batch_put(t, mine ? x + (i - lo) * img : r->xskip, y ? (mine ? y + (i - lo) * hw : r->yskip) : NULL,
		     &r->o->aug, &r->aug);
}

/* Average the gradients of ps over the ranks (a no-op in one process). */
static void average(struct run *r, struct ls_params *ps)
{
	if (ls_dist.size == 1)
		return;
	size_t n = 0;
	for (int i = 0; i < ps->n; i++)
		n += ps->p[i]->n;
	r->gbuf = ls_xrealloc(r->gbuf, n * sizeof *r->gbuf);
	size_t k = 0;
	for (int i = 0; i < ps->n; i++, k += ps->p[i - 1]->n)
		memcpy(r->gbuf + k, ps->p[i]->g, ps->p[i]->n * sizeof(real));
	ls_dist_sum_f(r->gbuf, n);
	k = 0;
	for (int i = 0; i < ps->n; i++)
		for (size_t j = 0; j < ps->p[i]->n; j++)
			ps->p[i]->g[j] = r->gbuf[k++] / (real)ls_dist.size;
}

/* The task loss of a data-parallel step is the mean over the labelled
 * pixels of the whole batch: this rank's mean (and its gradient) is scaled
 * by its share of the batch's label weight, so that the average over the
 * ranks is exactly that mean. 1 in one process. */
static double xent_scale(struct run *r, int n_own, size_t hw, struct ls_t4 *dl)
{
	if (ls_dist.size == 1)
		return 1;
	double w = 0;
	for (size_t i = 0; i < (size_t)n_own * hw; i++)
		if (r->y[i] < r->o->classes)
			w += r->cw[r->y[i]];
	double tot = w;
	ls_dist_sum_d(&tot, 1);
	double f = tot > 0 ? w * ls_dist.size / tot : 0;
	size_t n = ls_t4_len(dl);
	for (size_t i = 0; i < n; i++)
		dl->d[i] *= (real)f;
	return f;
}

static double mean_over_ranks(double v)
{
	ls_dist_sum_d(&v, 1);
	return v / ls_dist.size;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int make_spec(struct run *r, struct ls_unet_spec *s)
{
	const struct ls_train_opts *o = r->o;
	memset(s, 0, sizeof *s);
	s->width = o->width;
	s->depth = o->depth;
	s->classes = o->classes;
	s->bn_per_domain = o->bn_per_domain;
	s->ndom = r->d->ndom;
	for (int i = 0; i < r->d->ndom; i++) {
		snprintf(s->dom[i], sizeof s->dom[i], "%s", r->d->dom[i]);
		for (int k = 0; k < r->d->n; k++)
			if (r->d->s[k].dom == i) {
				s->bands[i] = r->d->s[k].c;
				break;
			}
	}
	return 0;
}

/* k doubles, comma-separated, with prec significant digits (cut at n). */
static void join_doubles(char *buf, size_t n, const double *v, int k, int prec)
{
	size_t off = 0;
	buf[0] = 0;
	for (int i = 0; i < k && off < n; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%.*g", i ? "," : "", prec, v[i]);
}

/* k floats, comma-separated, with 9 significant digits (exact for a float) */
static void join_floats(char *buf, size_t n, const float *v, int k)
{
	double *d = ls_xmalloc((size_t)(k > 0 ? k : 1) * sizeof *d);
	for (int i = 0; i < k; i++)
		d[i] = v[i];
	join_doubles(buf, n, d, k, 9);
	free(d);
}

/* room for the importance weights as text: up to 254 classes of up to 24 characters */
#define LS_MAX_IW_TEXT 6200

/* A per-class option's k comma-separated values, each finite and not
 * negative, into out. */
static int per_class(const char *opt, const char *text, int k, double *out)
{
	struct ls_strlist l = { 0 };
	ls_strlist_split(&l, text, ',');
	int ok = l.n == k;
	for (int c = 0; c < l.n && ok; c++) {
		char *end;
		out[c] = strtod(l.v[c], &end);
		ok = end != l.v[c] && !*end && out[c] >= 0 && isfinite(out[c]);
	}
	ls_strlist_free(&l);
	return ok ? 0 : ls_err("%s needs %d values (one per class, none negative), not '%s'", opt, k, text);
}

/* Optimiser steps in an epoch: --epoch-steps, or one pass over the
 * training tiles in batches. */
static long steps_per_epoch(const struct run *r)
{
	return r->o->epoch_steps > 0 ? r->o->epoch_steps : (r->ntrain + r->o->batch - 1) / r->o->batch;
}

static void describe(struct run *r)
{
	char buf[4096], key[128], lv[3 * LS_MAX_DEPTH + 8] = "";
	struct ls_dataset *d = r->d;
	ls_meta_set(&r->meta, "method", r->o->method);
	for (int l = 0, n = 0; l < LS_MAX_DEPTH; l++)	/* the encoder levels the critic sees */
		if (r->levels >> l & 1)
			n += snprintf(lv + n, sizeof lv - (size_t)n, "%s%d", n ? "," : "", l);
	if (!lv[0])
		snprintf(lv, sizeof lv, "none");
	if (!strcmp(r->o->method, "wdgrl")) {
		char v[320];
		snprintf(v, sizeof v,
			 "lambda=%g lambda_schedule=%s gamma=%g n_critic=%d critic_lr=%g critic_hidden=%d level=%s "
			 "features=%s patch=%d warmup_epochs=%d",
			 r->o->lambda, r->o->lambda_schedule, r->o->gamma, r->o->n_critic, r->o->critic_lr,
			 r->o->critic_hidden, r->o->critic_level, lv, r->o->critic_patch, r->o->adapt_warmup);
		ls_meta_set(&r->meta, "wdgrl", v);
	}
	if (!strcmp(r->o->method, "dsn")) {
		char v[384];
		snprintf(v, sizeof v,
			 "alpha=%g beta=%g lambda=%g lambda_schedule=%s similarity=%s gamma=%g n_critic=%d critic_lr=%g "
			 "critic_hidden=%d level=%s features=%s patch=%d warmup_epochs=%d",
			 r->o->alpha, r->o->beta, r->o->lambda, r->o->lambda_schedule, r->o->similarity, r->o->gamma,
			 r->o->n_critic, r->o->critic_lr, r->o->critic_hidden, r->o->critic_level, lv, r->o->critic_patch,
			 r->o->adapt_warmup);
		ls_meta_set(&r->meta, "dsn", v);
	}
	snprintf(buf, sizeof buf, "epochs=%d batch=%d lr=%g steps_per_epoch=%ld%s", r->o->epochs, r->o->batch, r->o->lr,
		 steps_per_epoch(r), r->o->epoch_steps ? " (set)" : "");
	ls_meta_set(&r->meta, "training", buf);
	ls_meta_set(&r->meta, "target_labels", d->labelled_ignored ? "present-and-ignored" : "none-read");
	for (int i = 0; i < d->ndom; i++) {
		size_t off = 0;
		buf[0] = 0;
		for (int b = 0; b < d->bands[i].n; b++)
			off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s", b ? "," : "", d->bands[i].v[b]);
		snprintf(key, sizeof key, "bands.%s", d->dom[i]);
		ls_meta_set(&r->meta, key, buf[0] ? buf : "-");
		if (d->norm[i].n) {
			join_floats(buf, sizeof buf, d->norm[i].mean, d->norm[i].n);
			snprintf(key, sizeof key, "norm.%s.mean", d->dom[i]);
			ls_meta_set(&r->meta, key, buf);
			join_floats(buf, sizeof buf, d->norm[i].std, d->norm[i].n);
			snprintf(key, sizeof key, "norm.%s.std", d->dom[i]);
			ls_meta_set(&r->meta, key, buf);
		}
	}
}

static void state_to_meta(struct run *r, long epoch)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%ld", epoch);
	ls_meta_set(&r->meta, "epoch", buf);
	snprintf(buf, sizeof buf, "%ld", r->opt.t);
	ls_meta_set(&r->meta, "step", buf);
	snprintf(buf, sizeof buf, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, r->shuffle.s[0], r->shuffle.s[1],
		 r->shuffle.s[2], r->shuffle.s[3]);
	ls_meta_set(&r->meta, "rng.shuffle", buf);
	snprintf(buf, sizeof buf, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, r->aug.s[0], r->aug.s[1],
		 r->aug.s[2], r->aug.s[3]);
	ls_meta_set(&r->meta, "rng.augment", buf);
	snprintf(buf, sizeof buf, "%.17g", r->best_val);
	ls_meta_set(&r->meta, "best_score", buf);
	if (r->iw) {
		char w[LS_MAX_IW_TEXT];
		join_doubles(w, sizeof w, r->iw, r->o->classes, 17);
		ls_meta_set(&r->meta, "importance_weights", w);
	}
	/* val-iou on validation tiles without foreground fell back to the loss */
	ls_meta_set(&r->meta, "selected_by",
		    !strcmp(r->o->select, "val-iou") && r->warned_no_fg ? "val-loss" : r->o->select);
}

static int parse_rng(const char *s, struct ls_rng *g)
{
	if (!s || strlen(s) != 64)
		return -1;
	for (int i = 0; i < 4; i++) {
		char part[17];
		memcpy(part, s + 16 * i, 16);
		part[16] = 0;
		g->s[i] = strtoull(part, NULL, 16);
	}
	return 0;
}

/* The metrics log of a resumed run: the lines of the epochs the checkpoint
 * holds are kept, those written after it (an epoch logged, then killed
 * before its checkpoint) are cut, so that the redone epoch is logged once. */
static FILE *metrics_resume(const char *path, int epochs)
{
	FILE *f = fopen(path, "r+");
	if (!f)
		return fopen(path, "w");
	char line[4096];
	long keep = 0;
	while (fgets(line, sizeof line, f)) {
		const char *e = strstr(line, "\"epoch\":");
		if (!e || atoi(e + 8) > epochs || !strchr(line, '\n'))
			break;
		keep = ftell(f);
	}
	if (fflush(f) != 0 || ftruncate(fileno(f), keep) != 0 || fseek(f, keep, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	return f;
}

static int resume(struct run *r)
{
	struct ls_unet saved;
	struct ls_model_meta m = { 0 };
	if (ls_model_load(r->ckpt, &saved, &m) < 0)
		return ls_err_ctx("--resume");
	if (saved.params.n != r->net.params.n)
		return ls_err("--resume: %s holds another architecture", r->ckpt);
	for (int i = 0; i < saved.params.n; i++) {
		struct ls_param *a = saved.params.p[i], *b = r->net.params.p[i];
		if (a->n != b->n || strcmp(a->name, b->name))
			return ls_err("--resume: %s holds another architecture", r->ckpt);
		memcpy(b->w, a->w, a->n * sizeof(real));
		if (a->m) {
			b->m = b->m ? b->m : ls_alloc_real(b->n);
			memcpy(b->m, a->m, a->n * sizeof(real));
		}
		if (a->v) {
			b->v = b->v ? b->v : ls_alloc_real(b->n);
			memcpy(b->v, a->v, a->n * sizeof(real));
		}
	}
	const char *ep = ls_meta_get(&m, "epoch"), *st = ls_meta_get(&m, "step"), *bv = ls_meta_get(&m, "best_score");
	if (!ep || !st || !bv || parse_rng(ls_meta_get(&m, "rng.shuffle"), &r->shuffle) < 0 ||
	    parse_rng(ls_meta_get(&m, "rng.augment"), &r->aug) < 0)
		return ls_err("--resume: %s is not a training checkpoint", r->ckpt);
	r->epoch = atoi(ep);
	r->opt.t = atol(st);
	r->best_val = strtod(bv, NULL);
	const char *iw = ls_meta_get(&m, "importance_weights");
	if (r->iw && iw) {
		char *end = (char *)iw;
		for (int c = 0; c < r->o->classes; c++) {
			r->iw[c] = strtod(end, &end);
			if (*end == ',')
				end++;
		}
	}
	ls_unet_free(&saved);
	ls_meta_free(&m);
	ls_info("resuming from %s after epoch %d (step %ld)", r->ckpt, r->epoch, r->opt.t);
	return 0;
}

/* --target-prior: fixed weights p_target(c) / p_source(c), the source's
 * proportions counted over its labelled training pixels. */
static int fixed_weights(struct run *r)
{
	int k = r->o->classes, rc = 0;
	double *pt = ls_xmalloc((size_t)k * sizeof *pt), *ps = ls_xcalloc((size_t)k, sizeof *ps), st = 0, ss = 0;
	if (per_class("--target-prior", r->o->target_prior, k, pt) < 0) {
		free(pt);
		free(ps);
		return -1;
	}
	for (int c = 0; c < k; c++)
		st += pt[c];
	for (int i = 0; i < r->ntrain; i++) {
		const struct ls_sample *s = &r->d->s[r->base[i]];
		for (size_t p = 0; p < (size_t)s->h * s->w; p++)
			if (s->y[p] < k)
				ps[s->y[p]]++, ss++;
	}
	if (!(st > 0))
		rc = ls_err("--target-prior: the proportions are all 0");
	for (int c = 0; c < k && rc == 0; c++) {
		if (!(ps[c] > 0))
			rc = ls_err("--target-prior: class %d has no pixel in the source's training tiles", c);
		else
			r->iw[c] = (pt[c] / st) / (ps[c] / ss);
	}
	if (rc == 0) {
		char t[256], so[256];
		for (int c = 0; c < k; c++)
			pt[c] /= st, ps[c] /= ss;
		join_doubles(t, sizeof t, pt, k, 3);
		join_doubles(so, sizeof so, ps, k, 3);
		ls_info("class proportions, target %s, source %s: the critic's source points weighed by their ratios", t, so);
	}
	free(pt);
	free(ps);
	return rc;
}

static int setup_wdgrl(struct run *r)
{
	const struct ls_train_opts *o = r->o;
	struct ls_rng g;
	int D = o->depth, h = r->d->s[0].h >> (D - 1), w = r->d->s[0].w >> (D - 1), c = o->width << (D - 1);
	if (!r->ntgt)
		return ls_err("--method %s needs unlabelled target tiles (--target)", o->method);
	if (ls_unet_act_init(&r->act_t, &r->net, o->batch, r->d->s[0].h, r->d->s[0].w) < 0)
		return -1;
	int pixel = strcmp(o->critic_level, "tile") != 0, d = 0;
	r->output = !strcmp(o->critic_level, "output");
	r->npts = o->batch * (pixel ? h * w : 1);
	r->levels = o->critic_levels ? o->critic_levels : 1u << (D - 1);
	for (int l = 0; l < D; l++)
		if (r->levels >> l & 1) {
			d += o->width << l;
			if (l < D - 1) {
				size_t sz = (size_t)o->batch * (o->width << l) * (r->d->s[0].h >> l) * (r->d->s[0].w >> l);
				r->gls[l] = ls_alloc_real(sz);
				r->glt[l] = ls_alloc_real(sz);
			}
		}
	if (r->output) {
		int p = o->critic_patch, th = r->d->s[0].h, tw = r->d->s[0].w;
		if (p < 1 || th % p || tw % p)
			return ls_err("--critic-patch %d must divide the tile size %dx%d", p, th, tw);
		r->npts = o->batch * (th / p) * (tw / p);
		d = o->classes * p * p;
		r->levels = 0;
		r->prob_s = ls_alloc_real((size_t)o->batch * o->classes * th * tw);
		r->prob_t = ls_alloc_real((size_t)o->batch * o->classes * th * tw);
	}
	ls_rng_seed(&g, (uint64_t)o->seed * 31 + 7);
	ls_critic_init(&r->critic, &r->cparams, d, o->critic_hidden, r->npts, &g);
	ls_optim_defaults(&r->copt, LS_ADAM, o->critic_lr);
	size_t n = (size_t)r->npts * d;
	r->hs = ls_alloc_real(n);
	r->ht = ls_alloc_real(n);
	r->gfs = ls_alloc_real((size_t)o->batch * c * h * w);	/* zero: stays so at the output level but for DSN's terms */
	r->gft = ls_alloc_real((size_t)o->batch * c * h * w);
	r->alpha = ls_alloc_real(r->npts);
	if (o->importance_weighted && !r->nval)
		return ls_err("--importance-weighted estimates the target's class proportions with the source validation "
			      "tiles' confusion: it needs some (--val-frac above 0), or give --target-prior");
	if (o->importance_weighted || o->target_prior) {
		r->iw = ls_xmalloc((size_t)o->classes * sizeof *r->iw);
		r->vconf = ls_xcalloc((size_t)o->classes * o->classes, sizeof *r->vconf);
		r->mu = ls_xcalloc((size_t)o->classes, sizeof *r->mu);
		r->vs = ls_alloc_real(r->npts);
		for (int k = 0; k < o->classes; k++)
			r->iw[k] = 1;
		if (o->target_prior && fixed_weights(r) < 0)
			return -1;
	}
	if (r->dsn) {
		/* private encoders: one per stream domain for source batches, and
		 * one more for the target (even when it shares the source's stem) */
		struct ls_unet_spec spec = r->net.spec;
		size_t np = (size_t)o->batch * h * w * c;
		if (spec.ndom >= LS_MAX_DOMAINS)
			return ls_err("dsn: at most %d domains", LS_MAX_DOMAINS - 1);
		const struct ls_sample *t0 = &r->d->s[r->tgt[0]];
		snprintf(spec.dom[spec.ndom], sizeof spec.dom[0], "target");
		spec.bands[spec.ndom++] = t0->c;
		if (ls_dsn_init(&r->net_dsn, &spec, o->batch, r->d->s[0].h, r->d->s[0].w, (uint64_t)o->seed) < 0)
			return -1;
		r->dopt = r->opt;
		r->dopt.t = 0;
		r->hc = ls_alloc_real(np);
		r->hp = ls_alloc_real(np);
		r->dhc = ls_alloc_real(np);
		r->dhp = ls_alloc_real(np);
		r->dpriv = ls_alloc_real(np);
		r->tmp = ls_alloc_real(np);
		ls_info("dsn: private encoders and reconstruction decoder: %zu parameters, %.0f MB of buffers",
			ls_params_count(&r->net_dsn.params), r->net_dsn.bytes / 1e6);
	}
	return 0;
}

static int setup(struct run *r)
{
	struct ls_unet_spec spec;
	const struct ls_train_opts *o = r->o;
	struct ls_dataset *d = r->d;
	ls_dataset_split(d, o->val_frac);
	r->order = ls_xmalloc(d->n * sizeof *r->order);
	r->base = ls_xmalloc(d->n * sizeof *r->base);
	r->val = ls_xmalloc(d->n * sizeof *r->val);
	r->wdgrl = !strcmp(o->method, "wdgrl");
	r->dsn = !strcmp(o->method, "dsn");
	r->dann = r->dsn && !strcmp(o->similarity, "dann");
	r->tgt = ls_xmalloc(d->n * sizeof *r->tgt);
	for (int i = 0; i < d->n; i++) {
		if (!d->s[i].y) {
			r->tgt[r->ntgt++] = i;
			continue;
		}
		if (d->s[i].val)
			r->val[r->nval++] = i;
		else
			r->base[r->ntrain++] = i;
	}
	if (r->ntrain == 0)
		return ls_err("no labelled training tiles (all %d are unlabelled or held out)", d->n);
	make_spec(r, &spec);
	ls_unet_init(&r->net, &spec, (uint64_t)o->seed);
	if (ls_unet_act_init(&r->act, &r->net, o->batch, d->s[0].h, d->s[0].w) < 0)
		return -1;
	ls_optim_defaults(&r->opt, LS_ADAM, o->lr);
	if (ls_optim_parse(&r->opt, o->optimiser, o->schedule) < 0)
		return -1;
	r->opt.weight_decay = o->weight_decay;
	r->opt.warmup = o->warmup;
	r->opt.total = (long)o->epochs * steps_per_epoch(r);
	r->cw = ls_alloc_real(o->classes);
	for (int c = 0; c < o->classes; c++)
		r->cw[c] = 1;
	if (o->class_weights) {
		double *cw = ls_xmalloc((size_t)o->classes * sizeof *cw);
		int bad = per_class("--class-weights", o->class_weights, o->classes, cw);
		for (int c = 0; c < o->classes && !bad; c++)
			r->cw[c] = (real)cw[c];
		free(cw);
		if (bad)
			return -1;
	}
	r->y = ls_xmalloc((size_t)o->batch * d->s[0].h * d->s[0].w);
	if ((r->wdgrl || r->dsn) && setup_wdgrl(r) < 0)
		return -1;
	ls_rng_seed(&r->shuffle, (uint64_t)o->seed * 7919 + 1);
	ls_rng_seed(&r->aug, (uint64_t)o->seed * 104729 + 2);
	r->best_val = INFINITY;
	snprintf(r->ckpt, sizeof r->ckpt, "%s.ckpt", o->model_path);
	describe(r);
	if (o->resume && resume(r) < 0)
		return -1;
	int maxc = 1;
	for (int i = 0; i < r->d->n; i++)
		maxc = r->d->s[i].c > maxc ? r->d->s[i].c : maxc;
	r->xskip = ls_alloc_real((size_t)maxc * r->d->s[0].h * r->d->s[0].w);
	r->yskip = ls_xmalloc((size_t)r->d->s[0].h * r->d->s[0].w);
	if (ls_dist.size > o->batch)
		return ls_err("%d ranks need --batch %d or more (one tile per rank at least)", ls_dist.size, ls_dist.size);
	if (o->metrics_path && ls_dist.rank == 0) {
		r->metrics = o->resume ? metrics_resume(o->metrics_path, r->epoch) : fopen(o->metrics_path, "w");
		if (!r->metrics)
			return ls_err("cannot write metrics %s", o->metrics_path);
	}
	ls_info("training %s: %d tiles (%d held out for validation), %d domains, %zu parameters, %.0f MB of buffers",
		o->method, r->ntrain, r->nval, d->ndom, ls_params_count(&r->net.params), r->act.bytes / 1e6);
	return 0;
}

/* One optimisation step on tiles idx[0..n). Returns the task loss. */
static double step(struct run *r, const int *idx, int n)
{
	struct ls_sample *s0 = &r->d->s[idx[0]];
	size_t img = (size_t)s0->c * s0->h * s0->w, hw = (size_t)s0->h * s0->w;
	int dom = s0->dom, lo, hi;
	real *x = r->act.in;
	share(n, &lo, &hi);
	for (int i = 0; i < n; i++)
		put_shared(r, &r->d->s[idx[i]], i, lo, hi, x, r->y, img, hw);
	struct ls_t4 xt = ls_t4_make(x, hi - lo, s0->c, s0->h, s0->w);
	ls_params_zero_grad(&r->net.params);
	ls_unet_forward(&r->net, &r->act, &xt, dom, 1);
	double loss = ls_softmax_xent(&r->act.logits, r->y, r->cw, &r->act.dlogits, NULL);
	loss *= xent_scale(r, hi - lo, hw, &r->act.dlogits);
	ls_unet_backward(&r->net, &r->act, &r->act.dlogits, NULL, dom);
	average(r, &r->net.params);
	ls_optim_step(&r->opt, &r->net.params);
	return mean_over_ranks(loss);
}

/* The bottleneck [n][c][h][w] as points: per pixel [n*h*w][c], or per tile. */
static int to_points(const struct ls_t4 *f, real *pts, int pixel)
{
	return ls_feature_points(f, 1, pts, f->c, 0, pixel);
}

static void from_points(const real *g, const struct ls_t4 *f, real *out, int pixel)
{
	ls_feature_points_backward(g, f, 1, f->c, 0, out, pixel);
}

/* The critic's points of one batch's forward a: the outputs of the
 * encoder levels it sees, each pooled onto the bottleneck's cells (or the
 * tile) and concatenated; with grad, the point gradients g back onto the
 * levels' buffers instead. */
static int level_points(struct run *r, struct ls_unet_act *a, real *pts, int pixel, const real *g, real **gl, real *gb)
{
	int D = r->o->depth, off = 0, m = 0, d = r->critic.d;
	for (int l = 0; l < D; l++) {
		if (!(r->levels >> l & 1))
			continue;
		const struct ls_t4 *f = &a->ea[l][1];
		int s = 1 << (D - 1 - l);
		if (g)
			ls_feature_points_backward(g, f, s, d, off, l == D - 1 ? gb : gl[l], pixel);
		else
			m = ls_feature_points(f, s, pts, d, off, pixel);
		off += f->c;
	}
	return m;
}

/* The batches of an adaptation step: the source tiles idx[0..n) with their
 * labels into r->act.in and r->y, and n target tiles drawn at random (of
 * one domain) into r->act_t.in. */
static void adapt_batches(struct run *r, const int *idx, int n, struct ls_t4 *xs, struct ls_t4 *xt, int *dom_s,
			  int *dom_t)
{
	struct ls_sample *s0 = &r->d->s[idx[0]];
	size_t img = (size_t)s0->c * s0->h * s0->w, hw = (size_t)s0->h * s0->w;
	int lo, hi;
	share(n, &lo, &hi);
	for (int i = 0; i < n; i++)
		put_shared(r, &r->d->s[idx[i]], i, lo, hi, r->act.in, r->y, img, hw);
	int ti[256], dt = r->d->s[r->tgt[0]].dom;
	for (int i = 0; i < n; i++) {
		ti[i] = r->tgt[ls_rng_u64(&r->aug) % (uint64_t)r->ntgt];
		if (r->d->s[ti[i]].dom != dt)
			ti[i] = r->tgt[0];
		const struct ls_sample *t = &r->d->s[ti[i]];
		put_shared(r, t, i, lo, hi, r->act_t.in, NULL, (size_t)t->c * hw, hw);
	}
	const struct ls_sample *t0 = &r->d->s[ti[0]];
	*xs = ls_t4_make(r->act.in, hi - lo, s0->c, s0->h, s0->w);
	*xt = ls_t4_make(r->act_t.in, hi - lo, t0->c, t0->h, t0->w);
	*dom_s = s0->dom;
	*dom_t = dt;
}

/* lambda at batch b of nb in epoch e: constant, or ramped up from 0 over
 * the adaptation epochs as in DANN (2 / (1 + exp(-10 p)) - 1). */
static double lambda_at(const struct ls_train_opts *o, int e, int b, int nb)
{
	if (strcmp(o->lambda_schedule, "ramp") != 0)
		return o->lambda;
	int n = o->epochs - o->adapt_warmup;
	double p = n > 0 ? (e - o->adapt_warmup + (double)b / (nb > 0 ? nb : 1)) / n : 1;
	p = p < 0 ? 0 : p > 1 ? 1 : p;
	return o->lambda * (2 / (1 + exp(-10 * p)) - 1);
}

/* --importance-weighted: the critic's source point weights of a batch (its
 * n tiles' labels in r->y; gh x gw cells a tile), scaled to mean 1 over the
 * whole batch (all ranks), so that only the source distribution's shape
 * changes. */
static void point_weights(struct run *r, int n, int gh, int gw, real *vs)
{
	double tot[2] = { ls_cell_weights(r->y, n, r->d->s[0].h, r->d->s[0].w, gh, gw, r->iw, r->o->classes, vs),
			  (double)n * gh * gw };
	ls_dist_sum_d(tot, 2);
	real scale = tot[0] > 0 ? (real)(tot[1] / tot[0]) : 1;
	for (int i = 0; i < n * gh * gw; i++)
		vs[i] *= scale;
}

/* The weights of the next epoch, from the last validation's confusion and
 * the model's predicted proportions on the target tiles. */
static void estimate_weights(struct run *r, const double *mu)
{
	if (ls_label_shift_weights(r->vconf, r->o->classes, mu, r->iw) < 0)
		ls_info("importance weights kept: the validation confusion is singular (a class never predicted)");
}

/* The domain-similarity term on the two bottlenecks fs, ft: trains the
 * critic (n steps on -W + gamma GP) or the domain classifier (one step),
 * then writes the encoder's gradient of lambda * (W, or the reversed
 * classifier loss) onto r->gfs and r->gft. */
static void similarity(struct run *r, const struct ls_t4 *fs, const struct ls_t4 *ft)
{
	const struct ls_train_opts *o = r->o;
	int pixel = strcmp(o->critic_level, "tile") != 0, m;
	if (r->output) {
		m = ls_prob_patches(&r->act.logits, o->critic_patch, r->prob_s, r->hs);
		ls_prob_patches(&r->act_t.logits, o->critic_patch, r->prob_t, r->ht);
	} else {
		m = level_points(r, &r->act, r->hs, pixel, NULL, NULL, NULL);
		level_points(r, &r->act_t, r->ht, pixel, NULL, NULL, NULL);
	}
	if (r->dann) {
		ls_params_zero_grad(&r->cparams);
		size_t nd = (size_t)m * r->critic.d;
		real *ds = r->critic.pts, *dt = r->critic.pts + nd;	/* 3m points of room */
		r->last_dom = mean_over_ranks(ls_domain_clf_grad(&r->critic, r->hs, r->ht, m, ds, dt));
		average(r, &r->cparams);
		ls_optim_step(&r->copt, &r->cparams);
		for (size_t i = 0; i < nd; i++) {	/* gradient reversal */
			r->hs[i] = (real)-r->lam * ds[i];
			r->ht[i] = (real)-r->lam * dt[i];
		}
	} else {
		real *vs = NULL;
		if (r->iw) {	/* the points' cells: bottleneck pixels, whole tiles or probability patches */
			int p = o->critic_patch, gh = r->output ? r->d->s[0].h / p : pixel ? fs->h : 1;
			int gw = r->output ? r->d->s[0].w / p : pixel ? fs->w : 1;
			point_weights(r, fs->n, gh, gw, r->vs);
			vs = r->vs;
		}
		for (int k = 0; k < o->n_critic; k++) {
			for (int i = 0; i < m; i++)
				r->alpha[i] = (real)ls_rng_uniform(&r->aug);
			ls_params_zero_grad(&r->cparams);
			r->last_w = mean_over_ranks(
				ls_critic_grad(&r->critic, r->hs, vs, r->ht, m, r->alpha, o->gamma, &r->last_gp));
			r->last_gp = mean_over_ranks(r->last_gp);
			average(r, &r->cparams);
			ls_optim_step(&r->copt, &r->cparams);
		}
		ls_critic_w_input_grad(&r->critic, r->hs, vs, r->ht, m, r->lam, r->hs, r->ht);
	}
	if (r->output)	/* onto the logits' gradients, once the task loss has put its own there */
		return;
	level_points(r, &r->act, NULL, pixel, r->hs, r->gls, r->gfs);
	level_points(r, &r->act_t, NULL, pixel, r->ht, r->glt, r->gft);
	if (!(r->levels >> (o->depth - 1) & 1)) {	/* the bottleneck unseen: DSN's terms alone there */
		memset(r->gfs, 0, ls_t4_len(fs) * sizeof(real));
		memset(r->gft, 0, ls_t4_len(ft) * sizeof(real));
	}
}

/* The gradients ls_unet_backward_levels takes: the critic's on the levels
 * it sees, the bottleneck's g (the similarity's and DSN's terms). */
static void level_grads(const struct run *r, real *const *gl, real *g, const real *df[LS_MAX_DEPTH])
{
	int D = r->o->depth;
	for (int l = 0; l < LS_MAX_DEPTH; l++)
		df[l] = l < D - 1 && r->levels >> l & 1 ? gl[l] : NULL;
	df[D - 1] = g;
}

/* What WDGRL and DSN steps share: the two batches through the network (the
 * source whole, the target to its bottleneck), the similarity term (which
 * trains the critic or classifier and leaves its encoder gradients in
 * r->gfs, r->gft), the network's gradients zeroed and the source task
 * loss with its gradient in r->act.dlogits. Returns the task loss. */
static double adapt_forward(struct run *r, const int *idx, int n, struct ls_t4 *xs, struct ls_t4 *xt, int *dom_s,
			    int *dom_t, struct ls_t4 **fs, struct ls_t4 **ft)
{
	adapt_batches(r, idx, n, xs, xt, dom_s, dom_t);
	ls_unet_forward(&r->net, &r->act, xs, *dom_s, 1);
	if (r->output)	/* the target through the whole network */
		ls_unet_forward(&r->net, &r->act_t, xt, *dom_t, 1);
	else
		ls_unet_encode(&r->net, &r->act_t, xt, *dom_t, 1);
	*fs = ls_unet_bottleneck(&r->act, &r->net);
	*ft = ls_unet_bottleneck(&r->act_t, &r->net);
	similarity(r, *fs, *ft);
	ls_params_zero_grad(&r->net.params);
	double loss = ls_softmax_xent(&r->act.logits, r->y, r->cw, &r->act.dlogits, NULL);
	loss *= xent_scale(r, (*fs)->n, (size_t)r->act.logits.h * r->act.logits.w, &r->act.dlogits);
	if (r->output) {
		int p = r->o->critic_patch;
		ls_prob_patches_backward(&r->act.logits, p, r->prob_s, r->hs, r->act.dlogits.d);
		memset(r->act_t.dlogits.d, 0, ls_t4_len(&r->act_t.logits) * sizeof(real));
		ls_prob_patches_backward(&r->act_t.logits, p, r->prob_t, r->ht, r->act_t.dlogits.d);
	}
	return loss;
}

/* One WDGRL iteration: n critic steps on -W + gamma GP with the encoder
 * frozen, then the encoder and head on task loss + lambda W. */
static double step_wdgrl(struct run *r, const int *idx, int n)
{
	struct ls_t4 xs, xt, *fs, *ft;
	int dom_s, dom_t;
	/* encoder + head: task loss + lambda W, critic frozen */
	double loss = adapt_forward(r, idx, n, &xs, &xt, &dom_s, &dom_t, &fs, &ft);
	const real *df[LS_MAX_DEPTH];
	level_grads(r, r->gls, r->output ? NULL : r->gfs, df);
	ls_unet_backward_levels(&r->net, &r->act, &r->act.dlogits, df, dom_s);
	level_grads(r, r->glt, r->output ? NULL : r->gft, df);
	ls_unet_backward_levels(&r->net, &r->act_t, r->output ? &r->act_t.dlogits : NULL, df, dom_t);
	average(r, &r->net.params);
	ls_optim_step(&r->opt, &r->net.params);
	loss = mean_over_ranks(loss);
	if (r->metrics)
		fprintf(r->metrics, "{\"step\":%ld,\"task_loss\":%.6g,\"w\":%.6g,\"gp\":%.6g,\"lambda\":%.4g}\n",
			r->opt.t, loss, r->last_w, r->last_gp, r->lam);
	return loss;
}

/* DSN's terms for one domain's batch x with shared code f: the private
 * code, beta L_difference and alpha L_recon; their gradient on the shared
 * code is added to g (which holds the similarity gradient), the private
 * encoder's and the decoder's to the DSN parameters. */
static void dsn_domain(struct run *r, const struct ls_t4 *x, const struct ls_t4 *f, int dom, real *g, double *recon,
		       double *diff)
{
	const struct ls_train_opts *o = r->o;
	const struct ls_t4 *pc = ls_dsn_private_forward(&r->net_dsn, x, dom);
	int np = to_points(f, r->hc, 1);
	to_points(pc, r->hp, 1);
	*diff = ls_diff_loss(r->hc, r->hp, np, f->c, (real)o->beta, r->dhc, r->dhp);
	from_points(r->dhc, f, r->tmp, 1);
	for (size_t i = 0; i < ls_t4_len(f); i++)
		g[i] += r->tmp[i];
	from_points(r->dhp, pc, r->dpriv, 1);
	*recon = ls_dsn_recon(&r->net_dsn, x, f, dom, (real)o->alpha, r->dpriv, g);
}

/* One DSN iteration: L_task (source) + alpha L_recon + beta L_difference
 * (both domains) + lambda L_similarity on the shared codes. */
static double step_dsn(struct run *r, const int *idx, int n)
{
	struct ls_t4 xs, xt, *fs, *ft;
	int dom_s, dom_t;
	double rs, rt, ds, dt;
	ls_params_zero_grad(&r->net_dsn.params);
	double loss = adapt_forward(r, idx, n, &xs, &xt, &dom_s, &dom_t, &fs, &ft);
	if (r->output) {	/* the similarity went onto the logits: the shared codes get DSN's terms alone */
		memset(r->gfs, 0, ls_t4_len(fs) * sizeof(real));
		memset(r->gft, 0, ls_t4_len(ft) * sizeof(real));
	}
	const real *df[LS_MAX_DEPTH];
	dsn_domain(r, &xs, fs, dom_s, r->gfs, &rs, &ds);	/* private encoder of the source's domain */
	level_grads(r, r->gls, r->gfs, df);
	ls_unet_backward_levels(&r->net, &r->act, &r->act.dlogits, df, dom_s);
	dsn_domain(r, &xt, ft, r->net_dsn.ndom - 1, r->gft, &rt, &dt);	/* the target's own */
	level_grads(r, r->glt, r->gft, df);
	ls_unet_backward_levels(&r->net, &r->act_t, r->output ? &r->act_t.dlogits : NULL, df, dom_t);
	average(r, &r->net.params);
	average(r, &r->net_dsn.params);
	ls_optim_step(&r->opt, &r->net.params);
	ls_optim_step(&r->dopt, &r->net_dsn.params);
	loss = mean_over_ranks(loss);
	r->last_recon = mean_over_ranks((rs + rt) / 2);
	r->last_diff = mean_over_ranks((ds + dt) / 2);
	if (r->metrics) {
		if (r->dann)
			fprintf(r->metrics,
				"{\"step\":%ld,\"task_loss\":%.6g,\"recon\":%.6g,\"diff\":%.6g,\"domain_loss\":%.6g}\n",
				r->opt.t, loss, r->last_recon, r->last_diff, r->last_dom);
		else
			fprintf(r->metrics,
				"{\"step\":%ld,\"task_loss\":%.6g,\"recon\":%.6g,\"diff\":%.6g,\"w\":%.6g,\"gp\":%.6g}\n",
				r->opt.t, loss, r->last_recon, r->last_diff, r->last_w, r->last_gp);
	}
	return loss;
}

/* Validation: loss and confusion over the held-out tiles, BN in inference
 * mode. iou[c] per class. */
static double validate(struct run *r, double *iou)
{
	int k = r->o->classes;
	uint64_t *conf = ls_xcalloc((size_t)k * k, sizeof *conf);
	double loss = 0;
	size_t counted = 0;
	for (int b = 0; b < r->nval;) {
		int n = 0, idx[256] = { 0 }, dom = r->d->s[r->val[b]].dom;
		while (n < r->o->batch && n < 256 && b + n < r->nval && r->d->s[r->val[b + n]].dom == dom) {
			idx[n] = r->val[b + n];
			n++;
		}
		struct ls_sample *s0 = &r->d->s[idx[0]];
		size_t img = (size_t)s0->c * s0->h * s0->w, hw = (size_t)s0->h * s0->w;
		for (int i = 0; i < n; i++)
			ls_batch_put(&r->d->s[idx[i]], r->act.in + i * img, r->y + i * hw, NULL, NULL);
		struct ls_t4 xt = ls_t4_make(r->act.in, n, s0->c, s0->h, s0->w);
		ls_unet_forward(&r->net, &r->act, &xt, dom, 0);
		size_t cnt;
		double l = ls_softmax_xent(&r->act.logits, r->y, NULL, NULL, &cnt);
		loss += l * cnt;
		counted += cnt;
		for (int i = 0; i < n; i++)
			for (size_t p = 0; p < hw; p++) {
				int y = r->y[i * hw + p];
				if (y >= k)
					continue;
				const real *z = ls_t4_img(&r->act.logits, i);
				int best = 0;
				for (int c = 1; c < k; c++)
					if (z[c * hw + p] > z[best * hw + p])
						best = c;
				conf[y * k + best]++;
			}
		b += n;
	}
	for (int c = 0; c < k; c++) {
		struct ls_class_score sc;
		ls_class_score(conf, k, c, &sc);
		iou[c] = sc.ref ? sc.iou : NAN;	/* NAN: absent from the validation labels, so its IoU cannot rank epochs */
	}
	if (r->vconf)
		for (int i = 0; i < k * k; i++)
			r->vconf[i] = (double)conf[i];
	free(conf);
	return counted ? loss / counted : NAN;
}

/* Mean entropy (nats) of the model's per-pixel class distribution over up
 * to 64 target tiles spread through the target set, in inference mode: a
 * label-free signal for choosing the epoch (--select target-entropy; lower
 * is more confident). */
static double target_entropy(struct run *r, double *frac)
{
	int k = r->o->classes, nt = r->ntgt, step = nt > 64 ? nt / 64 : 1;
	double sum = 0;
	size_t count = 0;
	if (frac)
		memset(frac, 0, (size_t)k * sizeof *frac);
	for (int b = 0; b < nt;) {
		int n = 0, idx[256] = { 0 }, dom = r->d->s[r->tgt[b]].dom;
		while (n < r->o->batch && n < 256 && b < nt && r->d->s[r->tgt[b]].dom == dom) {
			idx[n++] = r->tgt[b];
			b += step;
		}
		const struct ls_sample *s0 = &r->d->s[idx[0]];
		size_t img = (size_t)s0->c * s0->h * s0->w, hw = (size_t)s0->h * s0->w;
		for (int i = 0; i < n; i++)
			ls_batch_put(&r->d->s[idx[i]], r->act.in + i * img, NULL, NULL, NULL);
		struct ls_t4 xt = ls_t4_make(r->act.in, n, s0->c, s0->h, s0->w);
		ls_unet_forward(&r->net, &r->act, &xt, dom, 0);
		for (int i = 0; i < n; i++) {
			const real *z = ls_t4_img(&r->act.logits, i);
			for (size_t p = 0; p < hw; p++) {
				double m = z[p], e = 0, h = 0;
				for (int c = 1; c < k; c++)
					m = z[c * hw + p] > m ? z[c * hw + p] : m;
				for (int c = 0; c < k; c++)
					e += exp(z[c * hw + p] - m);
				int best = 0;
				for (int c = 0; c < k; c++) {
					double q = exp(z[c * hw + p] - m) / e;
					h -= q > 0 ? q * log(q) : 0;
					best = z[c * hw + p] > z[best * hw + p] ? c : best;
				}
				sum += h;
				if (frac)
					frac[best]++;
			}
			count += hw;
		}
	}
	if (frac && count)
		for (int c = 0; c < k; c++)
			frac[c] /= (double)count;
	return count ? sum / count : NAN;
}

/* Shuffle, then cut batches of one domain each. */
static int next_batches(struct run *r, int *batches, int *sizes)
{
	int nb = 0, *perm = r->order;
	/* every epoch shuffles the stream order afresh, so that a resumed run
	 * (which restores only the generator) sees the same batches */
	memcpy(perm, r->base, r->ntrain * sizeof *perm);
	for (int i = r->ntrain - 1; i > 0; i--) {
		int j = (int)(ls_rng_u64(&r->shuffle) % (uint64_t)(i + 1)), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	/* stable partition by domain keeps the shuffled order inside each */
	int *tmp = ls_xmalloc(r->ntrain * sizeof *tmp), k = 0;
	for (int d = 0; d < r->d->ndom; d++) {
		int start = k;
		for (int i = 0; i < r->ntrain; i++)
			if (r->d->s[perm[i]].dom == d)
				tmp[k++] = perm[i];
		for (int b = start; b < k; b += r->o->batch) {
			batches[nb] = b;
			sizes[nb++] = b + r->o->batch <= k ? r->o->batch : k - b;
		}
	}
	memcpy(perm, tmp, r->ntrain * sizeof *tmp);
	free(tmp);
	return nb;
}

static int checkpoint(struct run *r, int epoch, int improved)
{
	if (ls_dist.rank != 0)	/* the ranks hold the same model: one writes it */
		return 0;
	state_to_meta(r, epoch);
	/* the model before the checkpoint: a run killed between the two redoes
	 * this epoch from the previous checkpoint and writes the same model
	 * again; the other order would leave a checkpoint that counts an
	 * improvement whose model was never written */
	if (improved && ls_model_save(r->o->model_path, &r->net, &r->meta, 0) < 0)
		return -1;
	if (ls_model_save(r->ckpt, &r->net, &r->meta, 1) < 0)
		return -1;
	return 0;
}

int ls_train_run(const struct ls_train_opts *o, struct ls_dataset *d)
{
	struct run r;
	memset(&r, 0, sizeof r);
	r.o = o;
	r.d = d;
	int rc = setup(&r);
	int *batches = ls_xmalloc((d->n + 1) * sizeof *batches), *sizes = ls_xmalloc((d->n + 1) * sizeof *sizes);
	double iou[256];
	struct ls_progress prog;
	long per_epoch = steps_per_epoch(&r) + r.d->ndom;
	ls_progress_start(&prog, "training", per_epoch * (o->epochs - r.epoch));
	long done = 0;
	for (int e = r.epoch; rc == 0 && e < o->epochs; e++) {
		double t0 = now(), sum = 0;
		/* one pass over the shuffled tiles, or with --epoch-steps as many
		 * steps as asked, each pass shuffled afresh */
		int nb = next_batches(&r, batches, sizes), steps = 0, want = o->epoch_steps, pass0 = 0;
		for (int b = 0; want ? steps < want : b < nb; b++) {
			if (b == nb) {
				if (steps == pass0)
					break;	/* a pass without a batch of two tiles */
				nb = next_batches(&r, batches, sizes);
				b = 0;
				pass0 = steps;
			}
			if (sizes[b] < 2 && nb > 1)
				continue;	/* batch norm needs more than one tile */
			r.lam = want ? lambda_at(o, e, steps, want) : lambda_at(o, e, b, nb);
			if (r.wdgrl && e >= o->adapt_warmup)
				sum += step_wdgrl(&r, r.order + batches[b], sizes[b]);
			else if (r.dsn && e >= o->adapt_warmup)
				sum += step_dsn(&r, r.order + batches[b], sizes[b]);
			else
				sum += step(&r, r.order + batches[b], sizes[b]);
			steps++;
			ls_progress_update(&prog, ++done);
		}
		ls_progress_end(&prog);
		double vl = r.nval ? validate(&r, iou) : NAN, train_loss = steps ? sum / steps : NAN;
		double fg = 0;
		int nfg = 0;
		for (int c = 1; c < o->classes && r.nval; c++)	/* iou is unset without validation tiles */
			if (!isnan(iou[c]))
				fg += iou[c], nfg++;
		double viou = r.nval && nfg ? fg / nfg : NAN;
		/* an adapted run returns an adapted model: the choice starts afresh
		 * with the first epoch of adaptation */
		if ((r.wdgrl || r.dsn) && e == o->adapt_warmup)
			r.best_val = INFINITY;
		/* lower is better: validation loss, or minus validation IoU */
		int adapting = (r.wdgrl || r.dsn) && e >= o->adapt_warmup;
		/* the importance weights of the next epoch, from this epoch's model
		 * (the last warm-up epoch's for the first adaptation epoch) */
		int want_iw = r.iw && !o->target_prior && e + 1 >= o->adapt_warmup && e + 1 < o->epochs && r.nval;
		double tent = NAN;
		if ((adapting && !strcmp(o->select, "target-entropy")) || want_iw) {
			double t = target_entropy(&r, r.mu);
			tent = adapting && !strcmp(o->select, "target-entropy") ? t : NAN;
			if (want_iw)
				estimate_weights(&r, r.mu);
		}
		/* --select val-iou on a validation area holding no pixel of any
		 * class but background (a part of a scene with no trees, say): the
		 * IoU is 0 or undefined at every epoch, so the loss ranks them */
		int by_loss = !strcmp(o->select, "val-loss") || (!strcmp(o->select, "val-iou") && r.nval && isnan(viou));
		if (by_loss && strcmp(o->select, "val-loss") && !r.warned_no_fg++)
			ls_warn("the validation tiles hold no labelled pixel of any class but background: epochs are chosen by validation loss, not IoU");
		double score = by_loss ? vl : !strcmp(o->select, "target-entropy") ? tent : -viou;
		int needs_val = strcmp(o->select, "target-entropy") != 0;
		int improved = !strcmp(o->select, "last") || (needs_val && !r.nval) || isnan(score) ? 1 : score < r.best_val;
		if (improved && (r.nval || !needs_val) && !isnan(score))
			r.best_val = score;
		char wtxt[128] = "";
		if (r.wdgrl && e >= o->adapt_warmup)
			snprintf(wtxt, sizeof wtxt, ", W %.4f, GP %.4f", r.last_w, r.last_gp);
		else if (r.dsn && e >= o->adapt_warmup)
			snprintf(wtxt, sizeof wtxt, ", recon %.4f, diff %.4f, %s %.4f", r.last_recon, r.last_diff,
				 r.dann ? "domain loss" : "W", r.dann ? r.last_dom : r.last_w);
		if (!isnan(tent))
			snprintf(wtxt + strlen(wtxt), sizeof wtxt - strlen(wtxt), ", target entropy %.4f", tent);
		char iwtxt[LS_MAX_IW_TEXT] = "", iwjson[LS_MAX_IW_TEXT + 32] = "";
		if (r.iw) {
			char v[LS_MAX_IW_TEXT];
			join_doubles(v, sizeof v, r.iw, o->classes, 3);
			snprintf(iwtxt, sizeof iwtxt, ", class weights next %s", v);
			join_doubles(v, sizeof v, r.iw, o->classes, 6);
			snprintf(iwjson, sizeof iwjson, ",\"class_weights_next\":[%s]", v);
		}
		ls_info("epoch %d/%d: loss %.4f, validation loss %.4f, validation IoU %.3f%s%s, lr %.2g, %.1f s%s", e + 1,
			o->epochs, train_loss, vl, viou, wtxt, iwtxt, ls_optim_lr(&r.opt, r.opt.t), now() - t0,
			improved ? " (best)" : "");
		if (r.metrics) {
			fprintf(r.metrics,
				"{\"epoch\":%d,\"step\":%ld,\"loss\":%.6g,\"val_loss\":%.6g,\"val_iou\":%.6g,\"lr\":%.6g,"
				"\"seconds\":%.2f,\"target_entropy\":%.6g%s}\n",
				e + 1, r.opt.t, train_loss, isnan(vl) ? -1 : vl, isnan(viou) ? -1 : viou,
				ls_optim_lr(&r.opt, r.opt.t), now() - t0, isnan(tent) ? -1 : tent, iwjson);
			fflush(r.metrics);
		}
		if (checkpoint(&r, e + 1, improved) < 0)
			rc = -1;
	}
	if (r.metrics && fclose(r.metrics) != 0 && rc == 0)
		rc = ls_err("writing %s failed", o->metrics_path);
	free(batches);
	free(sizes);
	if (r.dsn) {
		ls_dsn_free(&r.net_dsn);
		free(r.hc);
		free(r.hp);
		free(r.dhc);
		free(r.dhp);
		free(r.dpriv);
		free(r.tmp);
	}
	if (r.wdgrl || r.dsn) {
		ls_unet_act_free(&r.act_t);
		ls_critic_free(&r.critic);
		ls_params_free(&r.cparams);
		free(r.hs);
		free(r.ht);
		free(r.gfs);
		free(r.gft);
		for (int l = 0; l < LS_MAX_DEPTH; l++) {
			free(r.gls[l]);
			free(r.glt[l]);
		}
		free(r.alpha);
		free(r.prob_s);
		free(r.prob_t);
		free(r.iw);
		free(r.vconf);
		free(r.mu);
		free(r.vs);
	}
	free(r.xskip);
	free(r.yskip);
	free(r.gbuf);
	free(r.tgt);
	free(r.order);
	free(r.base);
	free(r.val);
	free(r.cw);
	free(r.y);
	ls_unet_act_free(&r.act);
	ls_unet_free(&r.net);
	ls_meta_free(&r.meta);
	return rc;
}
