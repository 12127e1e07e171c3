/* share-threshold - the probability above which a given share of a map's
 * pixels lie: the class threshold (evaluate and vectorise --class-threshold)
 * that calls that share of the map the class, chosen without any label.
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
 * with it as the histogram counted it. Memory: the histogram (8 MiB) and
 * one block, whatever the rasters' size. */
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

static double share = NAN;	/* required */
static int cls = 1;

static const struct ls_opt opts[] = {
	{ "share", LS_OPT_DOUBLE, &share, "F", "the share of the mapped pixels to call the class, above 0 and below 1 (e.g. the class's share of the source labels)" },
	{ "class", LS_OPT_INT, &cls, "C", "the class (band C + 1 of the probability rasters)" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"share-threshold", "the class probability at or above which a given share of the mapped pixels lie, over one or more probability rasters; printed on stdout",
	"--share F [--class C] PROBS.tif...",
	"t=$(share-threshold --share 0.05 probs.tif); vectorise --class-threshold 1=$t probs.tif trees.gpkg", opts
};

/* Add the class band of one raster to the histogram. */
static int add_raster(const char *path, uint64_t *hist, uint64_t *n)
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
				hist[b < BINS ? b : BINS - 1]++;
				(*n)++;
			}
		}
	}
	ls_progress_end(&prog);
	ls_frame_free(&f);
	ls_raster_close(&r);
	return rc;
}

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (pos.n < 1)
		ls_die(LS_EXIT_USAGE, "usage: share-threshold %s", cmd.usage);
	if (isnan(share))
		ls_die(LS_EXIT_USAGE, "give --share F, the share of the mapped pixels to call the class");
	if (!(share > 0 && share < 1))
		ls_die(LS_EXIT_USAGE, "--share must lie above 0 and below 1, not %g", share);
	if (cls < 1 || cls > 254)
		ls_die(LS_EXIT_USAGE, "--class must be 1 to 254, not %d", cls);
	ls_gdal_init((size_t)64 << 20);
	uint64_t *hist = ls_xcalloc(BINS, sizeof *hist), n = 0;
	for (int i = 0; i < pos.n; i++)
		if (add_raster(pos.v[i], hist, &n) < 0)
			ls_die_err();
	if (!n)
		ls_die(LS_EXIT_DATA, "%s%s: no mapped pixel to rank", pos.v[0], pos.n > 1 ? " and the others" : "");
	uint64_t want = (uint64_t)ceil(share * (double)n), cum = 0;
	if (want < 1)
		want = 1;
	long b = BINS - 1;
	for (; b > 0; b--)
		if ((cum += hist[b]) >= want)
			break;
	if (b == 0)
		cum += hist[0];
	double t = (double)b / BINS;
	printf("%.17g\n", t);
	ls_flush_stdout();
	ls_info("%llu of %llu mapped pixels (%.4f %%, asked %.4f %%) have class %d's probability >= %.6f",
		(unsigned long long)cum, (unsigned long long)n, 100.0 * cum / n, 100 * share, cls, t);
	free(hist);
	ls_strlist_free(&pos);
	return 0;
}
