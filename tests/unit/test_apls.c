/* test_apls.c - road scores on small graphs whose values are worked out by
 * hand (docs/methods.md "Road scores"): APLS with control nodes every 50 m
 * and snapping within 4 m; completeness and correctness within 2 m. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <ogr_api.h>

#include "check.h"
#include "score/roads.h"

static void line(struct ls_lines *l, int n, const double *xy)
{
	ls_lines_add(l, xy, n);
}

static void apls_of(const struct ls_lines *g, const struct ls_lines *p, struct ls_apls *a)
{
	ls_apls(g, p, 50, 4, 500, a);
}

static void test_identical(void)
{
	struct ls_lines g = { 0 };
	struct ls_apls a;
	line(&g, 2, (double[]){ 0, 0, 200, 0 });
	line(&g, 3, (double[]){ 200, 0, 200, 80, 260, 80 });
	apls_of(&g, &g, &a);
	CHECK(fabs(a.score - 1) < 1e-12 && a.pairs_gp > 0 && a.gt_nodes == a.prop_nodes,
	      "identical graphs score APLS 1 (%.6f, %ld pairs, %d nodes)", a.score, a.pairs_gp, a.gt_nodes);
	ls_lines_free(&g);
}

/* A 200 m road, the proposal finds its first 100 m. Ground truth nodes at 0,
 * 50, ..., 200: of 10 pairs the 3 among 0, 50, 100 keep their length, the 7
 * others lose a node: 0.3. The proposal's 3 nodes all snap: 1. APLS is
 * their harmonic mean, 0.6 / 1.3. */
static void test_half(void)
{
	struct ls_lines g = { 0 }, p = { 0 };
	struct ls_apls a;
	line(&g, 2, (double[]){ 0, 0, 200, 0 });
	line(&p, 2, (double[]){ 0, 0, 100, 0 });
	apls_of(&g, &p, &a);
	CHECK(fabs(a.gt_to_prop - 0.3) < 1e-9 && fabs(a.prop_to_gt - 1) < 1e-9 && fabs(a.score - 0.6 / 1.3) < 1e-9 &&
		      a.pairs_gp == 10 && a.pairs_pg == 3,
	      "half a road found: %.6f and %.6f (0.3 and 1 by hand), APLS %.6f (0.461538)", a.gt_to_prop,
	      a.prop_to_gt, a.score);
	ls_lines_free(&g);
	ls_lines_free(&p);
}

/* A 100 m square block; the proposal lacks its southern side. Ground truth:
 * 8 nodes round a 400 m ring, 28 pairs; the 7 with the node in the middle of
 * the missing side score 0; of the other 21 (nodes 50 k apart along the
 * remaining 300 m path, 7 - k pairs for each k) the detour costs the pairs
 * 250 m apart (ring distance 150: 1 - 100/150, 2 pairs) and 300 m apart
 * (ring distance 100: 0, 1 pair): (18 + 2/3) / 28. The other way the path
 * lengths are the proposal's: the same pairs score 1 - 100/250 (2) and
 * 1 - 200/300 (1): (18 + 1.2 + 1/3) / 21. */
static void test_detour(void)
{
	struct ls_lines g = { 0 }, p = { 0 };
	struct ls_apls a;
	const double sides[4][4] = { { 0, 0, 100, 0 }, { 100, 0, 100, 100 }, { 100, 100, 0, 100 }, { 0, 100, 0, 0 } };
	for (int i = 0; i < 4; i++) {
		line(&g, 2, sides[i]);
		if (i)
			line(&p, 2, sides[i]);
	}
	apls_of(&g, &p, &a);
	double gp = (18 + 2.0 / 3) / 28, pg = (18 + 1.2 + 1.0 / 3) / 21, want = 2 * gp * pg / (gp + pg);
	CHECK(fabs(a.gt_to_prop - gp) < 1e-9 && fabs(a.prop_to_gt - pg) < 1e-9 && fabs(a.score - want) < 1e-9,
	      "a removed side of a block: %.6f, %.6f, APLS %.6f (by hand %.6f, %.6f, %.6f)", a.gt_to_prop,
	      a.prop_to_gt, a.score, gp, pg, want);
	ls_lines_free(&g);
	ls_lines_free(&p);
}

static OGRGeometryH wkt(const char *s)
{
	OGRGeometryH g = NULL;
	char *p = (char *)s;
	OGR_G_CreateFromWkt(&p, NULL, &g);
	return g;
}

/* A line shifted 1 m keeps completeness, correctness and APLS 1 within a 2 m
 * buffer; shifted 3 m, nothing matches. */
static void test_shift(void)
{
	struct ls_road_score s, t;
	OGRGeometryH ref = wkt("MULTILINESTRING ((0 0,200 0),(200 0,200 100))");
	OGRGeometryH near = wkt("MULTILINESTRING ((0 1,199 1),(199 1,199 100))");
	OGRGeometryH far = wkt("MULTILINESTRING ((0 3,197 3),(197 3,197 100))");
	ls_road_score(ref, near, 2, 50, 4, 500, &s);
	ls_road_score(ref, far, 2, 50, 4, 500, &t);
	CHECK(fabs(s.completeness - 1) < 1e-6 && fabs(s.correctness - 1) < 1e-6 && fabs(s.quality - 1) < 1e-6 &&
		      fabs(s.apls.score - 1) < 0.02,
	      "a line 1 m off: completeness %.4f, correctness %.4f, quality %.4f, APLS %.4f (all 1)", s.completeness,
	      s.correctness, s.quality, s.apls.score);
	CHECK(t.completeness < 0.02 && t.correctness < 0.02 && fabs(t.ref_len - 300) < 1e-9,
	      "a line 3 m off, 2 m buffer: completeness %.4f, correctness %.4f (0), reference %.1f m (300)",
	      t.completeness, t.correctness, t.ref_len);
	OGR_G_DestroyGeometry(ref);
	OGR_G_DestroyGeometry(near);
	OGR_G_DestroyGeometry(far);
}

/* Two 200 m roads crossing in their middles: noding gives four 100 m edges,
 * so a path may turn at the crossing; without it the graph has no junction. */
static void test_crossing(void)
{
	OGRGeometryH x = wkt("MULTILINESTRING ((0 100,200 100),(100 0,100 200))"), n = ls_road_node(x);
	struct ls_lines l = { 0 };
	ls_road_lines(n, &l);
	int ok = l.n == 4;
	for (int i = 0; ok && i < l.n; i++) {
		double len = 0;
		for (int j = 1; j < l.len[i]; j++)
			len += hypot(l.xy[i][2 * j] - l.xy[i][2 * j - 2], l.xy[i][2 * j + 1] - l.xy[i][2 * j - 1]);
		ok = fabs(len - 100) < 1e-9;
	}
	CHECK(ok, "two crossing roads noded into four 100 m lines (%d lines)", l.n);
	/* the crossing matters to APLS: a proposal of the same roads, noded,
	 * against the unnoded reference (no junction) differs */
	struct ls_lines raw = { 0 };
	struct ls_apls a;
	ls_road_lines(x, &raw);
	ls_apls(&l, &l, 50, 4, 500, &a);
	double same = a.score;
	ls_apls(&raw, &l, 50, 4, 500, &a);
	CHECK(fabs(same - 1) < 1e-12 && a.score < 0.99, "noded crossing scores 1 against itself, %.4f against the "
	      "same lines without the junction", a.score);
	ls_lines_free(&l);
	ls_lines_free(&raw);
	OGR_G_DestroyGeometry(x);
	OGR_G_DestroyGeometry(n);
}

static void test_empty(void)
{
	struct ls_lines g = { 0 }, p = { 0 };
	struct ls_apls a;
	line(&g, 2, (double[]){ 0, 0, 200, 0 });
	apls_of(&g, &p, &a);
	double found_nothing = a.score;
	apls_of(&p, &p, &a);
	CHECK(found_nothing == 0 && isnan(a.score), "no proposal scores APLS 0 (%g); two empty graphs cannot be "
	      "compared (%g)", found_nothing, a.score);
	ls_lines_free(&g);
}

int main(void)
{
	GDALAllRegister();
	test_identical();
	test_half();
	test_detour();
	test_shift();
	test_crossing();
	test_empty();
	return check_failed != 0;
}
