#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "score/metrics.h"

void ls_class_score(const uint64_t *conf, int k, int c, struct ls_class_score *s)
{
	uint64_t tp = conf[c * k + c], fp = 0, fn = 0;
	for (int j = 0; j < k; j++)
		if (j != c) {
			fp += conf[j * k + c];
			fn += conf[c * k + j];
		}
	s->precision = tp + fp ? (double)tp / (double)(tp + fp) : 0;
	s->recall = tp + fn ? (double)tp / (double)(tp + fn) : 0;
	s->iou = tp + fp + fn ? (double)tp / (double)(tp + fp + fn) : 0;
	s->f1 = s->precision + s->recall > 0 ? 2 * s->precision * s->recall / (s->precision + s->recall) : 0;
	s->ref = tp + fn;
	s->pred = tp + fp;
}

static int32_t find(int32_t *p, int32_t x)
{
	while (p[x] != x) {
		p[x] = p[p[x]];
		x = p[x];
	}
	return x;
}

int32_t ls_components(const uint8_t *c, int w, int h, int cls, int eight, int32_t *ids)
{
	int32_t n = 0, cap = 1024;
	int32_t *parent = ls_xmalloc(cap * sizeof *parent);
	parent[0] = 0;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			size_t i = (size_t)y * w + x;
			if (c[i] != cls) {
				ids[i] = 0;
				continue;
			}
			int32_t nb[4], k = 0;
			if (x > 0 && ids[i - 1])
				nb[k++] = ids[i - 1];
			if (y > 0 && ids[i - w])
				nb[k++] = ids[i - w];
			if (eight && y > 0 && x > 0 && ids[i - w - 1])
				nb[k++] = ids[i - w - 1];
			if (eight && y > 0 && x + 1 < w && ids[i - w + 1])
				nb[k++] = ids[i - w + 1];
			if (!k) {
				if (++n >= cap) {
					cap *= 2;
					parent = ls_xrealloc(parent, cap * sizeof *parent);
				}
				parent[n] = n;
				ids[i] = n;
				continue;
			}
			int32_t r = find(parent, nb[0]);
			for (int j = 1; j < k; j++) {
				int32_t q = find(parent, nb[j]);
				if (q != r) {
					if (q < r) {
						int32_t t = q;
						q = r;
						r = t;
					}
					parent[q] = r;
				}
			}
			ids[i] = r;
		}
	/* relabel roots 1..m in order of first appearance */
	int32_t *label = ls_xcalloc((size_t)n + 1, sizeof *label), m = 0;
	for (size_t i = 0; i < (size_t)w * h; i++)
		if (ids[i]) {
			int32_t r = find(parent, ids[i]);
			if (!label[r])
				label[r] = ++m;
			ids[i] = label[r];
		}
	free(label);
	free(parent);
	return m;
}

struct pair {
	uint64_t key;
	long count;
};

struct cand {
	double iou;
	int32_t p, r;
};

static int by_iou(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->iou != y->iou)
		return x->iou < y->iou ? 1 : -1;
	return x->p != y->p ? (x->p < y->p ? -1 : 1) : (x->r < y->r ? -1 : x->r > y->r);
}

static void finish(struct ls_match *m)
{
	m->precision = m->pred ? (double)m->tp / m->pred : 0;
	m->recall = m->ref ? (double)m->tp / m->ref : 0;
	m->f1 = m->precision + m->recall > 0 ? 2 * m->precision * m->recall / (m->precision + m->recall) : 0;
}

void ls_match_objects(const int32_t *pid, int32_t np, const int32_t *rid, int32_t nr, size_t npix, double min_iou,
		      struct ls_match *m)
{
	long *ap = ls_xcalloc((size_t)np + 1, sizeof *ap), *ar = ls_xcalloc((size_t)nr + 1, sizeof *ar);
	size_t cap = 1024, used = 0;
	struct pair *tab = ls_xcalloc(cap, sizeof *tab);
	for (size_t i = 0; i < npix; i++) {
		ap[pid[i]]++;
		ar[rid[i]]++;
		if (!pid[i] || !rid[i])
			continue;
		uint64_t key = (uint64_t)pid[i] << 32 | (uint32_t)rid[i];
		if (2 * (used + 1) > cap) {	/* grow the open-addressing table */
			struct pair *old = tab;
			size_t oc = cap;
			cap *= 2;
			tab = ls_xcalloc(cap, sizeof *tab);
			for (size_t k = 0; k < oc; k++)
				if (old[k].key) {
					size_t h = (old[k].key * 0x9e3779b97f4a7c15ull) & (cap - 1);
					while (tab[h].key)
						h = (h + 1) & (cap - 1);
					tab[h] = old[k];
				}
			free(old);
		}
		size_t h = (key * 0x9e3779b97f4a7c15ull) & (cap - 1);
		while (tab[h].key && tab[h].key != key)
			h = (h + 1) & (cap - 1);
		if (!tab[h].key) {
			tab[h].key = key;
			used++;
		}
		tab[h].count++;
	}
	struct cand *c = ls_xmalloc((used + 1) * sizeof *c);
	size_t nc = 0;
	for (size_t k = 0; k < cap; k++)
		if (tab[k].key) {
			int32_t p = (int32_t)(tab[k].key >> 32), r = (int32_t)(tab[k].key & 0xffffffff);
			double iou = (double)tab[k].count / (double)(ap[p] + ar[r] - tab[k].count);
			if (iou >= min_iou) {
				c[nc].iou = iou;
				c[nc].p = p;
				c[nc++].r = r;
			}
		}
	qsort(c, nc, sizeof *c, by_iou);
	uint8_t *up = ls_xcalloc((size_t)np + 1, 1), *ur = ls_xcalloc((size_t)nr + 1, 1);
	memset(m, 0, sizeof *m);
	for (size_t k = 0; k < nc; k++)
		if (!up[c[k].p] && !ur[c[k].r]) {
			up[c[k].p] = ur[c[k].r] = 1;
			m->tp++;
		}
	m->pred = np;
	m->ref = nr;
	finish(m);
	free(up);
	free(ur);
	free(c);
	free(tab);
	free(ap);
	free(ar);
}

struct dcand {
	double d;
	long p, q;
};

static int by_dist(const void *a, const void *b)
{
	const struct dcand *x = a, *y = b;
	return x->d < y->d ? -1 : x->d > y->d;
}

void ls_match_points(const double *px, const double *py, long np, const double *qx, const double *qy, long nq,
		     double dist, struct ls_match *m)
{
	/* a cheap cell test (cell = dist) before each distance */
	size_t cap = 16, nc = 0;
	struct dcand *c = ls_xmalloc(cap * sizeof *c);
	double minx = INFINITY, miny = INFINITY;
	for (long j = 0; j < nq; j++) {
		minx = fmin(minx, qx[j]);
		miny = fmin(miny, qy[j]);
	}
	for (long i = 0; i < np; i++) {
		long cx = (long)floor((px[i] - minx) / dist), cy = (long)floor((py[i] - miny) / dist);
		for (long j = 0; j < nq; j++) {
			long qcx = (long)floor((qx[j] - minx) / dist), qcy = (long)floor((qy[j] - miny) / dist);
			if (labs(qcx - cx) > 1 || labs(qcy - cy) > 1)
				continue;
			double d = hypot(px[i] - qx[j], py[i] - qy[j]);
			if (d <= dist) {
				if (nc == cap) {
					cap *= 2;
					c = ls_xrealloc(c, cap * sizeof *c);
				}
				c[nc].d = d;
				c[nc].p = i;
				c[nc++].q = j;
			}
		}
	}
	qsort(c, nc, sizeof *c, by_dist);
	uint8_t *up = ls_xcalloc((size_t)np + 1, 1), *uq = ls_xcalloc((size_t)nq + 1, 1);
	memset(m, 0, sizeof *m);
	for (size_t k = 0; k < nc; k++)
		if (!up[c[k].p] && !uq[c[k].q]) {
			up[c[k].p] = uq[c[k].q] = 1;
			m->tp++;
		}
	m->pred = np;
	m->ref = nq;
	finish(m);
	free(up);
	free(uq);
	free(c);
}

/* Squared distance transform of one line (Felzenszwalb and Huttenlocher,
 * 2012): d[q] = min over p of (q - p)^2 + f[p], the lower envelope of
 * parabolas. v (n) holds the envelope's parabolas, z (n + 1) their bounds. */
static void edt_line(const double *f, int n, double *d, int *v, double *z)
{
	int k = 0;
	v[0] = 0;
	z[0] = -INFINITY;
	z[1] = INFINITY;
	for (int q = 1; q < n; q++) {
		double s = ((f[q] + (double)q * q) - (f[v[k]] + (double)v[k] * v[k])) / (2.0 * (q - v[k]));
		while (s <= z[k]) {
			k--;
			s = ((f[q] + (double)q * q) - (f[v[k]] + (double)v[k] * v[k])) / (2.0 * (q - v[k]));
		}
		k++;
		v[k] = q;
		z[k] = s;
		z[k + 1] = INFINITY;
	}
	k = 0;
	for (int q = 0; q < n; q++) {
		while (z[k + 1] < q)
			k++;
		d[q] = (double)(q - v[k]) * (q - v[k]) + f[v[k]];
	}
}

struct crown {
	float d;
	int x, y;
};

static int by_depth(const void *a, const void *b)
{
	const struct crown *p = a, *q = b;
	if (p->d != q->d)
		return p->d < q->d ? 1 : -1;
	return p->y != q->y ? (p->y > q->y) - (p->y < q->y) : (p->x > q->x) - (p->x < q->x);
}

void ls_distance(const uint8_t *cls_raster, int w, int h, int cls, float *d)
{
	int m = w > h ? w : h;
	double *f = ls_xmalloc((size_t)m * sizeof *f), *g = ls_xmalloc((size_t)m * sizeof *g);
	double *z = ls_xmalloc(((size_t)m + 1) * sizeof *z);
	int *v = ls_xmalloc((size_t)m * sizeof *v);
	const double far = (double)w * w + (double)h * h + 1;	/* beyond any squared distance */
	for (int c = 0; c < w; c++) {	/* columns, then rows: the 2-D squared distance */
		for (int r = 0; r < h; r++)
			f[r] = cls_raster[(size_t)r * w + c] == cls ? far : 0;
		edt_line(f, h, g, v, z);
		for (int r = 0; r < h; r++)
			d[(size_t)r * w + c] = (float)g[r];
	}
	for (int r = 0; r < h; r++) {
		for (int c = 0; c < w; c++)
			f[c] = d[(size_t)r * w + c];
		edt_line(f, w, g, v, z);
		for (int c = 0; c < w; c++)
			d[(size_t)r * w + c] = (float)g[c];
	}
	for (int r = 0; r < h; r++)
		for (int c = 0; c < w; c++) {
			size_t i = (size_t)r * w + c;
			int e = r + 1 < h - r ? r + 1 : h - r, e2 = c + 1 < w - c ? c + 1 : w - c;
			float dv = sqrtf(d[i]), edge = (float)(e < e2 ? e : e2);
			d[i] = cls_raster[i] == cls ? (dv < edge ? dv : edge) : 0;
		}
	free(v);
	free(z);
	free(g);
	free(f);
}

long ls_crown_centres(const uint8_t *cls_raster, int w, int h, int cls, double r_min, double **x, double **y)
{
	size_t n = (size_t)w * h;
	float *d = ls_xmalloc(n * sizeof *d), dmax = 0;
	ls_distance(cls_raster, w, h, cls, d);
	for (size_t i = 0; i < n; i++)
		dmax = d[i] > dmax ? d[i] : dmax;
	/* candidates: local maxima (3 x 3) at least r_min deep */
	size_t cap = 64, nc = 0;
	struct crown *cand = ls_xmalloc(cap * sizeof *cand);
	for (int r = 0; r < h; r++)
		for (int c = 0; c < w; c++) {
			float dv = d[(size_t)r * w + c];
			if (dv < r_min || dv <= 0)
				continue;
			int peak = 1;
			for (int dy = -1; dy <= 1 && peak; dy++)
				for (int dx = -1; dx <= 1; dx++) {
					int yy = r + dy, xx = c + dx;
					if (yy >= 0 && yy < h && xx >= 0 && xx < w && d[(size_t)yy * w + xx] > dv) {
						peak = 0;
						break;
					}
				}
			if (!peak)
				continue;
			if (nc == cap) {
				cap *= 2;
				cand = ls_xrealloc(cand, cap * sizeof *cand);
			}
			cand[nc++] = (struct crown){ dv, c, r };
		}
	qsort(cand, nc, sizeof *cand, by_depth);
	/* strongest first, a centre is kept when its disc overlaps no kept
	 * one's; kept centres are binned in cells of 2 dmax, so the discs a
	 * candidate can overlap lie in the 3 x 3 cells around it */
	int cell = (int)ceilf(2 * dmax) + 1, gw = w / cell + 1, gh = h / cell + 1;
	long *head = ls_xmalloc((size_t)gw * gh * sizeof *head), *next = ls_xmalloc((nc + 1) * sizeof *next);
	for (size_t i = 0; i < (size_t)gw * gh; i++)
		head[i] = -1;
	long kept = 0;
	struct crown *out = ls_xmalloc((nc + 1) * sizeof *out);
	for (size_t i = 0; i < nc; i++) {
		const struct crown *p = &cand[i];
		int gx = p->x / cell, gy = p->y / cell, ok = 1;
		for (int cy = gy - 1; cy <= gy + 1 && ok; cy++)
			for (int cx = gx - 1; cx <= gx + 1 && ok; cx++) {
				if (cx < 0 || cy < 0 || cx >= gw || cy >= gh)
					continue;
				for (long k = head[(size_t)cy * gw + cx]; k >= 0 && ok; k = next[k]) {
					float ddx = (float)(p->x - out[k].x), ddy = (float)(p->y - out[k].y), s = p->d + out[k].d;
					ok = ddx * ddx + ddy * ddy >= s * s;
				}
			}
		if (!ok)
			continue;
		out[kept] = *p;
		next[kept] = head[(size_t)gy * gw + gx];
		head[(size_t)gy * gw + gx] = kept++;
	}
	*x = ls_xmalloc((kept + 1) * sizeof **x);
	*y = ls_xmalloc((kept + 1) * sizeof **y);
	for (long k = 0; k < kept; k++) {
		(*x)[k] = out[k].x + 0.5;
		(*y)[k] = out[k].y + 0.5;
	}
	free(out);
	free(head);
	free(next);
	free(cand);
	free(d);
	return kept;
}
