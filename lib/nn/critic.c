#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/critic.h"
#include "base/err.h"

void ls_critic_init(struct ls_critic *c, struct ls_params *ps, int d, int hidden, int cap, struct ls_rng *rng)
{
	memset(c, 0, sizeof *c);
	c->d = d;
	c->h = hidden;
	c->cap = 3 * cap;
	ls_linear_init(&c->l1, ps, "critic.l1", d, hidden, rng);
	ls_linear_init(&c->l2, ps, "critic.l2", hidden, hidden, rng);
	ls_linear_init(&c->l3, ps, "critic.l3", hidden, 1, rng);
	size_t nh = (size_t)c->cap * hidden, nd = (size_t)c->cap * d;
	c->z1 = ls_alloc_real(nh);
	c->a1 = ls_alloc_real(nh);
	c->z2 = ls_alloc_real(nh);
	c->a2 = ls_alloc_real(nh);
	c->f = ls_alloc_real(c->cap);
	c->u1 = ls_alloc_real(nh);
	c->u2 = ls_alloc_real(nh);
	c->s1 = ls_alloc_real(nh);
	c->s2 = ls_alloc_real(nh);
	c->t = ls_alloc_real(nh);
	c->g = ls_alloc_real(nd);
	c->r = ls_alloc_real(nd);
	c->pts = ls_alloc_real(nd);
}

void ls_critic_free(struct ls_critic *c)
{
	real *bufs[] = { c->z1, c->a1, c->z2, c->a2, c->f, c->u1, c->u2, c->s1, c->s2, c->t, c->g, c->r, c->pts };
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		free(bufs[i]);
	memset(c, 0, sizeof *c);
}

static void relu_into(const real *z, real *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = z[i] > 0 ? z[i] : 0;
}

void ls_critic_forward(struct ls_critic *c, const real *x, int n)
{
	size_t nh = (size_t)n * c->h;
	ls_linear_forward(&c->l1, x, c->z1, n);
	relu_into(c->z1, c->a1, nh);
	ls_linear_forward(&c->l2, c->a1, c->z2, n);
	relu_into(c->z2, c->a2, nh);
	ls_linear_forward(&c->l3, c->a2, c->f, n);
}

double ls_critic_w(struct ls_critic *c, const real *hs, const real *vs, const real *ht, int m)
{
	double s = 0, t = 0;
	ls_critic_forward(c, hs, m);
	for (int i = 0; i < m; i++)
		s += vs ? vs[i] * c->f[i] : c->f[i];
	ls_critic_forward(c, ht, m);
	for (int i = 0; i < m; i++)
		t += c->f[i];
	return (s - t) / m;
}

/* After a forward at x: u2 = D2 w3, u1 = D1 (u2 W2), g = u1 W1 (rows). */
static void input_grad_rows(struct ls_critic *c, int n)
{
	int h = c->h;
	const real *w3 = c->l3.w->w;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < h; j++)
			c->u2[(size_t)i * h + j] = c->z2[(size_t)i * h + j] > 0 ? w3[j] : 0;
	ls_blas_threads(ls_nthreads);
	ls_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, h, h, 1, c->u2, h, c->l2.w->w, h, 0, c->u1, h);
	for (size_t i = 0; i < (size_t)n * h; i++)
		if (c->z1[i] <= 0)
			c->u1[i] = 0;
	ls_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, c->d, h, 1, c->u1, h, c->l1.w->w, c->d, 0, c->g, c->d);
}

void ls_critic_input_grad(struct ls_critic *c, const real *x, int n, real s, real *out)
{
	ls_critic_forward(c, x, n);
	input_grad_rows(c, n);
	for (size_t i = 0; i < (size_t)n * c->d; i++)
		out[i] = s * c->g[i];
}

void ls_critic_w_input_grad(struct ls_critic *c, const real *hs, const real *vs, const real *ht, int m, double s,
			    real *gs, real *gt)
{
	int d = c->d;
	ls_critic_input_grad(c, hs, m, (real)(s / m), gs);
	if (vs)
		for (int i = 0; i < m; i++)
			for (int k = 0; k < d; k++)
				gs[(size_t)i * d + k] *= vs[i];
	ls_critic_input_grad(c, ht, m, (real)(-s / m), gt);
}

void ls_critic_backward(struct ls_critic *c, const real *x, int n, const real *df, real *dx)
{
	size_t nh = (size_t)n * c->h;
	ls_critic_forward(c, x, n);
	memcpy(c->f, df, (size_t)n * sizeof(real));
	ls_linear_backward(&c->l3, c->a2, c->f, c->t, n);
	for (size_t i = 0; i < nh; i++)
		if (c->z2[i] <= 0)
			c->t[i] = 0;
	ls_linear_backward(&c->l2, c->a1, c->t, c->s1, n);
	for (size_t i = 0; i < nh; i++)
		if (c->z1[i] <= 0)
			c->s1[i] = 0;
	ls_linear_backward(&c->l1, x, c->s1, dx, n);
}

/* Gradients of -W: d(-W)/df = -v_i/m at source points (v_i = 1 unweighted),
 * +1/m at target points. */
static void w_backward(struct ls_critic *c, const real *x, const real *v, int m, real df)
{
	for (int i = 0; i < m; i++)
		c->r[i] = v ? df * v[i] : df;
	ls_critic_backward(c, x, m, c->r, NULL);
}

double ls_domain_clf_grad(struct ls_critic *c, const real *hs, const real *ht, int m, real *dhs, real *dht)
{
	double loss = 0;
	const real *h[2] = { hs, ht };
	real *dh[2] = { dhs, dht };
	for (int k = 0; k < 2; k++) {
		ls_critic_forward(c, h[k], m);
		for (int i = 0; i < m; i++) {
			/* label 1 (source): softplus(-f), d/df = -sigmoid(-f); label 0: softplus(f), sigmoid(f) */
			double f = k ? c->f[i] : -c->f[i], sp = f > 0 ? f + log1p(exp(-f)) : log1p(exp(f));
			double sg = 1 / (1 + exp(-f));
			loss += sp;
			c->r[i] = (real)((k ? sg : -sg) / (2.0 * m));
		}
		ls_critic_backward(c, h[k], m, c->r, dh[k]);
	}
	return loss / (2.0 * m);
}

double ls_critic_grad(struct ls_critic *c, const real *hs, const real *vs, const real *ht, int m, const real *alpha,
		      double gamma, double *gp_out)
{
	int d = c->d, h = c->h, n = 3 * m;
	double w = ls_critic_w(c, hs, vs, ht, m);
	w_backward(c, hs, vs, m, (real)(-1.0 / m));
	w_backward(c, ht, NULL, m, (real)(1.0 / m));
	/* the penalty points: source, target, interpolates */
	memcpy(c->pts, hs, (size_t)m * d * sizeof(real));
	memcpy(c->pts + (size_t)m * d, ht, (size_t)m * d * sizeof(real));
	for (int i = 0; i < m; i++)
		for (int k = 0; k < d; k++) {
			size_t j = (size_t)i * d + k;
			c->pts[(size_t)2 * m * d + j] = ht[j] + alpha[i] * (hs[j] - ht[j]);
		}
	ls_critic_forward(c, c->pts, n);
	input_grad_rows(c, n);
	double gp = 0;
	real scale = (real)(gamma / n);
	for (int i = 0; i < n; i++) {
		real *g = c->g + (size_t)i * d, *r = c->r + (size_t)i * d;
		double nn = 0;
		for (int k = 0; k < d; k++)
			nn += (double)g[k] * g[k];
		nn = sqrt(nn);
		gp += (nn - 1) * (nn - 1);
		real k2 = (real)(2 * (nn - 1) / (nn + 1e-12)) * scale;
		for (int k = 0; k < d; k++)
			r[k] = k2 * g[k];
	}
	gp /= n;
	/* tangent pass: s1 = D1 (r W1ᵀ), s2 = D2 (s1 W2ᵀ) */
	ls_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, h, d, 1, c->r, d, c->l1.w->w, d, 0, c->s1, h);
	for (size_t i = 0; i < (size_t)n * h; i++)
		if (c->z1[i] <= 0)
			c->s1[i] = 0;
	ls_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, h, h, 1, c->s1, h, c->l2.w->w, h, 0, c->s2, h);
	for (size_t i = 0; i < (size_t)n * h; i++)
		if (c->z2[i] <= 0)
			c->s2[i] = 0;
	/* dW1 += u1ᵀ r, dW2 += u2ᵀ s1, dw3 += sum of s2 rows (r already holds gamma / n) */
	ls_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, h, d, n, 1, c->u1, h, c->r, d, 1, c->l1.w->g, d);
	ls_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, h, h, n, 1, c->u2, h, c->s1, h, 1, c->l2.w->g, h);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < h; j++)
			c->l3.w->g[j] += c->s2[(size_t)i * h + j];
	*gp_out = gp;
	return w;
}

int ls_feature_points(const struct ls_t4 *f, int s, real *pts, int d, int off, int pixel)
{
	int gh = pixel ? f->h / s : 1, gw = pixel ? f->w / s : 1, sh = pixel ? s : f->h, sw = pixel ? s : f->w;
	size_t hw = (size_t)f->h * f->w;
	for (int i = 0; i < f->n; i++)
		for (int c = 0; c < f->c; c++) {
			const real *src = ls_t4_img(f, i) + c * hw;
			for (int cy = 0; cy < gh; cy++)
				for (int cx = 0; cx < gw; cx++) {
					double sum = 0;
					for (int y = cy * sh; y < (cy + 1) * sh; y++)
						for (int x = cx * sw; x < (cx + 1) * sw; x++)
							sum += src[(size_t)y * f->w + x];
					size_t pt = ((size_t)i * gh + cy) * gw + cx;
					pts[pt * d + off + c] = (real)(sum / ((double)sh * sw));
				}
		}
	return f->n * gh * gw;
}

void ls_feature_points_backward(const real *g, const struct ls_t4 *f, int s, int d, int off, real *out, int pixel)
{
	int gw = pixel ? f->w / s : 1, sh = pixel ? s : f->h, sw = pixel ? s : f->w;
	size_t hw = (size_t)f->h * f->w;
	real k = (real)1 / ((real)sh * sw);
	for (int i = 0; i < f->n; i++)
		for (int c = 0; c < f->c; c++) {
			real *dst = out + ((size_t)i * f->c + c) * hw;
			for (int y = 0; y < f->h; y++)
				for (int x = 0; x < f->w; x++) {
					size_t pt = ((size_t)i * (pixel ? f->h / s : 1) + y / sh) * gw + x / sw;
					dst[(size_t)y * f->w + x] = g[pt * d + off + c] * k;
				}
		}
}
