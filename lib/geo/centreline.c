#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "geo/centreline.h"

/* The 8 neighbours in ring order from north, clockwise: P2..P9 of Zhang and
 * Suen. */
static const int DX[8] = { 0, 1, 1, 1, 0, -1, -1, -1 }, DY[8] = { -1, -1, 0, 1, 1, 1, 0, -1 };

static void ring(const uint8_t *m, int w, int h, int x, int y, int *p)
{
	for (int k = 0; k < 8; k++) {
		int u = x + DX[k], v = y + DY[k];
		p[k] = u >= 0 && v >= 0 && u < w && v < h && m[(size_t)v * w + u];
	}
}

/* How many 8-connected groups the set neighbours of a pixel form among
 * themselves: consecutive ring positions touch, and so do two edge
 * neighbours around a corner (north and east). */
static int groups(const int *p)
{
	int par[8], n = 0;
	for (int k = 0; k < 8; k++)
		par[k] = k;
	for (int k = 0; k < 8; k++) {
		if (!p[k])
			continue;
		int link[2] = { (k + 1) & 7, (k + 2) & 7 };
		for (int j = 0; j < (k % 2 ? 1 : 2); j++)	/* corners touch their two edges only */
			if (p[link[j]]) {
				int a = k, b = link[j];
				while (par[a] != a)
					a = par[a];
				while (par[b] != b)
					b = par[b];
				par[a] = b;
			}
	}
	for (int k = 0; k < 8; k++)
		n += p[k] && par[k] == k;
	return n;
}

void ls_thin(uint8_t *m, int w, int h)
{
	size_t cap = 1024, nd;
	size_t *del = ls_xmalloc(cap * sizeof *del);
	int changed = 1, p[8];
	while (changed) {	/* Zhang and Suen: two sub-iterations until nothing changes */
		changed = 0;
		for (int it = 0; it < 2; it++) {
			nd = 0;
			for (int y = 0; y < h; y++)
				for (int x = 0; x < w; x++) {
					if (!m[(size_t)y * w + x])
						continue;
					ring(m, w, h, x, y, p);
					int b = 0, a = 0;
					for (int k = 0; k < 8; k++) {
						b += p[k];
						a += !p[k] && p[(k + 1) & 7];
					}
					if (b < 2 || b > 6 || a != 1)
						continue;
					if (it == 0 ? (p[0] && p[2] && p[4]) || (p[2] && p[4] && p[6])
						    : (p[0] && p[2] && p[6]) || (p[0] && p[4] && p[6]))
						continue;
					if (nd == cap)
						del = ls_xrealloc(del, (cap *= 2) * sizeof *del);
					del[nd++] = (size_t)y * w + x;
				}
			for (size_t i = 0; i < nd; i++)
				m[del[i]] = 0;
			changed |= nd > 0;
		}
	}
	free(del);
	/* then every pixel that is no end and whose neighbours stay one group
	 * without it (the inner pixel of a staircase, a corner of a 2 x 2 block) */
	for (changed = 1; changed;) {
		changed = 0;
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				if (!m[(size_t)y * w + x])
					continue;
				ring(m, w, h, x, y, p);
				int b = 0;
				for (int k = 0; k < 8; k++)
					b += p[k];
				if (b >= 2 && b <= 6 && groups(p) == 1) {
					m[(size_t)y * w + x] = 0;
					changed = 1;
				}
			}
	}
}

static int degree(const uint8_t *s, int w, int h, int x, int y)
{
	int p[8], d = 0;
	ring(s, w, h, x, y, p);
	for (int k = 0; k < 8; k++)
		d += p[k];
	return d;
}

/* The road's width at skeleton pixel (x, y): twice the distance to the
 * nearest pixel not road, less one (a road one pixel wide is 1); pixels
 * outside the raster count as road. */
static double width_at(const uint8_t *mask, int w, int h, int x, int y)
{
	double best = 1e30;
	for (int r = 1; r <= 128 && r < best; r++)
		for (int v = y - r; v <= y + r; v++)
			for (int u = x - r; u <= x + r; u += (v == y - r || v == y + r) ? 1 : 2 * r) {
				if (u < 0 || v < 0 || u >= w || v >= h || mask[(size_t)v * w + u])
					continue;
				double d = hypot(u - x, v - y);
				if (d < best)
					best = d;
			}
	return best > 1e29 ? 257 : 2 * best - 1;
}

struct graph {
	const uint8_t *mask;
	uint8_t *s;	/* the skeleton: 1 pixel, 0 not */
	uint8_t *seen;	/* chain pixels traced */
	int32_t *node;	/* node cluster of a node pixel (1..), 0 a chain pixel */
	int w, h;
	struct ls_polyline *l;
	int *from, *to;	/* node clusters at the ends; 0 a loop */
	long n, cap;
};

static void add_point(struct ls_polyline *l, int *cap, int x, int y)
{
	if (l->n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		l->x = ls_xrealloc(l->x, *cap * sizeof *l->x);
		l->y = ls_xrealloc(l->y, *cap * sizeof *l->y);
	}
	l->x[l->n] = x + 0.5;
	l->y[l->n++] = y + 0.5;
}

/* Follow the chain from node pixel (x, y) through its neighbour k to the
 * next node (or, for a loop, back to the start). */
static void trace(struct graph *g, int x, int y, int k, int loop)
{
	struct ls_polyline l = { 0 };
	int cap = 0, px = x, py = y, cx = x + DX[k], cy = y + DY[k];
	double wsum = 0;
	int nw = 0;
	add_point(&l, &cap, x, y);
	for (;;) {
		size_t c = (size_t)cy * g->w + cx;
		add_point(&l, &cap, cx, cy);
		if (g->node[c] || (loop && cx == x && cy == y))
			break;
		g->seen[c] = 1;
		wsum += width_at(g->mask, g->w, g->h, cx, cy);
		nw++;
		int nx = -1, ny = -1;
		for (int j = 0; j < 8; j++) {	/* the chain's next pixel: a node first, else one not yet traced */
			int u = cx + DX[j], v = cy + DY[j];
			if (u < 0 || v < 0 || u >= g->w || v >= g->h || (u == px && v == py) || !g->s[(size_t)v * g->w + u])
				continue;
			size_t q = (size_t)v * g->w + u;
			if ((g->node[q] && !(l.n == 2 && g->node[q] == g->node[(size_t)y * g->w + x] && !loop)) ||
			    (loop && u == x && v == y && l.n > 3)) {
				nx = u, ny = v;
				break;
			}
			if (!g->seen[q] && nx < 0)
				nx = u, ny = v;
		}
		if (nx < 0)
			break;
		px = cx, py = cy, cx = nx, cy = ny;
	}
	l.width = nw ? wsum / nw : width_at(g->mask, g->w, g->h, x, y);
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->l = ls_xrealloc(g->l, g->cap * sizeof *g->l);
		g->from = ls_xrealloc(g->from, g->cap * sizeof *g->from);
		g->to = ls_xrealloc(g->to, g->cap * sizeof *g->to);
	}
	size_t e = (size_t)(int)l.y[l.n - 1] * g->w + (int)l.x[l.n - 1];
	g->from[g->n] = loop ? 0 : g->node[(size_t)y * g->w + x];
	g->to[g->n] = loop ? 0 : g->node[e];
	g->l[g->n++] = l;
}

static long find_root(int32_t *p, long a)
{
	while (p[a] != a)
		a = p[a] = p[p[a]];
	return a;
}

/* Nodes (clusters of touching pixels of other than two neighbours) and the
 * edges between them. Returns the number of clusters. */
static long build(struct graph *g)
{
	size_t np = (size_t)g->w * g->h;
	long nc = 0, cap = 1024;
	int32_t *par = ls_xmalloc(cap * sizeof *par);
	memset(g->node, 0, np * sizeof *g->node);
	memset(g->seen, 0, np);
	g->n = 0;
	par[0] = 0;
	for (int y = 0; y < g->h; y++)	/* node pixels, clustered by 8-connectivity */
		for (int x = 0; x < g->w; x++) {
			size_t i = (size_t)y * g->w + x;
			if (!g->s[i] || degree(g->s, g->w, g->h, x, y) == 2)
				continue;
			if (++nc == cap)
				par = ls_xrealloc(par, (cap *= 2) * sizeof *par);
			par[nc] = (int32_t)nc;
			g->node[i] = (int32_t)nc;
			for (int k = 4; k < 8; k++) {	/* the neighbours already visited: W, NW, N, NE */
				int u = x + DX[k], v = y + DY[k];
				if (u < 0 || v < 0 || u >= g->w)
					continue;
				int32_t o = g->node[(size_t)v * g->w + u];
				if (o)
					par[find_root(par, nc)] = (int32_t)find_root(par, o);
			}
			int u = x + 1, v = y - 1;	/* NE */
			if (u < g->w && v >= 0 && g->node[(size_t)v * g->w + u])
				par[find_root(par, nc)] = (int32_t)find_root(par, g->node[(size_t)v * g->w + u]);
		}
	for (size_t i = 0; i < np; i++)
		if (g->node[i])
			g->node[i] = (int32_t)find_root(par, g->node[i]);
	free(par);
	for (int y = 0; y < g->h; y++)	/* edges from every node pixel into chains */
		for (int x = 0; x < g->w; x++) {
			size_t i = (size_t)y * g->w + x;
			if (!g->node[i])
				continue;
			for (int k = 0; k < 8; k++) {
				int u = x + DX[k], v = y + DY[k];
				if (u < 0 || v < 0 || u >= g->w || v >= g->h)
					continue;
				size_t q = (size_t)v * g->w + u;
				if (g->s[q] && !g->node[q] && !g->seen[q])	/* touching node pixels are one cluster */
					trace(g, x, y, k, 0);
			}
		}
	for (int y = 0; y < g->h; y++)	/* loops without a node */
		for (int x = 0; x < g->w; x++) {
			size_t i = (size_t)y * g->w + x;
			if (g->s[i] && !g->node[i] && !g->seen[i]) {
				g->seen[i] = 1;
				for (int k = 0; k < 8; k++) {
					int u = x + DX[k], v = y + DY[k];
					if (u >= 0 && v >= 0 && u < g->w && v < g->h && g->s[(size_t)v * g->w + u]) {
						trace(g, x, y, k, 1);
						break;
					}
				}
			}
		}
	return nc;
}

/* Remove edge e's pixels from the skeleton, but for its first or last. */
static void drop(struct graph *g, long e, int keep_first, int keep_last)
{
	const struct ls_polyline *l = &g->l[e];
	for (int i = 0; i < l->n; i++)
		if (!(i == 0 && keep_first) && !(i == l->n - 1 && keep_last))
			g->s[(size_t)(int)l->y[i] * g->w + (int)l->x[i]] = 0;
}

static double length_of(const struct ls_polyline *l)
{
	double s = 0;
	for (int i = 1; i < l->n; i++)
		s += hypot(l->x[i] - l->x[i - 1], l->y[i] - l->y[i - 1]);
	return s;
}

void ls_polylines_free(struct ls_polyline *l, long n)
{
	for (long i = 0; i < n; i++) {
		free(l[i].x);
		free(l[i].y);
	}
	free(l);
}

long ls_centrelines(const uint8_t *mask, int w, int h, double spur, struct ls_polyline **out)
{
	size_t np = (size_t)w * h;
	struct graph g = { mask, ls_xmalloc(np), ls_xmalloc(np), ls_xmalloc(np * sizeof(int32_t)), w, h, NULL, NULL,
			   NULL, 0, 0 };
	for (size_t i = 0; i < np; i++)
		g.s[i] = mask[i] != 0;
	ls_thin(g.s, w, h);
	for (int round = 0; round < 8; round++) {
		long nc = build(&g);
		int *deg = ls_xcalloc((size_t)nc + 1, sizeof *deg), removed = 0;
		for (long e = 0; e < g.n; e++) {
			deg[g.from[e]]++;
			deg[g.to[e]]++;
		}
		/* spurs: an edge from an end to a junction shorter than spur, the
		 * shortest at each junction in a round (two short arms of one
		 * junction are a road's two ends, not two spurs); a short piece
		 * alone (end to end) goes whole */
		long *best = ls_xmalloc(((size_t)nc + 1) * sizeof *best);
		for (long c = 0; c <= nc; c++)
			best[c] = -1;
		for (long e = 0; e < g.n; e++) {
			int a = g.from[e], b = g.to[e];
			double le = length_of(&g.l[e]);
			if (!a || le >= spur || (deg[a] != 1 && deg[b] != 1))
				continue;
			if (deg[a] == 1 && deg[b] == 1) {
				drop(&g, e, 0, 0);
				removed = 1;
				continue;
			}
			int j = deg[a] == 1 ? b : a;
			if (deg[j] >= 3 && (best[j] < 0 || le < length_of(&g.l[best[j]])))
				best[j] = e;
		}
		for (long c = 1; c <= nc; c++)
			if (best[c] >= 0) {
				long e = best[c];
				drop(&g, e, g.from[e] == c, g.to[e] == c);
				removed = 1;
			}
		free(best);
		free(deg);
		if (!removed || round == 7)
			break;
		ls_polylines_free(g.l, g.n);
		free(g.from);
		free(g.to);
		g.l = NULL, g.from = g.to = NULL, g.cap = 0;
		ls_thin(g.s, w, h);	/* a junction left behind may hold a staircase */
	}
	free(g.s);
	free(g.seen);
	free(g.node);
	free(g.from);
	free(g.to);
	*out = g.l;
	return g.n;
}
