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

/* The meta as text; "members" is the file's own count (absent for one). */
static char *meta_text(const struct ls_model_meta *m, int members)
{
	size_t n = 96;
	for (int i = 0; i < m->keys.n; i++)
		n += strlen(m->keys.v[i]) + strlen(m->vals.v[i]) + 2;
	char *t = ls_xmalloc(n);
	size_t k = (size_t)snprintf(t, n, "landshift-model %d\n", LS_MODEL_VERSION);
	for (int i = 0; i < m->keys.n; i++)
		if (strcmp(m->keys.v[i], "members"))
			k += (size_t)snprintf(t + k, n - k, "%s %s\n", m->keys.v[i], m->vals.v[i]);
	if (members > 1)
		snprintf(t + k, n - k, "members %d\n", members);
	return t;
}

static void put_f32(struct ls_tensor *t, const real *src, const struct ls_param *p)
{
	ls_tensor_alloc(t, LS_F32, p->ndim, p->shape);
	float *d = t->data;
	for (size_t i = 0; i < p->n; i++)
		d[i] = (float)src[i];
}

/* The weights as integers (i16, or i8 in a u8 tensor of two's-complement
 * bytes), each output channel (first dimension) scaled by its largest
 * magnitude over the type's largest value; the scales go to the extra
 * tensor "scale". */
static void put_quant(struct ls_frame *f, const struct ls_param *p, int bits)
{
	int64_t nout = p->shape[0];
	size_t per = p->n / (size_t)nout;
	double top = bits == 8 ? 127 : 32767;
	ls_tensor_alloc(&f->t, bits == 8 ? LS_U8 : LS_I16, p->ndim, p->shape);
	float *scale = ls_frame_add_extra(f, "scale", LS_F32, 1, &nout)->data;
	for (int64_t o = 0; o < nout; o++) {
		const real *w = p->w + (size_t)o * per;
		double big = 0;
		for (size_t i = 0; i < per; i++)
			big = fmax(big, fabs((double)w[i]));
		scale[o] = (float)(big / top);
		for (size_t i = 0; i < per; i++) {
			long v = big > 0 ? lrint((double)w[i] / scale[o]) : 0;
			v = v > top ? (long)top : v < -top ? -(long)top : v;
			if (bits == 8)
				((uint8_t *)f->t.data)[(size_t)o * per + i] = (uint8_t)(int8_t)v;
			else
				((int16_t *)f->t.data)[(size_t)o * per + i] = (int16_t)v;
		}
	}
}

/* The bits a tensor's values are stored in: 16 or 8 where the meta says
 * "weights i16" or "weights i8", the file is no checkpoint, and the tensor
 * is a convolution's weights (biases and batch-norm values, whose
 * magnitudes vary within a tensor, stay f32); else 32 (f32). */
static int stored_bits(const struct ls_model_meta *meta, const struct ls_param *p, int with_state)
{
	const char *w = meta ? ls_meta_get(meta, "weights") : NULL;
	if (with_state || !w || p->ndim < 2 || p->shape[0] <= 0)
		return 32;
	return !strcmp(w, "i16") ? 16 : !strcmp(w, "i8") ? 8 : 32;
}

/* A stored tensor fits p: its shape, or (files written before shapes
 * were recorded) one dimension of p->n values. */
static int fits(const struct ls_tensor *t, const struct ls_param *p)
{
	if (t->dtype != LS_F32 && t->dtype != LS_I16 && t->dtype != LS_U8)
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
	int bits = stored_bits(meta, p, with_state);
	if (bits < 32)
		put_quant(f, p, bits);
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

/* The file: the meta frame, member 0's tensors as "param" frames, each
 * further member's as "member" frames keyed "M/NAME", then the extra sets
 * as "state" frames. */
static int save_all(const char *path, struct ls_unet *const *nets, int nnets, const struct ls_model_meta *meta,
		    int with_state, const struct ls_model_extra *x, int nx)
{
	char tmp[4096], spec[1024], num[16];
	struct ls_frame f;
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return ls_err("cannot write model %s: %s", path, strerror(errno));
	ls_cleanup_add(tmp);
	struct ls_writer *w = ls_writer_open(fd, path);
	ls_frame_init(&f);
	ls_unet_spec_format(&nets[0]->spec, spec, sizeof spec);
	char *text = meta_text(meta, nnets);
	int64_t len = (int64_t)strlen(text);
	snprintf(f.kind, sizeof f.kind, "model");
	ls_frame_set_str(&f.key, spec);
	ls_frame_alloc(&f, LS_U8, 1, &len);
	memcpy(f.t.data, text, (size_t)len);
	free(text);
	int rc = ls_writer_put(w, &f);
	for (int m = 0; m < nnets; m++) {
		snprintf(num, sizeof num, "%d", m);
		for (int i = 0; i < nets[m]->params.n && rc == 0; i++)
			rc = put_param(w, &f, m ? "member" : "param", m ? num : NULL, nets[m]->params.p[i], with_state,
				       meta);
	}
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

int ls_model_save_ext(const char *path, struct ls_unet *net, const struct ls_model_meta *meta, int with_state,
		      const struct ls_model_extra *x, int nx)
{
	return save_all(path, &net, 1, meta, with_state, x, nx);
}

int ls_model_save_members(const char *path, struct ls_unet *const *nets, int n, const struct ls_model_meta *meta)
{
	char a[1024], b[1024];
	if (n < 1 || n > LS_MODEL_MAX_MEMBERS)
		return ls_err("%s: %d members (1 to %d)", path, n, LS_MODEL_MAX_MEMBERS);
	ls_unet_spec_format(&nets[0]->spec, a, sizeof a);
	for (int m = 1; m < n; m++) {
		ls_unet_spec_format(&nets[m]->spec, b, sizeof b);
		if (strcmp(a, b))
			return ls_err("%s: member %d is %s, the first %s: the members need one architecture", path,
				      m + 1, b, a);
	}
	return save_all(path, nets, n, meta, 0, NULL, 0);
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

/* Integer weights times their output channel's scale (put_quant): i16, or
 * (u8 tensors) two's-complement bytes. */
static int get_quant(const char *path, const struct ls_frame *f, real *dst, size_t n)
{
	const struct ls_tensor *sc = NULL;
	for (int e = 0; e < f->nextra; e++)
		if (!strcmp(f->extra[e].name, "scale"))
			sc = &f->extra[e];
	int64_t nout = f->t.shape[0];
	if (!sc || sc->dtype != LS_F32 || sc->ndim != 1 || sc->shape[0] != nout || f->t.ndim < 2 || nout <= 0)
		return ls_err("%s: tensor '%s' is %s without an f32 scale per output channel", path, f->key,
			      f->t.dtype == LS_U8 ? "i8" : "i16");
	const float *scale = sc->data;
	size_t per = n / (size_t)nout;
	for (size_t i = 0; i < n; i++) {
		float q = f->t.dtype == LS_U8 ? (float)(int8_t)((const uint8_t *)f->t.data)[i]
					      : (float)((const int16_t *)f->t.data)[i];
		dst[i] = (real)(q * scale[i / per]);
	}
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
	if (f->t.dtype == LS_I16 || f->t.dtype == LS_U8) {
		if (get_quant(path, f, p->w, p->n) < 0)
			return -1;
	} else {
		get_f32(p->w, &f->t, p->n);
	}
	for (int e = 0; e < f->nextra; e++) {
		const struct ls_tensor *t = &f->extra[e];
		if (f->t.dtype != LS_F32 && !strcmp(t->name, "scale"))
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

/* A member frame's key "M/NAME": its member M (1 to members - 1), -1 if none. */
static int member_of(const struct ls_frame *f, int members, const char **name)
{
	char *end;
	if (!f->key)
		return -1;
	long m = strtol(f->key, &end, 10);
	if (end == f->key || *end != '/' || m < 1 || m >= members)
		return -1;
	*name = end + 1;
	return (int)m;
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

/* The first max members of the file into nets[0..*got). */
static int load_nets(const char *path, struct ls_unet *nets, int max, int *got, struct ls_model_meta *meta)
{
	struct ls_frame f;
	struct ls_unet_spec spec;
	int fd = open(path, O_RDONLY), rc, members = 1, n = 0;
	if (fd < 0)
		return ls_err("cannot open model %s: %s", path, strerror(errno));
	struct ls_reader *r = ls_reader_open(fd, path);
	ls_frame_init(&f);
	rc = ls_reader_next(r, &f);
	if (rc == 1 && (strcmp(f.kind, "model") || !f.key || f.t.dtype != LS_U8))
		rc = ls_err("%s: not a landshift model (first frame is '%s')", path, f.kind);
	else if (rc == 0)
		rc = ls_err("%s: empty model file", path);
	if (rc == 1 && ls_unet_spec_parse(&spec, f.key) < 0)
		rc = ls_err_ctx("%s", path);
	struct ls_model_meta own = { 0 };	/* the file's records alone, then added to meta */
	if (rc == 1 && parse_meta(path, &f, &own) < 0)
		rc = -1;
	const char *mt = rc == 1 ? ls_meta_get(&own, "members") : NULL;
	if (mt && (sscanf(mt, "%d", &members) != 1 || members < 1 || members > LS_MODEL_MAX_MEMBERS))
		rc = ls_err("%s: 'members %s' is not a count of 1 to %d", path, mt, LS_MODEL_MAX_MEMBERS);
	for (int i = 0; i < own.keys.n; i++)
		ls_meta_set(meta, own.keys.v[i], own.vals.v[i]);
	ls_meta_free(&own);
	char *seen[LS_MODEL_MAX_MEMBERS] = { 0 };
	if (rc == 1) {
		n = members < max ? members : max;
		for (int m = 0; m < n; m++) {
			ls_unet_init(&nets[m], &spec, 0);
			seen[m] = ls_xcalloc(nets[m].params.n, 1);
		}
		while ((rc = ls_reader_next(r, &f)) == 1) {
			const char *name = f.key;
			int m = 0;
			if (!strcmp(f.kind, "state"))
				continue;
			if (!strcmp(f.kind, "member") && (m = member_of(&f, members, &name)) < 0) {
				rc = ls_err("%s: member tensor '%s' belongs to no member of %d", path,
					    f.key ? f.key : "", members);
				break;
			}
			if (strcmp(f.kind, "member") && (strcmp(f.kind, "param") || !f.key)) {
				rc = ls_err("%s: unexpected frame of kind '%s'", path, f.kind);
				break;
			}
			if (m < n && load_into(path, &nets[m].params, name, &f, seen[m]) < 0) {
				rc = -1;
				break;
			}
		}
		for (int m = 0; rc == 0 && m < n; m++)
			for (int i = 0; rc == 0 && i < nets[m].params.n; i++)
				if (!seen[m][i])
					rc = m ? ls_err("%s: member %d's tensor '%s' is missing", path, m + 1,
							nets[m].params.p[i]->name)
					       : ls_err("%s: tensor '%s' is missing", path, nets[m].params.p[i]->name);
	}
	for (int m = 0; m < n; m++) {
		free(seen[m]);
		if (rc < 0)
			ls_unet_free(&nets[m]);
	}
	ls_frame_free(&f);
	ls_reader_close(r);
	if (got)
		*got = rc < 0 ? 0 : n;
	return rc < 0 ? -1 : 0;
}

int ls_model_load(const char *path, struct ls_unet *net, struct ls_model_meta *meta)
{
	memset(net, 0, sizeof *net);
	return load_nets(path, net, 1, NULL, meta);
}

int ls_model_load_members(const char *path, struct ls_unet **nets, int *n, struct ls_model_meta *meta)
{
	*nets = ls_xcalloc(LS_MODEL_MAX_MEMBERS, sizeof **nets);
	if (load_nets(path, *nets, LS_MODEL_MAX_MEMBERS, n, meta) < 0) {
		free(*nets);
		*nets = NULL;
		return -1;
	}
	return 0;
}

void ls_model_free_members(struct ls_unet *nets, int n)
{
	for (int m = 0; m < n; m++)
		ls_unet_free(&nets[m]);
	free(nets);
}
