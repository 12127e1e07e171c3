/* share-threshold - the probability above which a given share of a map's
 * pixels lie: the class threshold (evaluate and vectorise --class-threshold)
 * that calls that share of the map the class, chosen without any label.
 * Or (--expected-iou) the threshold under which the map's own probabilities
 * expect the highest IoU of the class.
 *
 * A model trained on one domain may be calibrated to it: on the target its
 * scores for a class can rank the pixels well yet rarely pass 0.5. Matching
 * the share the class holds in the source labels (or one known from
 * elsewhere) is then a label-free decision. The class band of one or more
 * probability rasters (stitch's output) is read in blocks into a histogram
 * of 2^20 bins over [0, 1]; pixels outside a raster's mask, or NaN, are
 * neither counted nor ranked. The threshold printed is the edge of the bin
 * where the share is first reached from the top, so at least that share of
 * the mapped pixels (and fewer than one bin more) have a probability >= it;
 * it is printed exactly (a multiple of 2^-20), so a float pixel compares
 * with it as the histogram counted it.
 *
 * --expected-iou reads each probability p as the chance that its pixel is
 * the class. Calling the pixels at or above a threshold the class, the
 * expected true positives are the sum of their p, the false positives the
 * sum of their 1 - p, the false negatives the sum of p below; the threshold
 * printed is the bin edge where TP / (TP + FP + FN) of those expectations
 * is highest (the highest such edge on a tie). It is the rule that
 * maximises F1 (the same ranking as IoU) for calibrated probabilities: its
 * threshold is half the F1 it expects (Lipton, Elkan and Narayanaswamy,
 * 2014). A model that under-calls a class on a new scene, its pixels at
 * 0.3-0.5, gets a lower threshold; one whose map is confident keeps 0.5 or
 * so. No label is read. Memory: the histograms (8 MiB each) and one block,
 * whatever the rasters' size. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/opt.h"
#include "base/progress.h"
#include "geo/raster.h"

#define BINS (1 << 20)
#define BLOCK 256

static double share = NAN;	/* this or --expected-iou */
static int cls = 1, expected_iou;

static const struct ls_opt opts[] = {
	{ "share", LS_OPT_DOUBLE, &share, "F", "the share of the mapped pixels to call the class, above 0 and below 1 (e.g. the class's share of the source labels)" },
	{ "expected-iou", LS_OPT_FLAG, &expected_iou, NULL, "instead, the threshold under which the probabilities themselves expect the highest IoU of the class (no label read)" },
	{ "class", LS_OPT_INT, &cls, "C", "the class (band C + 1 of the probability rasters)" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"share-threshold", "the class probability at or above which a given share of the mapped pixels lie (or, --expected-iou, under which the probabilities expect the highest IoU), over one or more probability rasters; printed on stdout",
	"--share F | --expected-iou [--class C] PROBS.tif...",
	"t=$(share-threshold --share 0.05 probs.tif); vectorise --class-threshold 1=$t probs.tif trees.gpkg", opts
};

/* Add the class band of one raster to the histogram. */
static int add_raster(const char *path, uint64_t *hist, double *psum, uint64_t *n)
{
	struct ls_raster r;
	struct ls_raster_opts ro = { 0 };
	struct ls_frame f;
	if (ls_raster_open(&r, path, &ro) < 0)
		return -1;
	int rc = 0;
	if (r.nsel < 2 || r.gtype != GDT_Float32)
		rc = ls_err("%s: not a probability raster (one Float32 band per class, as stitch writes)", path);
	else if (cls >= r.nsel)
		rc = ls_err("%s: holds %d classes, no class %d", path, r.nsel, cls);
	ls_frame_init(&f);
	struct ls_progress prog;
	ls_progress_start(&prog, "ranking", r.h);
	size_t hw = (size_t)BLOCK * BLOCK;
	for (int y0 = 0; !rc && y0 < r.h; y0 += BLOCK) {
		ls_progress_update(&prog, y0);
		for (int x0 = 0; !rc && x0 < r.w; x0 += BLOCK) {
			if (ls_raster_read_tile(&r, x0, y0, BLOCK, &f) < 0) {
				rc = -1;
				break;
			}
			const float *p = (const float *)f.t.data + cls * hw;
			for (size_t i = 0; i < hw; i++) {
				if (!f.mask[i])	/* off the raster, masked, or NaN in some band */
					continue;
				if (!(p[i] >= 0 && p[i] <= 1)) {
					rc = ls_err("%s: pixel (%d, %d) of class %d is %g, not a probability", path,
						    x0 + (int)(i % BLOCK), y0 + (int)(i / BLOCK), cls, p[i]);
					break;
				}
				size_t b = (size_t)((double)p[i] * BINS);
				b = b < BINS ? b : BINS - 1;
				hist[b]++;
				if (psum)
					psum[b] += p[i];
				(*n)++;
			}
		}
	}
	ls_progress_end(&prog);
	ls_frame_free(&f);
	ls_raster_close(&r);
	return rc;
}

/* The bin edge where the share is first reached from the top; *cum gets
 * how many mapped pixels lie at or above it. */
static long share_edge(const uint64_t *hist, uint64_t n, uint64_t *cum)
{
	uint64_t want = (uint64_t)ceil(share * (double)n);
	if (want < 1)
		want = 1;
	long b = BINS - 1;
	*cum = 0;
	for (; b > 0; b--)
		if ((*cum += hist[b]) >= want)
			break;
	if (b == 0)
		*cum += hist[0];
	return b;
}

/* The bin edge where the expected IoU of calling every pixel at or above it
 * the class is highest; *best gets that IoU (0: no pixel has any
 * probability of the class, and the edge is 1: nothing is called). */
static long best_edge(const uint64_t *hist, const double *psum, double *best, uint64_t *called)
{
	double total = 0;
	for (long b = 0; b < BINS; b++)
		total += psum[b];
	double tp = 0;
	uint64_t n = 0;
	long edge = BINS;
	*best = 0;
	*called = 0;
	for (long b = BINS - 1; b >= 0; b--) {
		tp += psum[b];
		n += hist[b];
		double den = (double)n + total - tp;	/* TP + FP + FN */
		if (den > 0 && tp / den > *best) {
			*best = tp / den;
			edge = b;
			*called = n;
		}
	}
	return edge;
}

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (pos.n < 1)
		ls_die(LS_EXIT_USAGE, "usage: share-threshold %s", cmd.usage);
	if (!isnan(share) && expected_iou)
		ls_die(LS_EXIT_USAGE, "give --share F or --expected-iou, not both");
	if (isnan(share) && !expected_iou)
		ls_die(LS_EXIT_USAGE, "give --share F, the share of the mapped pixels to call the class, or --expected-iou");
	if (!expected_iou && !(share > 0 && share < 1))
		ls_die(LS_EXIT_USAGE, "--share must lie above 0 and below 1, not %g", share);
	if (cls < 1 || cls > 254)
		ls_die(LS_EXIT_USAGE, "--class must be 1 to 254, not %d", cls);
	ls_gdal_init((size_t)64 << 20);
	uint64_t *hist = ls_xcalloc(BINS, sizeof *hist), n = 0;
	double *psum = expected_iou ? ls_xcalloc(BINS, sizeof *psum) : NULL;
	for (int i = 0; i < pos.n; i++)
		if (add_raster(pos.v[i], hist, psum, &n) < 0)
			ls_die_err();
	if (!n)
		ls_die(LS_EXIT_DATA, "%s%s: no mapped pixel to rank", pos.v[0], pos.n > 1 ? " and the others" : "");
	long b;
	if (expected_iou) {
		double best;
		uint64_t called;
		b = best_edge(hist, psum, &best, &called);
		if (b == BINS)
			ls_info("no mapped pixel has any probability of class %d: none is called it (threshold 1)", cls);
		else
			ls_info("class %d where its probability is >= %.6f: %llu of %llu mapped pixels (%.4f %%), an expected IoU of %.4f",
				cls, (double)b / BINS, (unsigned long long)called, (unsigned long long)n, 100.0 * called / n, best);
	} else {
		uint64_t cum;
		b = share_edge(hist, n, &cum);
		ls_info("%llu of %llu mapped pixels (%.4f %%, asked %.4f %%) have class %d's probability >= %.6f",
			(unsigned long long)cum, (unsigned long long)n, 100.0 * cum / n, 100 * share, cls, (double)b / BINS);
	}
	printf("%.17g\n", (double)b / BINS);
	ls_flush_stdout();
	free(psum);
	free(hist);
	ls_strlist_free(&pos);
	return 0;
}
