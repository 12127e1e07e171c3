/* stitch - tile frames back into a GeoTIFF on their source grid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/outpath.h"
#include "stream/frame.h"
#include "geo/mosaic.h"
#include "base/opt.h"
#include "geo/raster.h"

static const char *compress = "DEFLATE";
static int cog;
static double nodata = 0;
static int has_nodata, label, class_index, round_bits, level;
static struct ls_strlist metadata;
static struct ls_decision decision;

static int cb_nodata(void *ctx, const char *v)
{
	char *end;
	nodata = strtod(v, &end);
	has_nodata = 1;
	return *end || end == v ? ls_err("'%s' is not a number", v) : 0;
}

static const struct ls_opt opts[] = {
	{ "compress", LS_OPT_STR, &compress, "ALG", "GeoTIFF compression: DEFLATE, LZW, ZSTD, NONE" },
	{ "level", LS_OPT_INT, &level, "N", "compression level: DEFLATE 1-9, ZSTD 1-22 (1 is fastest: DEFLATE 1 writes 3x faster than GDAL's default 6, 8% larger); 0: GDAL's default", NULL, 0, 22 },
	{ "cog", LS_OPT_FLAG, &cog, NULL, "write a Cloud Optimized GeoTIFF with overviews" },
	{ "class-index", LS_OPT_FLAG, &class_index, NULL, "probability frames: write the most probable class of the blended probabilities (one byte band, 255 = no data)" },
	{ "class-threshold", LS_OPT_CB, &decision, "C=T", "with --class-index: class C wherever its blended probability reaches T, elsewhere the most probable other class (as evaluate and vectorise --class-threshold; T from share-threshold)", ls_decision_parse },
	{ "label", LS_OPT_FLAG, &label, NULL, "stitch the frames' label plane (u8 classes, 255 = unknown) instead of their data" },
	{ "round-bits", LS_OPT_INT, &round_bits, "N", "float frames: each value rounded to a multiple of 2^-N (probabilities: 12 is a step of 0.00024, and DEFLATE makes the file 10x smaller; the class of --class-index chosen among the rounded values); 0: kept as they are", NULL, 0, 23 },
	{ "nodata", LS_OPT_CB, NULL, "V", "nodata value for pixels no valid tile covers", cb_nodata },
	{ "metadata", LS_OPT_LIST, &metadata, "KEY=VALUE", "a metadata item of the GeoTIFF (gdalinfo shows it)" },
	{ 0 }
};

/* Replace the frame's data by its label plane, unknown pixels masked out. */
static void label_as_data(struct ls_frame *f, struct ls_frame *out)
{
	int64_t shape[3] = { 1, ls_frame_h(f), ls_frame_w(f) };
	size_t hw = (size_t)(shape[1] * shape[2]);
	if (!f->label)
		ls_die(LS_EXIT_DATA, "frame %s has no label plane (tile --labels makes one)", f->key);
	ls_frame_copy_meta(out, f);
	ls_frame_alloc(out, LS_U8, 3, shape);
	memcpy(out->t.data, f->label, hw);
	uint8_t *m = ls_frame_mask(out);
	for (size_t i = 0; i < hw; i++)
		m[i] = f->label[i] != 255;
	ls_strlist_free(&out->bands);
	ls_strlist_push(&out->bands, "class");
	out->has_nodata = 1;
	out->nodata = 255;
}

static const struct ls_cmd cmd = {
	"stitch", "blend tile frames back into a georeferenced GeoTIFF (same grid as the source)",
	"[options] OUT.tif < frames",
	"tile --size 256 --overlap 32 in.tif | normalise-bands --stats s.txt | stitch --cog out.tif", opts
};

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	struct ls_frame f, lf, *use;
	struct ls_mosaic *m = NULL;
	struct ls_mosaic_opts mo = { 0 };
	struct ls_stream_progress sp = { 0 };
	int rc;
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (pos.n < 1 || pos.n > 2)
		ls_die(LS_EXIT_USAGE, "usage: stitch %s", cmd.usage);
	if (!strcmp(pos.v[0], "-"))
		ls_die(LS_EXIT_USAGE, "a GeoTIFF is written to a file, not to stdout: give its name instead of -");
	for (int i = 0; i < metadata.n; i++)
		if (!strchr(metadata.v[i], '=') || metadata.v[i][0] == '=')
			ls_die(LS_EXIT_USAGE, "--metadata wants KEY=VALUE, not '%s'", metadata.v[i]);
	mo.metadata = &metadata;
	mo.compress = compress;
	mo.cog = cog;
	mo.threads = ls_threads;
	mo.round_bits = round_bits;
	mo.level = level;
	if (level > 0 && strcasecmp(compress, "DEFLATE") && strcasecmp(compress, "ZSTD"))
		ls_die(LS_EXIT_USAGE, "--level is for DEFLATE or ZSTD, not --compress %s", compress);
	if (level > 9 && !strcasecmp(compress, "DEFLATE"))
		ls_die(LS_EXIT_USAGE, "--level for DEFLATE is 1 to 9, not %d", level);
	mo.class_index = class_index;
	if (decision.cls && !class_index)
		ls_die(LS_EXIT_USAGE, "--class-threshold decides the class of --class-index: give both");
	mo.decision = decision;
	mo.has_nodata = has_nodata;
	mo.nodata = nodata;
	ls_gdal_init((size_t)32 << 20);
	struct ls_reader *r = ls_reader_open_path(pos.n == 2 ? pos.v[1] : "-");
	ls_frame_init(&f);
	ls_frame_init(&lf);
	while ((rc = ls_reader_next(r, &f)) == 1) {
		use = &f;
		if (label) {
			label_as_data(&f, &lf);
			use = &lf;
		}
		if (!m) {	/* the raster the tiles were cut from, or the stream's file, is no output */
			const char *ins[] = { f.src, pos.n == 2 ? pos.v[1] : NULL };
			if (ls_output_ok(pos.v[0], ins, 2) < 0 || !(m = ls_mosaic_open(pos.v[0], use, &mo)))
				ls_die_err();
		}
		if ((rc = ls_mosaic_add(m, use)) < 0)
			break;
		ls_stream_progress(&sp, &f);
	}
	ls_stream_progress_end(&sp);
	if (rc != 0) {
		ls_mosaic_abort(m);
		ls_die_err();
	}
	if (ls_mosaic_close(m) < 0)
		ls_die_err();
	ls_info("wrote %s", pos.v[0]);
	ls_frame_free(&f);
	ls_frame_free(&lf);
	ls_reader_close(r);
	ls_strlist_free(&pos);
	return 0;
}
