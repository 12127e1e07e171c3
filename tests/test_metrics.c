/* Metrics: object matching against a straightforward all-pairs reference,
 * connected components, point matching, and scale (10 000 objects). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "metrics.h"
#include "rng.h"

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
