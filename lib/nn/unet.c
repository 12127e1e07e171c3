#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "nn/unet.h"

int ls_unet_spec_parse(struct ls_unet_spec *s, const char *text)
{
	char buf[1024], *save = NULL;
	memset(s, 0, sizeof *s);
	s->width = 16;
	s->depth = 4;
	s->classes = 2;
	snprintf(buf, sizeof buf, "%s", text);
	char *tok = strtok_r(buf, " \t\n", &save);
	if (!tok || strcmp(tok, "unet"))
		return ls_err("model spec '%s': must start with 'unet'", text);
	while ((tok = strtok_r(NULL, " \t\n", &save))) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return ls_err("model spec: '%s' is not key=value", tok);
		*eq++ = 0;
		if (!strcmp(tok, "width"))
			s->width = atoi(eq);
		else if (!strcmp(tok, "depth"))
			s->depth = atoi(eq);
		else if (!strcmp(tok, "classes"))
			s->classes = atoi(eq);
		else if (!strcmp(tok, "bn_per_domain"))
			s->bn_per_domain = atoi(eq);
		else if (!strcmp(tok, "stem")) {
			char *colon = strrchr(eq, ':');
			if (!colon || s->ndom >= LS_MAX_DOMAINS || colon - eq >= 32 || colon == eq)
				return ls_err("model spec: stem must be NAME:BANDS (at most %d)", LS_MAX_DOMAINS);
			*colon = 0;
			snprintf(s->dom[s->ndom], sizeof s->dom[0], "%s", eq);
			s->bands[s->ndom] = atoi(colon + 1);
			if (s->bands[s->ndom] < 1 || s->bands[s->ndom] > 256)
				return ls_err("model spec: stem %s has %d bands", eq, s->bands[s->ndom]);
			s->ndom++;
		} else
			return ls_err("model spec: unknown key '%s'", tok);
	}
	if (s->width < 1 || s->width > 512 || s->depth < 1 || s->depth > LS_MAX_DEPTH || s->classes < 1 ||
	    s->classes > 254 || s->ndom < 1)
		return ls_err("model spec '%s': width 1..512, depth 1..%d, classes 1..254 and at least one stem", text,
			      LS_MAX_DEPTH);
	return 0;
}

void ls_unet_spec_format(const struct ls_unet_spec *s, char *buf, size_t n)
{
	size_t k = (size_t)snprintf(buf, n, "unet width=%d depth=%d classes=%d bn_per_domain=%d", s->width, s->depth,
				    s->classes, s->bn_per_domain);
	for (int d = 0; d < s->ndom && k < n; d++)
		k += (size_t)snprintf(buf + k, n - k, " stem=%s:%d", s->dom[d], s->bands[d]);
}

int ls_unet_domain(const struct ls_unet_spec *s, const char *name)
{
	for (int d = 0; d < s->ndom; d++)
		if (name && !strcmp(s->dom[d], name))
			return d;
	return -1;
}

static int width_at(const struct ls_unet_spec *s, int l)
{
	return s->width << l;
}

static void cbr_init(struct ls_cbr *b, struct ls_params *ps, const char *name, int ci, int co, int ndom,
		     struct ls_rng *rng)
{
	char n[64];
	snprintf(n, sizeof n, "%s.conv", name);
	ls_conv_init(&b->conv, ps, n, ci, co, 3, 1, 1, 0, rng);
	snprintf(n, sizeof n, "%s.bn", name);
	ls_bn_init(&b->bn, ps, n, co, ndom);
}

int ls_unet_init(struct ls_unet *m, const struct ls_unet_spec *s, uint64_t seed)
{
	struct ls_rng rng;
	char name[64];
	int nd = s->bn_per_domain ? s->ndom : 1;
	memset(m, 0, sizeof *m);
	m->spec = *s;
	ls_rng_seed(&rng, seed);
	for (int d = 0; d < s->ndom; d++) {
		snprintf(name, sizeof name, "stem.%s", s->dom[d]);
		ls_conv_init(&m->stem[d], &m->params, name, s->bands[d], s->width, 3, 1, 1, 0, &rng);
	}
	for (int l = 0; l < s->depth; l++) {
		int ci = l ? width_at(s, l - 1) : s->width, co = width_at(s, l);
		snprintf(name, sizeof name, "enc%d.0", l);
		if (l == 0)
			ls_bn_init(&m->enc[0][0].bn, &m->params, "enc0.0.bn", co, nd);
		else
			cbr_init(&m->enc[l][0], &m->params, name, ci, co, nd, &rng);
		snprintf(name, sizeof name, "enc%d.1", l);
		cbr_init(&m->enc[l][1], &m->params, name, co, co, nd, &rng);
	}
	for (int l = s->depth - 2; l >= 0; l--) {
		snprintf(name, sizeof name, "dec%d.0", l);
		cbr_init(&m->dec[l][0], &m->params, name, width_at(s, l + 1) + width_at(s, l), width_at(s, l), nd, &rng);
		snprintf(name, sizeof name, "dec%d.1", l);
		cbr_init(&m->dec[l][1], &m->params, name, width_at(s, l), width_at(s, l), nd, &rng);
	}
	ls_conv_init(&m->head, &m->params, "head", s->width, s->classes, 1, 1, 0, 1, &rng);
	return 0;
}

static void cbr_free(struct ls_cbr *b)
{
	ls_conv_free(&b->conv);
	ls_bn_free(&b->bn);
}

void ls_unet_free(struct ls_unet *m)
{
	for (int d = 0; d < m->spec.ndom; d++)
		ls_conv_free(&m->stem[d]);
	for (int l = 0; l < m->spec.depth; l++) {
		cbr_free(&m->enc[l][0]);
		cbr_free(&m->enc[l][1]);
		cbr_free(&m->dec[l][0]);
		cbr_free(&m->dec[l][1]);
	}
	ls_conv_free(&m->head);
	ls_params_free(&m->params);
}

/* ---- activations ---- */

struct plan {
	size_t off;
	real *base;
};

static void take(struct plan *p, struct ls_t4 *t, int n, int c, int h, int w)
{
	*t = ls_t4_make(p->base ? p->base + p->off : NULL, n, c, h, w);
	p->off += ((size_t)n * c * h * w + 15) & ~(size_t)15;
}

/* Inference keeps only what outlives a layer: the skips ea[l][1] (an encode
 * frame's features) and the logits. Every other activation is a view into
 * one of four scratch buffers, each the size of the largest it holds:
 * encoder  conv -> S1, bn -> S2, conv -> S1, bn -> skip, pool -> S3;
 * decoder  upsample + concat -> U, conv -> S1, bn -> S2, conv -> S1, bn -> S3.
 * No layer reads the buffer it writes, nor does a convolution with its
 * batch norm folded in (pool -> S3 -> conv + bn -> S2), so the output is the
 * same as with the training layout (encode --decode with a width 24 model on 512 x 512
 * tiles: peak 560 MB -> 257 MB). */
static void layout_infer(struct ls_unet_act *a, const struct ls_unet *m, struct plan *p)
{
	const struct ls_unet_spec *s = &m->spec;
	int n = a->n, D = s->depth;
	size_t smax = 0, umax = 0;
	for (int l = 0; l < D; l++) {
		size_t v = (size_t)n * width_at(s, l) * (a->h >> l) * (a->w >> l);
		smax = v > smax ? v : smax;
		if (l < D - 1) {
			size_t u = (size_t)n * (width_at(s, l + 1) + width_at(s, l)) * (a->h >> l) * (a->w >> l);
			umax = u > umax ? u : umax;
		}
	}
	struct ls_t4 S[3], U;
	for (int i = 0; i < 3; i++)
		take(p, &S[i], 1, 1, 1, (int)smax);
	take(p, &U, 1, 1, 1, (int)umax);
	for (int l = 0; l < D; l++) {
		int h = a->h >> l, w = a->w >> l, c = width_at(s, l);
		a->ez[l][0] = a->ez[l][1] = ls_t4_make(S[0].d, n, c, h, w);
		a->ea[l][0] = ls_t4_make(S[1].d, n, c, h, w);
		take(p, &a->ea[l][1], n, c, h, w);
		if (l < D - 1) {
			a->pool[l] = ls_t4_make(S[2].d, n, c, h / 2, w / 2);
			a->gskip[l] = ls_t4_make(NULL, 0, 0, 0, 0);
			a->u[l] = ls_t4_make(U.d, n, width_at(s, l + 1) + c, h, w);
			a->dz[l][0] = a->dz[l][1] = ls_t4_make(S[0].d, n, c, h, w);
			a->da[l][0] = ls_t4_make(S[1].d, n, c, h, w);
			a->da[l][1] = ls_t4_make(S[2].d, n, c, h, w);
		}
	}
	take(p, &a->logits, n, s->classes, a->h, a->w);
	a->dlogits = ls_t4_make(NULL, 0, 0, 0, 0);
}

static void layout(struct ls_unet_act *a, const struct ls_unet *m, struct plan *p, size_t *gmax, int infer)
{
	const struct ls_unet_spec *s = &m->spec;
	int n = a->n;
	*gmax = 0;
	if (infer) {
		layout_infer(a, m, p);
		return;
	}
	for (int l = 0; l < s->depth; l++) {
		int h = a->h >> l, w = a->w >> l, c = width_at(s, l);
		for (int k = 0; k < 2; k++) {
			take(p, &a->ez[l][k], n, c, h, w);
			take(p, &a->ea[l][k], n, c, h, w);
		}
		if (l < s->depth - 1) {
			take(p, &a->pool[l], n, c, h / 2, w / 2);
			take(p, &a->gskip[l], n, c, h, w);
			int cu = width_at(s, l + 1) + c;
			take(p, &a->u[l], n, cu, h, w);
			for (int k = 0; k < 2; k++) {
				take(p, &a->dz[l][k], n, c, h, w);
				take(p, &a->da[l][k], n, c, h, w);
			}
			size_t g = (size_t)n * cu * h * w;
			*gmax = g > *gmax ? g : *gmax;
		}
		size_t g = (size_t)n * c * h * w;
		*gmax = g > *gmax ? g : *gmax;
	}
	size_t gl = (size_t)n * s->classes * a->h * a->w;
	*gmax = gl > *gmax ? gl : *gmax;
	take(p, &a->logits, n, s->classes, a->h, a->w);
	take(p, &a->dlogits, n, s->classes, a->h, a->w);
}

static size_t max_ws(const struct ls_unet *m, int h, int w)
{
	const struct ls_unet_spec *s = &m->spec;
	size_t mx = ls_conv_ws(&m->head, h, w);
	for (int d = 0; d < s->ndom; d++) {
		size_t k = ls_conv_ws(&m->stem[d], h, w);
		mx = k > mx ? k : mx;
	}
	for (int l = 0; l < s->depth; l++)
		for (int k = 0; k < 2; k++) {
			const struct ls_conv *cs[2] = { &m->enc[l][k].conv, &m->dec[l][k].conv };
			for (int j = 0; j < 2; j++)
				if (cs[j]->w) {
					size_t v = ls_conv_ws(cs[j], h >> l, w >> l);
					mx = v > mx ? v : mx;
				}
		}
	return mx;
}

static int act_init(struct ls_unet_act *a, const struct ls_unet *m, int n, int h, int w, int zero);

int ls_unet_act_init(struct ls_unet_act *a, const struct ls_unet *m, int n, int h, int w)
{
	return act_init(a, m, n, h, w, 1);
}

/* Inference: no gradient buffers, activations in scratch (layout_infer),
 * and the arena not zeroed. */
int ls_unet_act_init_infer(struct ls_unet_act *a, const struct ls_unet *m, int n, int h, int w)
{
	return act_init(a, m, n, h, w, 0);
}

static int act_init(struct ls_unet_act *a, const struct ls_unet *m, int n, int h, int w, int zero)
{
	int div = 1 << (m->spec.depth - 1);
	struct plan p = { 0, NULL };
	size_t gmax;
	if (h % div || w % div || n < 1)
		return ls_err("tiles of %dx%d cannot pass %d levels: size must be a multiple of %d", w, h, m->spec.depth,
			      div);
	memset(a, 0, sizeof *a);
	a->n = n;
	a->h = h;
	a->w = w;
	layout(a, m, &p, &gmax, !zero);
	int maxb = 1;
	for (int d = 0; d < m->spec.ndom; d++)
		maxb = m->spec.bands[d] > maxb ? m->spec.bands[d] : maxb;
	size_t inb = (size_t)n * maxb * h * w;
	size_t acts = p.off, wsz = max_ws(m, h, w) * (size_t)ls_nthreads;
	if (zero) {
		a->arena = ls_alloc_real(acts + 3 * gmax + wsz + inb);
	} else {
		size_t bytes = ((acts + 3 * gmax + wsz + inb) * sizeof(real) + 63) & ~(size_t)63;
		if (!(a->arena = aligned_alloc(64, bytes)))
			return ls_err("out of memory allocating %zu bytes of activations", bytes);
	}
	p.off = 0;
	p.base = a->arena;
	layout(a, m, &p, &gmax, !zero);
	for (int i = 0; i < 3; i++)
		a->g[i] = a->arena + acts + i * gmax;
	a->ws = a->arena + acts + 3 * gmax;
	a->in = a->ws + wsz;
	a->bytes = (acts + 3 * gmax + wsz + inb) * sizeof(real);
	return 0;
}

void ls_unet_act_free(struct ls_unet_act *a)
{
	free(a->arena);
	memset(a, 0, sizeof *a);
}

struct ls_t4 *ls_unet_bottleneck(struct ls_unet_act *a, const struct ls_unet *m)
{
	return &a->ea[m->spec.depth - 1][1];
}

/* ---- forward ---- */

static void cbr_forward(struct ls_conv *c, struct ls_bn *bn, const struct ls_t4 *x, struct ls_t4 *z, struct ls_t4 *y,
			int train, int dom, real *ws)
{
	if (!train && bn->c <= 4096) {	/* inference: the batch norm and ReLU folded into the convolution */
		real g[4096], sh[4096];
		ls_bn_affine(bn, dom, g, sh);
		if (ls_conv_forward_affine(c, x, y, ws, g, sh, 1))
			return;
	}
	ls_conv_forward(c, x, z, ws);
	LS_PROF(LS_P_BN_F, ls_bn_forward(bn, z, y, train, dom, 1));
}

void ls_unet_encode(struct ls_unet *m, struct ls_unet_act *a, const struct ls_t4 *x, int dom, int train)
{
	const struct ls_unet_spec *s = &m->spec;
	int bd = s->bn_per_domain ? dom : 0, D = s->depth;
	const struct ls_t4 *in = x;
	a->x = *x;
	for (int l = 0; l < D; l++) {
		struct ls_conv *c0 = l ? &m->enc[l][0].conv : &m->stem[dom];
		cbr_forward(c0, &m->enc[l][0].bn, in, &a->ez[l][0], &a->ea[l][0], train, bd, a->ws);
		cbr_forward(&m->enc[l][1].conv, &m->enc[l][1].bn, &a->ea[l][0], &a->ez[l][1], &a->ea[l][1], train, bd,
			    a->ws);
		if (l < D - 1) {
			LS_PROF(LS_P_POOL, ls_maxpool_forward(&a->ea[l][1], &a->pool[l]));
			in = &a->pool[l];
		}
	}
}

void ls_unet_decode(struct ls_unet *m, struct ls_unet_act *a, int dom, int train)
{
	const struct ls_unet_spec *s = &m->spec;
	int bd = s->bn_per_domain ? dom : 0, D = s->depth;
	const struct ls_t4 *cur = &a->ea[D - 1][1];
	for (int l = D - 2; l >= 0; l--) {
		int cu = a->u[l].c;
		a->u[l].n = cur->n;	/* the batch may be smaller than the buffers */
		LS_PROF(LS_P_UP, ls_upsample_forward(cur, a->u[l].d, cu, 0));
		LS_PROF(LS_P_CAT, ls_concat_put(&a->ea[l][1], a->u[l].d, cu, cur->c));
		cbr_forward(&m->dec[l][0].conv, &m->dec[l][0].bn, &a->u[l], &a->dz[l][0], &a->da[l][0], train, bd, a->ws);
		cbr_forward(&m->dec[l][1].conv, &m->dec[l][1].bn, &a->da[l][0], &a->dz[l][1], &a->da[l][1], train, bd,
			    a->ws);
		cur = &a->da[l][1];
	}
	ls_conv_forward(&m->head, cur, &a->logits, a->ws);
}

void ls_unet_forward(struct ls_unet *m, struct ls_unet_act *a, const struct ls_t4 *x, int dom, int train)
{
	ls_unet_encode(m, a, x, dom, train);
	ls_unet_decode(m, a, dom, train);
}

/* ---- backward ---- */

/* ga: gradient of the block's output (destroyed); gt: scratch; gx: input gradient or NULL. */
static void cbr_backward(struct ls_conv *c, struct ls_bn *bn, const struct ls_t4 *x, const struct ls_t4 *z,
			 const struct ls_t4 *y, real *ga, real *gt, real *gx, real *ws)
{
	struct ls_t4 dy = ls_t4_make(ga, y->n, y->c, y->h, y->w), dz = ls_t4_make(gt, 0, 0, 0, 0),
		     dx = ls_t4_make(gx, 0, 0, 0, 0);
	LS_PROF(LS_P_BN_B, ls_bn_backward(bn, z, y, &dy, &dz));
	ls_conv_backward(c, x, &dz, gx ? &dx : NULL, ws);
}

static void swap(real **a, real **b)
{
	real *t = *a;
	*a = *b;
	*b = t;
}

void ls_unet_backward(struct ls_unet *m, struct ls_unet_act *a, const struct ls_t4 *dlogits,
		      const struct ls_t4 *dfeat, int dom)
{
	const real *df[LS_MAX_DEPTH] = { NULL };
	df[m->spec.depth - 1] = dfeat ? dfeat->d : NULL;
	ls_unet_backward_levels(m, a, dlogits, df, dom);
}

/* g (or NULL) onto the skip gradient of level l < depth - 1 */
static void add_level(struct ls_t4 *gskip, const real *g)
{
	if (!g)
		return;
	size_t n = ls_t4_len(gskip);
	for (size_t i = 0; i < n; i++)
		gskip->d[i] += g[i];
}

void ls_unet_backward_levels(struct ls_unet *m, struct ls_unet_act *a, const struct ls_t4 *dlogits,
			     const real *const dfeat_at[LS_MAX_DEPTH], int dom)
{
	const struct ls_unet_spec *s = &m->spec;
	int D = s->depth;
	real *A = a->g[0], *B = a->g[1], *C = a->g[2];
	const struct ls_t4 *bn = &a->ea[D - 1][1];	/* its n: the last forward's batch */
	int nb = dlogits ? dlogits->n : bn->n;	/* the batch may be smaller than the buffers */
	const real *dfeat = dfeat_at[D - 1];
	size_t nfeat = (size_t)nb * bn->c * bn->h * bn->w;
	if (!dlogits) {	/* the encoder alone, from gradients on its levels' outputs */
		if (dfeat)
			memcpy(A, dfeat, nfeat * sizeof(real));
		else
			memset(A, 0, nfeat * sizeof(real));
		dfeat = NULL;
		goto encoder;
	}
	const struct ls_t4 *top = D > 1 ? &a->da[0][1] : &a->ea[0][1];
	struct ls_t4 t = ls_t4_make(A, 0, 0, 0, 0);
	ls_conv_backward(&m->head, top, dlogits, &t, a->ws);
	for (int l = 0; l < D - 1; l++) {	/* A: gradient of da[l][1] */
		cbr_backward(&m->dec[l][1].conv, &m->dec[l][1].bn, &a->da[l][0], &a->dz[l][1], &a->da[l][1], A, B, C,
			     a->ws);
		cbr_backward(&m->dec[l][0].conv, &m->dec[l][0].bn, &a->u[l], &a->dz[l][0], &a->da[l][0], C, B, A, a->ws);
		int cu = a->u[l].c, cup = cu - a->gskip[l].c;
		a->gskip[l].n = nb;
		memset(a->gskip[l].d, 0, ls_t4_len(&a->gskip[l]) * sizeof(real));
		LS_PROF(LS_P_CAT, ls_concat_get_add(A, cu, cup, &a->gskip[l]));
		add_level(&a->gskip[l], dfeat_at[l]);
		const struct ls_t4 *below = l + 1 < D - 1 ? &a->da[l + 1][1] : &a->ea[D - 1][1];
		struct ls_t4 gb = ls_t4_make(B, below->n, below->c, below->h, below->w);
		LS_PROF(LS_P_UP, ls_upsample_backward(A, cu, 0, &gb));
		swap(&A, &B);
	}
	if (dfeat)
		for (size_t i = 0; i < nfeat; i++)
			A[i] += dfeat[i];
encoder:
	if (!dlogits)
		for (int l = 0; l < D - 1; l++) {
			a->gskip[l].n = nb;
			memset(a->gskip[l].d, 0, ls_t4_len(&a->gskip[l]) * sizeof(real));
			add_level(&a->gskip[l], dfeat_at[l]);
		}
	for (int l = D - 1; l >= 0; l--) {	/* A: gradient of ea[l][1] */
		cbr_backward(&m->enc[l][1].conv, &m->enc[l][1].bn, &a->ea[l][0], &a->ez[l][1], &a->ea[l][1], A, B, C,
			     a->ws);
		struct ls_conv *c0 = l ? &m->enc[l][0].conv : &m->stem[dom];
		const struct ls_t4 *in = l ? &a->pool[l - 1] : &a->x;
		cbr_backward(c0, &m->enc[l][0].bn, in, &a->ez[l][0], &a->ea[l][0], C, B, l ? A : NULL, a->ws);
		if (l == 0)
			break;
		struct ls_t4 gp = ls_t4_make(A, in->n, in->c, in->h, in->w), gx = ls_t4_make(B, 0, 0, 0, 0);
		LS_PROF(LS_P_POOL, ls_maxpool_backward(&a->ea[l - 1][1], &a->pool[l - 1], &gp, &gx));
		size_t n = ls_t4_len(&gx);
		const real *sk = a->gskip[l - 1].d;
		for (size_t i = 0; i < n; i++)
			B[i] += sk[i];
		swap(&A, &B);
	}
}
