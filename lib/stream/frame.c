#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "stream/frame.h"
#include "base/progress.h"

static const char *const dtype_names[LS_NDTYPE] = { "u8", "u16", "i16", "f32" };
static const size_t dtype_sizes[LS_NDTYPE] = { 1, 2, 2, 4 };

size_t ls_dtype_size(int d)
{
	return d >= 0 && d < LS_NDTYPE ? dtype_sizes[d] : 0;
}

const char *ls_dtype_name(int d)
{
	return d >= 0 && d < LS_NDTYPE ? dtype_names[d] : "?";
}

int ls_dtype_parse(const char *s)
{
	for (int i = 0; i < LS_NDTYPE; i++)
		if (!strcmp(s, dtype_names[i]))
			return i;
	return -1;
}

/* ---- frame lifecycle ---- */

void ls_frame_init(struct ls_frame *f)
{
	memset(f, 0, sizeof *f);
}

static void tensor_reset(struct ls_tensor *t)
{
	t->ndim = 0;
	t->nbytes = 0;
	t->dtype = 0;
}

void ls_frame_reset(struct ls_frame *f)
{
	f->kind[0] = 0;
	f->seq = 0;
	tensor_reset(&f->t);
	for (int i = 0; i < f->nextra; i++)
		tensor_reset(&f->extra[i]);
	f->nextra = 0;
	f->has_geo = 0;
	f->off_x = f->off_y = f->src_w = f->src_h = 0;
	f->halo = 0;
	f->has_nodata = 0;
	f->nodata = 0;
	f->label_classes = 0;
	ls_strlist_free(&f->bands);
	ls_strlist_free(&f->chain);
	ls_frame_drop_mask(f);
	ls_frame_drop_label(f);
	free(f->key);
	free(f->crs);
	free(f->src);
	free(f->domain);
	f->key = f->crs = f->src = f->domain = NULL;
	ls_norm_alloc(&f->norm, 0);
}

static void tensor_free(struct ls_tensor *t)
{
	free(t->data);
	free(t->name);
	memset(t, 0, sizeof *t);
}

void ls_frame_free(struct ls_frame *f)
{
	ls_frame_reset(f);
	tensor_free(&f->t);
	for (int i = 0; i < LS_MAX_EXTRA; i++)
		tensor_free(&f->extra[i]);
	free(f->mask);
	free(f->label);
	memset(f, 0, sizeof *f);
}

void ls_frame_drop_mask(struct ls_frame *f)
{
	free(f->mask);
	f->mask = NULL;
	f->mask_cap = 0;
}

void ls_frame_drop_label(struct ls_frame *f)
{
	free(f->label);
	f->label = NULL;
	f->label_cap = 0;
}

void ls_tensor_alloc(struct ls_tensor *t, int dtype, int ndim, const int64_t *shape)
{
	size_t n = ls_dtype_size(dtype);
	for (int i = 0; i < ndim; i++)
		n *= (size_t)shape[i];
	if (n > t->cap) {
		free(t->data);
		size_t cap = (n + 63) & ~(size_t)63;
		t->data = aligned_alloc(64, cap);
		if (!t->data)
			ls_die(LS_EXIT_DATA, "out of memory allocating a %zu-byte tensor", n);
		t->cap = cap;
	}
	t->dtype = dtype;
	t->ndim = ndim;
	for (int i = 0; i < LS_MAX_DIMS; i++)
		t->shape[i] = i < ndim ? shape[i] : 0;
	t->nbytes = n;
}

void ls_frame_alloc(struct ls_frame *f, int dtype, int ndim, const int64_t *shape)
{
	ls_tensor_alloc(&f->t, dtype, ndim, shape);
}

struct ls_tensor *ls_frame_add_extra(struct ls_frame *f, const char *name, int dtype, int ndim,
				     const int64_t *shape)
{
	if (f->nextra >= LS_MAX_EXTRA)
		ls_die(LS_EXIT_DATA, "more than %d extra tensors in one frame", LS_MAX_EXTRA);
	struct ls_tensor *t = &f->extra[f->nextra++];
	ls_frame_set_str(&t->name, name);
	ls_tensor_alloc(t, dtype, ndim, shape);
	return t;
}

const struct ls_tensor *ls_frame_find_extra(const struct ls_frame *f, const char *name)
{
	for (int i = 0; i < f->nextra; i++)
		if (!strcmp(f->extra[i].name, name))
			return &f->extra[i];
	return NULL;
}

int64_t ls_frame_c(const struct ls_frame *f)
{
	return f->t.ndim == 3 ? f->t.shape[0] : 1;
}

int64_t ls_frame_h(const struct ls_frame *f)
{
	return f->t.ndim >= 2 ? f->t.shape[f->t.ndim - 2] : 1;
}

int64_t ls_frame_w(const struct ls_frame *f)
{
	return f->t.ndim >= 1 ? f->t.shape[f->t.ndim - 1] : 0;
}

static uint8_t *plane(uint8_t **p, size_t *cap, size_t n)
{
	if (!*p || *cap < n) {
		free(*p);
		*p = ls_xmalloc(n);
		*cap = n;
	}
	return *p;
}

uint8_t *ls_frame_mask(struct ls_frame *f)
{
	return plane(&f->mask, &f->mask_cap, (size_t)(ls_frame_h(f) * ls_frame_w(f)));
}

uint8_t *ls_frame_label(struct ls_frame *f)
{
	return plane(&f->label, &f->label_cap, (size_t)(ls_frame_h(f) * ls_frame_w(f)));
}

void ls_frame_set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? ls_xstrdup(s) : NULL;
}

void ls_norm_alloc(struct ls_norm *n, int bands)
{
	free(n->mean);
	free(n->std);
	free(n->lo);
	free(n->hi);
	memset(n, 0, sizeof *n);
	if (bands <= 0)
		return;
	n->n = bands;
	n->mean = ls_xcalloc(bands, sizeof(float));
	n->std = ls_xcalloc(bands, sizeof(float));
	n->lo = ls_xcalloc(bands, sizeof(float));
	n->hi = ls_xcalloc(bands, sizeof(float));
}

void ls_frame_copy_meta(struct ls_frame *d, const struct ls_frame *s)
{
	memcpy(d->kind, s->kind, sizeof d->kind);
	ls_frame_set_str(&d->key, s->key);
	d->seq = s->seq;
	d->has_geo = s->has_geo;
	memcpy(d->gt, s->gt, sizeof d->gt);
	memcpy(d->src_gt, s->src_gt, sizeof d->src_gt);
	ls_frame_set_str(&d->crs, s->crs);
	d->off_x = s->off_x;
	d->off_y = s->off_y;
	d->src_w = s->src_w;
	d->src_h = s->src_h;
	ls_frame_set_str(&d->src, s->src);
	d->halo = s->halo;
	d->has_nodata = s->has_nodata;
	d->nodata = s->nodata;
	ls_strlist_free(&d->bands);
	for (int i = 0; i < s->bands.n; i++)
		ls_strlist_push(&d->bands, s->bands.v[i]);
	ls_frame_set_str(&d->domain, s->domain);
	d->label_classes = s->label_classes;
	ls_norm_alloc(&d->norm, s->norm.n);
	for (int i = 0; i < s->norm.n; i++) {
		d->norm.mean[i] = s->norm.mean[i];
		d->norm.std[i] = s->norm.std[i];
		d->norm.lo[i] = s->norm.lo[i];
		d->norm.hi[i] = s->norm.hi[i];
	}
	ls_strlist_free(&d->chain);
	for (int i = 0; i < s->chain.n; i++)
		ls_strlist_push(&d->chain, s->chain.v[i]);
	size_t hw = (size_t)(ls_frame_h(s) * ls_frame_w(s));
	ls_frame_drop_mask(d);
	ls_frame_drop_label(d);
	if (s->mask)
		memcpy(plane(&d->mask, &d->mask_cap, hw), s->mask, hw);
	if (s->label)
		memcpy(plane(&d->label, &d->label_cap, hw), s->label, hw);
}

void ls_frame_chain_push(struct ls_frame *f, const char *prog)
{
	ls_strlist_push(&f->chain, prog);
}

/* ---- writer ---- */

static int ls_writer_close_keep(struct ls_writer *w, int *epipe);

void ls_exit_epipe(void)
{
	/* A closed downstream pipe ends the filter quietly, as a shell would. */
	ls_die_quiet(141);
}

#define WBUF_SIZE (256 * 1024)

struct ls_writer {
	int fd;
	char *name;
	unsigned char *buf;
	size_t len;
	uint32_t crc;		/* running CRC of the current frame */
	uint64_t count;		/* frames in this stream */
	int failed, epipe;
	msgpack_packer pk;
};

static int write_all(struct ls_writer *w, const void *p, size_t n)
{
	const char *c = p;
	while (n && !w->failed) {
		ssize_t k = write(w->fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			w->failed = 1;
			w->epipe = errno == EPIPE;
			return ls_err("writing %s: %s", w->name, k < 0 ? strerror(errno) : "short write");
		}
		c += k;
		n -= (size_t)k;
	}
	return w->failed ? -1 : 0;
}

static int wflush(struct ls_writer *w)
{
	int rc = write_all(w, w->buf, w->len);
	w->len = 0;
	return rc;
}

/* Append bytes to the frame being written; nocrc for the checksum itself. */
static void wput(struct ls_writer *w, const void *p, size_t n, int nocrc)
{
	if (!nocrc)
		w->crc = ls_crc32c(w->crc, p, n);
	if (n >= WBUF_SIZE / 2) {	/* large payloads go straight out */
		wflush(w);
		write_all(w, p, n);
		return;
	}
	if (w->len + n > WBUF_SIZE)
		wflush(w);
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static int pk_write(void *data, const char *buf, size_t len)
{
	wput(data, buf, len, 0);
	return 0;
}

struct ls_writer *ls_writer_open(int fd, const char *name)
{
	if (isatty(fd)) {
		ls_err("refusing to write binary frames to a terminal; redirect %s to a file or pipe",
		       name ? name : "the output");
		return NULL;
	}
	struct ls_writer *w = ls_xcalloc(1, sizeof *w);
	w->fd = fd;
	w->name = ls_xstrdup(name ? name : "stdout");
	w->buf = ls_xmalloc(WBUF_SIZE);
	msgpack_packer_init(&w->pk, w, pk_write);
#ifdef F_SETPIPE_SZ
	fcntl(fd, F_SETPIPE_SZ, 1 << 20);	/* fewer context switches; ignore failure */
#endif
	return w;
}

static void pk_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pk_doubles(msgpack_packer *pk, const double *v, int n)
{
	msgpack_pack_array(pk, n);
	for (int i = 0; i < n; i++)
		msgpack_pack_double(pk, v[i]);
}

static void pk_floats(msgpack_packer *pk, const float *v, int n)
{
	msgpack_pack_array(pk, n);
	for (int i = 0; i < n; i++)
		msgpack_pack_float(pk, v[i]);
}

static void pk_strs(msgpack_packer *pk, const struct ls_strlist *l)
{
	msgpack_pack_array(pk, l->n);
	for (int i = 0; i < l->n; i++)
		pk_str(pk, l->v[i]);
}

static void pk_shape(msgpack_packer *pk, const struct ls_tensor *t)
{
	msgpack_pack_array(pk, t->ndim);
	for (int i = 0; i < t->ndim; i++)
		msgpack_pack_int64(pk, t->shape[i]);
}

static void pk_bin(struct ls_writer *w, const void *p, size_t n)
{
	msgpack_pack_bin(&w->pk, n);
	wput(w, p, n, 0);
}

static void pk_tensor_fields(struct ls_writer *w, const struct ls_tensor *t)
{
	pk_str(&w->pk, "dtype");
	pk_str(&w->pk, ls_dtype_name(t->dtype));
	pk_str(&w->pk, "shape");
	pk_shape(&w->pk, t);
	pk_str(&w->pk, "data");
	pk_bin(w, t->data, t->nbytes);
}

static void pk_end(struct ls_writer *w)
{
	unsigned char c[5];
	pk_str(&w->pk, "crc");
	c[0] = 0xce;
	c[1] = w->crc >> 24;
	c[2] = w->crc >> 16;
	c[3] = w->crc >> 8;
	c[4] = w->crc;
	wput(w, c, 5, 1);
}

static int meta_fields(const struct ls_frame *f)
{
	int n = 0;
	n += f->has_geo ? 8 : 0;	/* gt src_gt crs off src_size src halo nodata? */
	n += f->has_geo && f->has_nodata;
	n += f->bands.n > 0;
	n += f->mask != NULL;
	n += f->label != NULL;
	n += f->label != NULL && f->label_classes;
	n += f->domain != NULL;
	n += f->norm.n > 0;
	n += f->chain.n > 0;
	n += f->nextra > 0;
	return n;
}

int ls_writer_put(struct ls_writer *w, struct ls_frame *f)
{
	msgpack_packer *pk = &w->pk;
	size_t hw = (size_t)(ls_frame_h(f) * ls_frame_w(f));
	if (w->failed)
		return -1;
	f->seq = w->count;
	w->crc = 0;
	msgpack_pack_map(pk, 8 + meta_fields(f));
	pk_str(pk, "v");
	msgpack_pack_int(pk, LS_FRAME_VERSION);
	pk_str(pk, "kind");
	pk_str(pk, f->kind[0] ? f->kind : "tile");
	pk_str(pk, "key");
	pk_str(pk, f->key ? f->key : "");
	pk_str(pk, "seq");
	msgpack_pack_uint64(pk, f->seq);
	if (f->has_geo) {
		int64_t sz[2] = { f->src_w, f->src_h };
		pk_str(pk, "gt");
		pk_doubles(pk, f->gt, 6);
		pk_str(pk, "src_gt");
		pk_doubles(pk, f->src_gt, 6);
		pk_str(pk, "crs");
		pk_str(pk, f->crs ? f->crs : "");
		pk_str(pk, "off");
		msgpack_pack_array(pk, 2);
		msgpack_pack_int64(pk, f->off_x);
		msgpack_pack_int64(pk, f->off_y);
		pk_str(pk, "src_size");
		msgpack_pack_array(pk, 2);
		msgpack_pack_int64(pk, sz[0]);
		msgpack_pack_int64(pk, sz[1]);
		pk_str(pk, "src");
		pk_str(pk, f->src ? f->src : "");
		pk_str(pk, "halo");
		msgpack_pack_int(pk, f->halo);
		pk_str(pk, "geo");
		msgpack_pack_true(pk);
		if (f->has_nodata) {
			pk_str(pk, "nodata");
			msgpack_pack_double(pk, f->nodata);
		}
	}
	if (f->bands.n) {
		pk_str(pk, "bands");
		pk_strs(pk, &f->bands);
	}
	if (f->domain) {
		pk_str(pk, "domain");
		pk_str(pk, f->domain);
	}
	if (f->norm.n) {
		pk_str(pk, "norm");
		msgpack_pack_map(pk, 4);
		pk_str(pk, "mean");
		pk_floats(pk, f->norm.mean, f->norm.n);
		pk_str(pk, "std");
		pk_floats(pk, f->norm.std, f->norm.n);
		pk_str(pk, "lo");
		pk_floats(pk, f->norm.lo, f->norm.n);
		pk_str(pk, "hi");
		pk_floats(pk, f->norm.hi, f->norm.n);
	}
	if (f->chain.n) {
		pk_str(pk, "chain");
		pk_strs(pk, &f->chain);
	}
	if (f->mask) {
		pk_str(pk, "mask");
		pk_bin(w, f->mask, hw);
	}
	if (f->label) {
		pk_str(pk, "label");
		pk_bin(w, f->label, hw);
		if (f->label_classes) {
			int n = 0;
			for (int c = 0; c < 64; c++)
				n += ls_label_class_listed(f->label_classes, c);
			pk_str(pk, "label_classes");
			msgpack_pack_array(pk, n);
			for (int c = 0; c < 64; c++)
				if (ls_label_class_listed(f->label_classes, c))
					msgpack_pack_int(pk, c);
		}
	}
	if (f->nextra) {
		pk_str(pk, "extra");
		msgpack_pack_array(pk, f->nextra);
		for (int i = 0; i < f->nextra; i++) {
			msgpack_pack_map(pk, 4);
			pk_str(pk, "name");
			pk_str(pk, f->extra[i].name);
			pk_tensor_fields(w, &f->extra[i]);
		}
	}
	pk_tensor_fields(w, &f->t);
	pk_end(w);
	if (w->failed)
		return -1;
	w->count++;
	return 0;
}

void ls_writer_put_or_die(struct ls_writer *w, struct ls_frame *f)
{
	if (ls_writer_put(w, f) == 0)
		return;
	if (w->epipe)
		ls_exit_epipe();
	ls_die_err();
}

void ls_writer_close_or_die(struct ls_writer *w)
{
	int epipe;
	if (w->failed && w->epipe)
		ls_exit_epipe();
	if (ls_writer_close_keep(w, &epipe) == 0)
		return;
	if (epipe)
		ls_exit_epipe();
	ls_die_err();
}

int ls_writer_close(struct ls_writer *w)
{
	return ls_writer_close_keep(w, NULL);
}

static int ls_writer_close_keep(struct ls_writer *w, int *epipe)
{
	int rc = 0;
	if (!w)
		return 0;
	if (!w->failed) {
		w->crc = 0;
		msgpack_pack_map(&w->pk, 5);
		pk_str(&w->pk, "v");
		msgpack_pack_int(&w->pk, LS_FRAME_VERSION);
		pk_str(&w->pk, "kind");
		pk_str(&w->pk, "trailer");
		pk_str(&w->pk, "seq");
		msgpack_pack_uint64(&w->pk, w->count);
		pk_str(&w->pk, "count");
		msgpack_pack_uint64(&w->pk, w->count);
		pk_end(w);
		wflush(w);
	}
	rc = w->failed ? -1 : 0;
	if (epipe)
		*epipe = w->epipe;
	free(w->buf);
	free(w->name);
	free(w);
	return rc;
}

uint64_t ls_writer_count(const struct ls_writer *w)
{
	return w->count;
}

int ls_writer_epipe(const struct ls_writer *w)
{
	return w->epipe;
}

/* ---- reader ---- */

#define READ_BUF ((size_t)8 << 20)	/* initial buffer (doubles as frames need) */
#define READ_MIN ((size_t)256 << 10)	/* compact when less room than this is left */

struct ls_reader {
	ls_read_fn fn;
	void *ctx;
	int fd;
	char *name;
	unsigned char *buf;
	size_t cap, len, pos;	/* buf[pos, len) is read but not yet parsed */
	size_t chunk, max_frame;
	uint64_t frames;	/* data frames returned */
	uint64_t index;		/* messages parsed (frames and trailers) */
	uint64_t seg;		/* data frames since the last trailer */
	uint64_t bytes;		/* stream offset of buf[pos] */
	int after_trailer, any, eof;
	msgpack_unpacked up;
};

static ssize_t fd_read(void *ctx, void *buf, size_t n)
{
	int fd = *(int *)ctx;
	for (;;) {
		ssize_t k = read(fd, buf, n);
		if (k >= 0 || errno != EINTR)
			return k;
	}
}

struct ls_reader *ls_reader_open_fn(ls_read_fn fn, void *ctx, const char *name)
{
	struct ls_reader *r = ls_xcalloc(1, sizeof *r);
	const char *mf = getenv("LANDSHIFT_MAX_FRAME");
	r->fn = fn;
	r->ctx = ctx;
	r->name = ls_xstrdup(name ? name : "stdin");
	r->chunk = SIZE_MAX;
	r->max_frame = LS_DEFAULT_MAX_FRAME;
	if (mf && atoll(mf) > 0)
		r->max_frame = (size_t)atoll(mf);
	msgpack_unpacked_init(&r->up);
	return r;
}

struct ls_reader *ls_reader_open(int fd, const char *name)
{
	struct ls_reader *r = ls_reader_open_fn(fd_read, NULL, name);
	r->fd = fd;
	r->ctx = &r->fd;
	return r;
}

struct ls_reader *ls_reader_open_path(const char *path)
{
	if (!path || !strcmp(path, "-"))
		return ls_reader_open(0, "stdin");
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		ls_die(LS_EXIT_DATA, "cannot open %s: %s", path, strerror(errno));
	return ls_reader_open(fd, path);
}

void ls_reader_set_chunk(struct ls_reader *r, size_t chunk)
{
	r->chunk = chunk ? chunk : 1;
}

void ls_reader_set_max_frame(struct ls_reader *r, size_t max)
{
	r->max_frame = max;
}

uint64_t ls_reader_frames(const struct ls_reader *r)
{
	return r->frames;
}

uint64_t ls_reader_bytes(const struct ls_reader *r)
{
	return r->bytes;
}

void ls_reader_close(struct ls_reader *r)
{
	if (!r)
		return;
	if (r->fn == fd_read && r->fd > 2)
		close(r->fd);
	msgpack_unpacked_destroy(&r->up);
	free(r->buf);
	free(r->name);
	free(r);
}

/* Errors name the stream, the frame index, the byte offset and the field. */
static int rerr(struct ls_reader *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rerr(struct ls_reader *r, const char *field, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (field)
		return ls_err("%s: frame %llu (byte %llu): field '%s': %s", r->name,
			      (unsigned long long)r->index, (unsigned long long)r->bytes, field, what);
	return ls_err("%s: frame %llu (byte %llu): %s", r->name, (unsigned long long)r->index,
		      (unsigned long long)r->bytes, what);
}

static int obj_i64(const msgpack_object *o, int64_t *v)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
		*v = (int64_t)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*v = o->via.i64;
	else
		return -1;
	return 0;
}

static int obj_f64(const msgpack_object *o, double *v)
{
	int64_t i;
	if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
		*v = o->via.f64;
	else if (obj_i64(o, &i) == 0)
		*v = (double)i;
	else
		return -1;
	return 0;
}

static int obj_is(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && !memcmp(o->via.str.ptr, s, n);
}

static char *obj_strdup(const msgpack_object *o)
{
	char *s = ls_xmalloc(o->via.str.size + 1);
	memcpy(s, o->via.str.ptr, o->via.str.size);
	s[o->via.str.size] = 0;
	return s;
}

static int get_str(struct ls_reader *r, const char *field, const msgpack_object *o, char **dst)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return rerr(r, field, "expected a string");
	if (memchr(o->via.str.ptr, 0, o->via.str.size))
		return rerr(r, field, "string holds a NUL byte");
	free(*dst);
	*dst = obj_strdup(o);
	return 0;
}

static int get_doubles(struct ls_reader *r, const char *field, const msgpack_object *o, double *v, int n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || (int)o->via.array.size != n)
		return rerr(r, field, "expected an array of %d numbers", n);
	for (int i = 0; i < n; i++)
		if (obj_f64(&o->via.array.ptr[i], &v[i]) < 0)
			return rerr(r, field, "element %d is not a number", i);
	return 0;
}

static int get_i64s(struct ls_reader *r, const char *field, const msgpack_object *o, int64_t *v, int n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || (int)o->via.array.size != n)
		return rerr(r, field, "expected an array of %d integers", n);
	for (int i = 0; i < n; i++)
		if (obj_i64(&o->via.array.ptr[i], &v[i]) < 0)
			return rerr(r, field, "element %d is not an integer", i);
	return 0;
}

static int get_strs(struct ls_reader *r, const char *field, const msgpack_object *o, struct ls_strlist *l)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return rerr(r, field, "expected an array of strings");
	ls_strlist_free(l);
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		char *s = NULL;
		if (get_str(r, field, &o->via.array.ptr[i], &s) < 0)
			return -1;
		ls_strlist_push(l, s);
		free(s);
	}
	return 0;
}

static int get_floats(struct ls_reader *r, const char *field, const msgpack_object *o, float *v, int n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || (int)o->via.array.size != n)
		return rerr(r, field, "expected an array of %d numbers", n);
	for (int i = 0; i < n; i++) {
		double d;
		if (obj_f64(&o->via.array.ptr[i], &d) < 0)
			return rerr(r, field, "element %d is not a number", i);
		v[i] = (float)d;
	}
	return 0;
}

static int get_norm(struct ls_reader *r, const msgpack_object *o, struct ls_norm *n)
{
	static const char *const names[4] = { "mean", "std", "lo", "hi" };
	if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != 4)
		return rerr(r, "norm", "expected a map of mean, std, lo, hi");
	const msgpack_object *first = &o->via.map.ptr[0].val;
	if (first->type != MSGPACK_OBJECT_ARRAY || first->via.array.size == 0 || first->via.array.size > 65536)
		return rerr(r, "norm", "expected arrays of per-band numbers");
	ls_norm_alloc(n, (int)first->via.array.size);
	float *dst[4] = { n->mean, n->std, n->lo, n->hi };
	for (int k = 0; k < 4; k++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[k];
		if (!obj_is(&kv->key, names[k]))
			return rerr(r, "norm", "expected key '%s' in position %d", names[k], k);
		if (get_floats(r, "norm", &kv->val, dst[k], n->n) < 0)
			return -1;
	}
	return 0;
}

/* Shape and data of one tensor; `prefix` names it in messages. */
struct tensor_src {
	const msgpack_object *dtype, *shape, *data, *name;
};

static int get_tensor(struct ls_reader *r, const struct tensor_src *s, struct ls_tensor *t, const char *what)
{
	char field[64];
	int64_t shape[LS_MAX_DIMS];
	snprintf(field, sizeof field, "%sdtype", what);
	if (!s->dtype || s->dtype->type != MSGPACK_OBJECT_STR)
		return rerr(r, field, s->dtype ? "expected a string" : "missing");
	char *ds = obj_strdup(s->dtype);
	int dtype = ls_dtype_parse(ds);
	free(ds);
	if (dtype < 0)
		return rerr(r, field, "unknown dtype (expected u8, u16, i16 or f32)");
	snprintf(field, sizeof field, "%sshape", what);
	if (!s->shape || s->shape->type != MSGPACK_OBJECT_ARRAY)
		return rerr(r, field, s->shape ? "expected an array" : "missing");
	uint32_t nd = s->shape->via.array.size;
	if (nd < 1 || nd > LS_MAX_DIMS)
		return rerr(r, field, "%u dimensions (expected 1 to %d)", nd, LS_MAX_DIMS);
	size_t n = ls_dtype_size(dtype);
	for (uint32_t i = 0; i < nd; i++) {
		if (obj_i64(&s->shape->via.array.ptr[i], &shape[i]) < 0 || shape[i] < 1 ||
		    shape[i] > (int64_t)r->max_frame)
			return rerr(r, field, "dimension %u is not a positive size", i);
		if (n > r->max_frame / (size_t)shape[i])
			return rerr(r, field, "tensor larger than the frame limit of %zu bytes", r->max_frame);
		n *= (size_t)shape[i];
	}
	snprintf(field, sizeof field, "%sdata", what);
	if (!s->data || s->data->type != MSGPACK_OBJECT_BIN)
		return rerr(r, field, s->data ? "expected binary data" : "missing");
	if (s->data->via.bin.size != n)
		return rerr(r, field, "%u bytes, but shape and dtype %s need %zu", s->data->via.bin.size,
			    ls_dtype_name(dtype), n);
	ls_tensor_alloc(t, dtype, (int)nd, shape);
	memcpy(t->data, s->data->via.bin.ptr, n);
	return 0;
}

static int get_plane(struct ls_reader *r, const char *field, const msgpack_object *o, uint8_t **dst,
		     size_t *cap, size_t hw)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return rerr(r, field, "expected binary data");
	if (o->via.bin.size != hw)
		return rerr(r, field, "%u bytes, but the tile has %zu pixels", o->via.bin.size, hw);
	memcpy(plane(dst, cap, hw), o->via.bin.ptr, hw);
	return 0;
}

static int get_extra(struct ls_reader *r, const msgpack_object *o, struct ls_frame *f)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > LS_MAX_EXTRA)
		return rerr(r, "extra", "expected an array of at most %d tensors", LS_MAX_EXTRA);
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *m = &o->via.array.ptr[i];
		struct tensor_src s = { 0 };
		if (m->type != MSGPACK_OBJECT_MAP)
			return rerr(r, "extra", "element %u is not a map", i);
		for (uint32_t k = 0; k < m->via.map.size; k++) {
			const msgpack_object_kv *kv = &m->via.map.ptr[k];
			if (obj_is(&kv->key, "name"))
				s.name = &kv->val;
			else if (obj_is(&kv->key, "dtype"))
				s.dtype = &kv->val;
			else if (obj_is(&kv->key, "shape"))
				s.shape = &kv->val;
			else if (obj_is(&kv->key, "data"))
				s.data = &kv->val;
		}
		if (!s.name || s.name->type != MSGPACK_OBJECT_STR)
			return rerr(r, "extra", "element %u has no name", i);
		struct ls_tensor *t = &f->extra[f->nextra];
		if (get_str(r, "extra.name", s.name, &t->name) < 0 || get_tensor(r, &s, t, "extra.") < 0)
			return -1;
		f->nextra++;
	}
	return 0;
}

struct fields {
	const msgpack_object *v, *kind, *seq, *count, *mask, *label;
	struct tensor_src t;
};

static int decode_meta(struct ls_reader *r, const msgpack_object_kv *kv, struct ls_frame *f, struct fields *x)
{
	const msgpack_object *k = &kv->key, *v = &kv->val;
	int64_t pair[2];
	if (k->type != MSGPACK_OBJECT_STR)
		return rerr(r, NULL, "a map key is not a string");
	if (obj_is(k, "v"))
		x->v = v;
	else if (obj_is(k, "kind"))
		x->kind = v;
	else if (obj_is(k, "seq"))
		x->seq = v;
	else if (obj_is(k, "count"))
		x->count = v;
	else if (obj_is(k, "dtype"))
		x->t.dtype = v;
	else if (obj_is(k, "shape"))
		x->t.shape = v;
	else if (obj_is(k, "data"))
		x->t.data = v;
	else if (obj_is(k, "mask"))
		x->mask = v;
	else if (obj_is(k, "label"))
		x->label = v;
	else if (obj_is(k, "key"))
		return get_str(r, "key", v, &f->key);
	else if (obj_is(k, "gt"))
		return get_doubles(r, "gt", v, f->gt, 6);
	else if (obj_is(k, "src_gt"))
		return get_doubles(r, "src_gt", v, f->src_gt, 6);
	else if (obj_is(k, "crs"))
		return get_str(r, "crs", v, &f->crs);
	else if (obj_is(k, "src"))
		return get_str(r, "src", v, &f->src);
	else if (obj_is(k, "domain"))
		return get_str(r, "domain", v, &f->domain);
	else if (obj_is(k, "bands"))
		return get_strs(r, "bands", v, &f->bands);
	else if (obj_is(k, "chain"))
		return get_strs(r, "chain", v, &f->chain);
	else if (obj_is(k, "norm"))
		return get_norm(r, v, &f->norm);
	else if (obj_is(k, "extra"))
		return get_extra(r, v, f);
	else if (obj_is(k, "geo"))
		f->has_geo = v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
	else if (obj_is(k, "nodata")) {
		if (obj_f64(v, &f->nodata) < 0)
			return rerr(r, "nodata", "expected a number");
		f->has_nodata = 1;
	} else if (obj_is(k, "label_classes")) {
		f->label_classes = 0;
		if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > 64)
			return rerr(r, "label_classes", "expected an array of class codes");
		for (uint32_t i = 0; i < v->via.array.size; i++) {
			int64_t c;
			if (obj_i64(&v->via.array.ptr[i], &c) < 0 || c < 1 || c > 63)
				return rerr(r, "label_classes", "expected class codes 1 to 63");
			f->label_classes |= (uint64_t)1 << c;
		}
	} else if (obj_is(k, "halo")) {
		int64_t h;
		if (obj_i64(v, &h) < 0 || h < 0 || h > INT_MAX)
			return rerr(r, "halo", "expected a non-negative integer");
		f->halo = (int)h;
	} else if (obj_is(k, "off")) {
		if (get_i64s(r, "off", v, pair, 2) < 0)
			return -1;
		f->off_x = pair[0];
		f->off_y = pair[1];
	} else if (obj_is(k, "src_size")) {
		if (get_i64s(r, "src_size", v, pair, 2) < 0)
			return -1;
		if (pair[0] < 1 || pair[1] < 1)
			return rerr(r, "src_size", "expected positive sizes");
		f->src_w = pair[0];
		f->src_h = pair[1];
	}
	return 0;		/* "crc" and unknown keys (later minor versions) */
}

static int check_frame(struct ls_reader *r, struct ls_frame *f, struct fields *x)
{
	size_t hw;
	if (get_tensor(r, &x->t, &f->t, "") < 0)
		return -1;
	hw = (size_t)(ls_frame_h(f) * ls_frame_w(f));
	if (x->mask && get_plane(r, "mask", x->mask, &f->mask, &f->mask_cap, hw) < 0)
		return -1;
	if (x->label && get_plane(r, "label", x->label, &f->label, &f->label_cap, hw) < 0)
		return -1;
	if (f->bands.n && f->bands.n != ls_frame_c(f))
		return rerr(r, "bands", "%d names for %lld bands", f->bands.n, (long long)ls_frame_c(f));
	if (f->norm.n && f->norm.n != ls_frame_c(f))
		return rerr(r, "norm", "%d entries for %lld bands", f->norm.n, (long long)ls_frame_c(f));
	if (f->has_geo && (!f->crs || f->src_w < 1))
		return rerr(r, "src_size", "georeferenced frame without source size or crs");
	return 0;
}

static int decode(struct ls_reader *r, const msgpack_object *root, struct ls_frame *f, int *trailer)
{
	struct fields x = { 0 };
	int64_t v, seq, count;
	if (root->type != MSGPACK_OBJECT_MAP)
		return rerr(r, NULL, "not a map (corrupt stream or not a landshift stream)");
	ls_frame_reset(f);
	for (uint32_t i = 0; i < root->via.map.size; i++)
		if (decode_meta(r, &root->via.map.ptr[i], f, &x) < 0)
			return -1;
	if (!x.v || obj_i64(x.v, &v) < 0)
		return rerr(r, "v", "missing format version");
	if (v != LS_FRAME_VERSION)
		return rerr(r, "v", "format version %lld, this program reads version %d", (long long)v,
			    LS_FRAME_VERSION);
	if (!x.kind || x.kind->type != MSGPACK_OBJECT_STR || x.kind->via.str.size == 0 ||
	    x.kind->via.str.size >= sizeof f->kind)
		return rerr(r, "kind", "missing or not a short string");
	memcpy(f->kind, x.kind->via.str.ptr, x.kind->via.str.size);
	f->kind[x.kind->via.str.size] = 0;
	if (!x.seq || obj_i64(x.seq, &seq) < 0)
		return rerr(r, "seq", "missing or not an integer");
	if ((uint64_t)seq != r->seg)
		return rerr(r, "seq", "is %lld, expected %llu (frames lost or reordered)", (long long)seq,
			    (unsigned long long)r->seg);
	f->seq = (uint64_t)seq;
	*trailer = !strcmp(f->kind, "trailer");
	if (*trailer) {
		if (!x.count || obj_i64(x.count, &count) < 0)
			return rerr(r, "count", "trailer without a frame count");
		if ((uint64_t)count != r->seg)
			return rerr(r, "count", "trailer counts %lld frames, the stream had %llu",
				    (long long)count, (unsigned long long)r->seg);
		return 0;
	}
	return check_frame(r, f, &x);
}

static size_t be_uint(const unsigned char *p, int k)
{
	size_t v = 0;
	for (int i = 0; i < k; i++)
		v = v << 8 | p[i];
	return v;
}

/* Walk one msgpack object in p[0..n) without building it: 1 when it is
 * complete (*used = its length), 0 when more bytes are needed, -1 when it
 * cannot be valid (reserved byte, nesting deeper than 16). msgpack-c
 * allocates the elements a container header announces before reading
 * them, so a forged header of 2^32 elements would make it ask for a
 * hundred gigabytes: it only ever sees objects this walk found complete,
 * whose element counts the bytes present bound. */
static int mp_walk(const unsigned char *p, size_t n, size_t *used, int depth)
{
	if (depth > 16)
		return -1;
	if (n < 1)
		return 0;
	unsigned b = p[0];
	size_t head = 1, len = 0, items = 0;	/* payload bytes, or child objects */
#define NEED(k) \
	if (n < (k)) \
		return 0
#define BE(off, k) be_uint(p + (off), k)
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		len = 0;
	else if (b >= 0x80 && b <= 0x8f)
		items = 2 * (size_t)(b & 0x0f);
	else if (b >= 0x90 && b <= 0x9f)
		items = b & 0x0f;
	else if (b >= 0xa0 && b <= 0xbf)
		len = b & 0x1f;
	else
		switch (b) {
		case 0xc4: case 0xd9: NEED(2); head = 2; len = BE(1, 1); break;
		case 0xc5: case 0xda: NEED(3); head = 3; len = BE(1, 2); break;
		case 0xc6: case 0xdb: NEED(5); head = 5; len = BE(1, 4); break;
		case 0xc7: NEED(3); head = 3; len = BE(1, 1); break;
		case 0xc8: NEED(4); head = 4; len = BE(1, 2); break;
		case 0xc9: NEED(6); head = 6; len = BE(1, 4); break;
		case 0xca: len = 4; break;
		case 0xcb: len = 8; break;
		case 0xcc: case 0xd0: len = 1; break;
		case 0xcd: case 0xd1: len = 2; break;
		case 0xce: case 0xd2: len = 4; break;
		case 0xcf: case 0xd3: len = 8; break;
		case 0xd4: len = 2; break;
		case 0xd5: len = 3; break;
		case 0xd6: len = 5; break;
		case 0xd7: len = 9; break;
		case 0xd8: len = 17; break;
		case 0xdc: NEED(3); head = 3; items = BE(1, 2); break;
		case 0xdd: NEED(5); head = 5; items = BE(1, 4); break;
		case 0xde: NEED(3); head = 3; items = 2 * BE(1, 2); break;
		case 0xdf: NEED(5); head = 5; items = 2 * BE(1, 4); break;
		default: return -1;	/* 0xc1 is never used */
		}
#undef NEED
#undef BE
	size_t at = head;
	if (len) {
		if (n - head < len)
			return 0;
		at += len;
	}
	for (size_t i = 0; i < items; i++) {
		size_t k;
		if (at >= n)
			return 0;	/* each element takes at least one byte: a false count runs out of bytes here */
		int rc = mp_walk(p + at, n - at, &k, depth + 1);
		if (rc <= 0)
			return rc;
		at += k;
	}
	*used = at;
	return 1;
}

static int check_crc(struct ls_reader *r, const unsigned char *m, size_t n)
{
	static const unsigned char tag[4] = { 0xa3, 'c', 'r', 'c' };
	if (n < 9 || m[n - 5] != 0xce || memcmp(m + n - 9, tag, 4))
		return rerr(r, "crc", "missing or misplaced (corrupt bytes, or not a landshift stream)");
	uint32_t want = (uint32_t)m[n - 4] << 24 | (uint32_t)m[n - 3] << 16 | (uint32_t)m[n - 2] << 8 | m[n - 1];
	uint32_t got = ls_crc32c(0, m, n - 5);
	if (got != want)
		return rerr(r, "crc", "checksum mismatch (corrupt bytes)");
	return 0;
}

/* Make room to read after buf[len]: slide the unparsed bytes to the front only
 * when little room is left, and grow when a frame needs more than the buffer. */
static size_t reserve(struct ls_reader *r)
{
	size_t want = r->chunk < READ_MIN ? r->chunk : READ_MIN;
	if (r->cap - r->len < want && r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->cap - r->len < want || (r->pos == 0 && r->len == r->cap)) {
		size_t cap = r->cap ? 2 * r->cap : READ_BUF;
		while (cap - r->len < want)
			cap *= 2;
		r->buf = ls_xrealloc(r->buf, cap);
		r->cap = cap;
	}
	size_t room = r->cap - r->len;
	return room < r->chunk ? room : r->chunk;
}

static int at_eof(struct ls_reader *r)
{
	if (r->pos < r->len)
		return rerr(r, NULL, "stream ends inside this frame (truncated after %zu of its bytes)",
			    r->len - r->pos);
	if (!r->any)
		return ls_err("%s: empty stream (no frames; did the producer fail?)", r->name);
	if (!r->after_trailer)
		return ls_err("%s: stream ended after %llu frames without a trailer (the producer died or "
			      "the stream was cut)", r->name, (unsigned long long)r->seg);
	return 0;
}

int ls_reader_next(struct ls_reader *r, struct ls_frame *f)
{
	for (;;) {
		if (r->pos < r->len) {
			size_t off = 0, whole = 0;
			int walk = mp_walk(r->buf + r->pos, r->len - r->pos, &whole, 0);
			msgpack_unpack_return ret = MSGPACK_UNPACK_CONTINUE;
			if (walk < 0)
				return rerr(r, NULL, "corrupt bytes (not valid msgpack)");
			if (walk > 0)
				ret = msgpack_unpack_next(&r->up, (const char *)r->buf + r->pos, whole, &off);
			if (ret == MSGPACK_UNPACK_SUCCESS) {
				int trailer = 0;
				if (check_crc(r, r->buf + r->pos, off) < 0 || decode(r, &r->up.data, f, &trailer) < 0)
					return -1;
				r->pos += off;
				r->bytes += off;
				r->index++;
				r->after_trailer = trailer;
				if (trailer) {
					r->seg = 0;
					continue;
				}
				r->seg++;
				r->frames++;
				return 1;
			}
			if (ret != MSGPACK_UNPACK_CONTINUE)
				return rerr(r, NULL, "corrupt bytes (not valid msgpack)");
			if (r->len - r->pos > r->max_frame)
				return rerr(r, NULL, "frame larger than the limit of %zu bytes "
					    "(LANDSHIFT_MAX_FRAME raises it)", r->max_frame);
		}
		if (r->eof)
			return at_eof(r);
		size_t room = reserve(r);
		ssize_t k = r->fn(r->ctx, r->buf + r->len, room);
		if (k < 0)
			return ls_err("%s: read error: %s", r->name, strerror(errno));
		if (k == 0)
			r->eof = 1;
		r->len += (size_t)k;
		r->any |= k > 0;
	}
}

int ls_grid_count(int extent, int size, int step)
{
	if (extent <= size)
		return 1;
	return (extent - size + step - 1) / step + 1;
}

long ls_frame_grid_tiles(const struct ls_frame *f)
{
	int size = (int)ls_frame_w(f), step = size - f->halo;
	if (f->src_w > 0 && f->src_h > 0 && step > 0 && ls_frame_h(f) == size)
		return (long)ls_grid_count((int)f->src_w, size, step) * ls_grid_count((int)f->src_h, size, step);
	return 0;
}

void ls_stream_progress(struct ls_stream_progress *sp, const struct ls_frame *f)
{
	if (!sp->started) {
		ls_progress_start(&sp->p, "tiles", ls_frame_grid_tiles(f));
		sp->started = 1;
	}
	if (++sp->done > sp->p.total)	/* more than one raster in the stream: no estimate */
		sp->p.total = 0;
	ls_progress_update(&sp->p, sp->done);
}

void ls_stream_progress_end(struct ls_stream_progress *sp)
{
	if (sp->started)
		ls_progress_end(&sp->p);
}

/* Frames that can share a forward pass: same kind, dtype, shape and domain. */
static int same_batch(const struct ls_frame *a, const struct ls_frame *b)
{
	if (strcmp(a->kind, b->kind) || a->t.dtype != b->t.dtype || a->t.ndim != b->t.ndim)
		return 0;
	for (int i = 0; i < a->t.ndim; i++)
		if (a->t.shape[i] != b->t.shape[i])
			return 0;
	return !strcmp(a->domain ? a->domain : "", b->domain ? b->domain : "");
}

void ls_map_stream_batch(const char *in, int batch, ls_map_batch_fn fn, void *ctx)
{
	struct ls_reader *r = ls_reader_open_path(in);
	struct ls_writer *w = ls_writer_open(1, "stdout");
	struct ls_stream_progress sp = { 0 };
	int n = 0, rc;
	batch = batch < 1 ? 1 : batch;
	if (!w)
		ls_die_err();
	/* batch + 1 input frames: the one that ends a batch starts the next */
	struct ls_frame *f = ls_xcalloc((size_t)batch + 1, sizeof *f), *o = ls_xcalloc((size_t)batch, sizeof *o);
	const struct ls_frame **fp = ls_xcalloc((size_t)batch, sizeof *fp);
	struct ls_frame **op = ls_xcalloc((size_t)batch, sizeof *op);
	for (int i = 0; i <= batch; i++)
		ls_frame_init(&f[i]);
	for (int i = 0; i < batch; i++) {
		ls_frame_init(&o[i]);
		op[i] = &o[i];
	}
	for (;;) {
		rc = ls_reader_next(r, &f[n]);
		if (rc < 0)
			ls_die_err();
		int full = rc == 1 && n > 0 && (n == batch || !same_batch(&f[0], &f[n]));
		if (rc == 0 || full) {
			int m = n;
			for (int i = 0; i < m; i++)
				fp[i] = &f[i];
			if (m && fn(ctx, fp, m, op) < 0)
				ls_die_err();
			for (int i = 0; i < m; i++) {
				ls_writer_put_or_die(w, &o[i]);
				ls_stream_progress(&sp, &f[i]);
			}
			if (rc == 0)
				break;
			/* the frame that did not fit starts the next batch */
			struct ls_frame t = f[0];
			f[0] = f[n];
			f[n] = t;
			n = 1;
		} else {
			n++;
		}
	}
	ls_stream_progress_end(&sp);
	ls_writer_close_or_die(w);
	for (int i = 0; i <= batch; i++)
		ls_frame_free(&f[i]);
	for (int i = 0; i < batch; i++)
		ls_frame_free(&o[i]);
	free(f);
	free(o);
	free(fp);
	free(op);
	ls_reader_close(r);
}

/* The one-frame loop is the batch loop with batches of one. */
struct map_one {
	ls_map_fn fn;
	void *ctx;
};

static int map_one(void *ctx, const struct ls_frame *const *in, int n, struct ls_frame **out)
{
	struct map_one *m = ctx;
	(void)n;
	return m->fn(m->ctx, in[0], out[0]);
}

void ls_map_stream(const char *in, ls_map_fn fn, void *ctx)
{
	struct map_one m = { fn, ctx };
	ls_map_stream_batch(in, 1, map_one, &m);
}
