/* test_roads.c - road centrelines on masks whose skeletons are known by
 * hand: a straight road, an L, a crossing, a spur, a ring. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "geo/centreline.h"

enum { W = 160, H = 120 };
static uint8_t m[W * H];

static void rect(int x0, int y0, int x1, int y1)
{
	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++)
			m[y * W + x] = 1;
}

static double len(const struct ls_polyline *l)
{
	double s = 0;
	for (int i = 1; i < l->n; i++)
		s += hypot(l->x[i] - l->x[i - 1], l->y[i] - l->y[i - 1]);
	return s;
}

static void test_straight(void)
{
	struct ls_polyline *l;
	memset(m, 0, sizeof m);
	rect(20, 50, 140, 57);	/* 120 x 7, centre row 53 */
	long n = ls_centrelines(m, W, H, 10, &l);
	double worst = 0;
	for (int i = 0; n == 1 && i < l[0].n; i++)
		worst = fmax(worst, fabs(l[0].y[i] - 53.5));
	CHECK(n == 1 && len(&l[0]) > 110 && len(&l[0]) <= 120 && worst <= 1 && fabs(l[0].width - 7) <= 1,
	      "a straight road 120 x 7 px: one line of %.1f px (110-120) on the centre row (%.1f off), width %.2f",
	      n ? len(&l[0]) : 0, worst, n ? l[0].width : 0);
	ls_polylines_free(l, n);
}

static void test_l(void)
{
	struct ls_polyline *l;
	memset(m, 0, sizeof m);
	rect(20, 20, 26, 100);	/* down, then right */
	rect(20, 94, 140, 100);
	long n = ls_centrelines(m, W, H, 10, &l);
	CHECK(n == 1 && len(&l[0]) > 180, "an L-shaped road: one line round the corner (%ld lines, %.1f px)", n,
	      n ? len(&l[0]) : 0);
	ls_polylines_free(l, n);
}

static void test_cross(void)
{
	struct ls_polyline *l;
	memset(m, 0, sizeof m);
	rect(10, 57, 150, 64);	/* a crossing of two roads 7 px wide */
	rect(77, 5, 84, 115);
	long n = ls_centrelines(m, W, H, 10, &l);
	double total = 0, shortest = 1e9;
	for (long i = 0; i < n; i++) {
		total += len(&l[i]);
		shortest = fmin(shortest, len(&l[i]));
	}
	CHECK(n == 4 && total > 220 && shortest > 40, "a crossing: four lines from one junction (%ld lines, %.1f px in all, the shortest %.1f)", n,
	      total, shortest);
	ls_polylines_free(l, n);
}

static void test_spur(void)
{
	struct ls_polyline *l, *l2;
	memset(m, 0, sizeof m);
	rect(20, 50, 140, 57);
	rect(38, 45, 41, 50);	/* a bump 3 px wide, 5 px above the road */
	rect(80, 57, 82, 100);	/* and a real branch, 43 px long, 2 px wide, between arms of 56 */
	long n = ls_centrelines(m, W, H, 15, &l);
	long n2 = ls_centrelines(m, W, H, 50, &l2);
	CHECK(n == 3 && n2 == 1 && len(&l2[0]) > 110, "spurs: the bump's is dropped (3 lines: the road in two and the branch, got %ld); "
	      "with spurs up to 50 px the branch too, the road one line again (got %ld, %.1f px)", n, n2, n2 ? len(&l2[0]) : 0);
	ls_polylines_free(l, n);
	ls_polylines_free(l2, n2);
}

static void test_ring(void)
{
	struct ls_polyline *l;
	memset(m, 0, sizeof m);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			double r = hypot(x + 0.5 - 80, y + 0.5 - 60);
			m[y * W + x] = r >= 30 && r < 36;
		}
	long n = ls_centrelines(m, W, H, 10, &l);
	int closed = n == 1 && l[0].x[0] == l[0].x[l[0].n - 1] && l[0].y[0] == l[0].y[l[0].n - 1];
	CHECK(closed && fabs(len(&l[0]) - 2 * M_PI * 33) < 15, "a ring road: one closed line of %.1f px (2 pi 33 = %.1f)",
	      n ? len(&l[0]) : 0, 2 * M_PI * 33);
	ls_polylines_free(l, n);
}

int main(void)
{
	test_straight();
	test_l();
	test_cross();
	test_spur();
	test_ring();
	return check_failed != 0;
}
