#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "err.h"

#define CHUNK_PIX 1024

void ls_conv_init(struct ls_conv *c, struct ls_params *ps, const char *name, int ci, int co, int k, int stride,
		  int pad, int bias, struct ls_rng *rng)
{
	char pn[80];
	memset(c, 0, sizeof *c);
	c->ci = ci;
	c->co = co;
	c->k = k;
	c->stride = stride;
	c->pad = pad;
	snprintf(pn, sizeof pn, "%s.weight", name);
	c->w = ls_params_add(ps, pn, (size_t)co * ci * k * k, 1);
	ls_param_shape(c->w, 4, (int64_t[]){ co, ci, k, k });
	ls_he_init(c->w->w, c->w->n, ci * k * k, rng);
	if (bias) {
		snprintf(pn, sizeof pn, "%s.bias", name);
		c->b = ls_params_add(ps, pn, (size_t)co, 0);
	}
	c->wflip = ls_alloc_real(c->w->n);
}

void ls_conv_free(struct ls_conv *c)
{
	free(c->wflip);
	free(c->dw_part);
	c->wflip = c->dw_part = NULL;
}

int ls_conv_out(int in, int k, int stride, int pad)
{
	return (in + 2 * pad - k) / stride + 1;
}

static int is_1x1(const struct ls_conv *c)
{
	return c->k == 1 && c->stride == 1 && c->pad == 0;
}

static int same_s1(const struct ls_conv *c)
{
	return c->stride == 1 && c->k % 2 == 1 && c->pad == c->k / 2;
}

static int chunk_rows(int wo)
{
	int r = CHUNK_PIX / wo;
	return r < 1 ? 1 : r;
}

size_t ls_conv_ws(const struct ls_conv *c, int h, int w)
{
	int ho = ls_conv_out(h, c->k, c->stride, c->pad), wo = ls_conv_out(w, c->k, c->stride, c->pad);
	int rows = chunk_rows(wo);
	if (rows > ho)
		rows = ho;
	int ch = c->ci > c->co ? c->ci : c->co;
	if (is_1x1(c))
		return 1;
	/* im2col of x (ci rows) or of dY (co rows), one band of rows; col2im needs
	 * a whole-image band too */
	size_t band = (size_t)ch * c->k * c->k * rows * wo;
	return band;
}

/* Columns for output rows [r0, r1) of one image x [ci][h][w]. */
static void im2col(const real *x, int ci, int h, int w, int k, int s, int pad, int r0, int r1, int wo, real *col)
{
	size_t p = (size_t)(r1 - r0) * wo;
	for (int c = 0; c < ci; c++)
		for (int ky = 0; ky < k; ky++)
			for (int kx = 0; kx < k; kx++) {
				real *dst = col + ((size_t)(c * k + ky) * k + kx) * p;
				const real *src = x + (size_t)c * h * w;
				for (int y = r0; y < r1; y++, dst += wo) {
					int iy = y * s - pad + ky;
					if (iy < 0 || iy >= h) {
						memset(dst, 0, wo * sizeof *dst);
						continue;
					}
					const real *row = src + (size_t)iy * w;
					if (s == 1) {
						int x0 = pad - kx, xa = x0 > 0 ? x0 : 0;	/* first x with ix >= 0 */
						int xb = w + pad - kx;				/* first x with ix >= w */
						if (xb > wo)
							xb = wo;
						if (xa > wo)
							xa = wo;
						for (int xx = 0; xx < xa; xx++)
							dst[xx] = 0;
						if (xb > xa)
							memcpy(dst + xa, row + xa - pad + kx, (xb - xa) * sizeof *dst);
						for (int xx = xb > xa ? xb : xa; xx < wo; xx++)
							dst[xx] = 0;
					} else {
						for (int xx = 0; xx < wo; xx++) {
							int ix = xx * s - pad + kx;
							dst[xx] = ix >= 0 && ix < w ? row[ix] : 0;
						}
					}
				}
			}
}

/* Scatter-add columns for output rows [r0, r1) back into dx [ci][h][w]. */
static void col2im(const real *col, int ci, int h, int w, int k, int s, int pad, int r0, int r1, int wo, real *dx)
{
	size_t p = (size_t)(r1 - r0) * wo;
	for (int c = 0; c < ci; c++)
		for (int ky = 0; ky < k; ky++)
			for (int kx = 0; kx < k; kx++) {
				const real *src = col + ((size_t)(c * k + ky) * k + kx) * p;
				real *img = dx + (size_t)c * h * w;
				for (int y = r0; y < r1; y++, src += wo) {
					int iy = y * s - pad + ky;
					if (iy < 0 || iy >= h)
						continue;
					for (int xx = 0; xx < wo; xx++) {
						int ix = xx * s - pad + kx;
						if (ix >= 0 && ix < w)
							img[(size_t)iy * w + ix] += src[xx];
					}
				}
			}
}

/* Images of a batch go to separate threads; a single image uses the
 * threads inside its products when they are large enough to pay. */
static int parallel_images(int n, size_t pixels)
{
	int par = n > 1 && ls_nthreads > 1;
	ls_blas_threads(par || pixels < 16384 ? 1 : ls_nthreads);
	return par;
}

static void forward_image(const struct ls_conv *c, const real *x, int h, int w, real *y, int ho, int wo, real *col)
{
	int K = c->ci * c->k * c->k;
	size_t hwo = (size_t)ho * wo;
	if (is_1x1(c)) {
		ls_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->co, (int)hwo, c->ci, 1, c->w->w, c->ci, x,
			(int)hwo, 0, y, (int)hwo);
	} else {
		int rows = chunk_rows(wo);
		for (int r0 = 0; r0 < ho; r0 += rows) {
			int r1 = r0 + rows > ho ? ho : r0 + rows, p = (r1 - r0) * wo;
			im2col(x, c->ci, h, w, c->k, c->stride, c->pad, r0, r1, wo, col);
			ls_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->co, p, K, 1, c->w->w, K, col, p, 0,
				y + (size_t)r0 * wo, (int)hwo);
		}
	}
	if (c->b)
		for (int o = 0; o < c->co; o++) {
			real b = c->b->w[o], *yo = y + o * hwo;
			for (size_t i = 0; i < hwo; i++)
				yo[i] += b;
		}
}

void ls_conv_forward(const struct ls_conv *c, const struct ls_t4 *x, struct ls_t4 *y, real *ws)
{
	int ho = ls_conv_out(x->h, c->k, c->stride, c->pad), wo = ls_conv_out(x->w, c->k, c->stride, c->pad);
	size_t wsz = ls_conv_ws(c, x->h, x->w);
	y->n = x->n;
	y->c = c->co;
	y->h = ho;
	y->w = wo;
	int par = parallel_images(x->n, (size_t)ho * wo);
	double t0 = ls_prof_on ? ls_prof_now() : 0;
#pragma omp parallel for schedule(static) if (par)
	for (int i = 0; i < x->n; i++)
		forward_image(c, ls_t4_img(x, i), x->h, x->w, ls_t4_img(y, i), ho, wo,
			      ws + (size_t)omp_get_thread_num() * wsz);
	if (ls_prof_on)
		ls_prof_t[LS_P_CONV_F] += ls_prof_now() - t0;
}

static void flip_weights(struct ls_conv *c)
{
	int k2 = c->k * c->k;
	for (int o = 0; o < c->co; o++)
		for (int i = 0; i < c->ci; i++)
			for (int t = 0; t < k2; t++)
				c->wflip[((size_t)i * c->co + o) * k2 + (k2 - 1 - t)] = c->w->w[((size_t)o * c->ci + i) * k2 + t];
}

/* dW += dY . colᵀ for one image. */
static void backward_dw(const struct ls_conv *c, const real *x, int h, int w, const real *dy, int ho, int wo, real *col,
			real *dw)
{
	int K = c->ci * c->k * c->k;
	size_t hwo = (size_t)ho * wo;
	int rows = chunk_rows(wo);
	if (is_1x1(c)) {
		ls_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->co, c->ci, (int)hwo, 1, dy, (int)hwo, x, (int)hwo, 1,
			dw, c->ci);
		return;
	}
	for (int r0 = 0; r0 < ho; r0 += rows) {
		int r1 = r0 + rows > ho ? ho : r0 + rows, p = (r1 - r0) * wo;
		im2col(x, c->ci, h, w, c->k, c->stride, c->pad, r0, r1, wo, col);
		ls_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->co, K, p, 1, dy + (size_t)r0 * wo, (int)hwo, col, p, 1,
			dw, K);
	}
}

/* dX for one image. */
static void backward_dx(const struct ls_conv *c, int h, int w, const real *dy, int ho, int wo, real *dx, real *col)
{
	int K = c->ci * c->k * c->k;
	size_t hwo = (size_t)ho * wo, hw = (size_t)h * w;
	int rows = chunk_rows(wo);
	if (is_1x1(c)) {
		ls_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, c->ci, (int)hw, c->co, 1, c->w->w, c->ci, dy, (int)hwo,
			0, dx, (int)hw);
	} else if (same_s1(c)) {
		int Kt = c->co * c->k * c->k, rw = chunk_rows(w);
		for (int r0 = 0; r0 < h; r0 += rw) {
			int r1 = r0 + rw > h ? h : r0 + rw, p = (r1 - r0) * w;
			im2col(dy, c->co, ho, wo, c->k, 1, c->pad, r0, r1, w, col);
			ls_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->ci, p, Kt, 1, c->wflip, Kt, col, p, 0,
				dx + (size_t)r0 * w, (int)hw);
		}
	} else {
		memset(dx, 0, (size_t)c->ci * hw * sizeof *dx);
		for (int r0 = 0; r0 < ho; r0 += rows) {
			int r1 = r0 + rows > ho ? ho : r0 + rows, p = (r1 - r0) * wo;
			ls_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, p, c->co, 1, c->w->w, K, dy + (size_t)r0 * wo,
				(int)hwo, 0, col, p);
			col2im(col, c->ci, h, w, c->k, c->stride, c->pad, r0, r1, wo, dx);
		}
	}
}

void ls_conv_backward(struct ls_conv *c, const struct ls_t4 *x, const struct ls_t4 *dy, struct ls_t4 *dx, real *ws)
{
	size_t wsz = ls_conv_ws(c, x->h, x->w), nw = c->w->n;
	int nt = ls_nthreads;
	if (c->nparts < nt) {
		free(c->dw_part);
		c->dw_part = ls_alloc_real(nw * nt);
		c->nparts = nt;
	}
	memset(c->dw_part, 0, nw * nt * sizeof(real));
	if (dx) {
		dx->n = x->n;
		dx->c = x->c;
		dx->h = x->h;
		dx->w = x->w;
		if (same_s1(c) && !is_1x1(c))
			flip_weights(c);
	}
	int par = parallel_images(x->n, (size_t)x->h * x->w);
	double t0 = ls_prof_on ? ls_prof_now() : 0;
#pragma omp parallel for schedule(static) if (par)
	for (int i = 0; i < x->n; i++) {
		int t = omp_get_thread_num();
		backward_dw(c, ls_t4_img(x, i), x->h, x->w, ls_t4_img(dy, i), dy->h, dy->w, ws + (size_t)t * wsz,
			    c->dw_part + (size_t)t * nw);
	}
	if (ls_prof_on)
		ls_prof_t[LS_P_CONV_DW] += ls_prof_now() - t0;
	if (dx) {
		t0 = ls_prof_on ? ls_prof_now() : 0;
#pragma omp parallel for schedule(static) if (par)
		for (int i = 0; i < x->n; i++)
			backward_dx(c, x->h, x->w, ls_t4_img(dy, i), dy->h, dy->w, ls_t4_img(dx, i),
				    ws + (size_t)omp_get_thread_num() * wsz);
		if (ls_prof_on)
			ls_prof_t[LS_P_CONV_DX] += ls_prof_now() - t0;
	}
	for (int t = 0; t < nt; t++)
		for (size_t j = 0; j < nw; j++)
			c->w->g[j] += c->dw_part[(size_t)t * nw + j];
	if (c->b) {
		size_t hwo = (size_t)dy->h * dy->w;
		for (int i = 0; i < dy->n; i++)
			for (int o = 0; o < c->co; o++) {
				const real *d = ls_t4_img(dy, i) + o * hwo;
				double s = 0;
				for (size_t p = 0; p < hwo; p++)
					s += d[p];
				c->b->g[o] += (real)s;
			}
	}
}
