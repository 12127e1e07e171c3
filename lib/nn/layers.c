#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "nn/layers.h"
#include "stream/frame.h"

void (*ls_bn_reduce)(double *v, size_t n);

/* ---- batch normalisation ---- */

/* Sums of (x - k) and (x - k)^2 in one pass, in blocks the compiler
 * vectorises, blocks added in double. */
static void block_sums(const real *x, size_t n, real k, double *s1, double *s2)
{
	double t1 = 0, t2 = 0;
	for (size_t i = 0; i < n; i += 256) {
		size_t e = i + 256 < n ? i + 256 : n;
		real a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
		for (size_t j = i; j < e; j++) {
			real d = x[j] - k;
			a += d;
			b += d * d;
		}
		t1 += a;
		t2 += b;
	}
	*s1 += t1;
	*s2 += t2;
}

/* Sums of g and g * (x - mean) where g = dy, masked (relu) where the
 * forward pass's x * scale + shift was not above zero: the ReLU's mask,
 * recomputed from x rather than read from its output. */
static void bn_grad_sums(const real *x, int relu, real scale, real shift, const real *dy, size_t n, real mean,
			 double *sg, double *sgx)
{
	for (size_t i = 0; i < n; i += 256) {
		size_t e = i + 256 < n ? i + 256 : n;
		real a = 0, b = 0;
		if (relu) {
#pragma omp simd reduction(+ : a, b)
			for (size_t j = i; j < e; j++) {
				real g = x[j] * scale + shift > 0 ? dy[j] : 0;
				a += g;
				b += g * (x[j] - mean);
			}
		} else {
#pragma omp simd reduction(+ : a, b)
			for (size_t j = i; j < e; j++) {
				a += dy[j];
				b += dy[j] * (x[j] - mean);
			}
		}
		*sg += a;
		*sgx += b;
	}
}

void ls_bn_init(struct ls_bn *b, struct ls_params *ps, const char *name, int c, int ndom)
{
	char pn[80];
	memset(b, 0, sizeof *b);
	b->c = c;
	b->ndom = ndom < 1 ? 1 : ndom;
	b->momentum = (real)0.1;
	b->eps = (real)1e-5;
	snprintf(pn, sizeof pn, "%s.gamma", name);
	b->gamma = ls_params_add(ps, pn, c, 0);
	snprintf(pn, sizeof pn, "%s.beta", name);
	b->beta = ls_params_add(ps, pn, c, 0);
	snprintf(pn, sizeof pn, "%s.running_mean", name);
	b->rmean = ls_params_add(ps, pn, (size_t)c * b->ndom, 0);
	snprintf(pn, sizeof pn, "%s.running_var", name);
	b->rvar = ls_params_add(ps, pn, (size_t)c * b->ndom, 0);
	if (b->ndom > 1) {	/* one row of statistics per domain */
		ls_param_shape(b->rmean, 2, (int64_t[]){ b->ndom, c });
		ls_param_shape(b->rvar, 2, (int64_t[]){ b->ndom, c });
	}
	b->rmean->frozen = b->rvar->frozen = 1;
	for (int i = 0; i < c; i++)
		b->gamma->w[i] = 1;
	for (size_t i = 0; i < (size_t)c * b->ndom; i++)
		b->rvar->w[i] = 1;
	b->mean = ls_alloc_real(c);
	b->invstd = ls_alloc_real(c);
	b->sums = ls_xcalloc(2 * (size_t)c, sizeof *b->sums);
}

void ls_bn_free(struct ls_bn *b)
{
	free(b->mean);
	free(b->invstd);
	free(b->sums);
	b->sums = NULL;
	b->mean = b->invstd = NULL;
}

static real bn_invstd(const struct ls_bn *b, int dom, int c)
{
	return (real)(1 / sqrt(b->rvar->w[(size_t)dom * b->c + c] + b->eps));
}

void ls_bn_affine(const struct ls_bn *b, int dom, real *scale, real *shift)
{
	if (dom < 0 || dom >= b->ndom)
		dom = 0;
	for (int c = 0; c < b->c; c++) {
		real mean = b->rmean->w[(size_t)dom * b->c + c], g = b->gamma->w[c] * bn_invstd(b, dom, c);
		scale[c] = g;
		shift[c] = b->beta->w[c] - mean * g;
	}
}

void ls_bn_forward(struct ls_bn *b, const struct ls_t4 *x, struct ls_t4 *y, int train, int dom, int relu)
{
	size_t hw = (size_t)x->h * x->w, m = hw * x->n;
	int C = x->c;
	*y = ls_t4_make(y->d, x->n, x->c, x->h, x->w);
	if (dom < 0 || dom >= b->ndom)
		dom = 0;
	if (train) {
		/* one pass: sums of x and x^2 about the running mean (the same on
		 * every rank of a data-parallel run, and near the batch mean, so
		 * that nothing cancels), summed over the ranks: the statistics of
		 * the whole batch */
		double *s = b->sums, *s2 = s + C, mt = (double)m;
		real *rm = b->rmean->w + (size_t)dom * b->c, *rv = b->rvar->w + (size_t)dom * b->c;
#pragma omp parallel for schedule(static)
		for (int c = 0; c < C; c++) {
			double t1 = 0, t2 = 0;
			for (int n = 0; n < x->n; n++)
				block_sums(ls_t4_img(x, n) + c * hw, hw, rm[c], &t1, &t2);
			s[c] = t1;
			s2[c] = t2;
		}
		if (ls_bn_reduce) {
			ls_bn_reduce(s, 2 * (size_t)C);
			ls_bn_reduce(&mt, 1);
		}
		for (int c = 0; c < C; c++) {
			double d = s[c] / mt, var = s2[c] / mt - d * d;
			var = var > 0 ? var : 0;
			b->mean[c] = (real)(rm[c] + d);
			b->invstd[c] = (real)(1 / sqrt(var + b->eps));
			rm[c] = (1 - b->momentum) * rm[c] + b->momentum * b->mean[c];
			rv[c] = (1 - b->momentum) * rv[c] + b->momentum * (real)(mt > 1 ? var * mt / (mt - 1) : var);
		}
	}
#pragma omp parallel for schedule(static)
	for (int c = 0; c < C; c++) {
		real mean, invstd;
		if (train) {
			mean = b->mean[c];
			invstd = b->invstd[c];
		} else {
			mean = b->rmean->w[(size_t)dom * b->c + c];
			invstd = bn_invstd(b, dom, c);
		}
		real g = b->gamma->w[c] * invstd, sh = b->beta->w[c] - mean * g;
		for (int n = 0; n < x->n; n++)
			ls_affine(ls_t4_img(x, n) + c * hw, ls_t4_img(y, n) + c * hw, hw, g, sh, relu);
	}
}

void ls_bn_backward(struct ls_bn *b, const struct ls_t4 *x, const struct ls_t4 *y, const struct ls_t4 *dy,
		    struct ls_t4 *dx)
{
	size_t hw = (size_t)x->h * x->w, m = hw * x->n;
	int C = x->c;
	*dx = ls_t4_make(dx->d, x->n, x->c, x->h, x->w);
	double *sum = b->sums, mt = (double)m;
	int relu = y != NULL;	/* y = relu(bn(x)): its mask is recomputed from x */
#pragma omp parallel for schedule(static)
	for (int c = 0; c < C; c++) {
		double sdy = 0, sdyx = 0;
		real g = b->gamma->w[c] * b->invstd[c], sh = b->beta->w[c] - b->mean[c] * g;
		for (int n = 0; n < x->n; n++)
			bn_grad_sums(ls_t4_img(x, n) + c * hw, relu, g, sh, ls_t4_img(dy, n) + c * hw, hw, b->mean[c], &sdy,
				     &sdyx);
		sdyx *= b->invstd[c];
		/* this rank's share of the affine parameters' gradient */
		b->gamma->g[c] += (real)sdyx;
		b->beta->g[c] += (real)sdy;
		sum[2 * c] = sdy;
		sum[2 * c + 1] = sdyx;
	}
	/* the input gradient needs the sums over the whole batch */
	if (ls_bn_reduce) {
		ls_bn_reduce(sum, 2 * (size_t)C);
		ls_bn_reduce(&mt, 1);
	}
#pragma omp parallel for schedule(static)
	for (int c = 0; c < C; c++) {
		real is = b->invstd[c], mean = b->mean[c];
		real k = b->gamma->w[c] * is / (real)mt, a = (real)sum[2 * c], bb = (real)sum[2 * c + 1];
		real sc = b->gamma->w[c] * is, sh = b->beta->w[c] - mean * sc;
		for (int n = 0; n < x->n; n++) {
			const real *p = ls_t4_img(x, n) + c * hw, *d = ls_t4_img(dy, n) + c * hw;
			real *q = ls_t4_img(dx, n) + c * hw;
			real km = k * (real)mt, ka = k * a, kb = k * is * bb;
			if (relu)
#pragma omp simd
				for (size_t i = 0; i < hw; i++) {
					real g = p[i] * sc + sh > 0 ? d[i] : 0;
					q[i] = km * g - ka - (p[i] - mean) * kb;
				}
			else
				for (size_t i = 0; i < hw; i++)
					q[i] = km * d[i] - ka - (p[i] - mean) * kb;
		}
	}
}

/* ---- activations ---- */

void ls_relu_forward(struct ls_t4 *x, real slope)
{
	size_t n = ls_t4_len(x);
	real *d = x->d;
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		d[i] = d[i] > 0 ? d[i] : d[i] * slope;
}

void ls_relu_backward(const struct ls_t4 *y, struct ls_t4 *dy, real slope)
{
	size_t n = ls_t4_len(y);
	const real *a = y->d;
	real *g = dy->d;
#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		g[i] = a[i] > 0 ? g[i] : g[i] * slope;
}

/* ---- pooling ---- */

void ls_maxpool_forward(const struct ls_t4 *x, struct ls_t4 *y)
{
	int ho = x->h / 2, wo = x->w / 2, nc = x->n * x->c;
	*y = ls_t4_make(y->d, x->n, x->c, ho, wo);
#pragma omp parallel for schedule(static)
	for (int j = 0; j < nc; j++) {
		const real *p = x->d + (size_t)j * x->h * x->w;
		real *q = y->d + (size_t)j * ho * wo;
		for (int r = 0; r < ho; r++) {
			const real *a = p + (size_t)2 * r * x->w, *b = a + x->w;
#pragma omp simd
			for (int c = 0; c < wo; c++) {
				real m = a[2 * c];
				m = a[2 * c + 1] > m ? a[2 * c + 1] : m;
				m = b[2 * c] > m ? b[2 * c] : m;
				m = b[2 * c + 1] > m ? b[2 * c + 1] : m;
				q[(size_t)r * wo + c] = m;
			}
		}
	}
}

void ls_maxpool_backward(const struct ls_t4 *x, const struct ls_t4 *y, const struct ls_t4 *dy, struct ls_t4 *dx)
{
	int ho = y->h, wo = y->w, nc = x->n * x->c, W = x->w;
	*dx = ls_t4_make(dx->d, x->n, x->c, x->h, x->w);
#pragma omp parallel for schedule(static)
	for (int j = 0; j < nc; j++) {
		const real *p = x->d + (size_t)j * x->h * W, *m = y->d + (size_t)j * ho * wo,
			   *g = dy->d + (size_t)j * ho * wo;
		real *q = dx->d + (size_t)j * x->h * W;
		if (x->h != 2 * ho || W != 2 * wo)	/* odd edges get no gradient */
			memset(q, 0, (size_t)x->h * W * sizeof *q);
		for (int r = 0; r < ho; r++) {
			const real *a = p + (size_t)2 * r * W, *b = a + W, *mr = m + (size_t)r * wo, *gr = g + (size_t)r * wo;
			real *qa = q + (size_t)2 * r * W, *qb = qa + W;
			/* every pixel of a window written, the first maximum takes the gradient */
#pragma omp simd
			for (int c = 0; c < wo; c++) {
				real mx = mr[c], gv = gr[c];
				int t0 = a[2 * c] == mx, t1 = !t0 && a[2 * c + 1] == mx;
				int t2 = !t0 && !t1 && b[2 * c] == mx, t3 = !t0 && !t1 && !t2;
				qa[2 * c] = t0 ? gv : 0;
				qa[2 * c + 1] = t1 ? gv : 0;
				qb[2 * c] = t2 ? gv : 0;
				qb[2 * c + 1] = t3 ? gv : 0;
			}
		}
	}
}

/* ---- bilinear x2 ---- */

/* Output index o of 2n maps to input neighbours i0, i1 with weights. */
static void up_taps(int o, int n, int *i0, int *i1, real *w0, real *w1)
{
	int j = o / 2;
	if (o % 2 == 0) {
		*i0 = j - 1 < 0 ? 0 : j - 1;
		*i1 = j;
		*w0 = (real)0.25;
		*w1 = (real)0.75;
	} else {
		*i0 = j;
		*i1 = j + 1 >= n ? n - 1 : j + 1;
		*w0 = (real)0.75;
		*w1 = (real)0.25;
	}
}

#define UP_ROW 2048	/* rows up to this width blend in a stack buffer (no allocation in a step) */

/* Rows are blended vertically first (a vector loop), then each row is
 * interpolated horizontally; the backward pass does the reverse. */
void ls_upsample_forward(const struct ls_t4 *x, real *y, int out_c, int c0)
{
	int H = x->h * 2, W = x->w * 2, nc = x->n * x->c, w = x->w;
#pragma omp parallel
	{
		real tbuf[UP_ROW], *t = w <= UP_ROW ? tbuf : ls_alloc_real(w);
#pragma omp for schedule(static)
		for (int j = 0; j < nc; j++) {
			int n = j / x->c, c = j % x->c;
			const real *p = x->d + (size_t)j * x->h * w;
			real *q = y + ((size_t)n * out_c + c0 + c) * H * W;
			for (int r = 0; r < H; r++) {
				int a0, a1;
				real u0, u1;
				up_taps(r, x->h, &a0, &a1, &u0, &u1);
				const real *ra = p + (size_t)a0 * w, *rb = p + (size_t)a1 * w;
				for (int i = 0; i < w; i++)
					t[i] = u0 * ra[i] + u1 * rb[i];
				real *o = q + (size_t)r * W;
				o[0] = t[0];
				for (int i = 1; i < w; i++)
					o[2 * i] = (real)0.25 * t[i - 1] + (real)0.75 * t[i];
				for (int i = 0; i + 1 < w; i++)
					o[2 * i + 1] = (real)0.75 * t[i] + (real)0.25 * t[i + 1];
				o[W - 1] = t[w - 1];
			}
		}
		if (t != tbuf)
			free(t);
	}
}

void ls_upsample_backward(const real *dy, int out_c, int c0, struct ls_t4 *dx)
{
	int H = dx->h * 2, W = dx->w * 2, nc = dx->n * dx->c, w = dx->w;
#pragma omp parallel
	{
		real tbuf[UP_ROW], *t = w <= UP_ROW ? tbuf : ls_alloc_real(w);
#pragma omp for schedule(static)
		for (int j = 0; j < nc; j++) {
			int n = j / dx->c, c = j % dx->c;
			real *p = dx->d + (size_t)j * dx->h * w;
			const real *q = dy + ((size_t)n * out_c + c0 + c) * H * W;
			memset(p, 0, (size_t)dx->h * w * sizeof *p);
			for (int r = 0; r < H; r++) {
				int a0, a1;
				real u0, u1;
				up_taps(r, dx->h, &a0, &a1, &u0, &u1);
				const real *g = q + (size_t)r * W;
				/* the horizontal pass transposed: t[i] gathers the outputs that read it */
				for (int i = 0; i < w; i++)
					t[i] = (real)0.75 * (g[2 * i] + g[2 * i + 1]);
				for (int i = 1; i < w; i++)
					t[i] += (real)0.25 * g[2 * i - 1];
				for (int i = 0; i + 1 < w; i++)
					t[i] += (real)0.25 * g[2 * i + 2];
				t[0] += (real)0.25 * g[0];
				t[w - 1] += (real)0.25 * g[W - 1];
				real *ra = p + (size_t)a0 * w, *rb = p + (size_t)a1 * w;
				for (int i = 0; i < w; i++) {
					ra[i] += u0 * t[i];
					rb[i] += u1 * t[i];
				}
			}
		}
		if (t != tbuf)
			free(t);
	}
}

/* ---- concatenation ---- */

void ls_concat_put(const struct ls_t4 *x, real *y, int out_c, int c0)
{
	size_t plane = (size_t)x->c * x->h * x->w;
#pragma omp parallel for schedule(static)
	for (int n = 0; n < x->n; n++)
		memcpy(y + ((size_t)n * out_c + c0) * x->h * x->w, ls_t4_img(x, n), plane * sizeof *y);
}

void ls_concat_get_add(const real *y, int out_c, int c0, struct ls_t4 *x)
{
	size_t plane = (size_t)x->c * x->h * x->w;
#pragma omp parallel for schedule(static)
	for (int n = 0; n < x->n; n++) {
		const real *s = y + ((size_t)n * out_c + c0) * x->h * x->w;
		real *d = ls_t4_img(x, n);
		for (size_t i = 0; i < plane; i++)
			d[i] += s[i];
	}
}

/* ---- fully connected ---- */

void ls_linear_init(struct ls_linear *l, struct ls_params *ps, const char *name, int in, int out, struct ls_rng *rng)
{
	char pn[80];
	l->in = in;
	l->out = out;
	snprintf(pn, sizeof pn, "%s.weight", name);
	l->w = ls_params_add(ps, pn, (size_t)in * out, 1);
	ls_param_shape(l->w, 2, (int64_t[]){ out, in });
	ls_he_init(l->w->w, l->w->n, in, rng);
	snprintf(pn, sizeof pn, "%s.bias", name);
	l->b = ls_params_add(ps, pn, (size_t)out, 0);
}

void ls_linear_forward(const struct ls_linear *l, const real *x, real *y, int n)
{
	ls_blas_threads(ls_nthreads);
	for (int i = 0; i < n; i++)
		memcpy(y + (size_t)i * l->out, l->b->w, l->out * sizeof *y);
	ls_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, l->out, l->in, 1, x, l->in, l->w->w, l->in, 1, y, l->out);
}

void ls_linear_backward(struct ls_linear *l, const real *x, const real *dy, real *dx, int n)
{
	ls_blas_threads(ls_nthreads);
	ls_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, l->out, l->in, n, 1, dy, l->out, x, l->in, 1, l->w->g, l->in);
	for (int i = 0; i < n; i++)
		for (int o = 0; o < l->out; o++)
			l->b->g[o] += dy[(size_t)i * l->out + o];
	if (dx)
		ls_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, l->in, l->out, 1, dy, l->out, l->w->w, l->in, 0, dx,
			l->in);
}

/* ---- loss ---- */

double ls_softmax_xent(const struct ls_t4 *lg, const uint8_t *labels, const real *cw, struct ls_t4 *dl,
		       size_t *counted)
{
	return ls_softmax_xent_pw(lg, labels, cw, NULL, dl, counted);
}

double ls_softmax_xent_pw(const struct ls_t4 *lg, const uint8_t *labels, const real *cw, const real *pw,
			  struct ls_t4 *dl, size_t *counted)
{
	return ls_softmax_xent_partial(lg, labels, NULL, cw, pw, dl, counted);
}

/* A pixel's set of possible classes T: {y}, or for a 0 of partial labels
 * that speak for the classes in lcls, 0 and every class they do not speak
 * for. Its loss is -log sum_{c in T} p_c, and d/dz_c = p_c - [c in T] p_c / P_T
 * (with T = {y}, the usual softmax cross-entropy). */
double ls_softmax_xent_partial(const struct ls_t4 *lg, const uint8_t *labels, const uint64_t *lcls, const real *cw,
			       const real *pw, struct ls_t4 *dl, size_t *counted)
{
	size_t hw = (size_t)lg->h * lg->w, total = hw * lg->n;
	int k = lg->c;
	double loss = 0, wsum = 0;
	size_t cnt = 0;
	if (dl)
		*dl = ls_t4_make(dl->d, lg->n, lg->c, lg->h, lg->w);
	/* the weight of all counted pixels first, so the gradient is scaled as it is written */
	for (size_t i = 0; i < total; i++) {
		int y = labels[i];
		if (y != 255 && y < k) {
			wsum += cw ? cw[y] : 1;
			cnt++;
		}
	}
	if (counted)
		*counted = cnt;
	double inv = wsum > 0 ? 1 / wsum : 0;
#pragma omp parallel for schedule(static) reduction(+ : loss)
	for (int n = 0; n < lg->n; n++) {
		const real *z = ls_t4_img(lg, n);
		real *g = dl ? ls_t4_img(dl, n) : NULL;
		uint64_t partial = lcls ? lcls[n] : 0;
		double e[16], *ev = k <= 16 ? e : NULL;
		for (size_t i = 0; i < hw; i++) {
			int y = labels[(size_t)n * hw + i];
			if (y == 255 || y >= k) {
				if (g)
					for (int c = 0; c < k; c++)
						g[c * hw + i] = 0;
				continue;
			}
			/* in T: c == y, or a class the partial labels do not speak for */
#define IN_T(c) ((c) == y || (y == 0 && partial && !ls_label_class_listed(partial, (c))))
			double mx = z[i], mt = -HUGE_VAL, s = 0, st = 0;
			double w = (cw ? cw[y] : 1) * (pw ? pw[(size_t)n * hw + i] : 1);
			for (int c = 0; c < k; c++) {
				mx = z[c * hw + i] > mx ? z[c * hw + i] : mx;
				mt = IN_T(c) && z[c * hw + i] > mt ? z[c * hw + i] : mt;
			}
			for (int c = 0; c < k; c++) {	/* T's sum taken from its own maximum: no underflow */
				double v = exp(z[c * hw + i] - mx);
				if (ev)
					ev[c] = v;
				s += v;
				st += IN_T(c) ? exp(z[c * hw + i] - mt) : 0;
			}
			loss += w * (log(s) + mx - log(st) - mt);
			if (g) {
				double ws = w * inv / s, wt = w * inv / st;
				for (int c = 0; c < k; c++) {
					double v = ev ? ev[c] : exp(z[c * hw + i] - mx);
					g[c * hw + i] = (real)(ws * v - (IN_T(c) ? wt * exp(z[c * hw + i] - mt) : 0));
				}
			}
#undef IN_T
		}
	}
	return wsum > 0 ? loss / wsum : 0;
}

/* 1 when a pixel labelled y (its image's labels speaking for partial)
 * counts for class c; *t its target there, 0 or 1. */
static int dice_counts(int y, uint64_t partial, int c, int k, int *t)
{
	if (y == 255 || y >= k || (y == 0 && partial && !ls_label_class_listed(partial, c)))
		return 0;
	*t = y == c;
	return 1;
}

/* Pixel i's class probabilities into p. */
static void pixel_softmax(const real *z, size_t hw, size_t i, int k, double *p)
{
	double mx = z[i], s = 0;
	for (int c = 1; c < k; c++)
		mx = z[c * hw + i] > mx ? z[c * hw + i] : mx;
	for (int c = 0; c < k; c++)
		s += p[c] = exp(z[c * hw + i] - mx);
	for (int c = 0; c < k; c++)
		p[c] /= s;
}

void ls_dice_sums(const struct ls_t4 *lg, const uint8_t *labels, const uint64_t *lcls, double *s)
{
	size_t hw = (size_t)lg->h * lg->w;
	int k = lg->c, m = 3 * (k - 1);
	double *part = ls_xcalloc((size_t)lg->n * m, sizeof *part);	/* per image, summed in order: the same bits */
#pragma omp parallel for schedule(static)
	for (int n = 0; n < lg->n; n++) {
		const real *z = ls_t4_img(lg, n);
		double p[256], *q = part + (size_t)n * m;
		for (size_t i = 0; i < hw; i++) {
			int y = labels[(size_t)n * hw + i], t;
			if (y == 255 || y >= k)
				continue;
			pixel_softmax(z, hw, i, k, p);
			for (int c = 1; c < k; c++)
				if (dice_counts(y, lcls ? lcls[n] : 0, c, k, &t)) {
					q[3 * (c - 1)] += p[c] * t;
					q[3 * (c - 1) + 1] += p[c];
					q[3 * (c - 1) + 2] += t;
				}
		}
	}
	for (int j = 0; j < m; j++)
		s[j] = 0;
	for (int n = 0; n < lg->n; n++)
		for (int j = 0; j < m; j++)
			s[j] += part[(size_t)n * m + j];
	free(part);
}

double ls_dice_loss(const double *s, int k)
{
	double d = 0;
	for (int c = 1; c < k; c++)
		d += (2 * s[3 * (c - 1)] + 1) / (s[3 * (c - 1) + 1] + s[3 * (c - 1) + 2] + 1);
	return k > 1 ? 1 - d / (k - 1) : 0;
}

/* dL/dp_c = -(2 t_c / den_c - num_c / den_c^2) / (k - 1) on the pixels
 * that count for c; through the softmax dL/dz_j = p_j (g_j - sum_c p_c g_c). */
void ls_dice_grad(const struct ls_t4 *lg, const uint8_t *labels, const uint64_t *lcls, const double *s, double w,
		  struct ls_t4 *dl)
{
	size_t hw = (size_t)lg->h * lg->w;
	int k = lg->c;
	if (k < 2)
		return;
#pragma omp parallel for schedule(static)
	for (int n = 0; n < lg->n; n++) {
		const real *z = ls_t4_img(lg, n);
		real *gz = ls_t4_img(dl, n);
		double p[256], g[256];
		for (size_t i = 0; i < hw; i++) {
			int y = labels[(size_t)n * hw + i], t;
			if (y == 255 || y >= k)
				continue;
			pixel_softmax(z, hw, i, k, p);
			double pg = 0;
			g[0] = 0;
			for (int c = 1; c < k; c++) {
				g[c] = 0;
				if (dice_counts(y, lcls ? lcls[n] : 0, c, k, &t)) {
					double den = s[3 * (c - 1) + 1] + s[3 * (c - 1) + 2] + 1;
					double num = 2 * s[3 * (c - 1)] + 1;
					g[c] = -w * (2 * t / den - num / (den * den)) / (k - 1);
				}
				pg += p[c] * g[c];
			}
			for (int c = 0; c < k; c++)
				gz[c * hw + i] += (real)(p[c] * (g[c] - pg));
		}
	}
}

void ls_softmax(const struct ls_t4 *lg, struct ls_t4 *pr)
{
	size_t hw = (size_t)lg->h * lg->w;
	int k = lg->c;
	*pr = ls_t4_make(pr->d, lg->n, lg->c, lg->h, lg->w);
#pragma omp parallel for schedule(static)
	for (int n = 0; n < lg->n; n++) {
		const real *z = ls_t4_img(lg, n);
		real *p = ls_t4_img(pr, n);
		for (size_t i = 0; i < hw; i++) {
			real mx = z[i];
			double s = 0;
			for (int c = 1; c < k; c++)
				mx = z[c * hw + i] > mx ? z[c * hw + i] : mx;
			for (int c = 0; c < k; c++)
				s += exp(z[c * hw + i] - mx);
			for (int c = 0; c < k; c++)
				p[c * hw + i] = (real)(exp(z[c * hw + i] - mx) / s);
		}
	}
}
