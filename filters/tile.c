/* tile - rasters (and labels) in, georeferenced tile frames out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "stream/frame.h"
#include "geo/labels.h"
#include "base/opt.h"
#include "stream/pixel.h"
#include "base/progress.h"
#include "geo/raster.h"
#include "base/rng.h"

static struct ls_labels labels;

static int cb_labels(void *ctx, const char *v) { return ls_labels_add(&labels, v); }
static int cb_class(void *ctx, const char *v) { return ls_labels_set_class(&labels, atoi(v)); }
static int cb_attr(void *ctx, const char *v) { return ls_labels_set_attr(&labels, v); }
static int cb_width(void *ctx, const char *v) { return ls_labels_set_line_width(&labels, atof(v)); }
static int cb_map(void *ctx, const char *v) { return ls_labels_set_map(&labels, v); }

static uint64_t label_classes;	/* bit c: the labels speak for class c; 0: every class */

static int cb_label_classes(void *ctx, const char *v)
{
	label_classes = 0;
	for (const char *p = v;; p++) {
		char *end;
		long c = strtol(p, &end, 10);
		if (end == p || c < 1 || c > 63 || (*end && *end != ','))
			return ls_err("--label-classes: '%s': expected class codes 1 to 63 separated by commas", v);
		label_classes |= (uint64_t)1 << c;
		if (!*end)
			return 0;
		p = end;
	}
}

static int size = 256, overlap = 0, sample = 0, seed = 1, keep_empty = 0;
static const char *part;
static int part_k = 1, part_n = 1;
static double gsd = 0, min_valid = 0;
static const char *domain, *t_srs, *a_srs, *resample = "bilinear";
static struct ls_strlist bands_opt, names_opt;

static int cb_bands(void *ctx, const char *v) { ls_strlist_split(ctx, v, ','); return 0; }

static const struct ls_opt opts[] = {
	{ "size", LS_OPT_INT, &size, "N", "tile width and height in pixels" },
	{ "overlap", LS_OPT_INT, &overlap, "N", "pixels shared by neighbouring tiles" },
	{ "part", LS_OPT_STR, &part, "K/N", "only the K-th of N strips of tile rows (the same tiles, keys and order as the whole scene's stream: the N parts concatenated are that stream)" },
	{ "bands", LS_OPT_CB, &bands_opt, "LIST", "bands to read, by 1-based index or name (e.g. red,green,blue)", cb_bands },
	{ "band-names", LS_OPT_CB, &names_opt, "LIST", "rename the selected bands (e.g. R,G,B,NIR)", cb_bands },
	{ "gsd", LS_OPT_DOUBLE, &gsd, "METRES", "resample to this ground sample distance (0 = native)", NULL, 0, 100000 },
	{ "t-srs", LS_OPT_STR, &t_srs, "CRS", "CRS for --gsd (default: UTM zone for geographic rasters)" },
	{ "a-srs", LS_OPT_STR, &a_srs, "CRS", "assign this CRS to rasters that have none" },
	{ "resample", LS_OPT_STR, &resample, "ALG", "resampling for --gsd: near, bilinear, cubic, average" },
	{ "domain", LS_OPT_STR, &domain, "NAME", "domain name written in every frame (e.g. source, target)" },
	{ "labels", LS_OPT_CB, NULL, "FILE", "label raster or vector source (repeatable)", cb_labels },
	{ "class", LS_OPT_CB, NULL, "N", "class burned for the last vector --labels (default 1, building)", cb_class },
	{ "label-attr", LS_OPT_CB, NULL, "NAME", "take the class from this attribute of the last --labels", cb_attr },
	{ "line-width", LS_OPT_CB, NULL, "METRES", "buffer line labels (roads) to this width", cb_width },
	{ "label-map", LS_OPT_CB, NULL, "V=C,...", "map label raster values to classes (e.g. 255=1)", cb_map },
	{ "label-classes", LS_OPT_CB, NULL, "LIST", "the classes the labels speak for (e.g. 1 for a building survey): their 0 then means 'none of these', and other classes stay unknown (partial labels); default: every class", cb_label_classes },
	{ "min-valid", LS_OPT_DOUBLE, &min_valid, "FRAC", "drop tiles with a smaller fraction of valid pixels" },
	{ "keep-empty", LS_OPT_FLAG, &keep_empty, NULL, "keep tiles without any valid pixel" },
	{ "sample", LS_OPT_INT, &sample, "N", "emit N tiles chosen at random (0 = all)" },
	{ "seed", LS_OPT_INT, &seed, "N", "random seed for --sample" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"tile", "cut rasters (and their labels) into georeferenced tile frames",
	"[options] RASTER... > frames",
	"tile --size 256 --overlap 32 --labels buildings.geojson scene.tif | normalise-bands --stats s.txt | stitch out.tif",
	opts
};

/* Which of n grid tiles to emit: all, or `sample` chosen by a seeded shuffle. */
static uint8_t *choose(int64_t n, struct ls_rng *rng)
{
	uint8_t *keep = ls_xcalloc((size_t)n, 1);
	if (sample <= 0 || sample >= n) {
		memset(keep, 1, (size_t)n);
		return keep;
	}
	int64_t *idx = ls_xmalloc((size_t)n * sizeof *idx);
	for (int64_t i = 0; i < n; i++)
		idx[i] = i;
	for (int64_t i = 0; i < sample; i++) {
		int64_t j = i + (int64_t)(ls_rng_u64(rng) % (uint64_t)(n - i));
		int64_t t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
		keep[idx[i]] = 1;
	}
	free(idx);
	return keep;
}

static double valid_fraction(const uint8_t *m, size_t n)
{
	size_t v = 0;
	for (size_t i = 0; i < n; i++)
		v += m[i];
	return (double)v / n;
}

/* Valid pixels that are 0 in every band: in a multi-band raster with neither
 * a no-data value nor a mask, a large share of them is usually empty area (a
 * mosaic whose alpha was dropped), which would be trained on and scored as
 * black. */
static size_t zero_pixels(const struct ls_frame *f, size_t *valid)
{
	size_t hw = (size_t)f->t.shape[1] * f->t.shape[2], z = 0;
	int c = (int)f->t.shape[0];
	for (size_t p = 0; p < hw; p++) {
		if (f->mask && !f->mask[p])
			continue;
		(*valid)++;
		int b = 0;
		while (b < c && ls_px_get(f->t.data, f->t.dtype, (size_t)b * hw + p) == 0)
			b++;
		z += b == c;
	}
	return z;
}

static void tile_raster(const char *path, struct ls_writer *w, struct ls_frame *f, struct ls_rng *rng)
{
	struct ls_raster r;
	struct ls_raster_opts ro = { gsd, t_srs, a_srs, resample, &bands_opt, &names_opt };
	char key[512];
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (ls_raster_open(&r, path, &ro) < 0 || ls_labels_bind(&labels, &r) < 0)
		ls_die_err();
	int step = size - overlap;
	int nx = ls_grid_count(r.w, size, step), ny = ls_grid_count(r.h, size, step);
	uint8_t *keep = choose((int64_t)nx * ny, rng);
	int j0 = (int)((int64_t)(part_k - 1) * ny / part_n), j1 = (int)((int64_t)part_k * ny / part_n);
	struct ls_progress prog;
	long done = 0;
	size_t zeros = 0, valid = 0;
	ls_progress_start(&prog, base, (long)(j1 - j0) * nx);
	for (int j = j0; j < j1; j++)
		for (int i = 0; i < nx; i++) {
			ls_progress_update(&prog, done++);
			if (!keep[(int64_t)j * nx + i])
				continue;
			if (ls_raster_read_tile(&r, i * step, j * step, size, f) < 0)
				ls_die_err();
			double vf = valid_fraction(f->mask, (size_t)size * size);
			if (!r.has_nodata && f->t.shape[0] > 1)	/* imagery: a mask or class raster is mostly 0 */
				zeros += zero_pixels(f, &valid);
			if ((vf == 0 && !keep_empty) || vf < min_valid)
				continue;
			if (vf == 1)
				ls_frame_drop_mask(f);
			if (labels.n && ls_labels_read_tile(&labels, &r, i * step, j * step, size, ls_frame_label(f)) < 0)
				ls_die_err();
			f->label_classes = labels.n ? label_classes : 0;
			snprintf(key, sizeof key, "%s:%d:%d", base, i * step, j * step);
			ls_frame_set_str(&f->key, key);
			snprintf(f->kind, sizeof f->kind, "tile");
			f->halo = overlap;
			ls_frame_set_str(&f->domain, domain);
			ls_strlist_free(&f->chain);
			ls_frame_chain_push(f, "tile");
			ls_writer_put_or_die(w, f);
		}
	ls_progress_end(&prog);
	if (valid && zeros > valid / 4)
		ls_warn("%s: %.0f%% of its pixels are 0 in every band and it has no no-data value or mask; if that is "
			"empty area, it is being read as black imagery (give it one: gdal_translate -a_nodata 0, or keep "
			"the alpha band)", path, 100.0 * zeros / valid);
	free(keep);
	ls_raster_close(&r);
}

int main(int argc, char **argv)
{
	struct ls_strlist inputs;
	struct ls_frame f;
	struct ls_rng rng;
	ls_labels_init(&labels);
	ls_opt_parse(&cmd, argc, argv, &inputs);
	if (!inputs.n)
		ls_die(LS_EXIT_USAGE, "no input raster (usage: tile %s)", cmd.usage);
	if (part && (sscanf(part, "%d/%d", &part_k, &part_n) != 2 || part_n < 1 || part_k < 1 || part_k > part_n))
		ls_die(LS_EXIT_USAGE, "--part must be K/N with 1 <= K <= N, not '%s'", part);
	if (size < 8 || size > 16384 || overlap < 0 || overlap >= size)
		ls_die(LS_EXIT_USAGE, "--size must be 8..16384 and --overlap 0..size-1");
	if (label_classes && !labels.n)
		ls_die(LS_EXIT_USAGE, "--label-classes says what the labels speak for, and no --labels was given");
	ls_gdal_init((size_t)64 << 20);
	struct ls_writer *w = ls_writer_open(1, "stdout");
	if (!w)
		ls_die_err();
	ls_rng_seed(&rng, (uint64_t)seed);
	ls_frame_init(&f);
	for (int i = 0; i < inputs.n; i++)
		tile_raster(inputs.v[i], w, &f, &rng);
	if (ls_writer_count(w) == 0)
		ls_die(LS_EXIT_DATA, "no tiles written (every tile was empty or below --min-valid)");
	ls_writer_close_or_die(w);
	ls_frame_free(&f);
	ls_labels_free(&labels);
	ls_strlist_free(&inputs);
	return 0;
}
