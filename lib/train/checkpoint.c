/* checkpoint.c - what a model file records of its training, and the
 * checkpoint after every epoch that lets a stopped run continue exactly:
 * the network with its optimiser moments, the method's own parts (critic,
 * teacher) with theirs, the step counts and the random generators. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "train/dist.h"
#include "train/method.h"

static void join_floats(char *buf, size_t n, const float *v, int k)
{
	size_t off = 0;
	buf[0] = 0;
	for (int i = 0; i < k && off < n; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%.9g", i ? "," : "", (double)v[i]);
}

static void describe_method(struct ls_trainer *t)
{
	const struct ls_train_opts *o = t->o;
	const struct ls_align_opts *a = &o->align;
	char v[512], lv[3 * LS_MAX_DEPTH + 8] = "";
	unsigned levels = a->levels ? a->levels : 1u << (o->depth - 1);
	for (int l = 0, n = 0; l < LS_MAX_DEPTH; l++)	/* the encoder levels the critic sees */
		if (levels >> l & 1)
			n += snprintf(lv + n, sizeof lv - (size_t)n, "%s%d", n ? "," : "", l);
	if (!strcmp(o->method, "wdgrl") || !strcmp(o->method, "dsn")) {
		int n = snprintf(v, sizeof v,
				 "lambda=%g gamma=%g n_critic=%d critic_lr=%g critic_hidden=%d level=%s features=%s "
				 "warmup_epochs=%d",
				 a->lambda, a->gamma, a->n_critic, a->critic_lr, a->critic_hidden,
				 a->tile_level ? "tile" : "pixel", lv, o->adapt_warmup);
		if (!strcmp(o->method, "dsn"))
			snprintf(v + n, sizeof v - (size_t)n, " alpha=%g beta=%g similarity=%s", a->alpha, a->beta,
				 a->dann ? "dann" : "critic");
		ls_meta_set(&t->meta, o->method, v);
	}
	if (!strcmp(o->method, "selftrain")) {
		snprintf(v, sizeof v,
			 "ema=%g threshold=%g class_share=%g classmix=%d target_bn=%d jitter=%g blur=%g warmup_epochs=%d",
			 o->st.ema, o->st.threshold, o->st.class_share, o->st.classmix, o->st.target_bn, o->st.jitter,
			 o->st.blur, o->adapt_warmup);
		ls_meta_set(&t->meta, "selftrain", v);
	}
	if (o->fda_beta > 0) {
		snprintf(v, sizeof v, "%g", o->fda_beta);
		ls_meta_set(&t->meta, "fda_beta", v);
	}
	if (o->dice > 0) {
		snprintf(v, sizeof v, "%g", o->dice);
		ls_meta_set(&t->meta, "dice", v);
	}
	if (o->aug.scale > 0) {
		snprintf(v, sizeof v, "%g", o->aug.scale);
		ls_meta_set(&t->meta, "scale_jitter", v);
	}
	if (o->init_path)
		ls_meta_set(&t->meta, "init", o->init_path);
}

void ls_tr_describe(struct ls_trainer *t)
{
	char buf[4096], key[128];
	const struct ls_train_opts *o = t->o;
	struct ls_dataset *d = t->d;
	ls_meta_set(&t->meta, "method", o->method);
	describe_method(t);
	long spe = o->epoch_steps > 0 ? o->epoch_steps : (t->ntrain + o->batch - 1) / o->batch;
	snprintf(buf, sizeof buf, "epochs=%d batch=%d lr=%g steps_per_epoch=%ld%s", o->epochs, o->batch, o->lr, spe,
		 o->epoch_steps ? " (set)" : "");
	ls_meta_set(&t->meta, "training", buf);
	ls_meta_set(&t->meta, "target_labels", d->labelled_ignored ? "present-and-ignored" : "none-read");
	ls_meta_set(&t->meta, "selected_by", o->select);
	unsigned long hsrc = 5381;	/* the data: tile counts and the source rasters' names */
	for (int i = 0; i < d->srcs.n; i++) {	/* base names: the same data elsewhere hashes alike */
		const char *p = strrchr(d->srcs.v[i], '/');
		for (p = p ? p + 1 : d->srcs.v[i]; *p; p++)
			hsrc = hsrc * 33 + (unsigned char)*p;
	}
	snprintf(buf, sizeof buf, "train=%d val=%d target=%d rasters=%d name-hash=%08lx", t->ntrain, t->nval, t->ntgt,
		 d->srcs.n, hsrc & 0xffffffffUL);
	ls_meta_set(&t->meta, "data", buf);
	snprintf(buf, sizeof buf, "%d", o->seed);
	ls_meta_set(&t->meta, "seed", buf);
	/* one raster per domain: its own statistics are also the domain's */
	ls_meta_set(&t->meta, "normalisation", d->per_raster ? "per-raster" : d->srcs.n > d->ndom ? "per-domain" : "per-raster");
	if (d->gsd > 0 && d->gsd_max <= d->gsd * 1.01 && !d->gsd_geo) {
		snprintf(buf, sizeof buf, "%.6g", d->gsd);
		ls_meta_set(&t->meta, "gsd", buf);
	} else if (d->gsd > 0 && d->gsd_max > d->gsd * 1.01) {	/* sources of several GSDs: none to map at */
		snprintf(buf, sizeof buf, "%.2g-%.2g", d->gsd, d->gsd_max);
		ls_meta_set(&t->meta, "gsd_range", buf);
	}
	if (o->class_names)
		ls_meta_set(&t->meta, "classes", o->class_names);
	if (!strcmp(o->weights, "i16") || !strcmp(o->weights, "i8"))
		ls_meta_set(&t->meta, "weights", o->weights);
	for (int i = 0; i < d->ndom; i++) {
		size_t off = 0;
		buf[0] = 0;
		for (int b = 0; b < d->bands[i].n; b++)
			off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s", b ? "," : "", d->bands[i].v[b]);
		snprintf(key, sizeof key, "bands.%s", d->dom[i]);
		ls_meta_set(&t->meta, key, buf[0] ? buf : "-");
		if (!d->norm[i].n)
			continue;
		join_floats(buf, sizeof buf, d->norm[i].mean, d->norm[i].n);
		snprintf(key, sizeof key, "norm.%s.mean", d->dom[i]);
		ls_meta_set(&t->meta, key, buf);
		join_floats(buf, sizeof buf, d->norm[i].std, d->norm[i].n);
		snprintf(key, sizeof key, "norm.%s.std", d->dom[i]);
		ls_meta_set(&t->meta, key, buf);
	}
}

static void put_rng(struct ls_model_meta *m, const char *key, const struct ls_rng *g)
{
	char buf[80];
	snprintf(buf, sizeof buf, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, g->s[0], g->s[1], g->s[2],
		 g->s[3]);
	ls_meta_set(m, key, buf);
}

static int get_rng(const char *s, struct ls_rng *g)
{
	if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
		return -1;
	for (int i = 0; i < 4; i++) {
		char part[17];
		memcpy(part, s + 16 * i, 16);
		part[16] = 0;
		g->s[i] = strtoull(part, NULL, 16);
	}
	return 0;
}

static int method_state(struct ls_trainer *t, struct ls_method_state *st, struct ls_model_extra *x)
{
	int n = t->m->state ? t->m->state(t, st) : 0;
	for (int i = 0; i < n; i++)
		x[i] = (struct ls_model_extra){ st[i].prefix, st[i].ps };
	return n;
}

int ls_tr_checkpoint(struct ls_trainer *t, int epoch, int improved)
{
	if (ls_dist.rank != 0)	/* the ranks hold the same model: one writes it */
		return 0;
	char buf[256], key[96];
	struct ls_method_state st[2];
	struct ls_model_extra x[2];
	int nx = method_state(t, st, x);
	snprintf(buf, sizeof buf, "%d", epoch);
	ls_meta_set(&t->meta, "epoch", buf);
	snprintf(buf, sizeof buf, "%ld", t->opt.t);
	ls_meta_set(&t->meta, "step", buf);
	for (int i = 0; i < nx; i++)
		if (st[i].opt) {
			snprintf(key, sizeof key, "step.%s", st[i].prefix);
			snprintf(buf, sizeof buf, "%ld", st[i].opt->t);
			ls_meta_set(&t->meta, key, buf);
		}
	put_rng(&t->meta, "rng.shuffle", &t->shuffle);
	put_rng(&t->meta, "rng.augment", &t->aug);
	snprintf(buf, sizeof buf, "%.17g", t->best);
	ls_meta_set(&t->meta, "best_score", buf);
	ls_meta_set(&t->meta, "adapting", t->adapting ? "1" : "0");
	if (t->warned_no_fg)
		ls_meta_set(&t->meta, "selected_by", "val-loss");
	/* the model before the checkpoint: a run killed between the two redoes
	 * this epoch from the previous checkpoint and writes the same model
	 * again; the other order would leave a checkpoint that counts an
	 * improvement whose model was never written */
	struct ls_unet *model = t->m->model ? t->m->model(t) : &t->net;
	if (improved && ls_model_save(t->o->model_path, model, &t->meta, 0) < 0)
		return -1;
	return ls_model_save_ext(t->ckpt, &t->net, &t->meta, 1, x, nx);
}

/* A number of the checkpoint's meta in [lo, hi], or -1 with an error. */
static int meta_long(const struct ls_model_meta *m, const char *path, const char *key, long lo, long hi, long *v)
{
	const char *s = ls_meta_get(m, key);
	char *end;
	if (!s)
		return ls_err("%s: not a training checkpoint (no %s)", path, key);
	*v = strtol(s, &end, 10);
	if (end == s || *end || *v < lo || *v > hi)
		return ls_err("%s: %s '%s' is outside %ld..%ld", path, key, s, lo, hi);
	return 0;
}

static int copy_net(struct ls_trainer *t, struct ls_unet *saved)
{
	if (saved->params.n != t->net.params.n)
		return ls_err("%s holds another architecture", t->ckpt);
	for (int i = 0; i < saved->params.n; i++) {
		struct ls_param *a = saved->params.p[i], *b = t->net.params.p[i];
		if (a->n != b->n || strcmp(a->name, b->name))
			return ls_err("%s holds another architecture", t->ckpt);
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
	return 0;
}

int ls_tr_resume(struct ls_trainer *t)
{
	struct ls_unet saved;
	struct ls_model_meta m = { 0 };
	struct ls_method_state st[2];
	struct ls_model_extra x[2];
	long epoch = 0, step = 0, adapting = 0, mstep = 0;
	int nx = method_state(t, st, x), rc = 0;
	if (ls_model_load(t->ckpt, &saved, &m) < 0)
		return -1;
	const char *bv = ls_meta_get(&m, "best_score"), *meth = ls_meta_get(&m, "method");
	rc = copy_net(t, &saved);
	if (rc == 0 && (!meth || strcmp(meth, t->o->method)))
		rc = ls_err("%s was trained by %s, not %s", t->ckpt, meth ? meth : "no method", t->o->method);
	/* the run goes on only as it started: its settings, seed, data and method's own */
	const char *same[] = { "training", "seed", "data", t->o->method, "fda_beta", "dice", "scale_jitter", "init" };
	for (size_t i = 0; i < sizeof same / sizeof *same && rc == 0; i++) {
		const char *a = ls_meta_get(&m, same[i]), *b = ls_meta_get(&t->meta, same[i]);
		if ((a || b) && (!a || !b || strcmp(a, b)))
			rc = ls_err("%s was trained with %s '%s', this run asks '%s': resume with the same settings and data, "
				    "or start afresh", t->ckpt, same[i], a ? a : "(none)", b ? b : "(none)");
	}
	if (rc == 0 && (meta_long(&m, t->ckpt, "epoch", 0, t->o->epochs, &epoch) < 0 ||
			meta_long(&m, t->ckpt, "step", 0, (long)1 << 40, &step) < 0 ||
			meta_long(&m, t->ckpt, "adapting", 0, 1, &adapting) < 0))
		rc = -1;
	if (rc == 0 && (!bv || get_rng(ls_meta_get(&m, "rng.shuffle"), &t->shuffle) < 0 ||
			get_rng(ls_meta_get(&m, "rng.augment"), &t->aug) < 0))
		rc = ls_err("%s is not a training checkpoint", t->ckpt);
	for (int i = 0; i < nx && rc == 0; i++)
		if (st[i].opt) {
			char key[96];
			snprintf(key, sizeof key, "step.%s", st[i].prefix);
			if (meta_long(&m, t->ckpt, key, 0, (long)1 << 40, &mstep) < 0)
				rc = -1;
			else
				st[i].opt->t = mstep;
		}
	if (rc == 0 && nx && ls_model_load_extra(t->ckpt, x, nx) < 0)
		rc = -1;
	if (rc == 0) {
		t->epoch = (int)epoch;
		t->opt.t = step;
		t->adapting = (int)adapting;
		t->best = strtod(bv, NULL);
		ls_info("resuming from %s after epoch %d (step %ld)", t->ckpt, t->epoch, t->opt.t);
	}
	ls_unet_free(&saved);
	ls_meta_free(&m);
	return rc;
}

/* The metrics log of a resumed run: the lines of the epochs the checkpoint
 * holds are kept, those written after it (an epoch logged, then killed
 * before its checkpoint) are cut, so that the redone epoch is logged once. */
FILE *ls_tr_metrics_resume(const char *path, int epochs)
{
	FILE *f = fopen(path, "r+");
	if (!f)
		return fopen(path, "w");
	char line[4096];
	long keep = 0;
	while (fgets(line, sizeof line, f)) {
		const char *e = strstr(line, "\"epoch\":");
		if (!strchr(line, '\n') || (e && atoi(e + 8) > epochs))
			break;
		if (e)	/* an epoch's line ends what it logged: its steps are before it */
			keep = ftell(f);
	}
	if (fflush(f) != 0 || ftruncate(fileno(f), keep) != 0 || fseek(f, keep, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	return f;
}
