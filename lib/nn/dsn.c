#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/dsn.h"
#include "base/err.h"

struct plan {
	size_t off;
	real *base;
};

static void take(struct plan *p, struct ls_t4 *t, int n, int c, int h, int w)
{
	*t = ls_t4_make(p->base ? p->base + p->off : NULL, n, c, h, w);
	p->off += ((size_t)n * c * h * w + 15) & ~(size_t)15;
}

/* Activations; returns the largest single tensor (for the gradient buffers). */
static size_t layout(struct ls_dsn *d, struct plan *p)
{
	int n = d->n, D = d->depth, maxb = 1;
	size_t big = 0;
	for (int l = 0; l < D; l++) {
		int c = d->width << l, h = d->h >> l, w = d->w >> l;
		take(p, &d->pz[l], n, c, h, w);
		take(p, &d->pa[l], n, c, h, w);
		size_t v = (size_t)n * c * h * w;
		big = v > big ? v : big;
		if (l >= 1) {
			/* decoder level l: up to the size of level l-1, conv to its width */
			take(p, &d->up[l], n, c, d->h >> (l - 1), d->w >> (l - 1));
			take(p, &d->rz[l], n, d->width << (l - 1), d->h >> (l - 1), d->w >> (l - 1));
			take(p, &d->ra[l], n, d->width << (l - 1), d->h >> (l - 1), d->w >> (l - 1));
			v = (size_t)n * c * (d->h >> (l - 1)) * (d->w >> (l - 1));
			big = v > big ? v : big;
		}
	}
	take(p, &d->code, n, d->width << (D - 1), d->h >> (D - 1), d->w >> (D - 1));
	for (int k = 0; k < d->ndom; k++)
		maxb = d->bands[k] > maxb ? d->bands[k] : maxb;
	take(p, &d->xhat, n, maxb, d->h, d->w);
	size_t v = (size_t)n * maxb * d->h * d->w;
	return v > big ? v : big;
}

int ls_dsn_init(struct ls_dsn *d, const struct ls_unet_spec *s, int n, int h, int w, uint64_t seed)
{
	struct ls_rng rng;
	char name[64];
	int D = s->depth;
	memset(d, 0, sizeof *d);
	if (h % (1 << (D - 1)) || w % (1 << (D - 1)))
		return ls_err("dsn: tiles of %dx%d do not halve %d times", w, h, D - 1);
	d->ndom = s->ndom;
	d->depth = D;
	d->width = s->width;
	d->n = n;
	d->h = h;
	d->w = w;
	ls_rng_seed(&rng, seed * 6364136223846793005ULL + 1442695040888963407ULL);
	size_t wsz = 1;
	for (int k = 0; k < s->ndom; k++) {
		d->bands[k] = s->bands[k];
		for (int l = 0; l < D; l++) {
			int ci = l ? s->width << (l - 1) : s->bands[k], co = s->width << l;
			snprintf(name, sizeof name, "private.%s.%d.conv", s->dom[k], l);
			ls_conv_init(&d->pconv[k][l], &d->params, name, ci, co, 3, l ? 2 : 1, 1, 0, &rng);
			snprintf(name, sizeof name, "private.%s.%d.bn", s->dom[k], l);
			ls_bn_init(&d->pbn[k][l], &d->params, name, co, 1);
			size_t v = ls_conv_ws(&d->pconv[k][l], h >> (l ? l - 1 : 0), w >> (l ? l - 1 : 0));
			wsz = v > wsz ? v : wsz;
		}
		snprintf(name, sizeof name, "recon.out.%s", s->dom[k]);
		ls_conv_init(&d->out[k], &d->params, name, s->width, s->bands[k], 1, 1, 0, 1, &rng);
	}
	for (int l = 1; l < D; l++) {
		snprintf(name, sizeof name, "recon.%d.conv", l);
		ls_conv_init(&d->rconv[l], &d->params, name, s->width << l, s->width << (l - 1), 3, 1, 1, 0, &rng);
		snprintf(name, sizeof name, "recon.%d.bn", l);
		ls_bn_init(&d->rbn[l], &d->params, name, s->width << (l - 1), 1);
		size_t v = ls_conv_ws(&d->rconv[l], h >> (l - 1), w >> (l - 1));
		wsz = v > wsz ? v : wsz;
	}
	struct plan p = { 0, NULL };
	size_t big = layout(d, &p), acts = p.off;
	wsz *= (size_t)ls_nthreads;
	d->arena = ls_alloc_real(acts + 2 * big + wsz);
	p.off = 0;
	p.base = d->arena;
	layout(d, &p);
	d->g0 = d->arena + acts;
	d->g1 = d->g0 + big;
	d->ws = d->g1 + big;
	d->bytes = (acts + 2 * big + wsz) * sizeof(real);
	return 0;
}

void ls_dsn_free(struct ls_dsn *d)
{
	for (int k = 0; k < d->ndom; k++) {
		for (int l = 0; l < d->depth; l++) {
			ls_conv_free(&d->pconv[k][l]);
			ls_bn_free(&d->pbn[k][l]);
		}
		ls_conv_free(&d->out[k]);
	}
	for (int l = 1; l < d->depth; l++) {
		ls_conv_free(&d->rconv[l]);
		ls_bn_free(&d->rbn[l]);
	}
	ls_params_free(&d->params);
	free(d->arena);
	memset(d, 0, sizeof *d);
}

const struct ls_t4 *ls_dsn_private_forward(struct ls_dsn *d, const struct ls_t4 *x, int dom)
{
	const struct ls_t4 *in = x;
	for (int l = 0; l < d->depth; l++) {
		ls_conv_forward(&d->pconv[dom][l], in, &d->pz[l], d->ws);
		ls_bn_forward(&d->pbn[dom][l], &d->pz[l], &d->pa[l], 1, 0, 1);
		in = &d->pa[l];
	}
	return &d->pa[d->depth - 1];
}

double ls_simse(const real *x, const real *xhat, size_t k, real scale, real *g)
{
	double s = 0, s2 = 0;
	for (size_t i = 0; i < k; i++) {
		double v = (double)x[i] - xhat[i];
		s += v;
		s2 += v * v;
	}
	if (g) {
		real mean = (real)(s / k), c = (real)(-2.0 / k) * scale;
		for (size_t i = 0; i < k; i++)
			g[i] = c * ((x[i] - xhat[i]) - mean);
	}
	return s2 / k - (s / k) * (s / k);
}

double ls_dsn_recon(struct ls_dsn *d, const struct ls_t4 *x, const struct ls_t4 *shared, int dom, real alpha,
		    const real *dpriv, real *dshared)
{
	int D = d->depth, n = x->n;
	const struct ls_t4 *priv = &d->pa[D - 1];
	size_t nc = ls_t4_len(priv);
	d->code = ls_t4_make(d->code.d, priv->n, priv->c, priv->h, priv->w);
	for (size_t i = 0; i < nc; i++)
		d->code.d[i] = shared->d[i] + priv->d[i];
	/* decoder */
	const struct ls_t4 *cur = &d->code;
	for (int l = D - 1; l >= 1; l--) {
		d->up[l] = ls_t4_make(d->up[l].d, n, cur->c, cur->h * 2, cur->w * 2);
		ls_upsample_forward(cur, d->up[l].d, cur->c, 0);
		ls_conv_forward(&d->rconv[l], &d->up[l], &d->rz[l], d->ws);
		ls_bn_forward(&d->rbn[l], &d->rz[l], &d->ra[l], 1, 0, 1);
		cur = &d->ra[l];
	}
	ls_conv_forward(&d->out[dom], cur, &d->xhat, d->ws);
	/* loss and its gradient (mean over images), weighted by alpha */
	size_t k = (size_t)x->c * x->h * x->w;
	double loss = 0;
	real *g = d->g0;
	for (int i = 0; i < n; i++)
		loss += ls_simse(ls_t4_img(x, i), ls_t4_img(&d->xhat, i), k, alpha / (real)n, g + i * k);
	loss /= n;
	/* backward through the decoder: g0 holds the gradient of the current output */
	struct ls_t4 dxh = ls_t4_make(g, n, x->c, x->h, x->w), dcur = ls_t4_make(d->g1, 0, 0, 0, 0);
	ls_conv_backward(&d->out[dom], cur, &dxh, &dcur, d->ws);
	for (int l = 1; l < D; l++) {
		/* d->g1: gradient of ra[l]; BN into g0, conv into g1, upsample into g0 */
		struct ls_t4 dy = ls_t4_make(d->g1, n, d->ra[l].c, d->ra[l].h, d->ra[l].w), dz = ls_t4_make(d->g0, 0, 0, 0, 0);
		ls_bn_backward(&d->rbn[l], &d->rz[l], &d->ra[l], &dy, &dz);
		struct ls_t4 dup = ls_t4_make(d->g1, 0, 0, 0, 0);
		ls_conv_backward(&d->rconv[l], &d->up[l], &dz, &dup, d->ws);
		const struct ls_t4 *below = l + 1 < D ? &d->ra[l + 1] : &d->code;
		struct ls_t4 db = ls_t4_make(d->g0, n, below->c, below->h, below->w);
		ls_upsample_backward(d->g1, d->up[l].c, 0, &db);
		memcpy(d->g1, d->g0, ls_t4_len(&db) * sizeof(real));
	}
	/* d->g1: gradient of the code; to the shared code and the private encoder */
	real *gc = d->g1;
	for (size_t i = 0; i < nc; i++) {
		dshared[i] += gc[i];
		if (dpriv)
			gc[i] += dpriv[i];
	}
	for (int l = D - 1; l >= 0; l--) {
		struct ls_t4 dy = ls_t4_make(d->g1, n, d->pa[l].c, d->pa[l].h, d->pa[l].w), dz = ls_t4_make(d->g0, 0, 0, 0, 0);
		ls_bn_backward(&d->pbn[dom][l], &d->pz[l], &d->pa[l], &dy, &dz);
		struct ls_t4 dx = ls_t4_make(d->g1, 0, 0, 0, 0);
		ls_conv_backward(&d->pconv[dom][l], l ? &d->pa[l - 1] : x, &dz, l ? &dx : NULL, d->ws);
	}
	return loss;
}

/* Centre the columns of h[n][k] into c, normalise its rows into u; norms
 * (|row| + eps) into s. */
static void centre_normalise(const real *h, int n, int k, real *c, real *u, real *s)
{
	for (int j = 0; j < k; j++) {
		double m = 0;
		for (int i = 0; i < n; i++)
			m += h[(size_t)i * k + j];
		m /= n;
		for (int i = 0; i < n; i++)
			c[(size_t)i * k + j] = h[(size_t)i * k + j] - (real)m;
	}
	for (int i = 0; i < n; i++) {
		double q = 0;
		for (int j = 0; j < k; j++)
			q += (double)c[(size_t)i * k + j] * c[(size_t)i * k + j];
		s[i] = (real)(sqrt(q) + 1e-6);
		for (int j = 0; j < k; j++)
			u[(size_t)i * k + j] = c[(size_t)i * k + j] / s[i];
	}
}

/* From du (gradient on the normalised rows) to the gradient on h, in place. */
static void centre_normalise_back(const real *c, const real *s, int n, int k, real *du)
{
	for (int i = 0; i < n; i++) {
		const real *v = c + (size_t)i * k;
		real *g = du + (size_t)i * k;
		double vg = 0, vv = 0;
		for (int j = 0; j < k; j++) {
			vg += (double)v[j] * g[j];
			vv += (double)v[j] * v[j];
		}
		double nv = sqrt(vv), si = s[i];
		real a = (real)(1 / si), b = nv > 0 ? (real)(vg / (si * si * nv)) : 0;
		for (int j = 0; j < k; j++)
			g[j] = a * g[j] - b * v[j];
	}
	for (int j = 0; j < k; j++) {
		double m = 0;
		for (int i = 0; i < n; i++)
			m += du[(size_t)i * k + j];
		m /= n;
		for (int i = 0; i < n; i++)
			du[(size_t)i * k + j] -= (real)m;
	}
}

double ls_diff_loss(const real *hc, const real *hp, int n, int k, real scale, real *dhc, real *dhp)
{
	size_t nk = (size_t)n * k;
	real *cc = ls_alloc_real(nk), *uc = ls_alloc_real(nk), *cp = ls_alloc_real(nk), *up = ls_alloc_real(nk);
	real *sc = ls_alloc_real(n), *sp = ls_alloc_real(n), *C = ls_alloc_real((size_t)k * k);
	centre_normalise(hc, n, k, cc, uc, sc);
	centre_normalise(hp, n, k, cp, up, sp);
	ls_blas_threads(ls_nthreads);
	/* C = upᵀ uc (k x k) */
	ls_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, k, n, 1, up, k, uc, k, 0, C, k);
	double loss = 0;
	for (size_t i = 0; i < (size_t)k * k; i++)
		loss += (double)C[i] * C[i];
	loss /= (double)k * k;
	if (dhc || dhp) {
		/* dC = 2 C / k^2; d uc = up dC, d up = uc dCᵀ */
		real f = (real)(2.0 / ((double)k * k)) * scale;
		if (dhc) {
			ls_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, k, k, f, up, k, C, k, 0, dhc, k);
			centre_normalise_back(cc, sc, n, k, dhc);
		}
		if (dhp) {
			ls_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, k, f, uc, k, C, k, 0, dhp, k);
			centre_normalise_back(cp, sp, n, k, dhp);
		}
	}
	free(cc);
	free(uc);
	free(cp);
	free(up);
	free(sc);
	free(sp);
	free(C);
	return loss;
}
