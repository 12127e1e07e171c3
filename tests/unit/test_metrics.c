/* Metrics: object matching against a straightforward all-pairs reference,
 * connected components, point matching, and scale (10 000 objects). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "score/metrics.h"
#include "base/rng.h"

/* All pairs: IoU of every (pred, ref) pair by scanning the pixels. */
static void all_pairs(const int32_t *p, int32_t np, const int32_t *r, int32_t nr, size_t n, double t, struct ls_match *m)
{
	double *iou = calloc((size_t)np * nr, sizeof *iou);
	long *ap = calloc(np + 1, sizeof *ap), *ar = calloc(nr + 1, sizeof *ar);
	for (size_t i = 0; i < n; i++) {
		ap[p[i]]++;
		ar[r[i]]++;
	}
	for (int32_t a = 1; a <= np; a++)
		for (int32_t b = 1; b <= nr; b++) {
			long inter = 0;
			for (size_t i = 0; i < n; i++)
				inter += p[i] == a && r[i] == b;
			iou[(size_t)(a - 1) * nr + b - 1] = inter ? (double)inter / (ap[a] + ar[b] - inter) : 0;
		}
	uint8_t *up = calloc(np + 1, 1), *ur = calloc(nr + 1, 1);
	long tp = 0;
	for (;;) {	/* repeatedly take the best remaining pair */
		double best = -1;
		int32_t ba = 0, bb = 0;
		for (int32_t a = 1; a <= np; a++)
			for (int32_t b = 1; b <= nr; b++)
				if (!up[a] && !ur[b] && iou[(size_t)(a - 1) * nr + b - 1] > best) {
					best = iou[(size_t)(a - 1) * nr + b - 1];
					ba = a;
					bb = b;
				}
		if (best < t)
			break;
		up[ba] = ur[bb] = 1;
		tp++;
	}
	m->tp = tp;
	m->pred = np;
	m->ref = nr;
	free(iou);
	free(ap);
	free(ar);
	free(up);
	free(ur);
}

static void blobs(uint8_t *c, int w, int h, int n, struct ls_rng *g)
{
	memset(c, 0, (size_t)w * h);
	for (int k = 0; k < n; k++) {
		int x0 = (int)(ls_rng_u64(g) % w), y0 = (int)(ls_rng_u64(g) % h), bw = 2 + (int)(ls_rng_u64(g) % 9),
		    bh = 2 + (int)(ls_rng_u64(g) % 9);
		for (int y = y0; y < y0 + bh && y < h; y++)
			for (int x = x0; x < x0 + bw && x < w; x++)
				c[(size_t)y * w + x] = 1;
	}
}

/* Brute-force distance: to the nearest pixel not of class 1, or past the edge. */
static float brute_distance(const uint8_t *c, int w, int h, int x, int y)
{
	if (!c[(size_t)y * w + x])
		return 0;
	int e = x + 1, best2;
	e = w - x < e ? w - x : e;
	e = y + 1 < e ? y + 1 : e;
	e = h - y < e ? h - y : e;
	best2 = e * e;
	for (int yy = 0; yy < h; yy++)
		for (int xx = 0; xx < w; xx++)
			if (!c[(size_t)yy * w + xx] && (xx - x) * (xx - x) + (yy - y) * (yy - y) < best2)
				best2 = (xx - x) * (xx - x) + (yy - y) * (yy - y);
	return sqrtf((float)best2);
}

static void disc(uint8_t *c, int w, int h, double cx, double cy, double r)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			if ((x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) <= r * r)
				c[(size_t)y * w + x] = 1;
}

/* Crown centres of c, and whether each of the wanted centres has one within tol. */
static long crowns(const uint8_t *c, int w, int h, double r_min, const double *wx, const double *wy, int nw, double tol,
		   int *all_found)
{
	double *x, *y;
	long n = ls_crown_centres(c, w, h, 1, r_min, &x, &y);
	*all_found = 1;
	for (int k = 0; k < nw; k++) {
		int hit = 0;
		for (long i = 0; i < n; i++)
			hit |= hypot(x[i] - wx[k], y[i] - wy[k]) <= tol;
		*all_found &= hit;
	}
	free(x);
	free(y);
	return n;
}

int main(void)
{
	struct ls_rng g;
	ls_rng_seed(&g, 3);
	int w = 120, h = 100, bad = 0;
	size_t n = (size_t)w * h;
	uint8_t *a = malloc(n), *b = malloc(n);
	int32_t *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
	for (int trial = 0; trial < 20; trial++) {
		blobs(a, w, h, 40, &g);
		memcpy(b, a, n);
		for (size_t i = 0; i < n; i++)	/* the reference: the prediction moved and a little noisy */
			b[i] = (i % w) >= 2 && a[i - 2] && ls_rng_uniform(&g) > 0.05;
		int32_t np = ls_components(a, w, h, 1, 0, pa), nr = ls_components(b, w, h, 1, 0, pb);
		struct ls_match fast, slow;
		ls_match_objects(pa, np, pb, nr, n, 0.5, &fast);
		all_pairs(pa, np, pb, nr, n, 0.5, &slow);
		if (fast.tp != slow.tp || fast.pred != slow.pred || fast.ref != slow.ref)
			bad++;
	}
	CHECK(bad == 0, "object matching equals the all-pairs reference on 20 random scenes (%d differ)", bad);

	uint8_t ring[25] = { 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1 };
	int32_t ids[25];
	CHECK(ls_components(ring, 5, 5, 1, 0, ids) == 2, "a ring and its centre are two 4-connected components");
	uint8_t diag[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
	int32_t d9[9];
	CHECK(ls_components(diag, 3, 3, 1, 0, d9) == 3 && ls_components(diag, 3, 3, 1, 1, d9) == 1,
	      "a diagonal is three 4-connected components and one 8-connected");

	double px[3] = { 0, 10, 20 }, py[3] = { 0, 0, 0 }, qx[3] = { 1, 10.5, 40 }, qy[3] = { 0, 2, 0 };
	struct ls_match pm;
	ls_match_points(px, py, 3, qx, qy, 3, 3, &pm);
	CHECK(pm.tp == 2 && fabs(pm.precision - 2.0 / 3) < 1e-12, "points within 3 m matched one to one (2 of 3)");

	/* the distance transform is exact: random blobs of 60 x 50, every pixel
	 * against the brute-force distance */
	{
		int dw = 60, dh = 50, worst = 0;
		uint8_t *c = malloc((size_t)dw * dh);
		float *d = malloc((size_t)dw * dh * sizeof *d);
		double err = 0;
		for (int trial = 0; trial < 5; trial++) {
			blobs(c, dw, dh, 25, &g);
			ls_distance(c, dw, dh, 1, d);
			for (int y = 0; y < dh; y++)
				for (int x = 0; x < dw; x++) {
					double e = fabs(d[(size_t)y * dw + x] - brute_distance(c, dw, dh, x, y));
					err = e > err ? e : err;
					worst += e > 1e-4;
				}
		}
		CHECK(worst == 0, "distance transform equals brute force on 5 random scenes (worst error %.2g px)", err);
		memset(c, 1, (size_t)dw * dh);
		ls_distance(c, dw, dh, 1, d);
		CHECK(d[0] == 1 && d[(size_t)25 * dw + 30] == 25, "a raster all of the class: distance to its edge (%g, %g)", d[0],
		      d[(size_t)25 * dw + 30]);
		free(c);
		free(d);
	}
	/* crown centres: two round crowns, a row of three touching ones, a crown
	 * cut by the edge, a sliver below the minimum radius */
	{
		int cw = 80, chh = 60, found;
		uint8_t *c = calloc((size_t)cw * chh, 1);
		disc(c, cw, chh, 15, 15, 7);
		disc(c, cw, chh, 50, 20, 4);
		double tx[2] = { 15, 50 }, ty[2] = { 15, 20 };
		long nc = crowns(c, cw, chh, 2, tx, ty, 2, 1.0, &found);
		CHECK(nc == 2 && found, "two round crowns: two centres, each within 1 px of its crown's (%ld)", nc);
		memset(c, 0, (size_t)cw * chh);
		for (int k = 0; k < 3; k++)
			disc(c, cw, chh, 15 + 10 * k, 30, 5);
		double rx[3] = { 15, 25, 35 }, ry[3] = { 30, 30, 30 };
		nc = crowns(c, cw, chh, 2, rx, ry, 3, 1.5, &found);
		CHECK(nc == 3 && found, "a row of three touching crowns: three centres (%ld)", nc);
		memset(c, 0, (size_t)cw * chh);
		disc(c, cw, chh, 0, 30, 8);	/* half a crown, cut by the left edge */
		for (int x = 40; x < 70; x++)	/* a sliver 2 px wide */
			c[(size_t)50 * cw + x] = c[(size_t)51 * cw + x] = 1;
		nc = crowns(c, cw, chh, 2, NULL, NULL, 0, 0, &found);
		CHECK(nc == 1, "a crown cut by the edge gives one centre, a 2-px sliver none (%ld)", nc);
		free(c);
	}

	/* scale: 10 000 objects each side */
	int W = 2000, H = 2000;
	size_t N = (size_t)W * H;
	uint8_t *sa = calloc(N, 1), *sb = calloc(N, 1);
	int32_t *ia = malloc(N * sizeof *ia), *ib = malloc(N * sizeof *ib);
	for (int k = 0; k < 10000; k++) {
		int x0 = (k % 100) * 20, y0 = (k / 100) * 20;
		for (int y = y0; y < y0 + 8; y++)
			for (int x = x0; x < x0 + 8; x++) {
				sa[(size_t)y * W + x] = 1;
				sb[(size_t)y * W + x + (k % 3)] = 1;
			}
	}
	clock_t t0 = clock();
	int32_t na = ls_components(sa, W, H, 1, 0, ia), nb = ls_components(sb, W, H, 1, 0, ib);
	struct ls_match big;
	ls_match_objects(ia, na, ib, nb, N, 0.5, &big);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	/* shift 0: IoU 1, shift 1: 56/72 = 0.78, shift 2: 48/80 = 0.6 -> all match */
	CHECK(na == 10000 && nb == 10000 && big.tp == 10000 && secs < 5,
	      "10 000 objects matched in %.2f s (%ld matches)", secs, big.tp);
	free(sa);
	free(sb);
	free(ia);
	free(ib);
	free(a);
	free(b);
	free(pa);
	free(pb);
	return check_failed != 0;
}
