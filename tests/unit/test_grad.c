/* Gradient checks: every layer, the loss and a whole (small) UNet-S,
 * analytic gradients against central finite differences, in double
 * precision (this file and the learning core are built with LS_DOUBLE). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/critic.h"
#include "nn/conv.h"
#include "nn/dsn.h"
#include "nn/layers.h"
#include "nn/unet.h"

#ifndef LS_DOUBLE
#error "test_grad is built in double precision"
#endif

static struct ls_rng rng;

static void fill(real *p, size_t n, double scale)
{
	for (size_t i = 0; i < n; i++)
		p[i] = scale * (2 * ls_rng_uniform(&rng) - 1);
}

typedef double (*loss_fn)(void *ctx);

/* Compare grad[i] with (L(w+h) - L(w-h)) / 2h at up to `samples` indices;
 * the error is relative, floored at 1e-3 so that gradients near zero are
 * judged by their absolute error. */
static double max_rel_err(real *w, const real *grad, size_t n, loss_fn f, void *ctx, int samples)
{
	double worst = 0, h = 1e-5;
	for (int s = 0; s < samples && s < (int)n; s++) {
		size_t i = samples >= (int)n ? (size_t)s : (size_t)(ls_rng_u64(&rng) % n);
		real keep = w[i];
		w[i] = keep + h;
		double lp = f(ctx);
		w[i] = keep - h;
		double lm = f(ctx);
		w[i] = keep;
		double num = (lp - lm) / (2 * h), e = fabs(num - grad[i]) / fmax(fabs(num) + fabs(grad[i]), 1e-3);
		worst = e > worst ? e : worst;
	}
	return worst;
}

/* ---- convolution ---- */

struct conv_case {
	struct ls_conv c;
	struct ls_params ps;
	struct ls_t4 x, y, dx;
	real *r, *ws;
};

static double conv_loss(void *p)
{
	struct conv_case *k = p;
	ls_conv_forward(&k->c, &k->x, &k->y, k->ws);
	double s = 0;
	for (size_t i = 0; i < ls_t4_len(&k->y); i++)
		s += k->r[i] * k->y.d[i];
	return s;
}

static void test_conv(int n, int ci, int co, int kk, int stride, int pad, int bias, int h, int w)
{
	struct conv_case k;
	memset(&k, 0, sizeof k);
	ls_conv_init(&k.c, &k.ps, "c", ci, co, kk, stride, pad, bias, &rng);
	if (bias)
		fill(k.c.b->w, co, 0.5);
	int ho = ls_conv_out(h, kk, stride, pad), wo = ls_conv_out(w, kk, stride, pad);
	k.x = ls_t4_make(ls_alloc_real((size_t)n * ci * h * w), n, ci, h, w);
	k.y = ls_t4_make(ls_alloc_real((size_t)n * co * ho * wo), n, co, ho, wo);
	k.dx = ls_t4_make(ls_alloc_real((size_t)n * ci * h * w), 0, 0, 0, 0);
	fill(k.dx.d, (size_t)n * ci * h * w, 9);	/* the backward pass must overwrite, not add */
	k.r = ls_alloc_real((size_t)n * co * ho * wo);
	k.ws = ls_alloc_real(ls_conv_ws(&k.c, h, w) * ls_nthreads);
	fill(k.x.d, ls_t4_len(&k.x), 1);
	fill(k.r, ls_t4_len(&k.y), 1);
	conv_loss(&k);
	struct ls_t4 dy = ls_t4_make(k.r, n, co, ho, wo);
	ls_conv_backward(&k.c, &k.x, &dy, &k.dx, k.ws);
	double ew = max_rel_err(k.c.w->w, k.c.w->g, k.c.w->n, conv_loss, &k, 60);
	double ex = max_rel_err(k.x.d, k.dx.d, ls_t4_len(&k.x), conv_loss, &k, 60);
	double eb = bias ? max_rel_err(k.c.b->w, k.c.b->g, co, conv_loss, &k, co) : 0;
	CHECK(ew < 1e-6 && ex < 1e-6 && eb < 1e-6,
	      "conv %dx%d stride %d pad %d (%d->%d, batch %d%s): weight %.1e input %.1e bias %.1e", kk, kk, stride,
	      pad, ci, co, n, bias ? ", bias" : "", ew, ex, eb);
	ls_conv_free(&k.c);
	ls_params_free(&k.ps);
	free(k.x.d);
	free(k.y.d);
	free(k.dx.d);
	free(k.r);
	free(k.ws);
}

/* ---- batch norm, activations, pooling, upsampling ---- */

struct elt_case {
	int kind;	/* 0 bn, 1 relu, 2 leaky, 3 pool, 4 upsample, 5 bn + relu */
	struct ls_bn bn;
	struct ls_params ps;
	struct ls_t4 x, y, tmp;
	real *r;
};

static double elt_loss(void *p)
{
	struct elt_case *k = p;
	switch (k->kind) {
	case 0:
	case 5:
		ls_bn_forward(&k->bn, &k->x, &k->y, 1, 0, k->kind == 5);
		break;
	case 1:
	case 2:
		memcpy(k->y.d, k->x.d, ls_t4_len(&k->x) * sizeof(real));
		k->y = ls_t4_make(k->y.d, k->x.n, k->x.c, k->x.h, k->x.w);
		ls_relu_forward(&k->y, k->kind == 2 ? 0.1 : 0);
		break;
	case 3:
		ls_maxpool_forward(&k->x, &k->y);
		break;
	case 4:
		ls_upsample_forward(&k->x, k->y.d, k->x.c + 2, 1);
		k->y = ls_t4_make(k->y.d, k->x.n, k->x.c + 2, 2 * k->x.h, 2 * k->x.w);
		break;
	}
	double s = 0;
	for (size_t i = 0; i < ls_t4_len(&k->y); i++)
		s += k->r[i] * k->y.d[i];
	return s;
}

static void test_elementwise(int kind, const char *name)
{
	struct elt_case k;
	int n = 2, c = 3, h = kind == 3 ? 7 : 6, w = kind == 3 ? 5 : 4;	/* odd edges for the pool */
	memset(&k, 0, sizeof k);
	k.kind = kind;
	ls_bn_init(&k.bn, &k.ps, "bn", c, 1);
	fill(k.bn.gamma->w, c, 1);
	fill(k.bn.beta->w, c, 1);
	k.x = ls_t4_make(ls_alloc_real(n * c * h * w), n, c, h, w);
	k.y = ls_t4_make(ls_alloc_real(n * (c + 2) * 4 * h * w), 0, 0, 0, 0);
	k.tmp = ls_t4_make(ls_alloc_real(n * (c + 2) * 4 * h * w), 0, 0, 0, 0);
	k.r = ls_alloc_real(n * (c + 2) * 4 * h * w);
	fill(k.x.d, ls_t4_len(&k.x), 2);
	fill(k.r, n * (c + 2) * 4 * h * w, 1);
	elt_loss(&k);
	struct ls_t4 dy = ls_t4_make(k.r, k.y.n, k.y.c, k.y.h, k.y.w);
	real *dx = ls_alloc_real(ls_t4_len(&k.x));
	struct ls_t4 dxt = ls_t4_make(dx, 0, 0, 0, 0);
	switch (kind) {
	case 0:
	case 5:
		ls_bn_backward(&k.bn, &k.x, kind == 5 ? &k.y : NULL, &dy, &dxt);
		break;
	case 1:
	case 2:
		memcpy(dx, k.r, ls_t4_len(&k.x) * sizeof(real));
		dxt = ls_t4_make(dx, n, c, h, w);
		ls_relu_backward(&k.y, &dxt, kind == 2 ? 0.1 : 0);
		break;
	case 3:
		ls_maxpool_backward(&k.x, &k.y, &dy, &dxt);
		break;
	case 4:
		dxt = ls_t4_make(dx, n, c, h, w);
		ls_upsample_backward(k.r, c + 2, 1, &dxt);
		break;
	}
	double ex = max_rel_err(k.x.d, dx, ls_t4_len(&k.x), elt_loss, &k, 1000);
	double eg = kind == 0 || kind == 5 ? max_rel_err(k.bn.gamma->w, k.bn.gamma->g, c, elt_loss, &k, c) : 0;
	double eb = kind == 0 || kind == 5 ? max_rel_err(k.bn.beta->w, k.bn.beta->g, c, elt_loss, &k, c) : 0;
	CHECK(ex < 1e-6 && eg < 1e-6 && eb < 1e-6, "%s: input %.1e gamma %.1e beta %.1e", name, ex, eg, eb);
	ls_bn_free(&k.bn);
	ls_params_free(&k.ps);
	free(k.x.d);
	free(k.y.d);
	free(k.tmp.d);
	free(k.r);
	free(dx);
}

/* ---- fully connected ---- */

struct lin_case {
	struct ls_linear l;
	struct ls_params ps;
	real *x, *y, *r;
	int n;
};

static double lin_loss(void *p)
{
	struct lin_case *k = p;
	ls_linear_forward(&k->l, k->x, k->y, k->n);
	double s = 0;
	for (int i = 0; i < k->n * k->l.out; i++)
		s += k->r[i] * k->y[i];
	return s;
}

static void test_linear(void)
{
	struct lin_case k;
	memset(&k, 0, sizeof k);
	k.n = 5;
	ls_linear_init(&k.l, &k.ps, "fc", 7, 3, &rng);
	fill(k.l.b->w, 3, 1);
	k.x = ls_alloc_real(35);
	k.y = ls_alloc_real(15);
	k.r = ls_alloc_real(15);
	real *dx = ls_alloc_real(35);
	fill(k.x, 35, 1);
	fill(k.r, 15, 1);
	lin_loss(&k);
	ls_linear_backward(&k.l, k.x, k.r, dx, k.n);
	double ew = max_rel_err(k.l.w->w, k.l.w->g, 21, lin_loss, &k, 21);
	double eb = max_rel_err(k.l.b->w, k.l.b->g, 3, lin_loss, &k, 3);
	double ex = max_rel_err(k.x, dx, 35, lin_loss, &k, 35);
	CHECK(ew < 1e-6 && eb < 1e-6 && ex < 1e-6, "fully connected: weight %.1e bias %.1e input %.1e", ew, eb, ex);
	ls_params_free(&k.ps);
	free(k.x);
	free(k.y);
	free(k.r);
	free(dx);
}

/* ---- loss ---- */

struct xent_case {
	struct ls_t4 z;
	uint8_t *lab;
	real cw[3];
	real *pw;
};

static double xent_loss(void *p)
{
	struct xent_case *k = p;
	return ls_softmax_xent_pw(&k->z, k->lab, k->cw, k->pw, NULL, NULL);
}

static void test_xent(void)
{
	struct xent_case k = { 0 };
	int n = 2, c = 3, h = 4, w = 5;
	k.z = ls_t4_make(ls_alloc_real(n * c * h * w), n, c, h, w);
	k.lab = malloc(n * h * w);
	fill(k.z.d, ls_t4_len(&k.z), 3);
	for (int i = 0; i < n * h * w; i++)
		k.lab[i] = i % 7 == 0 ? 255 : (uint8_t)(ls_rng_u64(&rng) % 3);
	k.cw[0] = 0.5;
	k.cw[1] = 2;
	k.cw[2] = 1;
	struct ls_t4 dz = ls_t4_make(ls_alloc_real(ls_t4_len(&k.z)), 0, 0, 0, 0);
	size_t cnt;
	ls_softmax_xent(&k.z, k.lab, k.cw, &dz, &cnt);
	double e = max_rel_err(k.z.d, dz.d, ls_t4_len(&k.z), xent_loss, &k, 200);
	int ignored_zero = 1;
	for (int i = 0; i < n * h * w; i++)
		if (k.lab[i] == 255)
			for (int ch = 0; ch < c; ch++)
				ignored_zero &= dz.d[(i / (h * w)) * c * h * w + ch * h * w + i % (h * w)] == 0;
	CHECK(e < 1e-6 && ignored_zero && cnt == (size_t)(n * h * w - (n * h * w + 6) / 7),
	      "softmax cross-entropy with class weights, ignored pixels: %.1e", e);
	k.pw = ls_alloc_real((size_t)n * h * w);	/* a weight per pixel (pseudo-label confidence) */
	for (int i = 0; i < n * h * w; i++)
		k.pw[i] = (real)ls_rng_uniform(&rng);
	double l1 = ls_softmax_xent_pw(&k.z, k.lab, k.cw, k.pw, &dz, NULL);
	e = max_rel_err(k.z.d, dz.d, ls_t4_len(&k.z), xent_loss, &k, 200);
	double l0 = ls_softmax_xent(&k.z, k.lab, k.cw, NULL, NULL);
	CHECK(e < 1e-6 && l1 < l0, "softmax cross-entropy with a weight per pixel: %.1e (loss %.3f below %.3f unweighted)", e,
	      l1, l0);
	free(k.pw);
	k.pw = NULL;
	free(k.z.d);
	free(dz.d);
	free(k.lab);
}

/* Partial labels: image 0's labels speak for class 1 only, image 1's for
 * every class. A 0 of image 0 costs -log(1 - p1), whatever p2 and p3 are. */
struct partial_case {
	struct ls_t4 z;
	uint8_t *lab;
	uint64_t lcls[2];
	real cw[4];
};

static double partial_loss(void *p)
{
	struct partial_case *k = p;
	return ls_softmax_xent_partial(&k->z, k->lab, k->lcls, k->cw, NULL, NULL, NULL);
}

static void test_xent_partial(void)
{
	struct partial_case k = { .lcls = { 1u << 1, 0 }, .cw = { 1, 3, 1, 2 } };
	int n = 2, c = 4, h = 3, w = 4, hw = h * w;
	k.z = ls_t4_make(ls_alloc_real(n * c * hw), n, c, h, w);
	k.lab = malloc(n * hw);
	fill(k.z.d, ls_t4_len(&k.z), 3);
	for (int i = 0; i < n * hw; i++)	/* image 0: 0, 1 or unknown; image 1: any class */
		k.lab[i] = i % 5 == 0 ? 255 : i < hw ? (uint8_t)(i % 2) : (uint8_t)(ls_rng_u64(&rng) % 4);
	struct ls_t4 dz = ls_t4_make(ls_alloc_real(ls_t4_len(&k.z)), 0, 0, 0, 0);
	double l = ls_softmax_xent_partial(&k.z, k.lab, k.lcls, k.cw, NULL, &dz, NULL);
	double e = max_rel_err(k.z.d, dz.d, ls_t4_len(&k.z), partial_loss, &k, 200);
	double want = 0, wsum = 0;	/* the loss worked out pixel by pixel */
	for (int m = 0; m < n; m++)
		for (int i = 0; i < hw; i++) {
			int y = k.lab[m * hw + i];
			if (y == 255)
				continue;
			double p[4], s = 0;
			for (int ch = 0; ch < c; ch++)
				s += p[ch] = exp(k.z.d[(m * c + ch) * hw + i]);
			for (int ch = 0; ch < c; ch++)
				p[ch] /= s;
			want += k.cw[y] * -log(m == 0 && y == 0 ? 1 - p[1] : p[y]);
			wsum += k.cw[y];
		}
	want /= wsum;
	/* the classes image 0 does not speak for are never pushed down on its 0s */
	int free_ok = 1;
	for (int i = 0; i < hw; i++)
		if (k.lab[i] == 0)
			for (int ch = 2; ch < c; ch++)
				free_ok &= dz.d[ch * hw + i] <= 0;
	CHECK(e < 1e-6 && fabs(l - want) < 1e-9 * (1 + fabs(want)) && free_ok,
	      "partial-label cross-entropy: gradient %.1e, loss %.6f = -log(1 - p1) on the 0s (%.6f)", e, l, want);
	uint64_t all[2] = { 2 | 4 | 8, 2 | 4 | 8 };	/* labels for every class: the usual cross-entropy */
	for (int i = 0; i < hw; i++)
		k.lab[i] = (uint8_t)(i % 4);
	double lp = ls_softmax_xent_partial(&k.z, k.lab, all, k.cw, NULL, NULL, NULL);
	double lf = ls_softmax_xent(&k.z, k.lab, k.cw, NULL, NULL);
	CHECK(fabs(lp - lf) < 1e-12, "partial labels that speak for every class: the usual loss (%.6f = %.6f)", lp, lf);
	free(k.z.d);
	free(dz.d);
	free(k.lab);
}

/* Soft Dice: image 0's labels speak for class 1 only (its 0s are unknown
 * for class 2), image 1's for every class; a few pixels ignored. */
static double dice_loss_of(void *p)
{
	struct partial_case *k = p;
	double s[9];
	ls_dice_sums(&k->z, k->lab, k->lcls, s);
	return ls_dice_loss(s, k->z.c);
}

static void test_dice(void)
{
	struct partial_case k = { .lcls = { 1u << 1, 0 } };
	int n = 2, c = 3, h = 3, w = 4, hw = h * w;
	k.z = ls_t4_make(ls_alloc_real(n * c * hw), n, c, h, w);
	k.lab = malloc(n * hw);
	fill(k.z.d, ls_t4_len(&k.z), 3);
	for (int i = 0; i < n * hw; i++)
		k.lab[i] = i % 5 == 0 ? 255 : i < hw ? (uint8_t)(i % 2) : (uint8_t)(ls_rng_u64(&rng) % 3);
	struct ls_t4 dz = ls_t4_make(ls_alloc_real(ls_t4_len(&k.z)), n, c, h, w);
	memset(dz.d, 0, ls_t4_len(&dz) * sizeof(real));
	double s[9], want_s[9] = { 0 };
	ls_dice_sums(&k.z, k.lab, k.lcls, s);
	ls_dice_grad(&k.z, k.lab, k.lcls, s, 1, &dz);
	double e = max_rel_err(k.z.d, dz.d, ls_t4_len(&k.z), dice_loss_of, &k, 200);
	for (int m = 0; m < n; m++)	/* the sums worked out pixel by pixel */
		for (int i = 0; i < hw; i++) {
			int y = k.lab[m * hw + i];
			double p[3], sum = 0;
			for (int ch = 0; ch < c; ch++)
				sum += p[ch] = exp(k.z.d[(m * c + ch) * hw + i]);
			for (int ch = 1; ch < c && y != 255; ch++) {
				if (m == 0 && y == 0 && ch == 2)
					continue;
				want_s[3 * (ch - 1)] += p[ch] / sum * (y == ch);
				want_s[3 * (ch - 1) + 1] += p[ch] / sum;
				want_s[3 * (ch - 1) + 2] += y == ch;
			}
		}
	double serr = 0;
	for (int j = 0; j < 6; j++)
		serr = fmax(serr, fabs(s[j] - want_s[j]));
	double l = ls_dice_loss(s, c);
	double want = 1 - ((2 * want_s[0] + 1) / (want_s[1] + want_s[2] + 1) + (2 * want_s[3] + 1) / (want_s[4] + want_s[5] + 1)) / 2;
	/* ignored pixels get no gradient; gradients add to what dl held */
	int ignored_zero = 1;
	for (int i = 0; i < n * hw; i++)
		if (k.lab[i] == 255)
			for (int ch = 0; ch < c; ch++)
				ignored_zero &= dz.d[(i / hw) * c * hw + ch * hw + i % hw] == 0;
	real before = dz.d[1];
	ls_dice_grad(&k.z, k.lab, k.lcls, s, 2, &dz);
	CHECK(e < 1e-6 && serr < 1e-9 && fabs(l - want) < 1e-12 && ignored_zero && fabs(dz.d[1] - 3 * before) < 1e-6,
	      "soft Dice loss, partial labels: gradient %.1e, sums %.1e, loss %.6f (%.6f), added with its weight", e, serr,
	      l, want);
	for (int m = 0; m < n; m++)	/* a confident right answer everywhere: the loss is near 0 */
		for (int i = 0; i < hw; i++)
			for (int ch = 0; ch < c; ch++)
				k.z.d[(m * c + ch) * hw + i] = k.lab[m * hw + i] == ch ? 30 : 0;
	ls_dice_sums(&k.z, k.lab, NULL, s);
	double lp = ls_dice_loss(s, c);
	CHECK(lp >= 0 && lp < 1e-9, "soft Dice loss of a right answer: %.1e", lp);
	free(k.z.d);
	free(dz.d);
	free(k.lab);
}

/* ---- the whole UNet-S ---- */

struct net_case {
	struct ls_unet m;
	struct ls_unet_act a;
	struct ls_t4 x;
	uint8_t *lab;
	real *rf;	/* weights of a linear term on the bottleneck features */
	real *rl[LS_MAX_DEPTH];	/* with all_levels: on every shallower encoder level's output too */
	int dom;
};

static int encoder_only, all_levels;

static double net_loss(void *p)
{
	struct net_case *k = p;
	double l = 0;
	if (encoder_only) {
		ls_unet_encode(&k->m, &k->a, &k->x, k->dom, 1);
	} else {
		ls_unet_forward(&k->m, &k->a, &k->x, k->dom, 1);
		l = ls_softmax_xent(&k->a.logits, k->lab, NULL, NULL, NULL);
	}
	struct ls_t4 *f = ls_unet_bottleneck(&k->a, &k->m);
	for (size_t i = 0; i < ls_t4_len(f); i++)
		l += k->rf[i] * f->d[i];
	for (int d = 0; all_levels && d < k->m.spec.depth - 1 && k->rl[d]; d++)
		for (size_t i = 0; i < ls_t4_len(&k->a.ea[d][1]); i++)
			l += k->rl[d][i] * k->a.ea[d][1].d[i];
	return l;
}

static void test_unet(int depth, int dom)
{
	struct net_case k;
	struct ls_unet_spec s;
	memset(&k, 0, sizeof k);
	ls_unet_spec_parse(&s, "unet width=2 depth=3 classes=3 bn_per_domain=1 stem=rgb:3 stem=pan:1");
	s.depth = depth;
	ls_unet_init(&k.m, &s, 7);
	for (int i = 0; i < k.m.params.n; i++)	/* non-trivial BN affine parameters */
		if (strstr(k.m.params.p[i]->name, "gamma") || strstr(k.m.params.p[i]->name, "beta"))
			fill(k.m.params.p[i]->w, k.m.params.p[i]->n, 1);
	ls_unet_act_init(&k.a, &k.m, 2, 8, 8);
	k.dom = dom;
	k.x = ls_t4_make(ls_alloc_real(2 * s.bands[dom] * 64), 2, s.bands[dom], 8, 8);
	fill(k.x.d, ls_t4_len(&k.x), 1);
	k.lab = malloc(2 * 64);
	for (int i = 0; i < 128; i++)
		k.lab[i] = (uint8_t)(i % 11 == 0 ? 255 : ls_rng_u64(&rng) % 3);
	struct ls_t4 *f = ls_unet_bottleneck(&k.a, &k.m);
	k.rf = ls_alloc_real((size_t)2 * (s.width << (depth - 1)) * 64);
	net_loss(&k);
	fill(k.rf, ls_t4_len(f), 0.1);
	ls_params_zero_grad(&k.m.params);
	net_loss(&k);
	ls_softmax_xent(&k.a.logits, k.lab, NULL, &k.a.dlogits, NULL);
	struct ls_t4 df = ls_t4_make(k.rf, f->n, f->c, f->h, f->w);
	if (all_levels) {	/* linear terms on the skips: ls_unet_backward_levels */
		const real *dl[LS_MAX_DEPTH] = { NULL };
		for (int d = 0; d < depth - 1; d++) {
			k.rl[d] = ls_alloc_real(ls_t4_len(&k.a.ea[d][1]));
			fill(k.rl[d], ls_t4_len(&k.a.ea[d][1]), 0.1);
			dl[d] = k.rl[d];
		}
		dl[depth - 1] = k.rf;
		ls_params_zero_grad(&k.m.params);
		net_loss(&k);
		ls_softmax_xent(&k.a.logits, k.lab, NULL, &k.a.dlogits, NULL);
		ls_unet_backward_levels(&k.m, &k.a, encoder_only ? NULL : &k.a.dlogits, dl, dom);
	} else
		ls_unet_backward(&k.m, &k.a, encoder_only ? NULL : &k.a.dlogits, &df, dom);
	double worst = 0;
	const char *where = "";
	int checked = 0;
	for (int i = 0; i < k.m.params.n; i++) {
		struct ls_param *p = k.m.params.p[i];
		if (p->frozen)
			continue;
		int other_stem = !strncmp(p->name, "stem.", 5) && strcmp(p->name + 5, dom ? "pan.weight" : "rgb.weight");
		if (other_stem || (encoder_only && (!strncmp(p->name, "dec", 3) || !strncmp(p->name, "head", 4))))
			continue;
		double e = max_rel_err(p->w, p->g, p->n, net_loss, &k, 12);
		checked++;
		if (e > worst) {
			worst = e;
			where = p->name;
		}
	}
	CHECK(worst < 1e-6 && checked >= 6, "UNet-S depth %d, stem %s, %s: %d tensors, worst %.1e (%s)", depth, s.dom[dom],
	      encoder_only ? (all_levels ? "encoder alone from terms on every level's output (the target's path, --critic-features all)"
				     : "encoder alone from a bottleneck term (the target's WDGRL path)")
			   : (all_levels ? "task loss + terms on every encoder level's output (skips included)"
					 : "task loss + bottleneck term"),
	      checked, worst, where);
	for (int d = 0; d < LS_MAX_DEPTH; d++)
		free(k.rl[d]);
	ls_unet_act_free(&k.a);
	ls_unet_free(&k.m);
	free(k.x.d);
	free(k.lab);
	free(k.rf);
}

/* ---- the critic's points from encoder levels (--critic-features) ---- */

/* By hand on a 2-tile 4x4 map with cells of 2x2: each point's values are
 * its cell's means at the map's offset; and the backward is the adjoint,
 * <P f, g> = <f, P^T g>, per cell and per tile. */
static void test_feature_points(void)
{
	real fd[2 * 3 * 16], pts[8 * 5], g[8 * 5], back[2 * 3 * 16];
	struct ls_t4 f = ls_t4_make(fd, 2, 3, 4, 4);
	for (int i = 0; i < 2 * 3 * 16; i++)
		fd[i] = (real)(i * i % 17);
	for (int i = 0; i < 8 * 5; i++)
		pts[i] = -1;
	int m = ls_feature_points(&f, 2, pts, 5, 1, 1), ok = m == 8;
	for (int t = 0; t < 2; t++)
		for (int c = 0; c < 3; c++)
			for (int cy = 0; cy < 2; cy++)
				for (int cx = 0; cx < 2; cx++) {
					double s = 0;
					for (int y = 2 * cy; y < 2 * cy + 2; y++)
						for (int x = 2 * cx; x < 2 * cx + 2; x++)
							s += fd[((t * 3 + c) * 4 + y) * 4 + x];
					int pt = (t * 2 + cy) * 2 + cx;
					ok &= fabs(pts[pt * 5 + 1 + c] - s / 4) < 1e-12 && pts[pt * 5] == -1 && pts[pt * 5 + 4] == -1;
				}
	double worst = 0;
	for (int pixel = 1; pixel >= 0; pixel--) {
		int np = ls_feature_points(&f, 2, pts, 5, 1, pixel);
		fill(g, 8 * 5, 1);
		ls_feature_points_backward(g, &f, 2, 5, 1, back, pixel);
		double lhs = 0, rhs = 0;
		for (int p = 0; p < np; p++)
			for (int c = 0; c < 3; c++)
				lhs += pts[p * 5 + 1 + c] * g[p * 5 + 1 + c];
		for (int i = 0; i < 2 * 3 * 16; i++)
			rhs += fd[i] * back[i];
		worst = fmax(worst, fabs(lhs - rhs) / fmax(fabs(lhs), 1));
		ok &= np == (pixel ? 8 : 2);
	}
	CHECK(ok && worst < 1e-12, "critic points of an encoder level: cell means at their offset, the backward its adjoint (%.1e)",
	      worst);
}

/* ---- the WDGRL critic: -W + gamma GP, and the input gradient ---- */

struct critic_case {
	struct ls_critic c;
	struct ls_params ps;
	real *hs, *ht, *alpha, *vs;	/* vs: source point weights (mean 1), or NULL */
	int m;
	double gamma;
};

/* W point by point, written out: mean_i vs_i f(h_s,i) - mean_j f(h_t,j) */
static double ref_w(struct critic_case *k)
{
	double w = 0;
	for (int i = 0; i < k->m; i++) {
		ls_critic_forward(&k->c, k->hs + (size_t)i * k->c.d, 1);
		w += (k->vs ? k->vs[i] : 1) * k->c.f[0] / k->m;
		ls_critic_forward(&k->c, k->ht + (size_t)i * k->c.d, 1);
		w -= k->c.f[0] / k->m;
	}
	return w;
}

static double ref_w_fn(void *p)
{
	return ref_w(p);
}

/* The reference penalty uses the critic's input gradient (itself checked
 * against finite differences below); the parameter gradient of the whole
 * loss is then taken by finite differences. */
static double critic_loss(void *p)
{
	struct critic_case *k = p;
	int d = k->c.d, n = 3 * k->m;
	double w = ref_w(k), gp = 0;
	real *pt = ls_alloc_real(d), *g = ls_alloc_real(d);
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < d; j++) {
			if (i < k->m)
				pt[j] = k->hs[(size_t)i * d + j];
			else if (i < 2 * k->m)
				pt[j] = k->ht[(size_t)(i - k->m) * d + j];
			else {
				int q = i - 2 * k->m;
				pt[j] = k->ht[(size_t)q * d + j] + k->alpha[q] * (k->hs[(size_t)q * d + j] - k->ht[(size_t)q * d + j]);
			}
		}
		ls_critic_input_grad(&k->c, pt, 1, 1, g);
		double nn = 0;
		for (int j = 0; j < d; j++)
			nn += (double)g[j] * g[j];
		gp += (sqrt(nn) - 1) * (sqrt(nn) - 1);
	}
	free(pt);
	free(g);
	return -w + k->gamma * gp / n;
}

/* weighted: the source points weighted by class (--importance-weighted) */
static void test_critic(int weighted)
{
	struct critic_case k;
	memset(&k, 0, sizeof k);
	k.m = 4;
	k.gamma = 10;
	int d = 5;
	ls_critic_init(&k.c, &k.ps, d, 6, k.m, &rng);
	for (int i = 0; i < k.ps.n; i++)
		if (strstr(k.ps.p[i]->name, "bias"))
			fill(k.ps.p[i]->w, k.ps.p[i]->n, 0.3);
	k.hs = ls_alloc_real(k.m * d);
	k.ht = ls_alloc_real(k.m * d);
	k.alpha = ls_alloc_real(k.m);
	fill(k.hs, k.m * d, 1.5);
	fill(k.ht, k.m * d, 1.5);
	for (int i = 0; i < k.m; i++)
		k.alpha[i] = ls_rng_uniform(&rng);
	if (weighted) {
		static real v[4] = { 2.5, 0.25, 0.75, 0.5 };	/* mean 1 */
		k.vs = v;
	}
	double gp;
	ls_params_zero_grad(&k.ps);
	double w = ls_critic_grad(&k.c, k.hs, k.vs, k.ht, k.m, k.alpha, k.gamma, &gp);
	double worst = 0;
	for (int i = 0; i < k.ps.n; i++) {
		double e = max_rel_err(k.ps.p[i]->w, k.ps.p[i]->g, k.ps.p[i]->n, critic_loss, &k, 40);
		worst = e > worst ? e : worst;
	}
	CHECK(worst < 1e-4 && gp > 0 && fabs(w - ref_w(&k)) < 1e-5,
	      "critic%s: d(-W + 10 GP)/d(params), closed-form penalty gradient: %.1e (GP %.3f)",
	      weighted ? ", source points weighted by class" : "", worst, gp);
	/* what the encoder receives from W at every source and target point */
	real *gs = ls_alloc_real(k.m * d), *gt = ls_alloc_real(k.m * d);
	ls_critic_w_input_grad(&k.c, k.hs, k.vs, k.ht, k.m, 1, gs, gt);
	double es = max_rel_err(k.hs, gs, (size_t)k.m * d, ref_w_fn, &k, 20);
	double et = max_rel_err(k.ht, gt, (size_t)k.m * d, ref_w_fn, &k, 20);
	CHECK(es < 1e-4 && et < 1e-4, "critic%s: dW/d(source points) %.1e, dW/d(target points) %.1e",
	      weighted ? ", source points weighted by class" : "", es, et);
	free(gs);
	free(gt);
	if (weighted)
		goto done;
	/* the encoder's gradient: grad_h f at a point against central differences */
	real g[5], x[5];
	double e = 0;
	fill(x, d, 1);
	ls_critic_input_grad(&k.c, x, 1, 1, g);
	for (int j = 0; j < d; j++) {
		real keep = x[j];
		x[j] = keep + 1e-6;
		ls_critic_forward(&k.c, x, 1);
		double fp = k.c.f[0];
		x[j] = keep - 1e-6;
		ls_critic_forward(&k.c, x, 1);
		double fm = k.c.f[0];
		x[j] = keep;
		double num = (fp - fm) / 2e-6;
		e = fmax(e, fabs(num - g[j]) / fmax(fabs(num) + fabs(g[j]), 1e-3));
	}
	CHECK(e < 1e-6, "critic input gradient (what the encoder receives from lambda W): %.1e", e);
done:
	ls_critic_free(&k.c);
	ls_params_free(&k.ps);
	free(k.hs);
	free(k.ht);
	free(k.alpha);
}


/* ---- DSN: scale-invariant MSE, difference loss, the whole reconstruction
 * path, and the domain classifier behind gradient reversal ---- */

struct vec_case {
	real *a, *b, *r;
	int n, k;
	int which;	/* 0: SI-MSE of (a, b); 1: difference loss of (a, b) */
};

static double vec_loss(void *p)
{
	struct vec_case *v = p;
	if (v->which == 0)
		return ls_simse(v->a, v->b, (size_t)v->n * v->k, 1, NULL);
	return ls_diff_loss(v->a, v->b, v->n, v->k, 1, NULL, NULL);
}

static void test_dsn_losses(void)
{
	struct vec_case v = { 0 };
	v.n = 7;
	v.k = 5;
	size_t nk = (size_t)v.n * v.k;
	v.a = ls_alloc_real(nk);
	v.b = ls_alloc_real(nk);
	real *ga = ls_alloc_real(nk), *gb = ls_alloc_real(nk);
	fill(v.a, nk, 1);
	fill(v.b, nk, 1);
	for (size_t i = 0; i < nk; i++)	/* an offset the scale-invariant loss must ignore */
		v.b[i] += 3;
	double l = ls_simse(v.a, v.b, nk, 1, gb), l0 = 0;
	for (size_t i = 0; i < nk; i++)
		v.b[i] -= 3;
	l0 = ls_simse(v.a, v.b, nk, 1, NULL);
	for (size_t i = 0; i < nk; i++)
		v.b[i] += 3;
	double e = max_rel_err(v.b, gb, nk, vec_loss, &v, (int)nk);
	CHECK(e < 1e-6 && fabs(l - l0) < 1e-9, "DSN scale-invariant MSE: gradient %.1e, unchanged by a constant offset", e);
	v.which = 1;
	fill(v.a, nk, 1);
	fill(v.b, nk, 1);
	double dl = ls_diff_loss(v.a, v.b, v.n, v.k, 1, ga, gb);
	double ea = max_rel_err(v.a, ga, nk, vec_loss, &v, (int)nk), eb = max_rel_err(v.b, gb, nk, vec_loss, &v, (int)nk);
	/* codes that differ only by a shift of every row are centred away */
	real *c2 = ls_alloc_real(nk);
	for (int i = 0; i < v.n; i++)
		for (int j = 0; j < v.k; j++)
			c2[(size_t)i * v.k + j] = v.a[(size_t)i * v.k + j] + 2.5f * (j + 1);
	double shifted = ls_diff_loss(c2, v.b, v.n, v.k, 1, NULL, NULL);
	CHECK(ea < 1e-6 && eb < 1e-6 && dl > 0 && fabs(shifted - dl) < 1e-9,
	      "DSN difference loss through centring and row normalisation: shared %.1e, private %.1e", ea, eb);
	free(v.a);
	free(v.b);
	free(ga);
	free(gb);
	free(c2);
}

struct dsn_case {
	struct ls_dsn d;
	struct ls_t4 x, shared;
	real *rp, *dshared;
	int dom;
	real alpha;
};

static double dsn_loss(void *p)
{
	struct dsn_case *k = p;
	const struct ls_t4 *pc = ls_dsn_private_forward(&k->d, &k->x, k->dom);
	double l = 0;
	for (size_t i = 0; i < ls_t4_len(pc); i++)
		l += k->rp[i] * pc->d[i];
	memset(k->dshared, 0, ls_t4_len(&k->shared) * sizeof(real));
	return l + k->alpha * ls_dsn_recon(&k->d, &k->x, &k->shared, k->dom, k->alpha, k->rp, k->dshared);
}

static void test_dsn(int dom)
{
	struct dsn_case k;
	struct ls_unet_spec s;
	memset(&k, 0, sizeof k);
	ls_unet_spec_parse(&s, "unet width=2 depth=3 classes=2 stem=rgb:3 stem=pan:1");
	ls_dsn_init(&k.d, &s, 2, 8, 8, 3);
	for (int i = 0; i < k.d.params.n; i++)
		if (strstr(k.d.params.p[i]->name, "gamma") || strstr(k.d.params.p[i]->name, "beta") ||
		    strstr(k.d.params.p[i]->name, "bias"))
			fill(k.d.params.p[i]->w, k.d.params.p[i]->n, 1);
	k.dom = dom;
	k.alpha = (real)0.7;
	k.x = ls_t4_make(ls_alloc_real(2 * s.bands[dom] * 64), 2, s.bands[dom], 8, 8);
	fill(k.x.d, ls_t4_len(&k.x), 1);
	int cc = s.width << 2;
	k.shared = ls_t4_make(ls_alloc_real((size_t)2 * cc * 4), 2, cc, 2, 2);
	fill(k.shared.d, ls_t4_len(&k.shared), 1);
	k.rp = ls_alloc_real(ls_t4_len(&k.shared));
	k.dshared = ls_alloc_real(ls_t4_len(&k.shared));
	fill(k.rp, ls_t4_len(&k.shared), 0.3);
	ls_params_zero_grad(&k.d.params);
	dsn_loss(&k);
	/* the loss function runs the backward pass too: keep the gradients */
	real *saved[256];
	for (int i = 0; i < k.d.params.n && i < 256; i++) {
		saved[i] = ls_alloc_real(k.d.params.p[i]->n);
		memcpy(saved[i], k.d.params.p[i]->g, k.d.params.p[i]->n * sizeof(real));
	}
	double worst = 0;
	const char *where = "";
	int checked = 0;
	char mine[32];
	snprintf(mine, sizeof mine, ".%s.", s.dom[dom]);
	for (int i = 0; i < k.d.params.n; i++) {
		struct ls_param *p = k.d.params.p[i];
		if (p->frozen || ((!strncmp(p->name, "private.", 8) || !strncmp(p->name, "recon.out.", 10)) &&
				  !strstr(p->name, mine) && strcmp(p->name + 10, s.dom[dom])))
			continue;
		if (!strncmp(p->name, "recon.out.", 10) && strncmp(p->name + 10, s.dom[dom], strlen(s.dom[dom])))
			continue;
		double e = max_rel_err(p->w, saved[i], p->n, dsn_loss, &k, 10);
		checked++;
		if (e > worst) {
			worst = e;
			where = p->name;
		}
	}
	/* the shared code's gradient (what the shared encoder receives) */
	real *ds = ls_alloc_real(ls_t4_len(&k.shared));
	dsn_loss(&k);
	memcpy(ds, k.dshared, ls_t4_len(&k.shared) * sizeof(real));
	double es = max_rel_err(k.shared.d, ds, ls_t4_len(&k.shared), dsn_loss, &k, 24);
	CHECK(worst < 1e-6 && es < 1e-6 && checked >= 10,
	      "DSN private encoder (%s) + shared decoder, alpha L_recon: %d tensors, worst %.1e (%s); shared code %.1e",
	      s.dom[dom], checked, worst, where, es);
	free(ds);
	for (int i = 0; i < k.d.params.n && i < 256; i++)
		free(saved[i]);
	ls_dsn_free(&k.d);
	free(k.x.d);
	free(k.shared.d);
	free(k.rp);
	free(k.dshared);
}

struct clf_case {
	struct ls_critic c;
	struct ls_params ps;
	real *hs, *ht, *dhs, *dht;
	int m;
};

static double clf_loss(void *p)
{
	struct clf_case *k = p;
	double l = 0;
	ls_critic_forward(&k->c, k->hs, k->m);
	for (int i = 0; i < k->m; i++)
		l += log1p(exp(-(double)k->c.f[i]));
	ls_critic_forward(&k->c, k->ht, k->m);
	for (int i = 0; i < k->m; i++)
		l += log1p(exp((double)k->c.f[i]));
	return l / (2.0 * k->m);
}

static void test_domain_clf(void)
{
	struct clf_case k;
	memset(&k, 0, sizeof k);
	k.m = 5;
	int d = 4;
	ls_critic_init(&k.c, &k.ps, d, 6, k.m, &rng);
	for (int i = 0; i < k.ps.n; i++)
		if (strstr(k.ps.p[i]->name, "bias"))
			fill(k.ps.p[i]->w, k.ps.p[i]->n, 0.3);
	k.hs = ls_alloc_real(k.m * d);
	k.ht = ls_alloc_real(k.m * d);
	k.dhs = ls_alloc_real(k.m * d);
	k.dht = ls_alloc_real(k.m * d);
	fill(k.hs, k.m * d, 1.5);
	fill(k.ht, k.m * d, 1.5);
	ls_params_zero_grad(&k.ps);
	double l = ls_domain_clf_grad(&k.c, k.hs, k.ht, k.m, k.dhs, k.dht);
	double worst = 0;
	for (int i = 0; i < k.ps.n; i++) {
		double e = max_rel_err(k.ps.p[i]->w, k.ps.p[i]->g, k.ps.p[i]->n, clf_loss, &k, 30);
		worst = e > worst ? e : worst;
	}
	double es = max_rel_err(k.hs, k.dhs, (size_t)k.m * d, clf_loss, &k, k.m * d);
	double et = max_rel_err(k.ht, k.dht, (size_t)k.m * d, clf_loss, &k, k.m * d);
	CHECK(worst < 1e-6 && es < 1e-6 && et < 1e-6 && fabs(l - clf_loss(&k)) < 1e-12,
	      "DANN domain classifier: logistic loss parameter gradient %.1e, input gradients %.1e %.1e", worst, es, et);
	ls_critic_free(&k.c);
	ls_params_free(&k.ps);
	free(k.hs);
	free(k.ht);
	free(k.dhs);
	free(k.dht);
}

int main(void)
{
	ls_rng_seed(&rng, 42);
	ls_threads_set(2);
	test_conv(2, 3, 4, 3, 1, 1, 0, 6, 5);
	test_conv(3, 4, 2, 1, 1, 0, 1, 5, 4);
	test_conv(2, 2, 3, 3, 2, 1, 1, 7, 6);
	test_conv(2, 4, 8, 3, 2, 1, 0, 4, 4);
	test_conv(2, 2, 4, 3, 2, 1, 0, 8, 8);
	test_conv(1, 2, 3, 5, 1, 2, 0, 6, 6);
	test_conv(2, 3, 2, 3, 1, 0, 0, 6, 7);
	test_elementwise(0, "batch norm (train mode)");
	test_elementwise(5, "batch norm + ReLU fused");
	test_elementwise(1, "ReLU");
	test_elementwise(2, "leaky ReLU");
	test_elementwise(3, "2x2 max-pool");
	test_elementwise(4, "bilinear x2 upsampling into a concatenation slice");
	test_linear();
	test_xent();
	test_xent_partial();
	test_unet(3, 0);
	test_unet(3, 1);
	test_unet(1, 0);
	encoder_only = 1;
	test_unet(3, 1);
	all_levels = 1;	/* depth 3 on 8 x 8: two skips and a 2 x 2 bottleneck (deeper, BN over 2 values sits on kinks) */
	test_unet(3, 1);
	test_unet(2, 0);
	encoder_only = 0;
	test_unet(3, 0);
	test_unet(3, 1);
	all_levels = 0;
	test_feature_points();
	test_critic(0);
	test_critic(1);
	test_dsn_losses();
	test_dsn(0);
	test_dsn(1);
	test_domain_clf();
	test_dice();	/* last: the random draws of the tests above stay as they were */
	return check_failed != 0;
}
