#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>

#include "base/err.h"
#include "geo/mosaic.h"
#include "stream/pixel.h"
#include "base/progress.h"
#include "geo/raster.h"

#define BLOCK 128

struct ls_mosaic {
	char *path, *tmp;
	GDALDatasetH ds;
	int w, h, c, dtype, cog, threads, level;
	double rscale;		/* 2^round_bits, or 0 */
	int oc, odtype, class_index;	/* the file's bands and type: c and dtype, or one u8 class band */
	struct ls_decision decision;	/* of the class band */
	char *compress;
	int has_nodata;
	double nodata;
	float *sum, *wsum;	/* rows [base, base + cap) of the raster */
	int64_t base, cap;
	void *row;		/* one output row, all bands */
	uint8_t *mrow;
	int mask_made;
	char *crs;
	double gt[6];
	uint64_t frames;
};

static int make_dataset(struct ls_mosaic *m, const struct ls_frame *f, const struct ls_mosaic_opts *o)
{
	char **co = NULL;
	GDALDriverH drv = GDALGetDriverByName("GTiff");
	co = CSLSetNameValue(co, "TILED", "YES");
	co = CSLSetNameValue(co, "BLOCKXSIZE", "128");
	co = CSLSetNameValue(co, "BLOCKYSIZE", "128");
	if (o->cog) {	/* an intermediate the COG driver reads once: fast to write, compressed again there */
		co = CSLSetNameValue(co, "COMPRESS", "ZSTD");
		co = CSLSetNameValue(co, "ZSTD_LEVEL", "1");
	} else {
		co = CSLSetNameValue(co, "COMPRESS", o->compress ? o->compress : "DEFLATE");
		if (o->level > 0) {
			char lv[16];
			snprintf(lv, sizeof lv, "%d", o->level);
			co = CSLSetNameValue(co, "ZLEVEL", lv);
			co = CSLSetNameValue(co, "ZSTD_LEVEL", lv);
		}
	}
	co = CSLSetNameValue(co, "BIGTIFF", "IF_SAFER");
	if (m->oc > 1 && m->odtype == LS_U8 && m->oc <= 4)
		co = CSLSetNameValue(co, "INTERLEAVE", "PIXEL");
	m->ds = GDALCreate(drv, m->tmp, m->w, m->h, m->oc, ls_dtype_to_gdal(m->odtype), co);
	CSLDestroy(co);
	if (!m->ds)
		return ls_err("cannot create %s: %s", m->path, ls_gdal_msg());
	ls_cleanup_add(m->tmp);
	GDALSetGeoTransform(m->ds, m->gt);
	GDALSetProjection(m->ds, m->crs);
	for (int i = 0; o->metadata && i < o->metadata->n; i++) {
		char *kv = ls_xstrdup(o->metadata->v[i]), *eq = strchr(kv, '=');
		if (eq) {
			*eq = 0;
			GDALSetMetadataItem(m->ds, kv, eq + 1, NULL);
		}
		free(kv);
	}
	for (int b = 0; b < m->oc; b++) {
		GDALRasterBandH band = GDALGetRasterBand(m->ds, b + 1);
		if (m->class_index)
			GDALSetDescription(band, "class");
		else if (b < f->bands.n)
			GDALSetDescription(band, f->bands.v[b]);
		if (m->has_nodata)
			GDALSetRasterNoDataValue(band, m->nodata);
	}
	return 0;
}

struct ls_mosaic *ls_mosaic_open(const char *path, const struct ls_frame *f, const struct ls_mosaic_opts *o)
{
	char tmp[4096];
	if (!f->has_geo || f->t.ndim != 3) {
		ls_err("frame %s is not a georeferenced [bands, h, w] tile: nothing to stitch onto", f->key);
		return NULL;
	}
	/* a temporary name that no *.tif glob matches and that cannot be cut
	 * back to the final name */
	if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp - 8) {
		ls_err("%s: the output path is too long", path);
		return NULL;
	}
	if (o->class_index && ls_frame_c(f) > 255) {
		ls_err("frame %s holds %d classes: a class raster holds 255 at most (255 is no data)", f->key, (int)ls_frame_c(f));
		return NULL;
	}
	if (o->class_index && o->decision.cls >= ls_frame_c(f)) {
		ls_err("class threshold %d=%g: frame %s holds %d classes, no class %d", o->decision.cls, o->decision.t, f->key,
		       (int)ls_frame_c(f), o->decision.cls);
		return NULL;
	}
	struct ls_mosaic *m = ls_xcalloc(1, sizeof *m);
	m->path = ls_xstrdup(path);
	m->tmp = ls_xstrdup(tmp);
	m->w = (int)f->src_w;
	m->h = (int)f->src_h;
	m->c = (int)ls_frame_c(f);
	m->dtype = f->t.dtype;
	m->class_index = o->class_index;
	m->decision = o->decision;
	m->oc = o->class_index ? 1 : m->c;
	m->odtype = o->class_index ? LS_U8 : m->dtype;
	m->cog = o->cog;
	m->threads = o->threads;
	m->level = o->level;
	m->rscale = o->round_bits > 0 ? ldexp(1.0, o->round_bits) : 0;
	m->compress = ls_xstrdup(o->compress ? o->compress : "DEFLATE");
	m->has_nodata = o->has_nodata || f->has_nodata || o->class_index;
	m->nodata = o->has_nodata ? o->nodata : o->class_index ? 255 : f->nodata;
	m->crs = ls_xstrdup(f->crs);
	memcpy(m->gt, f->src_gt, sizeof m->gt);
	/* rows are written out a whole row of 128-pixel blocks at a time, so that
	 * no compressed block is ever written twice: the window holds one tile
	 * row plus one block row, and GDAL's cache one block row */
	m->cap = ls_frame_h(f) + BLOCK;
	GDALSetCacheMax64((GIntBig)(BLOCK * (size_t)m->w * m->oc * ls_dtype_size(m->odtype) * 3 / 2 + (8 << 20)));
	m->sum = ls_xcalloc((size_t)(m->cap * m->w * m->c), sizeof *m->sum);
	m->wsum = ls_xcalloc((size_t)(m->cap * m->w), sizeof *m->wsum);
	m->row = ls_xmalloc((size_t)m->w * m->oc * ls_dtype_size(m->odtype));
	m->mrow = ls_xmalloc((size_t)m->w);
	if (make_dataset(m, f, o) < 0) {
		ls_mosaic_abort(m);
		return NULL;
	}
	return m;
}

static int ensure_mask(struct ls_mosaic *m, int64_t upto)
{
	if (m->mask_made)
		return 0;
	/* inside the TIFF: GDAL before 3.9 puts it in a .msk side-car, which
	 * would keep the temporary name when the output is renamed */
	CPLSetThreadLocalConfigOption("GDAL_TIFF_INTERNAL_MASK", "YES");
	CPLErr e = GDALCreateDatasetMaskBand(m->ds, GMF_PER_DATASET);
	CPLSetThreadLocalConfigOption("GDAL_TIFF_INTERNAL_MASK", NULL);
	if (e != CE_None)
		return ls_err("%s: cannot create the mask band: %s", m->path, ls_gdal_msg());
	m->mask_made = 1;
	GDALRasterBandH mb = GDALGetMaskBand(GDALGetRasterBand(m->ds, 1));
	memset(m->mrow, 255, (size_t)m->w);
	for (int64_t y = 0; y < upto; y++)
		if (GDALRasterIO(mb, GF_Write, 0, (int)y, m->w, 1, m->mrow, m->w, 1, GDT_Byte, 0, 0) != CE_None)
			return ls_err("%s: writing the mask: %s", m->path, ls_gdal_msg());
	return 0;
}

/* Band c's blended value at window row r, column x (weight sum ws > 0),
 * rounded to a multiple of 1/rscale when asked: the class raster and the
 * probabilities then agree pixel for pixel. */
static double blended(const struct ls_mosaic *m, int c, int64_t r, size_t x, float ws)
{
	float v = m->sum[((size_t)c * m->cap + (size_t)r) * (size_t)m->w + x] / ws;
	return m->rscale > 0 ? nearbyint(v * m->rscale) / m->rscale : v;
}

/* Write rows [base, upto) and slide the window down. Rows past the window
 * (a gap of dropped tiles longer than it) have no data. */
static int flush_rows(struct ls_mosaic *m, int64_t upto)
{
	size_t es = ls_dtype_size(m->odtype), w = (size_t)m->w;
	if (upto > m->h)
		upto = m->h;
	for (int64_t y = m->base; y < upto; y++) {
		int in = y - m->base < m->cap;
		const float *ws = in ? m->wsum + (size_t)(y - m->base) * w : NULL;
		int any_invalid = 0;
		if (m->class_index)	/* the class of the blended probabilities: the most probable, or a threshold's */
			for (size_t x = 0; x < w; x++) {
				float p[255];
				for (int c = 0; in && ws[x] > 0 && c < m->c; c++)
					p[c] = (float)blended(m, c, y - m->base, x, ws[x]);
				ls_px_set(m->row, LS_U8, x, in && ws[x] > 0 ? ls_decide(p, 1, m->c, &m->decision) : m->nodata);
			}
		for (int c = 0; c < m->c && !m->class_index; c++)
			for (size_t x = 0; x < w; x++) {
				double v = in && ws[x] > 0 ? blended(m, c, y - m->base, x, ws[x]) : m->has_nodata ? m->nodata : 0;
				ls_px_set(m->row, m->dtype, c * w + x, v);
			}
		for (size_t x = 0; x < w; x++) {
			m->mrow[x] = in && ws[x] > 0 ? 255 : 0;
			any_invalid |= !m->mrow[x];
		}
		if (GDALDatasetRasterIO(m->ds, GF_Write, 0, (int)y, m->w, 1, m->row, m->w, 1, ls_dtype_to_gdal(m->odtype),
					m->oc, NULL, 0, 0, (int)(w * es)) != CE_None)
			return ls_err("%s: write failed at row %lld: %s", m->path, (long long)y, ls_gdal_msg());
		if (any_invalid && !m->has_nodata && ensure_mask(m, y) < 0)
			return -1;
		if (m->mask_made &&
		    GDALRasterIO(GDALGetMaskBand(GDALGetRasterBand(m->ds, 1)), GF_Write, 0, (int)y, m->w, 1, m->mrow,
				 m->w, 1, GDT_Byte, 0, 0) != CE_None)
			return ls_err("%s: writing the mask: %s", m->path, ls_gdal_msg());
	}
	int64_t k = upto - m->base;
	if (k <= 0)
		return 0;
	if (k > m->cap)
		k = m->cap;
	size_t keep = (size_t)(m->cap - k) * w;
	for (int c = 0; c < m->c; c++) {
		float *s = m->sum + (size_t)c * m->cap * w;
		memmove(s, s + k * w, keep * sizeof *s);
		memset(s + keep, 0, (size_t)k * w * sizeof *s);
	}
	memmove(m->wsum, m->wsum + k * w, keep * sizeof *m->wsum);
	memset(m->wsum + keep, 0, (size_t)k * w * sizeof *m->wsum);
	m->base = upto;
	return 0;
}

static void grow(struct ls_mosaic *m, int64_t rows)
{
	size_t w = (size_t)m->w;
	float *sum = ls_xcalloc((size_t)rows * w * m->c, sizeof *sum);
	for (int c = 0; c < m->c; c++)
		memcpy(sum + (size_t)c * rows * w, m->sum + (size_t)c * m->cap * w, (size_t)m->cap * w * sizeof *sum);
	free(m->sum);
	m->sum = sum;
	m->wsum = ls_xrealloc(m->wsum, (size_t)rows * w * sizeof *m->wsum);
	memset(m->wsum + (size_t)m->cap * w, 0, (size_t)(rows - m->cap) * w * sizeof *m->wsum);
	m->cap = rows;
}

static float ramp(int64_t i, int64_t n, int halo)
{
	if (halo <= 0)
		return 1;
	float a = (i + 0.5f) / halo, b = (n - i - 0.5f) / halo;
	a = a < b ? a : b;
	return a < 1 ? a : 1;
}

static int same_grid(const struct ls_mosaic *m, const struct ls_frame *f)
{
	return f->has_geo && f->src_w == m->w && f->src_h == m->h && ls_frame_c(f) == m->c && f->t.dtype == m->dtype &&
	       !memcmp(f->src_gt, m->gt, sizeof m->gt);
}

int ls_mosaic_add(struct ls_mosaic *m, const struct ls_frame *f)
{
	int64_t h = ls_frame_h(f), w = ls_frame_w(f), y0 = f->off_y, x0 = f->off_x;
	size_t hw = (size_t)(h * w), W = (size_t)m->w;
	m->frames++;
	if (!same_grid(m, f))
		return ls_err("frame %s: not on the grid of the first frame (%dx%d, %d bands %s): stitch one source "
			      "raster per output", f->key, m->w, m->h, m->c, ls_dtype_name(m->dtype));
	if (y0 + h <= m->base && y0 + h > 0)
		return ls_err("frame %s: rows %lld..%lld were already written; frames must come in row order",
			      f->key, (long long)y0, (long long)(y0 + h));
	int64_t done = y0 / BLOCK * BLOCK;	/* rows above are final; write whole block rows */
	if (done > m->base && flush_rows(m, done) < 0)
		return -1;
	int64_t ya = y0 < m->base ? m->base : y0, yb = y0 + h > m->h ? m->h : y0 + h;
	if (yb - m->base > m->cap)
		grow(m, yb - m->base);
	for (int64_t y = ya; y < yb; y++) {
		float wy = ramp(y - y0, h, f->halo);
		float *ws = m->wsum + (size_t)(y - m->base) * W;
		for (int64_t x = x0 < 0 ? 0 : x0; x < x0 + w && x < m->w; x++) {
			size_t i = (size_t)((y - y0) * w + (x - x0));
			if (f->mask && !f->mask[i])
				continue;
			float wt = wy * ramp(x - x0, w, f->halo);
			ws[x] += wt;
			for (int c = 0; c < m->c; c++)
				m->sum[((size_t)c * m->cap + (size_t)(y - m->base)) * W + x] +=
				    wt * (float)ls_px_get(f->t.data, f->t.dtype, c * hw + i);
		}
	}
	return 0;
}

static int finish_cog(struct ls_mosaic *m)
{
	char cog[4096], comp[64], rs[64], nt[64];
	/* class rasters take the nearest class into the overviews, probabilities the mean */
	snprintf(comp, sizeof comp, "COMPRESS=%s", m->compress);
	snprintf(rs, sizeof rs, "OVERVIEW_RESAMPLING=%s", m->odtype == LS_U8 ? "NEAREST" : "AVERAGE");
	/* the blocks are compressed by worker threads: the same bytes, in a
	 * third less time on 2 cores for float probabilities (docs/benchmarks.md) */
	if (m->threads > 0)
		snprintf(nt, sizeof nt, "NUM_THREADS=%d", m->threads);
	else
		snprintf(nt, sizeof nt, "NUM_THREADS=ALL_CPUS");
	char lv[32];
	snprintf(lv, sizeof lv, "LEVEL=%d", m->level);
	char *argv[] = { "-of", "COG", "-co", comp, "-co", "OVERVIEWS=AUTO", "-co", rs, "-co", nt, NULL, NULL, NULL };
	if (m->level > 0) {
		argv[10] = "-co";
		argv[11] = lv;
	}
	snprintf(cog, sizeof cog, "%s.cog", m->tmp);
	GDALDatasetH src = GDALOpen(m->tmp, GA_ReadOnly);
	GDALTranslateOptions *to = GDALTranslateOptionsNew(argv, NULL);
	struct ls_progress prog;
	ls_progress_start(&prog, "writing the Cloud Optimized GeoTIFF", 1000);
	if (to)
		GDALTranslateOptionsSetProgress(to, ls_gdal_progress, &prog);
	ls_cleanup_add(cog);
	GDALDatasetH out = src && to ? GDALTranslate(cog, src, to, NULL) : NULL;
	int ok = out != NULL;
	if (out) {
		CPLErrorReset();
		GDALClose(out);
		ok = CPLGetLastErrorType() < CE_Failure;
	}
	ls_progress_end(&prog);
	if (to)
		GDALTranslateOptionsFree(to);
	if (src)
		GDALClose(src);
	unlink(m->tmp);
	if (!ok || rename(cog, m->tmp) < 0) {
		unlink(cog);
		return ls_err("%s: writing the Cloud Optimized GeoTIFF failed: %s", m->path, ls_gdal_msg());
	}
	ls_cleanup_forget(cog);
	return 0;
}

int ls_mosaic_close(struct ls_mosaic *m)
{
	int rc = flush_rows(m, m->h);
	if (rc == 0) {
		CPLErrorReset();
		GDALClose(m->ds);	/* returns void before GDAL 3.8 */
		m->ds = NULL;
		if (CPLGetLastErrorType() >= CE_Failure)
			rc = ls_err("%s: finishing the file failed: %s", m->path, ls_gdal_msg());
	}
	if (rc == 0 && m->cog)
		rc = finish_cog(m);
	if (rc == 0 && rename(m->tmp, m->path) < 0)
		rc = ls_err("cannot rename %s to %s: %s", m->tmp, m->path, strerror(errno));
	if (rc < 0) {
		ls_mosaic_abort(m);
		return -1;
	}
	ls_cleanup_forget(m->tmp);
	m->ds = NULL;
	free(m->tmp);
	m->tmp = NULL;
	ls_mosaic_abort(m);
	return 0;
}

void ls_mosaic_abort(struct ls_mosaic *m)
{
	if (!m)
		return;
	if (m->ds)
		GDALClose(m->ds);
	if (m->tmp) {
		unlink(m->tmp);
		ls_cleanup_forget(m->tmp);
	}
	free(m->path);
	free(m->tmp);
	free(m->compress);
	free(m->crs);
	free(m->sum);
	free(m->wsum);
	free(m->row);
	free(m->mrow);
	free(m);
}
