#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "base/err.h"
#include "geo/centreline.h"
#include "geo/labels.h"
#include "geo/polygons.h"
#include "base/progress.h"
#include "geo/raster.h"


struct src {
	GDALDatasetH ds;
	int w, h, nb, is_class;
};

/* The class raster, 1 byte a pixel: a temporary GeoTIFF of compressed strips
 * beside the output (`path`; ZSTD at level 1, as fast as an in-memory raster
 * here), written ROWS rows at a time, so that memory stays a few strips wide
 * however tall the scene (GDALPolygonize reads it back a line at a time
 * through GDAL's block cache). */
enum { ROWS = 64 };
static GDALDatasetH class_raster(struct src *s, const struct ls_vec_opts *o, const uint8_t *keep, const char *path,
				 const char *in, const char *out)
{
	char rows_s[16];
	snprintf(rows_s, sizeof rows_s, "%d", ROWS);
	GDALDriverH gtiff = GDALGetDriverByName("GTiff");
	const char *col = GDALGetMetadataItem(gtiff, GDAL_DMD_CREATIONOPTIONLIST, NULL);
	char **co = CSLSetNameValue(NULL, "COMPRESS", col && strstr(col, "ZSTD") ? "ZSTD" : "DEFLATE");
	co = CSLSetNameValue(co, "ZLEVEL", "1");
	co = CSLSetNameValue(co, "ZSTD_LEVEL", "1");
	co = CSLSetNameValue(co, "BLOCKYSIZE", rows_s);
	co = CSLSetNameValue(co, "BIGTIFF", "IF_SAFER");
	GDALDatasetH cls = GDALCreate(gtiff, path, s->w, s->h, 1, GDT_Byte, co);
	CSLDestroy(co);
	double gt[6];
	if (!cls) {
		ls_err("cannot create %s (the class raster that becomes %s): %s", path, out, ls_gdal_msg());
		return NULL;
	}
	ls_cleanup_add(path);
	GDALGetGeoTransform(s->ds, gt);
	GDALSetGeoTransform(cls, gt);
	GDALSetProjection(cls, GDALGetProjectionRef(s->ds));
	float *p = ls_xmalloc((size_t)s->w * ROWS * s->nb * sizeof *p);
	uint8_t *c = ls_xmalloc((size_t)s->w * ROWS);
	struct ls_progress prog;
	int ok = 1;
	ls_progress_start(&prog, "classifying rows", s->h);
	for (int y0 = 0; ok && y0 < s->h; y0 += ROWS) {
		ls_progress_update(&prog, y0);
		int n = y0 + ROWS > s->h ? s->h - y0 : ROWS;
		size_t px = (size_t)s->w * n;
		if (GDALDatasetRasterIO(s->ds, GF_Read, 0, y0, s->w, n, p, s->w, n, GDT_Float32, s->nb, NULL, 0, 0, 0) !=
		    CE_None) {
			ok = 0;
			break;
		}
		for (size_t i = 0; i < px; i++) {
			int best = 0;
			if (s->is_class) {
				float v = p[i];
				best = v >= 0 && v < 255 ? (int)v : 0;
			} else {
				best = ls_decide(p + i, px, s->nb, &o->decision);
				if (best != o->decision.cls &&
				    (p[best * px + i] < o->threshold || p[best * px + i] != p[best * px + i]))
					best = 0;
			}
			c[i] = keep[best] ? (uint8_t)best : 0;
		}
		ok = GDALRasterIO(GDALGetRasterBand(cls, 1), GF_Write, 0, y0, s->w, n, c, s->w, n, GDT_Byte, 0, 0) == CE_None;
	}
	ls_progress_end(&prog);
	free(p);
	free(c);
	if (ok) {	/* GDAL 3.6's GDALFlushCache returns nothing: look at the error state */
		CPLErrorReset();
		GDALFlushCache(cls);
		ok = CPLGetLastErrorType() < CE_Failure;
	}
	if (!ok) {
		ls_err("%s: classifying into %s failed: %s", in, path, ls_gdal_msg());
		GDALClose(cls);
		unlink(path);
		ls_cleanup_forget(path);
		return NULL;
	}
	return cls;
}

/* Mean probability of class cls under the polygon, from its bounding window. */
static double mean_score(struct src *s, OGRGeometryH g, int cls, const double *gt)
{
	OGREnvelope e;
	if (s->is_class || cls >= s->nb)
		return 1;
	OGR_G_GetEnvelope(g, &e);
	int x0 = (int)floor((e.MinX - gt[0]) / gt[1]), x1 = (int)ceil((e.MaxX - gt[0]) / gt[1]);
	int y0 = (int)floor((e.MaxY - gt[3]) / gt[5]), y1 = (int)ceil((e.MinY - gt[3]) / gt[5]);
	x0 = x0 < 0 ? 0 : x0;
	y0 = y0 < 0 ? 0 : y0;
	x1 = x1 > s->w ? s->w : x1;
	y1 = y1 > s->h ? s->h : y1;
	int w = x1 - x0, h = y1 - y0;
	if (w <= 0 || h <= 0)
		return NAN;
	float *p = ls_xmalloc((size_t)w * h * sizeof *p);
	uint8_t *m = ls_xcalloc((size_t)w * h, 1);
	GDALDatasetH mem = GDALCreate(GDALGetDriverByName("MEM"), "", w, h, 1, GDT_Byte, NULL);
	double wgt[6] = { gt[0] + x0 * gt[1], gt[1], 0, gt[3] + y0 * gt[5], 0, gt[5] };
	int band = 1;
	double burn = 1;
	double sum = 0;
	size_t n = 0;
	GDALSetGeoTransform(mem, wgt);
	if (GDALRasterIO(GDALGetRasterBand(s->ds, cls + 1), GF_Read, x0, y0, w, h, p, w, h, GDT_Float32, 0, 0) == CE_None &&
	    GDALRasterizeGeometries(mem, 1, &band, 1, &g, NULL, NULL, &burn, NULL, NULL, NULL) == CE_None &&
	    GDALRasterIO(GDALGetRasterBand(mem, 1), GF_Read, 0, 0, w, h, m, w, h, GDT_Byte, 0, 0) == CE_None)
		for (size_t i = 0; i < (size_t)w * h; i++)
			if (m[i]) {
				sum += p[i];
				n++;
			}
	GDALClose(mem);
	free(p);
	free(m);
	return n ? sum / n : NAN;
}

static const char *driver_for(const char *out)
{
	const char *dot = strrchr(out, '.');
	if (dot && (!strcasecmp(dot, ".geojson") || !strcasecmp(dot, ".json")))
		return "GeoJSON";
	if (dot && !strcasecmp(dot, ".gpkg"))
		return "GPKG";
	return NULL;
}

static OGRLayerH make_layer(GDALDatasetH ds, const char *name, const char *wkt, int line)
{
	OGRSpatialReferenceH srs = OSRNewSpatialReference(wkt);
	OGRLayerH l = GDALDatasetCreateLayer(ds, name, srs, line ? wkbLineString : wkbPolygon, NULL);
	OSRDestroySpatialReference(srs);
	if (!l)
		return NULL;
	const char *fields[4] = { "class", "class_name", line ? "width" : "score", line ? "length" : "area" };
	OGRFieldType types[4] = { OFTInteger, OFTString, OFTReal, OFTReal };
	for (int i = 0; i < 4; i++) {
		OGRFieldDefnH f = OGR_Fld_Create(fields[i], types[i]);
		OGR_L_CreateField(l, f, 1);
		OGR_Fld_Destroy(f);
	}
	return l;
}

/* The output layers: one per class, named by its class name (a GeoJSON
 * file, or a layer name given, holds one for all); made on first use. */
struct outl {
	GDALDatasetH ds;
	const char *wkt, *one;	/* one: the single layer's name, or NULL */
	OGRLayerH l[256];
	const struct ls_vec_opts *o;
	const uint8_t *line;	/* line[c]: class c is drawn as centrelines */
};

static OGRLayerH layer_for(struct outl *ol, int cls)
{
	char cn[64];
	int k = ol->one ? 0 : cls;
	if (!ol->l[k])
		ol->l[k] = make_layer(ol->ds, ol->one ? ol->one : ls_class_name(ol->o->class_names, cls, cn, sizeof cn), ol->wkt,
				      ol->line[cls]);
	return ol->l[k];
}

/* Square metres in a square unit of the CRS, and metres in a unit: 1 for
 * a projected CRS in metres; for a geographic one, at the raster's centre
 * latitude (so --min-area and --simplify stay in metres). */
static void metric_scale(struct src *s, const double *gt, double *area, double *len)
{
	OGRSpatialReferenceH srs = OSRNewSpatialReference(GDALGetProjectionRef(s->ds));
	*area = *len = 1;
	if (srs && OSRIsGeographic(srs)) {
		double lat = (gt[3] + gt[5] * s->h / 2) * M_PI / 180, m = 111320.0;
		*len = m;
		*area = m * m * cos(lat);
	} else if (srs) {
		*len = OSRGetLinearUnits(srs, NULL);
		*area = *len * *len;
	}
	OSRDestroySpatialReference(srs);
}

/* Copy the polygons of `raw` into the output layers with their
 * attributes, filtered and simplified. */
static long finish_layers(struct src *s, OGRLayerH raw, struct outl *ol, const struct ls_vec_opts *o, const double *gt)
{
	long n = 0, seen = 0;
	OGRFeatureH f;
	double am, lm;
	struct ls_progress prog;
	metric_scale(s, gt, &am, &lm);
	ls_progress_start(&prog, "writing polygons", (long)OGR_L_GetFeatureCount(raw, 1));
	OGR_L_ResetReading(raw);
	while ((f = OGR_L_GetNextFeature(raw))) {
		ls_progress_update(&prog, seen++);
		OGRGeometryH g = OGR_F_GetGeometryRef(f);
		int cls = OGR_F_GetFieldAsInteger(f, 0);
		double area = g ? OGR_G_Area(g) * am : 0;
		OGRLayerH dst = g && cls > 0 && cls < 256 && !ol->line[cls] && area >= o->min_area ? layer_for(ol, cls) : NULL;
		if (dst) {
			OGRGeometryH out = OGR_G_Clone(g);
			if (o->simplify > 0) {
				OGRGeometryH sg = OGR_G_SimplifyPreserveTopology(out, o->simplify / lm);
				if (sg && OGR_G_IsValid(sg) && !OGR_G_IsEmpty(sg)) {
					OGR_G_DestroyGeometry(out);
					out = sg;
				} else if (sg) {
					OGR_G_DestroyGeometry(sg);
				}
			}
			OGRFeatureH nf = OGR_F_Create(OGR_L_GetLayerDefn(dst));
			OGR_F_SetFieldInteger(nf, 0, cls);
			char cn[64];
			OGR_F_SetFieldString(nf, 1, ls_class_name(o->class_names, cls, cn, sizeof cn));
			OGR_F_SetFieldDouble(nf, 2, mean_score(s, g, cls, gt));
			OGR_F_SetFieldDouble(nf, 3, area);
			OGR_F_SetGeometryDirectly(nf, out);
			if (OGR_L_CreateFeature(dst, nf) == OGRERR_NONE)
				n++;
			OGR_F_Destroy(nf);
		}
		OGR_F_Destroy(f);
	}
	ls_progress_end(&prog);
	return n;
}

/* Class c of the class raster as centrelines into its layer. Returns the
 * number of lines, or -1. */
static long write_lines(struct src *s, GDALDatasetH cls, int c, struct outl *ol, const double *gt)
{
	size_t n = (size_t)s->w * s->h;
	uint8_t *m = ls_xmalloc(n);
	double am, lm;
	struct ls_polyline *pl;
	metric_scale(s, gt, &am, &lm);
	if (GDALRasterIO(GDALGetRasterBand(cls, 1), GF_Read, 0, 0, s->w, s->h, m, s->w, s->h, GDT_Byte, 0, 0) != CE_None) {
		free(m);
		return ls_err("reading the class raster back failed: %s", ls_gdal_msg());
	}
	for (size_t i = 0; i < n; i++)
		m[i] = m[i] == c;
	double px = sqrt(fabs(gt[1] * gt[5] - gt[2] * gt[4])) * lm;	/* metres a pixel */
	long nl = ls_centrelines(m, s->w, s->h, ol->o->spur / px, &pl), written = 0;
	free(m);
	OGRLayerH dst = layer_for(ol, c);
	for (long i = 0; dst && i < nl; i++) {
		OGRGeometryH g = OGR_G_CreateGeometry(wkbLineString);
		for (int k = 0; k < pl[i].n; k++)
			OGR_G_AddPoint_2D(g, gt[0] + pl[i].x[k] * gt[1] + pl[i].y[k] * gt[2],
					  gt[3] + pl[i].x[k] * gt[4] + pl[i].y[k] * gt[5]);
		if (ol->o->simplify > 0) {
			OGRGeometryH sg = OGR_G_SimplifyPreserveTopology(g, ol->o->simplify / lm);
			if (sg && !OGR_G_IsEmpty(sg)) {
				OGR_G_DestroyGeometry(g);
				g = sg;
			} else if (sg) {
				OGR_G_DestroyGeometry(sg);
			}
		}
		OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(dst));
		char cn[64];
		OGR_F_SetFieldInteger(f, 0, c);
		OGR_F_SetFieldString(f, 1, ls_class_name(ol->o->class_names, c, cn, sizeof cn));
		OGR_F_SetFieldDouble(f, 2, pl[i].width * px);
		OGR_F_SetFieldDouble(f, 3, OGR_G_Length(g) * lm);
		OGR_F_SetGeometryDirectly(f, g);
		if (OGR_L_CreateFeature(dst, f) == OGRERR_NONE)
			written++;
		OGR_F_Destroy(f);
	}
	ls_polylines_free(pl, nl);
	return dst ? written : ls_err("cannot create the layer of class %d: %s", c, ls_gdal_msg());
}

static int open_src(struct src *s, const char *in)
{
	memset(s, 0, sizeof *s);
	s->ds = GDALOpen(in, GA_ReadOnly);
	if (!s->ds)
		return ls_err("cannot open raster %s: %s", in, ls_gdal_msg());
	const char *wkt = GDALGetProjectionRef(s->ds);
	if (!wkt || !*wkt)
		return ls_err("%s: raster has no CRS, polygons would not be georeferenced", in);
	s->w = GDALGetRasterXSize(s->ds);
	s->h = GDALGetRasterYSize(s->ds);
	s->nb = GDALGetRasterCount(s->ds);
	GDALDataType t = GDALGetRasterDataType(GDALGetRasterBand(s->ds, 1));
	s->is_class = s->nb == 1 && (t == GDT_Byte || t == GDT_UInt16 || t == GDT_Int16);
	if (s->nb == 1 && !s->is_class)
		return ls_err("%s: one float band: give a class raster (integer) or per-class probabilities", in);
	return 0;
}

int ls_vectorise(const char *in, const char *out, const struct ls_vec_opts *o, long *count)
{
	struct src s;
	uint8_t keep[256], line[256] = { 0 };
	char tmp[4096], jnl[4200];
	double gt[6];
	const char *drv = driver_for(out);
	if (!drv)
		return ls_err("%s: output must end in .gpkg or .geojson", out);
	if (open_src(&s, in) < 0) {
		if (s.ds)
			GDALClose(s.ds);
		return -1;
	}
	if (o->decision.cls && (s.is_class || o->decision.cls >= s.nb)) {
		GDALClose(s.ds);
		return s.is_class ? ls_err("%s: class threshold %d=%g: the raster holds classes, not probabilities", in,
					   o->decision.cls, o->decision.t)
				  : ls_err("%s: class threshold %d=%g: the raster holds %d classes, no class %d", in,
					   o->decision.cls, o->decision.t, s.nb, o->decision.cls);
	}
	GDALGetGeoTransform(s.ds, gt);
	memset(keep, o->classes ? 0 : 1, sizeof keep);
	keep[0] = 0;
	if (o->classes) {
		struct ls_strlist l = { 0 };
		ls_strlist_split(&l, o->classes, ',');
		for (int i = 0; i < l.n; i++)
			keep[atoi(l.v[i]) & 255] = 1;
		ls_strlist_free(&l);
	}
	if (o->lines) {
		struct ls_strlist l = { 0 };
		ls_strlist_split(&l, o->lines, ',');
		for (int i = 0; i < l.n; i++) {
			int c = atoi(l.v[i]);
			if (c < 1 || c > 255 || !keep[c]) {
				ls_err("line class %s: not one of the classes vectorised", l.v[i]);
				ls_strlist_free(&l);
				GDALClose(s.ds);
				return -1;
			}
			line[c] = 1;
		}
		ls_strlist_free(&l);
	}
	char clspath[4096];
	if (strlen(out) > sizeof tmp - 32) {
		GDALClose(s.ds);
		return ls_err("%s: the output path is too long", out);
	}
	snprintf(clspath, sizeof clspath, "%s.%d.classes.tmp", out, (int)getpid());
	GDALDatasetH cls = class_raster(&s, o, keep, clspath, in, out);
	if (!cls) {
		GDALClose(s.ds);
		return -1;
	}
	/* polygonise into memory, then write the kept polygons */
	GDALDatasetH memv = GDALCreate(GDALGetDriverByName("Memory"), "", 0, 0, 0, GDT_Unknown, NULL);
	OGRSpatialReferenceH srs = OSRNewSpatialReference(GDALGetProjectionRef(s.ds));
	OGRLayerH raw = GDALDatasetCreateLayer(memv, "raw", srs, wkbPolygon, NULL);
	OGRFieldDefnH fd = OGR_Fld_Create("class", OFTInteger);
	OGR_L_CreateField(raw, fd, 1);
	OGR_Fld_Destroy(fd);
	OSRDestroySpatialReference(srs);
	char **popt = o->eight ? CSLSetNameValue(NULL, "8CONNECTED", "8") : NULL;
	GDALRasterBandH cb = GDALGetRasterBand(cls, 1);
	struct ls_progress prog;
	ls_progress_start(&prog, "polygonising", 1000);
	int rc = GDALPolygonize(cb, cb, raw, 0, popt, ls_gdal_progress, &prog) == CE_None ? 0 : ls_err("polygonising %s failed", in);
	ls_progress_end(&prog);
	CSLDestroy(popt);
	/* a temporary name no *.gpkg glob matches; SQLite's journal beside it */
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", out, (int)getpid());
	snprintf(jnl, sizeof jnl, "%s-journal", tmp);
	GDALDatasetH ods = NULL;
	if (rc == 0) {
		ls_cleanup_add(tmp);
		ls_cleanup_add(jnl);
		ods = GDALCreate(GDALGetDriverByName(drv), tmp, 0, 0, 0, GDT_Unknown, NULL);
		if (!ods)
			rc = ls_err("cannot create %s: %s", out, ls_gdal_msg());
	}
	if (rc == 0) {
		struct outl ol = { ods, GDALGetProjectionRef(s.ds), o->layer, { 0 }, o, line };
		if (!o->layer && !strcmp(drv, "GeoJSON"))
			ol.one = "polygons";
		int txn = GDALDatasetStartTransaction(ods, 0) == OGRERR_NONE;
		for (int c = 1; !s.is_class && c < s.nb && c < 256; c++)	/* every class mapped, even without polygons */
			if (keep[c] && !layer_for(&ol, c))
				rc = ls_err("writing %s failed: %s", out, ls_gdal_msg());
		*count = rc == 0 ? finish_layers(&s, raw, &ol, o, gt) : 0;
		for (int c = 1; rc == 0 && c < 256; c++)
			if (line[c]) {
				long nl = write_lines(&s, cls, c, &ol, gt);
				if (nl < 0)
					rc = -1;
				else
					*count += nl;
			}
		int made = 0;
		for (int c = 0; c < 256; c++)
			made |= ol.l[c] != NULL;
		if (rc == 0 && !made && !layer_for(&ol, 1))	/* nothing found: the file still opens with a layer */
			rc = ls_err("writing %s failed: %s", out, ls_gdal_msg());
		if (rc == 0 && txn && GDALDatasetCommitTransaction(ods) != OGRERR_NONE)
			rc = ls_err("writing %s failed: %s", out, ls_gdal_msg());
		CPLErrorReset();
		GDALClose(ods);
		if (rc == 0 && CPLGetLastErrorType() >= CE_Failure)
			rc = ls_err("writing %s failed: %s", out, ls_gdal_msg());
		if (rc == 0 && rename(tmp, out) < 0)
			rc = ls_err("cannot rename %s: %s", out, strerror(errno));
	}
	if (rc < 0)
		unlink(tmp);
	unlink(jnl);
	ls_cleanup_forget(tmp);
	ls_cleanup_forget(jnl);
	GDALClose(memv);
	GDALClose(cls);
	unlink(clspath);
	ls_cleanup_forget(clspath);
	GDALClose(s.ds);
	return rc;
}
