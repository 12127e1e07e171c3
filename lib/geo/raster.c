#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal_utils.h>
#include <gdalwarper.h>
#include <ogr_srs_api.h>

#include "base/err.h"
#include "base/progress.h"
#include "geo/raster.h"

static char gdal_msg[1024];

static void CPL_STDCALL quiet_handler(CPLErr cls, CPLErrorNum num, const char *msg)
{
	if (cls >= CE_Failure)
		snprintf(gdal_msg, sizeof gdal_msg, "%s", msg);
}

void ls_gdal_init(size_t cache_bytes)
{
	GDALAllRegister();
	CPLSetErrorHandler(quiet_handler);
	GDALSetCacheMax64((GIntBig)cache_bytes);
	CPLSetConfigOption("GDAL_NUM_THREADS", "1");
}

const char *ls_gdal_msg(void)
{
	return gdal_msg;
}

int CPL_STDCALL ls_gdal_progress(double frac, const char *msg, void *arg)
{
	(void)msg;
	ls_progress_update(arg, (long)(frac * 1000));
	return 1;
}

int ls_dtype_from_gdal(GDALDataType t)
{
	switch (t) {
	case GDT_Byte:
		return LS_U8;
	case GDT_UInt16:
		return LS_U16;
	case GDT_Int16:
		return LS_I16;
	default:
		return LS_F32;
	}
}

GDALDataType ls_dtype_to_gdal(int d)
{
	static const GDALDataType m[LS_NDTYPE] = { GDT_Byte, GDT_UInt16, GDT_Int16, GDT_Float32 };
	return m[d];
}

void ls_crs_label(const char *wkt, char *buf, size_t n)
{
	OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
	const char *auth, *code;
	snprintf(buf, n, "no CRS");
	if (wkt && *wkt && OSRSetFromUserInput(s, wkt) == OGRERR_NONE) {
		OSRAutoIdentifyEPSG(s);
		auth = OSRGetAuthorityName(s, NULL);
		code = OSRGetAuthorityCode(s, NULL);
		if (auth && code)
			snprintf(buf, n, "%s:%s", auth, code);
		else
			snprintf(buf, n, "%s", OSRGetName(s) ? OSRGetName(s) : "unnamed CRS");
	}
	OSRDestroySpatialReference(s);
}

/* UTM zone of the raster's centre, for --gsd on geographic rasters. */
static char *utm_for(GDALDatasetH ds, const char *wkt)
{
	double gt[6], x, y, z = 0;
	OGRSpatialReferenceH s = OSRNewSpatialReference(wkt), g = OSRNewSpatialReference(NULL);
	char *out = NULL;
	GDALGetGeoTransform(ds, gt);
	x = gt[0] + gt[1] * GDALGetRasterXSize(ds) / 2 + gt[2] * GDALGetRasterYSize(ds) / 2;
	y = gt[3] + gt[4] * GDALGetRasterXSize(ds) / 2 + gt[5] * GDALGetRasterYSize(ds) / 2;
	OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
	OSRSetWellKnownGeogCS(g, "WGS84");
	OSRSetAxisMappingStrategy(g, OAMS_TRADITIONAL_GIS_ORDER);
	OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(s, g);
	if (ct && OCTTransform(ct, 1, &x, &y, &z)) {
		int zone = (int)floor((x + 180) / 6) + 1;
		char buf[32];
		snprintf(buf, sizeof buf, "EPSG:%d", (y >= 0 ? 32600 : 32700) + (zone < 1 ? 1 : zone > 60 ? 60 : zone));
		out = ls_xstrdup(buf);
	}
	if (ct)
		OCTDestroyCoordinateTransformation(ct);
	OSRDestroySpatialReference(s);
	OSRDestroySpatialReference(g);
	return out;
}

static int is_geographic(const char *wkt)
{
	OGRSpatialReferenceH s = OSRNewSpatialReference(wkt);
	int g = s && OSRIsGeographic(s);
	OSRDestroySpatialReference(s);
	return g;
}

static GDALDatasetH warp_to_gsd(struct ls_raster *r, const struct ls_raster_opts *o)
{
	char tr[64], *srs = NULL;
	const char *resample = o->resample ? o->resample : "bilinear";
	if (o->t_srs)
		srs = ls_xstrdup(o->t_srs);
	else if (is_geographic(r->wkt))
		srs = utm_for(r->src, r->wkt);
	else
		srs = ls_xstrdup(r->wkt);
	if (!srs) {
		ls_err("%s: cannot choose a metric CRS for a ground sample distance in metres (give a target CRS)", r->path);
		return NULL;
	}
	/* the size it would have (a metre a degree-hundred-thousandth on a geographic raster) */
	double k = is_geographic(r->wkt) ? 111320 : 1, ew = GDALGetRasterXSize(r->src) * fabs(r->gt[1]) * k / o->gsd,
	       eh = GDALGetRasterYSize(r->src) * fabs(r->gt[5]) * k / o->gsd;
	if (ew > 2e6 || eh > 2e6) {
		free(srs);
		ls_err("%s: at %g m a pixel the raster would be %.0f x %.0f pixels: is the ground sample distance in metres?",
		       r->path, o->gsd, ew, eh);
		return NULL;
	}
	snprintf(tr, sizeof tr, "%.17g", o->gsd);
	char nd[64];
	char *argv[] = { "-of", "VRT", "-t_srs", srs, "-tr", tr, tr, "-r", (char *)resample, "-dstalpha",
			 "-wo", "INIT_DEST=NO_DATA", NULL, NULL, NULL };
	/* GDAL takes a mask from an alpha band of bytes or 16-bit integers only:
	 * a raster of other values keeps its nodata value in the warped bands
	 * too, or its nodata pixels would come out as valid data */
	int has = 0;
	GDALRasterBandH b1 = GDALGetRasterBand(r->src, 1);
	double v = GDALGetRasterNoDataValue(b1, &has);
	GDALDataType t = GDALGetRasterDataType(b1);
	if (has && t != GDT_Byte && t != GDT_UInt16) {
		snprintf(nd, sizeof nd, "%.17g", v);
		argv[12] = "-dstnodata";
		argv[13] = nd;
	}
	GDALWarpAppOptions *wo = GDALWarpAppOptionsNew(argv, NULL);
	int err = 0;
	GDALDatasetH ds = wo ? GDALWarp("", NULL, 1, &r->src, wo, &err) : NULL;
	if (wo)
		GDALWarpAppOptionsFree(wo);
	free(srs);
	if (!ds)
		ls_err("%s: cannot resample to %g m: %s", r->path, o->gsd, ls_gdal_msg());
	return ds;
}

static void band_name(GDALRasterBandH b, int i, char *buf, size_t n)
{
	const char *d = GDALGetDescription(b);
	GDALColorInterp ci = GDALGetRasterColorInterpretation(b);
	if (d && *d)
		snprintf(buf, n, "%s", d);
	else if (ci != GCI_Undefined && ci != GCI_GrayIndex)
		snprintf(buf, n, "%s", GDALGetColorInterpretationName(ci));
	else if (ci == GCI_GrayIndex)
		snprintf(buf, n, "gray");
	else
		snprintf(buf, n, "b%d", i);
	for (char *p = buf; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
}

static int select_bands(struct ls_raster *r, const struct ls_raster_opts *o)
{
	int nb = GDALGetRasterCount(r->ds);
	char name[128];
	struct ls_strlist all = { 0 };
	for (int i = 1; i <= nb; i++) {
		band_name(GDALGetRasterBand(r->ds, i), i, name, sizeof name);
		ls_strlist_push(&all, name);
	}
	int cap = o->bands && o->bands->n > nb ? o->bands->n : nb;	/* a band may be read twice (1,1,1) */
	r->sel = ls_xcalloc(cap, sizeof *r->sel);
	if (o->bands && o->bands->n) {
		for (int k = 0; k < o->bands->n; k++) {
			const char *want = o->bands->v[k];
			char *end;
			long idx = strtol(want, &end, 10);
			int found = 0;
			if (*end == 0 && idx >= 1 && idx <= nb)
				found = (int)idx;
			for (int i = 0; i < nb && !found; i++)
				if (!strcasecmp(all.v[i], want))
					found = i + 1;
			if (!found) {
				ls_strlist_free(&all);
				return ls_err("%s: no band '%s' (bands are %d, named by index 1..%d or by name)",
					      r->path, want, nb, nb);
			}
			r->sel[r->nsel++] = found;
		}
	} else {
		for (int i = 1; i <= nb; i++)
			if (GDALGetRasterColorInterpretation(GDALGetRasterBand(r->ds, i)) != GCI_AlphaBand)
				r->sel[r->nsel++] = i;
	}
	for (int k = 0; k < r->nsel; k++)
		ls_strlist_push(&r->names, all.v[r->sel[k] - 1]);
	ls_strlist_free(&all);
	if (o->band_names && o->band_names->n) {
		if (o->band_names->n != r->nsel)
			return ls_err("%s: %d band names given for %d bands", r->path, o->band_names->n,
				      r->nsel);
		ls_strlist_free(&r->names);
		for (int k = 0; k < r->nsel; k++)
			ls_strlist_push(&r->names, o->band_names->v[k]);
	}
	return r->nsel ? 0 : ls_err("%s: no bands to read", r->path);
}

int ls_raster_open(struct ls_raster *r, const char *path, const struct ls_raster_opts *o)
{
	memset(r, 0, sizeof *r);
	r->path = ls_xstrdup(path);
	gdal_msg[0] = 0;
	r->src = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
	if (!r->src)
		return ls_err("%s: cannot open as a raster%s%s", path, gdal_msg[0] ? ": " : "", gdal_msg);
	const char *wkt = GDALGetProjectionRef(r->src);
	if (o->a_srs) {
		OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
		char *w = NULL;
		if (OSRSetFromUserInput(s, o->a_srs) != OGRERR_NONE || OSRExportToWkt(s, &w) != OGRERR_NONE) {
			OSRDestroySpatialReference(s);
			return ls_err("the CRS to assign, '%s', is not one GDAL knows", o->a_srs);
		}
		r->wkt = ls_xstrdup(w);
		CPLFree(w);
		OSRDestroySpatialReference(s);
		GDALSetProjection(r->src, r->wkt);
	} else if (!wkt || !*wkt) {
		return ls_err("%s: raster has no CRS (add a .prj, .aux.xml or world file, or assign one)", path);
	} else {
		r->wkt = ls_xstrdup(wkt);
	}
	if (GDALGetGeoTransform(r->src, r->gt) != CE_None)
		return ls_err("%s: raster has no geotransform (not georeferenced)", path);
	for (int i = 0; i < 6; i++)
		if (!isfinite(r->gt[i]))
			return ls_err("%s: its geotransform holds a value that is not a number", path);
	if (r->gt[1] == 0 || r->gt[5] == 0)
		return ls_err("%s: its geotransform gives pixels of size zero (%g x %g)", path, r->gt[1], r->gt[5]);
	OGRSpatialReferenceH crs = OSRNewSpatialReference(r->wkt);
	if (!crs)
		return ls_err("%s: its CRS is not one GDAL can read", path);
	OSRDestroySpatialReference(crs);
	for (int i = 1; i <= GDALGetRasterCount(r->src); i++)
		if (GDALDataTypeIsComplex(GDALGetRasterDataType(GDALGetRasterBand(r->src, i))))
			return ls_err("%s: band %d holds complex values; give its amplitude (or intensity) as a real raster",
				      path, i);
	r->ds = r->src;
	/* a north-up raster already on a grid of that size in the CRS it would
	 * be warped to: GDAL's warp would give the same pixels on the same grid
	 * (the same frames, byte for byte), at twice the time of reading them */
	if (o->gsd > 0 && !(r->gt[1] == o->gsd && r->gt[5] == -o->gsd && r->gt[2] == 0 && r->gt[4] == 0 && !o->t_srs &&
			     !is_geographic(r->wkt))) {
		r->ds = warp_to_gsd(r, o);
		if (!r->ds)
			return -1;
		GDALGetGeoTransform(r->ds, r->gt);
		free(r->wkt);
		r->wkt = ls_xstrdup(GDALGetProjectionRef(r->ds));
	}
	r->w = GDALGetRasterXSize(r->ds);
	r->h = GDALGetRasterYSize(r->ds);
	if (select_bands(r, o) < 0)
		return -1;
	GDALRasterBandH b = GDALGetRasterBand(r->ds, r->sel[0]);
	r->gtype = GDALGetRasterDataType(b);
	for (int k = 1; k < r->nsel; k++)
		if (GDALGetRasterDataType(GDALGetRasterBand(r->ds, r->sel[k])) != r->gtype)
			r->gtype = GDT_Float32;
	r->dtype = ls_dtype_from_gdal(r->gtype);
	r->gtype = ls_dtype_to_gdal(r->dtype);
	int has = 0;
	double nd = GDALGetRasterNoDataValue(b, &has);
	r->has_nodata = has;
	r->nodata = nd;
	r->mask_all_valid = 1;
	for (int k = 0; k < r->nsel; k++)
		if (!(GDALGetMaskFlags(GDALGetRasterBand(r->ds, r->sel[k])) & GMF_ALL_VALID))
			r->mask_all_valid = 0;
	return 0;
}

void ls_raster_close(struct ls_raster *r)
{
	if (r->ds && r->ds != r->src)
		GDALClose(r->ds);
	if (r->src)
		GDALClose(r->src);
	free(r->path);
	free(r->wkt);
	free(r->sel);
	ls_strlist_free(&r->names);
	memset(r, 0, sizeof *r);
}

/* Intersection of the window with the raster, and where it lands in the tile. */
struct span {
	int x, y, w, h, tx, ty;
};

static int clip(const struct ls_raster *r, int x0, int y0, int size, struct span *s)
{
	int x1 = x0 + size, y1 = y0 + size;
	s->x = x0 < 0 ? 0 : x0;
	s->y = y0 < 0 ? 0 : y0;
	s->w = (x1 > r->w ? r->w : x1) - s->x;
	s->h = (y1 > r->h ? r->h : y1) - s->y;
	s->tx = s->x - x0;
	s->ty = s->y - y0;
	return s->w > 0 && s->h > 0;
}

static int read_mask(struct ls_raster *r, const struct span *s, int size, uint8_t *m)
{
	uint8_t *tmp = ls_xmalloc((size_t)s->w * s->h);
	int rc = 0;
	for (int k = 0; k < r->nsel && !rc; k++) {
		GDALRasterBandH mb = GDALGetMaskBand(GDALGetRasterBand(r->ds, r->sel[k]));
		if (GDALRasterIO(mb, GF_Read, s->x, s->y, s->w, s->h, tmp, s->w, s->h, GDT_Byte, 0, 0) != CE_None) {
			rc = ls_err("%s: reading the mask at (%d,%d): %s", r->path, s->x, s->y, ls_gdal_msg());
			break;
		}
		for (int y = 0; y < s->h; y++)
			for (int x = 0; x < s->w; x++)
				if (!tmp[(size_t)y * s->w + x])
					m[(size_t)(y + s->ty) * size + x + s->tx] = 0;
		if (GDALGetMaskFlags(GDALGetRasterBand(r->ds, r->sel[k])) & GMF_PER_DATASET)
			break;
	}
	free(tmp);
	return rc;
}

static void mask_nan(struct ls_frame *f, uint8_t *m, size_t hw)
{
	const float *d = f->t.data;
	for (int64_t c = 0; c < ls_frame_c(f); c++)
		for (size_t i = 0; i < hw; i++)
			if (!isfinite(d[c * hw + i]))
				m[i] = 0;
}

int ls_raster_read_tile(struct ls_raster *r, int x0, int y0, int size, struct ls_frame *f)
{
	int64_t shape[3] = { r->nsel, size, size };
	size_t es = ls_dtype_size(r->dtype), hw = (size_t)size * size;
	struct span s;
	ls_frame_alloc(f, r->dtype, 3, shape);
	memset(f->t.data, 0, f->t.nbytes);
	uint8_t *m = ls_frame_mask(f);
	memset(m, 0, hw);
	if (clip(r, x0, y0, size, &s)) {
		char *base = (char *)f->t.data + ((size_t)s.ty * size + s.tx) * es;
		if (GDALDatasetRasterIO(r->ds, GF_Read, s.x, s.y, s.w, s.h, base, s.w, s.h, r->gtype, r->nsel,
					r->sel, (int)es, (int)(es * size), (int)(es * hw)) != CE_None)
			return ls_err("%s: reading window (%d,%d) %dx%d: %s", r->path, s.x, s.y, s.w, s.h,
				      ls_gdal_msg());
		for (int y = 0; y < s.h; y++)
			memset(m + (size_t)(y + s.ty) * size + s.tx, 1, s.w);
		if (!r->mask_all_valid && read_mask(r, &s, size, m) < 0)
			return -1;
		if (r->dtype == LS_F32)
			mask_nan(f, m, hw);
	}
	f->has_geo = 1;
	memcpy(f->src_gt, r->gt, sizeof r->gt);
	memcpy(f->gt, r->gt, sizeof r->gt);
	f->gt[0] = r->gt[0] + x0 * r->gt[1] + y0 * r->gt[2];
	f->gt[3] = r->gt[3] + x0 * r->gt[4] + y0 * r->gt[5];
	ls_frame_set_str(&f->crs, r->wkt);
	f->off_x = x0;
	f->off_y = y0;
	f->src_w = r->w;
	f->src_h = r->h;
	ls_frame_set_str(&f->src, r->path);
	f->has_nodata = r->has_nodata;
	f->nodata = r->nodata;
	ls_strlist_free(&f->bands);
	for (int k = 0; k < r->names.n; k++)
		ls_strlist_push(&f->bands, r->names.v[k]);
	return 0;
}
