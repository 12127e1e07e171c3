/* Frame stream: round trips, byte-at-a-time, truncation, corruption,
 * concatenation, unaligned payloads, limits and version checks. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "check.h"
#include "base/crc32c.h"
#include "base/err.h"
#include "stream/frame.h"

struct mem {
	const unsigned char *p;
	size_t n, off;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	if (n > m->n - m->off)
		n = m->n - m->off;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

/* Write frames with the real writer into a memory buffer through a pipe-less temp file. */
static unsigned char *write_stream(struct ls_frame *fs, int n, size_t *len)
{
	char path[] = "/tmp/ls-test-XXXXXX";
	int fd = mkstemp(path);
	struct ls_writer *w = ls_writer_open(fd, path);
	for (int i = 0; i < n; i++)
		ls_writer_put(w, &fs[i]);
	ls_writer_close(w);
	off_t sz = lseek(fd, 0, SEEK_END);
	unsigned char *buf = malloc((size_t)sz);
	if (pread(fd, buf, (size_t)sz, 0) != sz)
		abort();
	close(fd);
	unlink(path);
	*len = (size_t)sz;
	return buf;
}

static void make_frame(struct ls_frame *f, int dtype, int c, int h, int w, unsigned seed, const char *key)
{
	int64_t shape[3] = { c, h, w };
	ls_frame_init(f);
	ls_frame_alloc(f, dtype, 3, shape);
	unsigned char *d = f->t.data;
	for (size_t i = 0; i < f->t.nbytes; i++)
		d[i] = (unsigned char)(seed * 31 + i * 7);
	if (dtype == LS_F32)
		for (size_t i = 0; i < f->t.nbytes / 4; i++)
			((float *)f->t.data)[i] = (float)(i * 0.25 - seed);
	ls_frame_set_str(&f->key, key);
	snprintf(f->kind, sizeof f->kind, "tile");
	f->has_geo = 1;
	double gt[6] = { 1000.5, 0.5, 0, 2000.25, 0, -0.5 };
	memcpy(f->gt, gt, sizeof gt);
	memcpy(f->src_gt, gt, sizeof gt);
	ls_frame_set_str(&f->crs, "EPSG:32616");
	f->off_x = -3;
	f->off_y = 7;
	f->src_w = 100;
	f->src_h = 90;
	f->halo = 2;
	f->has_nodata = 1;
	f->nodata = -9999;
	ls_frame_set_str(&f->src, "scene.tif");
	ls_frame_set_str(&f->domain, "source");
	for (int b = 0; b < c; b++) {
		char name[16];
		snprintf(name, sizeof name, "b%d", b);
		ls_strlist_push(&f->bands, name);
	}
	uint8_t *m = ls_frame_mask(f), *l = ls_frame_label(f);
	for (int i = 0; i < h * w; i++) {
		m[i] = (uint8_t)(i % 3 != 0);
		l[i] = (uint8_t)(i % 5);
	}
	f->label_classes = (uint64_t)1 << 1 | (uint64_t)1 << 3;	/* partial labels: buildings and roads */
	ls_norm_alloc(&f->norm, c);
	for (int b = 0; b < c; b++) {
		f->norm.mean[b] = b + 0.5f;
		f->norm.std[b] = 2;
		f->norm.lo[b] = -1;
		f->norm.hi[b] = 300;
	}
	ls_frame_chain_push(f, "tile");
	ls_frame_chain_push(f, "normalise-bands");
	int64_t es[2] = { 4, 5 };
	struct ls_tensor *t = ls_frame_add_extra(f, "skip0", LS_F32, 2, es);
	for (int i = 0; i < 20; i++)
		((float *)t->data)[i] = (float)i / 3;
}

static int same_frame(const struct ls_frame *a, const struct ls_frame *b)
{
	size_t hw = (size_t)(ls_frame_h(a) * ls_frame_w(a));
	if (a->t.dtype != b->t.dtype || a->t.nbytes != b->t.nbytes || memcmp(a->t.data, b->t.data, a->t.nbytes))
		return 0;
	if (strcmp(a->key, b->key) || strcmp(a->crs, b->crs) || strcmp(a->domain, b->domain) || strcmp(a->src, b->src))
		return 0;
	if (memcmp(a->gt, b->gt, sizeof a->gt) || memcmp(a->src_gt, b->src_gt, sizeof a->gt))
		return 0;
	if (a->off_x != b->off_x || a->off_y != b->off_y || a->src_w != b->src_w || a->halo != b->halo ||
	    a->nodata != b->nodata || !b->has_nodata)
		return 0;
	if (memcmp(a->mask, b->mask, hw) || memcmp(a->label, b->label, hw) || a->label_classes != b->label_classes)
		return 0;
	if (a->bands.n != b->bands.n || strcmp(a->bands.v[a->bands.n - 1], b->bands.v[b->bands.n - 1]))
		return 0;
	if (a->norm.n != b->norm.n || a->norm.mean[0] != b->norm.mean[0] || a->norm.hi[0] != b->norm.hi[0])
		return 0;
	if (a->chain.n != b->chain.n || strcmp(a->chain.v[1], b->chain.v[1]))
		return 0;
	if (b->nextra != 1 || strcmp(b->extra[0].name, "skip0") || memcmp(a->extra[0].data, b->extra[0].data, 80))
		return 0;
	return 1;
}

/* Read a whole buffer; returns frames read or -1, and the error in ls_errmsg(). */
static int read_all(const unsigned char *p, size_t n, size_t chunk, struct ls_frame *out, int max)
{
	struct mem m = { p, n, 0 };
	struct ls_reader *r = ls_reader_open_fn(mem_read, &m, "mem");
	struct ls_frame f;
	int k = 0, rc;
	ls_reader_set_chunk(r, chunk);
	ls_frame_init(&f);
	while ((rc = ls_reader_next(r, &f)) == 1) {
		if (out && k < max) {
			ls_frame_copy_meta(&out[k], &f);
			ls_tensor_alloc(&out[k].t, f.t.dtype, f.t.ndim, f.t.shape);
			memcpy(out[k].t.data, f.t.data, f.t.nbytes);
			for (int e = 0; e < f.nextra; e++) {
				struct ls_tensor *t = ls_frame_add_extra(&out[k], f.extra[e].name, f.extra[e].dtype,
									 f.extra[e].ndim, f.extra[e].shape);
				memcpy(t->data, f.extra[e].data, t->nbytes);
			}
		}
		k++;
	}
	ls_frame_free(&f);
	ls_reader_close(r);
	return rc < 0 ? -1 : k;
}

static void test_round_trips(void)
{
	for (int d = 0; d < LS_NDTYPE; d++) {
		struct ls_frame in[2], out[2];
		size_t n;
		make_frame(&in[0], d, 3, 8, 6, 1, "a:0:0");
		make_frame(&in[1], d, 3, 8, 6, 2, "a:6:0");
		unsigned char *s = write_stream(in, 2, &n);
		memset(out, 0, sizeof out);
		int k = read_all(s, n, 1 << 20, out, 2);
		CHECK(k == 2 && same_frame(&in[0], &out[0]) && same_frame(&in[1], &out[1]),
		      "round trip of dtype %s keeps data and metadata", ls_dtype_name(d));
		memset(out, 0, sizeof out);
		k = read_all(s, n, 1, out, 2);
		CHECK(k == 2 && same_frame(&in[1], &out[1]), "dtype %s read one byte at a time", ls_dtype_name(d));
		for (int i = 0; i < 2; i++) {
			ls_frame_free(&in[i]);
			ls_frame_free(&out[i]);
		}
		free(s);
	}
}

static void test_truncation_and_corruption(void)
{
	struct ls_frame in[2];
	size_t n;
	make_frame(&in[0], LS_U16, 2, 4, 4, 3, "t:0:0");
	make_frame(&in[1], LS_U16, 2, 4, 4, 4, "t:4:0");
	unsigned char *s = write_stream(in, 2, &n);
	int bad_trunc = 0, bad_flip = 0, named = 1;
	for (size_t cut = 0; cut < n; cut++)
		if (read_all(s, cut, 7, NULL, 0) >= 0)
			bad_trunc++;
		else if (cut > 0 && !strstr(ls_errmsg(), "frame"))
			named = 0;
	CHECK(bad_trunc == 0, "a stream cut at every one of %zu byte offsets is an error (%d accepted)", n, bad_trunc);
	CHECK(named, "truncation errors name the frame");
	read_all(s, n / 3, 64, NULL, 0);
	CHECK(strstr(ls_errmsg(), "frame 0") && strstr(ls_errmsg(), "truncated"), "cut inside frame 0: '%s'",
	      ls_errmsg());
	for (size_t i = 0; i < n; i++) {
		unsigned char *c = malloc(n);
		memcpy(c, s, n);
		c[i] ^= 0x10;
		if (read_all(c, n, 4096, NULL, 0) >= 0)
			bad_flip++;
		free(c);
	}
	CHECK(bad_flip == 0, "a flipped bit at every one of %zu bytes is an error (%d accepted)", n, bad_flip);
	{
		unsigned char *c = malloc(n);
		memcpy(c, s, n);
		c[n / 4] ^= 0xff;
		read_all(c, n, 4096, NULL, 0);
		CHECK(strstr(ls_errmsg(), "mem: frame 0"), "corruption message names stream and frame: '%s'", ls_errmsg());
		free(c);
	}
	CHECK(read_all(s, 0, 1, NULL, 0) < 0 && strstr(ls_errmsg(), "empty"), "empty input is an error: '%s'",
	      ls_errmsg());
	/* concatenation: two streams read as one */
	unsigned char *cat = malloc(2 * n);
	memcpy(cat, s, n);
	memcpy(cat + n, s, n);
	CHECK(read_all(cat, 2 * n, 5, NULL, 0) == 4, "two concatenated streams read as one (4 frames)");
	free(cat);
	/* missing trailer: drop as many bytes as an empty stream (a trailer alone) has */
	size_t tlen = 0;
	unsigned char *s2 = write_stream(in, 2, &n);
	unsigned char *s0 = write_stream(in, 0, &tlen);
	CHECK(read_all(s2, n - tlen, 1024, NULL, 0) < 0 && strstr(ls_errmsg(), "without a trailer"),
	      "a stream without its trailer is an error: '%s'", ls_errmsg());
	free(s0);
	free(s2);
	free(s);
	ls_frame_free(&in[0]);
	ls_frame_free(&in[1]);
}

/* Build a frame by hand: each test case edits one field. */
struct craft {
	int version;
	const char *dtype;
	int data_len;
	int key_len;
};

static size_t crafted(const struct craft *c, unsigned char **out)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	unsigned char data[64];
	char key[64];
	for (int i = 0; i < 64; i++)
		data[i] = (unsigned char)(i * 3);
	memset(key, 'k', sizeof key);
	msgpack_pack_map(&pk, 8);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_int(&pk, c->version);
	msgpack_pack_str_with_body(&pk, "kind", 4);
	msgpack_pack_str_with_body(&pk, "tile", 4);
	msgpack_pack_str_with_body(&pk, "key", 3);
	msgpack_pack_str_with_body(&pk, key, (size_t)c->key_len);
	msgpack_pack_str_with_body(&pk, "seq", 3);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_str_with_body(&pk, "dtype", 5);
	msgpack_pack_str_with_body(&pk, c->dtype, strlen(c->dtype));
	msgpack_pack_str_with_body(&pk, "shape", 5);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 2);
	msgpack_pack_int(&pk, 4);
	msgpack_pack_str_with_body(&pk, "data", 4);
	msgpack_pack_bin_with_body(&pk, data, (size_t)c->data_len);
	msgpack_pack_str_with_body(&pk, "crc", 3);
	uint32_t crc = ls_crc32c(0, sb.data, sb.size);
	unsigned char tail[5] = { 0xce, crc >> 24, crc >> 16, crc >> 8, crc };
	msgpack_sbuffer_write(&sb, (const char *)tail, 5);
	/* trailer */
	size_t start = sb.size;
	msgpack_pack_map(&pk, 5);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "kind", 4);
	msgpack_pack_str_with_body(&pk, "trailer", 7);
	msgpack_pack_str_with_body(&pk, "seq", 3);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "count", 5);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "crc", 3);
	crc = ls_crc32c(0, sb.data + start, sb.size - start);
	unsigned char tail2[5] = { 0xce, crc >> 24, crc >> 16, crc >> 8, crc };
	msgpack_sbuffer_write(&sb, (const char *)tail2, 5);
	*out = (unsigned char *)sb.data;
	return sb.size;
}

static void test_crafted(void)
{
	unsigned char *s;
	size_t n;
	struct ls_frame out[1];
	struct craft ok = { 1, "u8", 8, 1 };
	n = crafted(&ok, &s);
	CHECK(read_all(s, n, 3, NULL, 0) == 1, "a hand-made frame reads");
	free(s);
	/* unaligned payloads: every key length shifts the data to another offset */
	int bad = 0;
	for (int kl = 1; kl < 9; kl++) {
		struct craft c = { 1, "f32", 32, kl };
		n = crafted(&c, &s);
		memset(out, 0, sizeof out);
		if (read_all(s, n, 5, out, 1) != 1 || ((uintptr_t)out[0].t.data & 63) ||
		    ((unsigned char *)out[0].t.data)[5] != 15)
			bad++;
		ls_frame_free(&out[0]);
		free(s);
	}
	CHECK(bad == 0, "payloads at unaligned offsets are copied out intact and aligned");
	struct craft v2 = { 2, "u8", 8, 1 };
	n = crafted(&v2, &s);
	CHECK(read_all(s, n, 1 << 20, NULL, 0) < 0 && strstr(ls_errmsg(), "'v'") && strstr(ls_errmsg(), "version 2"),
	      "unknown version named: '%s'", ls_errmsg());
	free(s);
	struct craft dt = { 1, "f64", 8, 1 };
	n = crafted(&dt, &s);
	CHECK(read_all(s, n, 1 << 20, NULL, 0) < 0 && strstr(ls_errmsg(), "'dtype'"), "unknown dtype named: '%s'",
	      ls_errmsg());
	free(s);
	struct craft len = { 1, "u16", 12, 1 };
	n = crafted(&len, &s);
	CHECK(read_all(s, n, 1 << 20, NULL, 0) < 0 && strstr(ls_errmsg(), "'data'") && strstr(ls_errmsg(), "16"),
	      "wrong data length named: '%s'", ls_errmsg());
	free(s);
	/* size limit */
	struct ls_frame big;
	make_frame(&big, LS_F32, 4, 64, 64, 1, "big");
	unsigned char *b = write_stream(&big, 1, &n);
	struct mem m = { b, n, 0 };
	struct ls_reader *r = ls_reader_open_fn(mem_read, &m, "mem");
	ls_reader_set_max_frame(r, 4096);
	struct ls_frame f;
	ls_frame_init(&f);
	CHECK(ls_reader_next(r, &f) < 0 && strstr(ls_errmsg(), "limit"), "frame over the size limit refused: '%s'",
	      ls_errmsg());
	ls_reader_close(r);
	ls_frame_free(&f);
	ls_frame_free(&big);
	free(b);
	/* not msgpack at all */
	const char *text = "hello, this is not a frame stream\n";
	CHECK(read_all((const unsigned char *)text, strlen(text), 4096, NULL, 0) < 0, "plain text refused: '%s'",
	      ls_errmsg());
}

static void test_crc(void)
{
	size_t n = 100003;
	unsigned char *b = malloc(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 131 + 7);
	CHECK(ls_crc32c(0, "123456789", 9) == 0xE3069283u, "CRC-32C of the standard check string");
	uint32_t whole = ls_crc32c(0, b, n), parts = 0;
	for (size_t i = 0; i < n; i += 997)
		parts = ls_crc32c(parts, b + i, i + 997 > n ? n - i : 997);
	CHECK(whole == parts, "CRC-32C of a large buffer equals the CRC continued over small pieces");
	free(b);
}

int main(void)
{
	test_crc();
	test_round_trips();
	test_truncation_and_corruption();
	test_crafted();
	return check_failed != 0;
}
