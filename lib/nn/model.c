#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "stream/frame.h"
#include "nn/model.h"

void ls_meta_set(struct ls_model_meta *m, const char *key, const char *val)
{
	for (int i = 0; i < m->keys.n; i++)
		if (!strcmp(m->keys.v[i], key)) {
			free(m->vals.v[i]);
			m->vals.v[i] = ls_xstrdup(val);
			return;
		}
	ls_strlist_push(&m->keys, key);
	ls_strlist_push(&m->vals, val);
}

const char *ls_meta_get(const struct ls_model_meta *m, const char *key)
{
	for (int i = 0; i < m->keys.n; i++)
		if (!strcmp(m->keys.v[i], key))
			return m->vals.v[i];
	return NULL;
}

void ls_meta_free(struct ls_model_meta *m)
{
	ls_strlist_free(&m->keys);
	ls_strlist_free(&m->vals);
}

static char *meta_text(const struct ls_model_meta *m)
{
	size_t n = 64;
	for (int i = 0; i < m->keys.n; i++)
		n += strlen(m->keys.v[i]) + strlen(m->vals.v[i]) + 2;
	char *t = ls_xmalloc(n);
	size_t k = (size_t)snprintf(t, n, "landshift-model %d\n", LS_MODEL_VERSION);
	for (int i = 0; i < m->keys.n; i++)
		k += (size_t)snprintf(t + k, n - k, "%s %s\n", m->keys.v[i], m->vals.v[i]);
	return t;
}

static void put_f32(struct ls_tensor *t, const real *src, const struct ls_param *p)
{
	ls_tensor_alloc(t, LS_F32, p->ndim, p->shape);
	float *d = t->data;
	for (size_t i = 0; i < p->n; i++)
		d[i] = (float)src[i];
}

/* The weights as i16, each output channel (first dimension) scaled by its
 * largest magnitude over 32767; the scales go to the extra tensor "scale". */
static void put_i16(struct ls_frame *f, const struct ls_param *p)
{
	int64_t nout = p->shape[0];
	size_t per = p->n / (size_t)nout;
	ls_tensor_alloc(&f->t, LS_I16, p->ndim, p->shape);
	float *scale = ls_frame_add_extra(f, "scale", LS_F32, 1, &nout)->data;
	int16_t *q = f->t.data;
	for (int64_t o = 0; o < nout; o++) {
		const real *w = p->w + (size_t)o * per;
		double big = 0;
		for (size_t i = 0; i < per; i++)
			big = fmax(big, fabs((double)w[i]));
		scale[o] = (float)(big / 32767);
		for (size_t i = 0; i < per; i++)
			q[(size_t)o * per + i] = big > 0 ? (int16_t)lrint((double)w[i] / scale[o]) : 0;
	}
}

/* Weights stored as i16: the meta says so, the file is no checkpoint, and
 * the tensor is a convolution's weights (biases and batch-norm values,
 * whose magnitudes vary within a tensor, stay f32). */
static int stored_i16(const struct ls_model_meta *meta, const struct ls_param *p, int with_state)
{
	const char *w = meta ? ls_meta_get(meta, "weights") : NULL;
	return !with_state && w && !strcmp(w, "i16") && p->ndim >= 2 && p->shape[0] > 0;
}

/* A stored tensor fits p: its shape, or (files written before shapes
 * were recorded) one dimension of p->n values. */
static int fits(const struct ls_tensor *t, const struct ls_param *p)
{
	if (t->dtype != LS_F32 && t->dtype != LS_I16)
		return 0;
	if (t->ndim == 1 && (size_t)t->shape[0] == p->n)
		return 1;
	if (t->ndim != p->ndim)
		return 0;
	for (int i = 0; i < p->ndim; i++)
		if (t->shape[i] != p->shape[i])
			return 0;
	return 1;
}

static void shape_text(const int64_t *shape, int ndim, char *buf, size_t n)
{
	size_t k = 0;
	buf[0] = 0;
	for (int i = 0; i < ndim && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "x" : "", (long long)shape[i]);
}

static int put_param(struct ls_writer *w, struct ls_frame *f, const char *kind, const char *prefix,
		     const struct ls_param *p, int with_state, const struct ls_model_meta *meta)
{
	char key[256];
	ls_frame_reset(f);
	snprintf(f->kind, sizeof f->kind, "%s", kind);
	snprintf(key, sizeof key, "%s%s%s", prefix ? prefix : "", prefix ? "/" : "", p->name);
	ls_frame_set_str(&f->key, key);
	if (stored_i16(meta, p, with_state))
		put_i16(f, p);
	else
		put_f32(&f->t, p->w, p);
	if (with_state && p->m)
		put_f32(ls_frame_add_extra(f, "m", LS_F32, p->ndim, p->shape), p->m, p);
	if (with_state && p->v)
		put_f32(ls_frame_add_extra(f, "v", LS_F32, p->ndim, p->shape), p->v, p);
	return ls_writer_put(w, f);
}

int ls_model_save(const char *path, struct ls_unet *net, const struct ls_model_meta *meta, int with_state)
{
	return ls_model_save_ext(path, net, meta, with_state, NULL, 0);
}

int ls_model_save_ext(const char *path, struct ls_unet *net, const struct ls_model_meta *meta, int with_state,
		      const struct ls_model_extra *x, int nx)
{
	char tmp[4096], spec[1024];
	struct ls_frame f;
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return ls_err("cannot write model %s: %s", path, strerror(errno));
	ls_cleanup_add(tmp);
	struct ls_writer *w = ls_writer_open(fd, path);
	ls_frame_init(&f);
	ls_unet_spec_format(&net->spec, spec, sizeof spec);
	char *text = meta_text(meta);
	int64_t len = (int64_t)strlen(text);
	snprintf(f.kind, sizeof f.kind, "model");
	ls_frame_set_str(&f.key, spec);
	ls_frame_alloc(&f, LS_U8, 1, &len);
	memcpy(f.t.data, text, (size_t)len);
	free(text);
	int rc = ls_writer_put(w, &f);
	for (int i = 0; i < net->params.n && rc == 0; i++)
		rc = put_param(w, &f, "param", NULL, net->params.p[i], with_state, meta);
	for (int k = 0; k < nx; k++)
		for (int i = 0; i < x[k].ps->n && rc == 0; i++)
			rc = put_param(w, &f, "state", x[k].prefix, x[k].ps->p[i], 1, NULL);
	ls_frame_free(&f);
	if (ls_writer_close(w) < 0 || rc < 0 || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		ls_cleanup_forget(tmp);
		return ls_err("writing model %s failed: %s", path, strerror(errno ? errno : EIO));
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		ls_cleanup_forget(tmp);
		return ls_err("cannot rename %s to %s: %s", tmp, path, strerror(errno));
	}
	ls_cleanup_forget(tmp);
	return 0;
}

static int parse_meta(const char *path, const struct ls_frame *f, struct ls_model_meta *meta)
{
	size_t n = f->t.nbytes;
	char *t = ls_xmalloc(n + 1), *save = NULL;
	memcpy(t, f->t.data, n);
	t[n] = 0;
	char *line = strtok_r(t, "\n", &save);
	int version = 0;
	if (!line || sscanf(line, "landshift-model %d", &version) != 1 || version != LS_MODEL_VERSION) {
		free(t);
		return ls_err("%s: not a landshift model of version %d", path, LS_MODEL_VERSION);
	}
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = 0;
		ls_meta_set(meta, line, sp + 1);
	}
	free(t);
	return 0;
}

static void get_f32(real *dst, const struct ls_tensor *t, size_t n)
{
	const float *s = t->data;
	for (size_t i = 0; i < n; i++)
		dst[i] = (real)s[i];
}

/* i16 weights times their output channel's scale (put_i16). */
static int get_i16(const char *path, const struct ls_frame *f, real *dst, size_t n)
{
	const struct ls_tensor *sc = NULL;
	for (int e = 0; e < f->nextra; e++)
		if (!strcmp(f->extra[e].name, "scale"))
			sc = &f->extra[e];
	int64_t nout = f->t.shape[0];
	if (!sc || sc->dtype != LS_F32 || sc->ndim != 1 || sc->shape[0] != nout || f->t.ndim < 2 || nout <= 0)
		return ls_err("%s: tensor '%s' is i16 without an f32 scale per output channel", path, f->key);
	const int16_t *q = f->t.data;
	const float *scale = sc->data;
	size_t per = n / (size_t)nout;
	for (size_t i = 0; i < n; i++)
		dst[i] = (real)((float)q[i] * scale[i / per]);
	return 0;
}

static int load_into(const char *path, struct ls_params *ps, const char *name, const struct ls_frame *f, char *seen)
{
	struct ls_param *p = NULL;
	int idx = -1;
	for (int i = 0; i < ps->n; i++)
		if (!strcmp(ps->p[i]->name, name)) {
			p = ps->p[i];
			idx = i;
		}
	if (!p)
		return ls_err("%s: tensor '%s' does not belong to this architecture", path, f->key);
	if (!fits(&f->t, p)) {
		char have[96], want[96];
		shape_text(f->t.shape, f->t.ndim, have, sizeof have);
		shape_text(p->shape, p->ndim, want, sizeof want);
		return ls_err("%s: tensor '%s' is %s %s, the architecture needs f32 %s", path, f->key,
			      ls_dtype_name(f->t.dtype), have, want);
	}
	if (seen[idx]++)
		return ls_err("%s: tensor '%s' appears twice", path, f->key);
	if (f->t.dtype == LS_I16) {
		if (get_i16(path, f, p->w, p->n) < 0)
			return -1;
	} else {
		get_f32(p->w, &f->t, p->n);
	}
	for (int e = 0; e < f->nextra; e++) {
		const struct ls_tensor *t = &f->extra[e];
		if (f->t.dtype == LS_I16 && !strcmp(t->name, "scale"))
			continue;
		real **dst = !strcmp(t->name, "m") ? &p->m : !strcmp(t->name, "v") ? &p->v : NULL;
		if (!dst || t->dtype != LS_F32 || !fits(t, p))
			return ls_err("%s: tensor '%s' has a malformed optimiser state '%s'", path, f->key, t->name);
		if (!*dst)
			*dst = ls_alloc_real(p->n);
		get_f32(*dst, t, p->n);
	}
	return 0;
}

static int load_param(const char *path, struct ls_unet *net, const struct ls_frame *f, char *seen)
{
	if (strcmp(f->kind, "param") || !f->key)
		return ls_err("%s: unexpected frame of kind '%s'", path, f->kind);
	return load_into(path, &net->params, f->key, f, seen);
}

int ls_model_load_extra(const char *path, const struct ls_model_extra *x, int nx)
{
	struct ls_frame f;
	int fd = open(path, O_RDONLY), rc;
	if (fd < 0)
		return ls_err("cannot open %s: %s", path, strerror(errno));
	struct ls_reader *r = ls_reader_open(fd, path);
	char *seen[4] = { 0 };
	for (int k = 0; k < nx && k < 4; k++)
		seen[k] = ls_xcalloc((size_t)x[k].ps->n + 1, 1);
	ls_frame_init(&f);
	while ((rc = ls_reader_next(r, &f)) == 1) {
		const char *slash = f.key ? strchr(f.key, '/') : NULL;
		if (strcmp(f.kind, "state") || !slash)
			continue;
		int k = 0;
		while (k < nx && (strlen(x[k].prefix) != (size_t)(slash - f.key) || strncmp(x[k].prefix, f.key, slash - f.key)))
			k++;
		if (k == nx) {
			rc = ls_err("%s: state '%s' belongs to no part of this method", path, f.key);
			break;
		}
		if (load_into(path, x[k].ps, slash + 1, &f, seen[k]) < 0) {
			rc = -1;
			break;
		}
	}
	for (int k = 0; k < nx && rc == 0; k++)
		for (int i = 0; i < x[k].ps->n && rc == 0; i++)
			if (!seen[k][i])
				rc = ls_err("%s: state '%s/%s' is missing", path, x[k].prefix, x[k].ps->p[i]->name);
	for (int k = 0; k < nx && k < 4; k++)
		free(seen[k]);
	ls_frame_free(&f);
	ls_reader_close(r);
	return rc < 0 ? -1 : 0;
}

int ls_model_load(const char *path, struct ls_unet *net, struct ls_model_meta *meta)
{
	struct ls_frame f;
	struct ls_unet_spec spec;
	int fd = open(path, O_RDONLY), rc;
	if (fd < 0)
		return ls_err("cannot open model %s: %s", path, strerror(errno));
	struct ls_reader *r = ls_reader_open(fd, path);
	ls_frame_init(&f);
	memset(net, 0, sizeof *net);
	rc = ls_reader_next(r, &f);
	if (rc == 1 && (strcmp(f.kind, "model") || !f.key || f.t.dtype != LS_U8))
		rc = ls_err("%s: not a landshift model (first frame is '%s')", path, f.kind);
	else if (rc == 0)
		rc = ls_err("%s: empty model file", path);
	if (rc == 1 && ls_unet_spec_parse(&spec, f.key) < 0)
		rc = ls_err_ctx("%s", path);
	if (rc == 1 && parse_meta(path, &f, meta) < 0)
		rc = -1;
	char *seen = NULL;
	if (rc == 1) {
		ls_unet_init(net, &spec, 0);
		seen = ls_xcalloc(net->params.n, 1);
		while ((rc = ls_reader_next(r, &f)) == 1)
			if (strcmp(f.kind, "state") && load_param(path, net, &f, seen) < 0) {
				rc = -1;
				break;
			}
		for (int i = 0; rc == 0 && i < net->params.n; i++)
			if (!seen[i])
				rc = ls_err("%s: tensor '%s' is missing", path, net->params.p[i]->name);
	}
	free(seen);
	ls_frame_free(&f);
	ls_reader_close(r);
	if (rc < 0 && net->params.n)
		ls_unet_free(net);
	return rc < 0 ? -1 : 0;
}
