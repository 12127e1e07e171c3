/* apls.c - road graphs from polylines, control nodes, snapping, Dijkstra. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "score/apls.h"

#define MERGE_TOL 0.01	/* metres: ends closer than this are one node */

void ls_lines_add(struct ls_lines *l, const double *xy, int npts)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->len = ls_xrealloc(l->len, l->cap * sizeof *l->len);
		l->xy = ls_xrealloc(l->xy, l->cap * sizeof *l->xy);
	}
	l->xy[l->n] = ls_xmalloc(2 * npts * sizeof(double));
	memcpy(l->xy[l->n], xy, 2 * npts * sizeof(double));
	l->len[l->n++] = npts;
}

void ls_lines_free(struct ls_lines *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->xy[i]);
	free(l->len);
	free(l->xy);
	memset(l, 0, sizeof *l);
}

struct edge {
	int a, b, n;	/* ends, points */
	double *xy, len;
};

struct graph {
	int nn, cn, ne, ce;
	double *x, *y;
	struct edge *e;
	int *off, *adj;	/* adjacency (CSR): edges of node i at adj[off[i] .. off[i + 1]) */
};

static double plen(const double *xy, int n)
{
	double s = 0;
	for (int i = 1; i < n; i++)
		s += hypot(xy[2 * i] - xy[2 * i - 2], xy[2 * i + 1] - xy[2 * i - 1]);
	return s;
}

static int add_node(struct graph *g, double x, double y)
{
	if (g->nn == g->cn) {
		g->cn = g->cn ? 2 * g->cn : 64;
		g->x = ls_xrealloc(g->x, g->cn * sizeof *g->x);
		g->y = ls_xrealloc(g->y, g->cn * sizeof *g->y);
	}
	g->x[g->nn] = x, g->y[g->nn] = y;
	return g->nn++;
}

static int node_at(struct graph *g, double x, double y)
{
	for (int i = 0; i < g->nn; i++)
		if (hypot(g->x[i] - x, g->y[i] - y) <= MERGE_TOL)
			return i;
	return add_node(g, x, y);
}

/* An edge from a to b over the n points xy (taken, not copied). */
static void add_edge(struct graph *g, int a, int b, double *xy, int n)
{
	if (g->ne == g->ce) {
		g->ce = g->ce ? 2 * g->ce : 64;
		g->e = ls_xrealloc(g->e, g->ce * sizeof *g->e);
	}
	g->e[g->ne++] = (struct edge){ a, b, n, xy, plen(xy, n) };
}

static void graph_build(struct graph *g, const struct ls_lines *l)
{
	memset(g, 0, sizeof *g);
	for (int i = 0; i < l->n; i++) {
		int n = l->len[i];
		if (n < 2 || !(plen(l->xy[i], n) > 0))
			continue;
		double *xy = ls_xmalloc(2 * n * sizeof *xy);
		memcpy(xy, l->xy[i], 2 * n * sizeof *xy);
		int a = node_at(g, xy[0], xy[1]), b = node_at(g, xy[2 * n - 2], xy[2 * n - 1]);
		add_edge(g, a, b, xy, n);
	}
}

static void graph_free(struct graph *g)
{
	for (int i = 0; i < g->ne; i++)
		free(g->e[i].xy);
	free(g->e), free(g->x), free(g->y), free(g->off), free(g->adj);
}

/* Split edge k at distance d from its start (0 < d < its length): the new
 * node's id. Edge k keeps the first part; the rest is a new edge. */
static int split_edge(struct graph *g, int k, double d)
{
	struct edge e = g->e[k];
	double s = 0, px = e.xy[0], py = e.xy[1];
	int i = 1;
	for (; i < e.n; i++) {
		double l = hypot(e.xy[2 * i] - e.xy[2 * i - 2], e.xy[2 * i + 1] - e.xy[2 * i - 1]);
		if (s + l >= d || i == e.n - 1) {
			double t = l > 0 ? (d - s) / l : 0;
			t = t < 0 ? 0 : t > 1 ? 1 : t;
			px = e.xy[2 * i - 2] + t * (e.xy[2 * i] - e.xy[2 * i - 2]);
			py = e.xy[2 * i - 1] + t * (e.xy[2 * i + 1] - e.xy[2 * i - 1]);
			break;
		}
		s += l;
	}
	/* first part: points 0 .. i-1 and p; second: p and points i .. n-1 */
	double *p1 = ls_xmalloc(2 * (i + 1) * sizeof *p1), *p2 = ls_xmalloc(2 * (e.n - i + 1) * sizeof *p2);
	memcpy(p1, e.xy, 2 * i * sizeof *p1);
	p1[2 * i] = px, p1[2 * i + 1] = py;
	p2[0] = px, p2[1] = py;
	memcpy(p2 + 2, e.xy + 2 * i, 2 * (e.n - i) * sizeof *p2);
	int v = add_node(g, px, py);
	free(e.xy);
	g->e[k] = (struct edge){ e.a, v, i + 1, p1, plen(p1, i + 1) };
	add_edge(g, v, e.b, p2, e.n - i + 1);
	return v;
}

/* Control nodes every `spacing` metres along every edge. */
static void densify(struct graph *g, double spacing)
{
	int ne = g->ne;
	for (int k = 0; k < ne; k++)
		for (int cur = k; g->e[cur].len > spacing * (1 + 1e-9);) {
			split_edge(g, cur, spacing);
			cur = g->ne - 1;
		}
}

/* A node of g at the point of g nearest (x, y), injected when it is not an
 * edge's end; -1 when that point is farther than maxd. */
static int snap_node(struct graph *g, double x, double y, double maxd)
{
	double best = INFINITY, at = 0;
	int bk = -1;
	for (int k = 0; k < g->ne; k++) {
		const struct edge *e = &g->e[k];
		double s = 0;
		for (int i = 1; i < e->n; i++) {
			double ax = e->xy[2 * i - 2], ay = e->xy[2 * i - 1], dx = e->xy[2 * i] - ax, dy = e->xy[2 * i + 1] - ay;
			double l2 = dx * dx + dy * dy, t = l2 > 0 ? ((x - ax) * dx + (y - ay) * dy) / l2 : 0;
			t = t < 0 ? 0 : t > 1 ? 1 : t;
			double d = hypot(ax + t * dx - x, ay + t * dy - y);
			if (d < best)
				best = d, bk = k, at = s + t * sqrt(l2);
			s += sqrt(l2);
		}
	}
	if (bk < 0 || best > maxd)
		return -1;
	if (at <= MERGE_TOL)
		return g->e[bk].a;
	if (at >= g->e[bk].len - MERGE_TOL)
		return g->e[bk].b;
	return split_edge(g, bk, at);
}

static void adjacency(struct graph *g)
{
	g->off = ls_xcalloc(g->nn + 1, sizeof *g->off);
	g->adj = ls_xmalloc((2 * g->ne + 1) * sizeof *g->adj);
	for (int k = 0; k < g->ne; k++)
		g->off[g->e[k].a + 1]++, g->off[g->e[k].b + 1]++;
	for (int i = 0; i < g->nn; i++)
		g->off[i + 1] += g->off[i];
	int *fill = ls_xmalloc((g->nn + 1) * sizeof *fill);
	memcpy(fill, g->off, (g->nn + 1) * sizeof *fill);
	for (int k = 0; k < g->ne; k++)
		g->adj[fill[g->e[k].a]++] = k, g->adj[fill[g->e[k].b]++] = k;
	free(fill);
}

/* Shortest path lengths from src to every node (INFINITY: none). heap holds
 * room for one entry per edge end plus one. */
static void dijkstra(const struct graph *g, int src, double *dist, int *heap, double *key)
{
	int hn = 0;
	for (int i = 0; i < g->nn; i++)
		dist[i] = INFINITY;
	dist[src] = 0;
	heap[hn] = src, key[hn++] = 0;
	while (hn) {
		int u = heap[0];
		double du = key[0];
		hn--;	/* pop: the last entry sifts down from the root */
		int i = 0;
		while (hn) {
			int c = 2 * i + 1;
			if (c >= hn)
				break;
			if (c + 1 < hn && key[c + 1] < key[c])
				c++;
			if (key[c] >= key[hn])
				break;
			heap[i] = heap[c], key[i] = key[c], i = c;
		}
		if (hn)
			heap[i] = heap[hn], key[i] = key[hn];
		if (du > dist[u])
			continue;
		for (int j = g->off[u]; j < g->off[u + 1]; j++) {
			const struct edge *e = &g->e[g->adj[j]];
			int v = e->a == u ? e->b : e->a;
			double dv = du + e->len;
			if (dv < dist[v]) {
				dist[v] = dv;
				int c = hn++;	/* push: sift up */
				while (c && key[(c - 1) / 2] > dv) {
					heap[c] = heap[(c - 1) / 2], key[c] = key[(c - 1) / 2];
					c = (c - 1) / 2;
				}
				heap[c] = v, key[c] = dv;
			}
		}
	}
}

/* One direction: gt's pairs, their paths looked up in prop. */
static double apls_dir(const struct ls_lines *gtl, const struct ls_lines *prl, double spacing, double snap,
		       int max_nodes, long *pairs, int *gn, int *pn)
{
	struct graph g, p;
	graph_build(&g, gtl);
	graph_build(&p, prl);
	densify(&g, spacing);
	densify(&p, spacing);
	int n = g.nn, ns = n < max_nodes ? n : max_nodes;
	int *map = ls_xmalloc((n + 1) * sizeof *map), *src = ls_xmalloc((ns + 1) * sizeof *src);
	for (int i = 0; i < n; i++)
		map[i] = snap_node(&p, g.x[i], g.y[i], snap);
	for (int i = 0; i < ns; i++)
		src[i] = (int)((long)i * n / ns);
	adjacency(&g);
	adjacency(&p);
	int hcap = 2 * (g.ne > p.ne ? g.ne : p.ne) + 2;
	int *heap = ls_xmalloc(hcap * sizeof *heap);
	double *key = ls_xmalloc(hcap * sizeof *key);
	double *dg = ls_xmalloc((g.nn + 1) * sizeof *dg), *dp = ls_xmalloc((p.nn + 1) * sizeof *dp);
	double sum = 0;
	long np = 0;
	for (int a = 0; a < ns; a++) {
		dijkstra(&g, src[a], dg, heap, key);
		int ma = map[src[a]];
		if (ma >= 0)
			dijkstra(&p, ma, dp, heap, key);
		for (int b = a + 1; b < ns; b++) {
			double l1 = dg[src[b]];
			if (!isfinite(l1) || !(l1 > 0))
				continue;
			np++;
			int mb = map[src[b]];
			if (ma < 0 || mb < 0 || !isfinite(dp[mb]))
				continue;	/* scores 0 */
			double d = fabs(l1 - dp[mb]) / l1;
			sum += 1 - (d < 1 ? d : 1);
		}
	}
	*pairs = np;
	*gn = g.nn, *pn = p.nn;
	free(map), free(src), free(heap), free(key), free(dg), free(dp);
	graph_free(&g);
	graph_free(&p);
	return np ? sum / np : NAN;
}

void ls_apls(const struct ls_lines *gt, const struct ls_lines *prop, double spacing, double snap,
	     int max_nodes, struct ls_apls *a)
{
	int gn, pn;
	memset(a, 0, sizeof *a);
	a->gt_to_prop = apls_dir(gt, prop, spacing, snap, max_nodes, &a->pairs_gp, &a->gt_nodes, &pn);
	a->prop_to_gt = apls_dir(prop, gt, spacing, snap, max_nodes, &a->pairs_pg, &a->prop_nodes, &gn);
	double x = a->gt_to_prop, y = a->prop_to_gt;
	if (isnan(x) && isnan(y))
		a->score = NAN;
	else if (isnan(x) || isnan(y) || x <= 0 || y <= 0)
		a->score = 0;
	else
		a->score = 2 * x * y / (x + y);
}
