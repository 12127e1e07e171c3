/* Engine: overfitting a real tile, model files (save, load, refuse), and
 * determinism (same seed, same data, same threads: same model bytes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nn/conv.h"
#include "nn/infer.h"
#include "base/err.h"
#include "geo/labels.h"
#include "nn/model.h"
#include "nn/optim.h"
#include "geo/raster.h"
#include "nn/unet.h"

#define S 128

static float img[3 * S * S];
static uint8_t lab[S * S];
static char tmpdir[] = "/tmp/ls-engine-XXXXXX";

/* A 128 x 128 window of the Atlanta scene and its building labels. */
static int load_tile(void)
{
	const char *data = getenv("DATA") ? getenv("DATA") : "../shared/data";
	char path[1024], lpath[1024];
	struct ls_raster r;
	struct ls_raster_opts o = { 0 };
	struct ls_labels l;
	struct ls_frame f;
	snprintf(path, sizeof path, "%s/atlanta_sn4/rgb_nadir10.tif", data);
	snprintf(lpath, sizeof lpath, "%s/atlanta_sn4/rgb_nadir10_buildings.geojson", data);
	ls_gdal_init(16 << 20);
	ls_labels_init(&l);
	ls_labels_add(&l, lpath);
	ls_frame_init(&f);
	if (ls_raster_open(&r, path, &o) < 0 || ls_labels_bind(&l, &r) < 0 || ls_raster_read_tile(&r, 300, 300, S, &f) < 0 ||
	    ls_labels_read_tile(&l, &r, 300, 300, S, lab) < 0)
		return -1;
	for (int i = 0; i < 3 * S * S; i++)
		img[i] = (((uint8_t *)f.t.data)[i] - 60.0f) / 50.0f;
	ls_frame_free(&f);
	ls_labels_free(&l);
	ls_raster_close(&r);
	return 0;
}

static void make_net(struct ls_unet *m, int width, uint64_t seed)
{
	struct ls_unet_spec s;
	char spec[128];
	snprintf(spec, sizeof spec, "unet width=%d depth=4 classes=2 stem=rgb:3", width);
	ls_unet_spec_parse(&s, spec);
	ls_unet_init(m, &s, seed);
}

/* Train on the tile; returns the median loss of the last (up to) 10 steps:
 * with Adam at 1e-2 a single step can spike (0.0023 at step 240, 0.21 at
 * step 249 in the sanitizer build) while the run has clearly converged. */
static double train(struct ls_unet *m, int steps, double lr)
{
	struct ls_unet_act a;
	struct ls_optim o;
	struct ls_t4 x = ls_t4_make(img, 1, 3, S, S);
	double loss = 0, tail[10];
	int ntail = steps < 10 ? steps : 10;
	ls_unet_act_init(&a, m, 1, S, S);
	ls_optim_defaults(&o, LS_ADAM, lr);
	for (int i = 0; i < steps; i++) {
		ls_params_zero_grad(&m->params);
		ls_unet_forward(m, &a, &x, 0, 1);
		loss = ls_softmax_xent(&a.logits, lab, NULL, &a.dlogits, NULL);
		if (i >= steps - ntail)
			tail[i - (steps - ntail)] = loss;
		ls_unet_backward(m, &a, &a.dlogits, NULL, 0);
		ls_optim_step(&o, &m->params);
	}
	ls_unet_act_free(&a);
	for (int i = 1; i < ntail; i++)	/* insertion sort, then the median */
		for (int j = i; j > 0 && tail[j - 1] > tail[j]; j--) {
			double t = tail[j];
			tail[j] = tail[j - 1];
			tail[j - 1] = t;
		}
	return ntail ? tail[ntail / 2] : loss;
}

/* No allocation inside a training step: the test binary is linked with
 * --wrap for the allocators (Makefile), so every call from Landshift's code
 * passes through these counters. */
volatile long n_alloc;	/* volatile: GCC assumes allocators touch no user data */
volatile int counting;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t k);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
#define COUNT() (counting ? (void)__atomic_add_fetch(&n_alloc, 1, __ATOMIC_SEQ_CST) : (void)0)
void *__wrap_malloc(size_t n) { COUNT(); return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t k) { COUNT(); return __real_calloc(n, k); }
void *__wrap_realloc(void *p, size_t n) { COUNT(); return __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { COUNT(); return __real_aligned_alloc(a, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { COUNT(); return __real_posix_memalign(p, a, n); }

static void test_no_alloc(struct ls_unet *m)
{
	struct ls_unet_act a;
	struct ls_optim o;
	struct ls_t4 x = ls_t4_make(img, 1, 3, S, S);
	ls_unet_act_init(&a, m, 1, S, S);
	ls_optim_defaults(&o, LS_ADAM, 1e-3);
	long before = n_alloc;
	for (int i = 0; i < 3; i++) {
		counting = i > 0;	/* the first step may size lazily kept buffers */
		ls_params_zero_grad(&m->params);
		ls_unet_forward(m, &a, &x, 0, 1);
		ls_softmax_xent(&a.logits, lab, NULL, &a.dlogits, NULL);
		ls_unet_backward(m, &a, &a.dlogits, NULL, 0);
		ls_optim_step(&o, &m->params);
	}
	counting = 0;
	n_alloc -= before;
	counting = 1;	/* the counter itself must work */
	void *volatile probe = malloc(16);
	free(probe);
	counting = 0;
	CHECK(n_alloc == 1, "no allocation inside a training step (forward, loss, backward, Adam): %ld calls in 2 steps",
	      n_alloc - 1);
	ls_unet_act_free(&a);
}

static float *predict(struct ls_unet *m)
{
	struct ls_unet_act a;
	struct ls_t4 x = ls_t4_make(img, 1, 3, S, S);
	ls_unet_act_init(&a, m, 1, S, S);
	ls_unet_forward(m, &a, &x, 0, 0);
	float *out = malloc(ls_t4_len(&a.logits) * sizeof *out);
	memcpy(out, a.logits.d, ls_t4_len(&a.logits) * sizeof *out);
	ls_unet_act_free(&a);
	return out;
}

/* The inference layout (scratch buffers shared between layers) gives the
 * bytes of the training layout, for a batch of 2 and a smaller last batch,
 * and encode then decode from the kept skips gives them too. */
static void test_infer_layout(struct ls_unet *m, const float *want)
{
	struct ls_unet_act a;
	static float two[2 * 3 * S * S];
	memcpy(two, img, sizeof img);
	memcpy(two + 3 * S * S, img, sizeof img);
	CHECK(ls_unet_act_init_infer(&a, m, 2, S, S) == 0, "inference activations for 2 tiles");
	struct ls_t4 x2 = ls_t4_make(two, 2, 3, S, S), x1 = ls_t4_make(img, 1, 3, S, S);
	ls_unet_forward(m, &a, &x2, 0, 0);
	size_t k = 2 * S * S;
	CHECK(!memcmp(a.logits.d, want, k * sizeof *want) && !memcmp(a.logits.d + k, want, k * sizeof *want),
	      "inference layout, batch of 2: the training layout's logits, bit for bit");
	memset(a.logits.d, 0, 2 * k * sizeof *want);
	ls_unet_encode(m, &a, &x1, 0, 0);
	ls_unet_decode(m, &a, 0, 0);
	CHECK(!memcmp(a.logits.d, want, k * sizeof *want), "inference layout, encode then decode of 1 tile: the same logits");
	struct ls_unet_act t;
	ls_unet_act_init(&t, m, 2, S, S);
	CHECK(a.bytes * 2 < t.bytes, "inference layout: %zu KB against the training layout's %zu KB", a.bytes >> 10,
	      t.bytes >> 10);
	ls_unet_act_free(&t);
	ls_unet_act_free(&a);
	ls_conv_direct = 0;	/* GEMM convolutions, then batch norm and ReLU as a pass of their own */
	float *g = predict(m);
	ls_conv_direct = 1;
	double d = 0, r = 0;
	for (size_t i = 0; i < k; i++) {
		d = fmax(d, fabs((double)g[i] - want[i]));
		r = fmax(r, fabs((double)want[i]));
	}
	CHECK(d < 1e-4 * r, "inference, batch norm and ReLU folded into the direct convolutions = convolution, then batch norm: within %.1e of the largest logit",
	      d / r);
	free(g);
}

static size_t file_bytes(const char *path, unsigned char **buf)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return 0;
	fseek(fp, 0, SEEK_END);
	size_t n = (size_t)ftell(fp);
	rewind(fp);
	*buf = malloc(n);
	if (fread(*buf, 1, n, fp) != n)
		n = 0;
	fclose(fp);
	return n;
}

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
	FILE *fp = fopen(path, "wb");
	fwrite(b, 1, n, fp);
	fclose(fp);
}

/* Weights stored as i16 or i8 (meta "weights i16" / "i8"): a half or a
 * quarter of the file, each convolution weight within its output
 * channel's largest / 65534 (i16) or / 254 (i8), every other tensor exact,
 * logits near the f32 model's; a checkpoint (with state) keeps f32
 * whatever the meta says. */
static void test_quant(struct ls_unet *m, const float *want, int bits)
{
	char pf[300], pq[300], pc[300];
	const char *name = bits == 8 ? "i8" : "i16";
	double top = bits == 8 ? 254 : 65534, tol = bits == 8 ? 0.2 : 1e-3;	/* i8: this tiny overfitted net is sensitive; the shipped model scores within 0.002 IoU */
	struct ls_model_meta meta = { 0 }, back = { 0 };
	struct ls_unet q, c;
	snprintf(pf, sizeof pf, "%s/f32.model", tmpdir);
	snprintf(pq, sizeof pq, "%s/%s.model", tmpdir, name);
	snprintf(pc, sizeof pc, "%s/%s.ckpt", tmpdir, name);
	ls_model_save(pf, m, &meta, 0);
	ls_meta_set(&meta, "weights", name);
	CHECK(ls_model_save(pq, m, &meta, 0) == 0 && ls_model_save(pc, m, &meta, 1) == 0, "%s model and checkpoint saved", name);
	unsigned char *bf, *bq;
	size_t nf = file_bytes(pf, &bf), nq = file_bytes(pq, &bq);
	CHECK(nq > 0 && nq * 100 < nf * (bits == 8 ? 30 : 55), "%s weights: %zu bytes against f32's %zu", name, nq, nf);
	free(bf);
	free(bq);
	if (ls_model_load(pq, &q, &back) < 0) {
		CHECK(0, "%s model loaded: %s", name, ls_errmsg());
		return;
	}
	double worst = 0;	/* error over the bound (rounding, and two float ulps), the worst weight */
	int exact = 1;
	for (int i = 0; i < m->params.n; i++) {
		const struct ls_param *p = m->params.p[i], *r = q.params.p[i];
		size_t per = p->n / (size_t)p->shape[0];
		for (size_t k = 0; k < p->n; k++) {
			if (p->ndim < 2) {
				exact &= p->w[k] == r->w[k];
				continue;
			}
			double big = 0;
			for (size_t j = k / per * per; j < (k / per + 1) * per; j++)
				big = fmax(big, fabs((double)p->w[j]));
			worst = fmax(worst, fabs((double)p->w[k] - r->w[k]) / (big / top + big * 2.4e-7 + 1e-30));
		}
	}
	CHECK(worst <= 1, "%s weights within their channel's largest / %.0f and float rounding (worst %.3f of the bound)", name,
	      top, worst);
	CHECK(worst > 0.2, "%s weights are rounded (worst %.3f of the bound): not stored as f32", name, worst);
	CHECK(exact, "%s: biases and batch-norm values stay f32, exact", name);
	CHECK(ls_meta_get(&back, "weights") && !strcmp(ls_meta_get(&back, "weights"), name), "the meta says %s", name);
	float *a = predict(&q);
	double dl = 0, range = 0;
	for (int k = 0; k < 2 * S * S; k++) {
		dl = fmax(dl, fabs((double)a[k] - want[k]));
		range = fmax(range, fabs((double)want[k]));
	}
	CHECK(dl < tol * range, "%s logits within %.2g of f32's (largest logit %.3g)", name, dl, range);
	free(a);
	ls_unet_free(&q);
	CHECK(ls_model_load(pc, &c, &back) == 0, "%s checkpoint loaded", name);
	a = predict(&c);
	CHECK(!memcmp(a, want, 2 * S * S * sizeof *a), "a checkpoint keeps f32 weights: identical logits");
	free(a);
	ls_unet_free(&c);
	ls_meta_free(&meta);
	ls_meta_free(&back);
}

/* An ensemble file: every member back exactly and in order, the first
 * alone for a reader of one network, the count in the meta; members of two
 * architectures refused. */
static void test_members(struct ls_unet *a, struct ls_unet *b)
{
	char pe[300], pbad[300];
	struct ls_model_meta meta = { 0 }, back = { 0 }, one = { 0 };
	struct ls_unet *nets[2] = { a, b }, *got = NULL, first, other;
	int n = 0;
	snprintf(pe, sizeof pe, "%s/ens.model", tmpdir);
	snprintf(pbad, sizeof pbad, "%s/ens-bad.model", tmpdir);
	CHECK(ls_model_save_members(pe, nets, 2, &meta) == 0, "an ensemble of two saved");
	CHECK(ls_model_load_members(pe, &got, &n, &back) == 0 && n == 2, "its two members loaded (%d)", n);
	CHECK(ls_meta_get(&back, "members") && !strcmp(ls_meta_get(&back, "members"), "2"), "the meta says members 2");
	int same = n == 2;
	for (int m = 0; m < n && same; m++)
		for (int i = 0; i < nets[m]->params.n; i++)
			same &= !memcmp(nets[m]->params.p[i]->w, got[m].params.p[i]->w, nets[m]->params.p[i]->n * sizeof(real));
	CHECK(same, "every member's tensors back exactly, in order");
	if (got)
		ls_model_free_members(got, n);
	CHECK(ls_model_load(pe, &first, &one) == 0, "a reader of one network loads the ensemble");
	int isfirst = 1;
	for (int i = 0; i < a->params.n; i++)
		isfirst &= !memcmp(a->params.p[i]->w, first.params.p[i]->w, a->params.p[i]->n * sizeof(real));
	CHECK(isfirst, "and gets its first member");
	ls_unet_free(&first);
	make_net(&other, 4, 3);
	nets[1] = &other;
	CHECK(ls_model_save_members(pbad, nets, 2, &meta) < 0 && strstr(ls_errmsg(), "one architecture"),
	      "members of two architectures refused: %s", ls_errmsg());
	ls_unet_free(&other);
	/* a plain model is an ensemble of one */
	snprintf(pbad, sizeof pbad, "%s/one.model", tmpdir);
	ls_model_save(pbad, a, &meta, 0);
	got = NULL;
	int rcp = ls_model_load_members(pbad, &got, &n, &one);
	CHECK(rcp == 0 && n == 1, "a plain model loads as one member (%d members, %s)", n, rcp ? ls_errmsg() : "read");
	if (got)
		ls_model_free_members(got, n);
	ls_meta_free(&meta);
	ls_meta_free(&back);
	ls_meta_free(&one);
}

/* The direct 3x3 kernel against the im2col + GEMM path: forward, input
 * gradient and weight gradient, in float, on shapes that use every code
 * path of the kernel (24-, 16- and 8-pixel row ends, one and many bands). */
static void test_direct(int n, int ci, int co, int h, int w)
{
	struct ls_conv c;
	struct ls_params ps = { 0 };
	struct ls_rng g;
	ls_rng_seed(&g, (uint64_t)(ci * 1000 + co * 10 + w));
	ls_conv_init(&c, &ps, "c", ci, co, 3, 1, 1, 1, &g);
	for (int i = 0; i < co; i++)
		c.b->w[i] = (float)ls_rng_normal(&g);
	size_t nx = (size_t)n * ci * h * w, ny = (size_t)n * co * h * w;
	float *ws = ls_alloc_real(ls_conv_ws(&c, h, w) * ls_nthreads);
	struct ls_t4 x = ls_t4_make(ls_alloc_real(nx), n, ci, h, w), dy = ls_t4_make(ls_alloc_real(ny), n, co, h, w);
	for (size_t i = 0; i < nx; i++)
		x.d[i] = (float)ls_rng_normal(&g);
	for (size_t i = 0; i < ny; i++)
		dy.d[i] = (float)ls_rng_normal(&g);
	float *out[2][3];
	for (int direct = 0; direct < 2; direct++) {
		ls_conv_direct = direct;
		struct ls_t4 y = ls_t4_make(ls_alloc_real(ny), 0, 0, 0, 0), dx = ls_t4_make(ls_alloc_real(nx), 0, 0, 0, 0);
		for (size_t i = 0; i < nx; i++)
			dx.d[i] = 7;	/* must be overwritten */
		ls_conv_forward(&c, &x, &y, ws);
		ls_params_zero_grad(&ps);
		ls_conv_backward(&c, &x, &dy, &dx, ws);
		out[direct][0] = y.d;
		out[direct][1] = dx.d;
		out[direct][2] = ls_alloc_real(c.w->n);
		memcpy(out[direct][2], c.w->g, c.w->n * sizeof(float));
	}
	ls_conv_direct = 1;
	double worst[3] = { 0 };
	size_t len[3] = { ny, nx, c.w->n };
	for (int k = 0; k < 3; k++) {
		double scale = 0;
		for (size_t i = 0; i < len[k]; i++)
			scale = fmax(scale, fabs(out[0][k][i]));
		for (size_t i = 0; i < len[k]; i++)
			worst[k] = fmax(worst[k], fabs(out[0][k][i] - out[1][k][i]) / scale);
	}
	CHECK(worst[0] < 1e-5 && worst[1] < 1e-5 && worst[2] < 1e-5,
	      "direct 3x3 kernel (%s) = im2col + GEMM (%d->%d, %dx%d, batch %d): forward %.1e, input grad %.1e, weight grad %.1e",
	      ls_conv_avx512 ? "AVX-512 where the shape allows" : "AVX2", ci, co, w, h, n, worst[0], worst[1], worst[2]);
	for (int d = 0; d < 2; d++)
		for (int k = 0; k < 3; k++)
			free(out[d][k]);
	free(ws);
	free(x.d);
	free(dy.d);
	ls_conv_free(&c);
	ls_params_free(&ps);
}

/* The bfloat16 kernel (--precision bf16) against float on the same
 * bfloat16-rounded inputs and weights: the sums in float agree to float's
 * rounding; on the unrounded data it differs (the path was taken). A shape
 * outside the AVX-512 kernel (output channels not in eights) keeps float. */
static void test_bf16(int n, int ci, int co, int h, int w)
{
	struct ls_conv c;
	struct ls_params ps = { 0 };
	struct ls_rng g;
	ls_rng_seed(&g, (uint64_t)(ci * 77 + co * 5 + w));
	ls_conv_init(&c, &ps, "c", ci, co, 3, 1, 1, 1, &g);
	for (int i = 0; i < co; i++)
		c.b->w[i] = (float)ls_rng_normal(&g);
	size_t nx = (size_t)n * ci * h * w, ny = (size_t)n * co * h * w;
	float *ws = ls_alloc_real(ls_conv_ws(&c, h, w) * ls_nthreads), *w0 = ls_alloc_real(c.w->n);
	struct ls_t4 x = ls_t4_make(ls_alloc_real(nx), n, ci, h, w), xr = ls_t4_make(ls_alloc_real(nx), n, ci, h, w);
	struct ls_t4 yb = ls_t4_make(ls_alloc_real(ny), 0, 0, 0, 0), yr = ls_t4_make(ls_alloc_real(ny), 0, 0, 0, 0),
		     yf = ls_t4_make(ls_alloc_real(ny), 0, 0, 0, 0);
	for (size_t i = 0; i < nx; i++) {
		x.d[i] = (float)ls_rng_normal(&g);
		xr.d[i] = ls_bf16_round(x.d[i]);
	}
	ls_conv_bf16 = 1;
	ls_conv_forward(&c, &x, &yb, ws);
	ls_conv_bf16 = 0;
	ls_conv_forward(&c, &x, &yf, ws);
	memcpy(w0, c.w->w, c.w->n * sizeof *w0);
	for (size_t i = 0; i < c.w->n; i++)
		c.w->w[i] = ls_bf16_round(c.w->w[i]);
	ls_conv_forward(&c, &xr, &yr, ws);
	double scale = 0, dr = 0, df = 0;
	for (size_t i = 0; i < ny; i++) {
		scale = fmax(scale, fabs(yr.d[i]));
		dr = fmax(dr, fabs(yb.d[i] - yr.d[i]));
		df = fmax(df, fabs(yb.d[i] - yf.d[i]));
	}
	if (co % 8 == 0 && w % 16 == 0)
		CHECK(dr < 1e-5 * scale && df > 1e-4 * scale,
		      "bf16 kernel (%d->%d, %dx%d, batch %d) = f32 on bf16-rounded data within %.1e (and %.1e from f32)",
		      ci, co, w, h, n, dr / scale, df / scale);
	else
		CHECK(df == 0, "bf16 asked of a shape outside the AVX-512 kernel (%d->%d, width %d): f32, identical", ci,
		      co, w);
	memcpy(c.w->w, w0, c.w->n * sizeof *w0);
	free(ws);
	free(w0);
	free(x.d);
	free(xr.d);
	free(yb.d);
	free(yr.d);
	free(yf.d);
	ls_conv_free(&c);
	ls_params_free(&ps);
}

int main(int argc, char **argv)
{
	struct ls_unet m, m2;
	struct ls_model_meta meta = { 0 }, meta2 = { 0 };
	char p1[256], p2[256], p3[256];
	ls_blas_init(argv);
	ls_threads_set(2);
	(void)argc;
	ls_conv_avx512 = !!__builtin_cpu_supports("avx512f");
	for (int avx512 = ls_conv_avx512; avx512 >= 0; avx512--) {
		ls_conv_avx512 = avx512;
		test_direct(2, 16, 16, 40, 64);	/* AVX2: 16 + 16 + 8 pixel row pieces, several bands */
		test_direct(3, 4, 16, 9, 40);	/* a stem: 4 bands in */
		test_direct(1, 48, 16, 70, 8);	/* one image in bands over threads; 8-pixel rows */
		test_direct(2, 32, 64, 16, 32);	/* AVX-512: one 32-pixel piece */
		test_direct(2, 16, 32, 20, 48);	/* AVX-512: 32 + 16 */
		test_direct(3, 8, 16, 16, 16);	/* weight gradient of several small images per work item, a partial group */
		test_direct(5, 16, 24, 12, 32);	/* ... and of 2 images per item, odd batch */
		test_direct(1, 16, 16, 13, 16);	/* 16-pixel rows two at a time, an odd row left */
	}
	ls_conv_avx512 = !!__builtin_cpu_supports("avx512f");
	if (ls_conv_bf16_available()) {
		test_bf16(2, 16, 16, 20, 64);	/* two 32-pixel pieces a row, several bands */
		test_bf16(1, 3, 24, 33, 48);	/* a stem: 3 bands (an odd channel pairs with zero); 32 + 16 */
		test_bf16(2, 24, 8, 9, 16);	/* 16-pixel rows */
		test_bf16(1, 16, 12, 8, 32);	/* 12 output channels: the float kernel */
	} else {
		CHECK(ls_infer_set_precision("bf16") == 0 && ls_conv_bf16 == 0,
		      "no AVX-512 BF16 here: --precision bf16 runs in f32");
	}
	CHECK(ls_infer_set_precision("f16") < 0 && strstr(ls_errmsg(), "unknown precision 'f16' (f32 or bf16)"),
	      "precision f16 refused: %s", ls_errmsg());
	if (!mkdtemp(tmpdir) || load_tile() < 0) {
		CHECK(0, "load a real tile: %s", ls_errmsg());
		return 1;
	}
	int buildings = 0;
	for (int i = 0; i < S * S; i++)
		buildings += lab[i] == 1;
	CHECK(buildings > 500 && buildings < S * S - 500, "the tile holds both classes (%d building pixels)", buildings);

	make_net(&m, 16, 7);
	test_no_alloc(&m);
	ls_unet_free(&m);
	make_net(&m, 8, 1);
	double first = train(&m, 1, 1e-2), last = train(&m, 250, 1e-2);
	CHECK(last < 0.05 && last < first / 10, "a real Atlanta tile overfitted: loss %.3f -> %.4f (median of the last 10) in 250 Adam steps",
	      first, last);

	snprintf(p1, sizeof p1, "%s/a.model", tmpdir);
	ls_meta_set(&meta, "step", "251");
	ls_meta_set(&meta, "bands.rgb", "red,green,blue");
	CHECK(ls_model_save(p1, &m, &meta, 1) == 0, "model saved");
	CHECK(ls_model_load(p1, &m2, &meta2) == 0, "model loaded");
	float *a = predict(&m), *b = predict(&m2);
	CHECK(!memcmp(a, b, 2 * S * S * sizeof *a), "save -> load gives identical predictions");
	test_infer_layout(&m2, a);
	test_quant(&m2, a, 16);
	test_quant(&m2, a, 8);
	struct ls_unet m3;
	make_net(&m3, 8, 5);
	test_members(&m3, &m2);
	ls_unet_free(&m3);
	CHECK(ls_meta_get(&meta2, "bands.rgb") && !strcmp(ls_meta_get(&meta2, "bands.rgb"), "red,green,blue") &&
	      !strcmp(ls_meta_get(&meta2, "step"), "251"),
	      "model metadata (band order, step) survives");
	CHECK(m2.params.p[5]->m != NULL, "optimiser state is saved with the weights");
	free(a);
	free(b);
	ls_unet_free(&m2);

	unsigned char *buf;
	size_t n = file_bytes(p1, &buf);
	snprintf(p2, sizeof p2, "%s/cut.model", tmpdir);
	write_bytes(p2, buf, n / 2);
	CHECK(ls_model_load(p2, &m2, &meta2) < 0 && strstr(ls_errmsg(), "cut.model"), "a truncated model is refused: %s",
	      ls_errmsg());
	buf[n / 3] ^= 1;
	write_bytes(p2, buf, n);
	CHECK(ls_model_load(p2, &m2, &meta2) < 0 && strstr(ls_errmsg(), "checksum"), "an altered model is refused: %s",
	      ls_errmsg());
	buf[n / 3] ^= 1;
	free(buf);
	write_bytes(p2, (const unsigned char *)"not a model\n", 12);
	CHECK(ls_model_load(p2, &m2, &meta2) < 0, "a text file is refused as a model: %s", ls_errmsg());

	/* determinism: two runs from the same seed give the same bytes */
	struct ls_unet d1, d2;
	make_net(&d1, 8, 5);
	make_net(&d2, 8, 5);
	train(&d1, 5, 1e-3);
	train(&d2, 5, 1e-3);
	snprintf(p2, sizeof p2, "%s/d1.model", tmpdir);
	snprintf(p3, sizeof p3, "%s/d2.model", tmpdir);
	ls_model_save(p2, &d1, &meta, 1);
	ls_model_save(p3, &d2, &meta, 1);
	unsigned char *x1, *x2;
	size_t n1 = file_bytes(p2, &x1), n2 = file_bytes(p3, &x2);
	CHECK(n1 == n2 && n1 > 0 && !memcmp(x1, x2, n1), "same seed, data and threads: identical model files (%zu bytes)",
	      n1);
	free(x1);
	free(x2);
	ls_unet_free(&d1);
	ls_unet_free(&d2);
	ls_unet_free(&m);
	ls_meta_free(&meta);
	ls_meta_free(&meta2);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return check_failed != 0;
}
