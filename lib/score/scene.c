#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "base/err.h"
#include "base/progress.h"
#include "score/scene.h"

int ls_read_prediction(struct ls_raster *r, const struct ls_decision *d, uint8_t *cls, uint8_t *valid)
{
	const int rows = 256;
	size_t hw = (size_t)rows * rows;
	struct ls_frame f;
	struct ls_progress prog;
	ls_frame_init(&f);
	ls_progress_start(&prog, "reading the prediction", r->h);
	for (int y0 = 0; y0 < r->h; y0 += rows) {
		ls_progress_update(&prog, y0);
		for (int x0 = 0; x0 < r->w; x0 += rows) {
			if (ls_raster_read_tile(r, x0, y0, rows, &f) < 0) {
				ls_progress_end(&prog);
				ls_frame_free(&f);
				return -1;
			}
			for (int y = 0; y < rows && y0 + y < r->h; y++)
				for (int x = 0; x < rows && x0 + x < r->w; x++) {
					size_t i = (size_t)y * rows + x, o = (size_t)(y0 + y) * r->w + x0 + x;
					int best;
					if (r->nsel == 1) {
						double v = r->dtype == 0 ? ((uint8_t *)f.t.data)[i]
						       : r->dtype == 1 ? ((uint16_t *)f.t.data)[i]
								       : ((float *)f.t.data)[i];
						best = v >= 0 && v < 255 ? (int)v : 255;
					} else {
						best = ls_decide((const float *)f.t.data + i, hw, r->nsel, d);
					}
					cls[o] = (uint8_t)best;
					valid[o] = (!f.mask || f.mask[i]) && best != 255;
				}
		}
	}
	ls_progress_end(&prog);
	ls_frame_free(&f);
	return 0;
}

int ls_classes_seen(const uint8_t *pred, const uint8_t *valid, const uint8_t *ref, size_t n, int k)
{
	for (size_t i = 0; i < n; i++) {
		if (ref[i] != 255 && ref[i] + 1 > k)
			k = ref[i] + 1;
		if (valid[i] && pred[i] + 1 > k)
			k = pred[i] + 1;
	}
	return k;
}

uint64_t ls_confusion(const uint8_t *pred, const uint8_t *valid, const uint8_t *ref, size_t n, int k,
		      uint64_t *conf)
{
	uint64_t scored = 0;
	for (size_t i = 0; i < n; i++)
		if (valid[i] && ref[i] != 255 && ref[i] < k && pred[i] < k) {
			conf[ref[i] * k + pred[i]]++;
			scored++;
		}
	return scored;
}

void ls_pixel_to_crs(const struct ls_raster *r, double *x, double *y)
{
	double px = *x, py = *y;
	*x = r->gt[0] + px * r->gt[1] + py * r->gt[2];
	*y = r->gt[3] + px * r->gt[4] + py * r->gt[5];
}

/* A transformation from layer l's CRS to r's, or NULL when they agree or l
 * states none. */
static OGRCoordinateTransformationH to_raster(OGRLayerH l, const struct ls_raster *r)
{
	OGRSpatialReferenceH ls = OGR_L_GetSpatialRef(l), rs;
	OGRCoordinateTransformationH ct = NULL;
	if (!ls)
		return NULL;
	rs = OSRNewSpatialReference(r->wkt);
	OGRSpatialReferenceH lc = OSRClone(ls);
	OSRSetAxisMappingStrategy(rs, OAMS_TRADITIONAL_GIS_ORDER);
	OSRSetAxisMappingStrategy(lc, OAMS_TRADITIONAL_GIS_ORDER);
	if (!OSRIsSame(lc, rs))
		ct = OCTNewCoordinateTransformation(lc, rs);
	OSRDestroySpatialReference(lc);
	OSRDestroySpatialReference(rs);
	return ct;
}

long ls_crown_points(const struct ls_raster *r, const uint8_t *pred, const uint8_t *valid, const uint8_t *ref, int cls,
		     double radius, double **qx, double **qy, double **sx, double **sy, long *ns)
{
	size_t n = (size_t)r->w * r->h;
	uint8_t *pv = ls_xmalloc(n), *rv = ls_xmalloc(n);
	for (size_t i = 0; i < n; i++) {
		int scored = valid[i] && ref[i] != 255;
		pv[i] = scored ? pred[i] : 254;
		rv[i] = scored ? ref[i] : 254;
	}
	double px = sqrt(fabs(r->gt[1] * r->gt[5] - r->gt[2] * r->gt[4]));
	long nq = ls_crown_centres(rv, r->w, r->h, cls, radius / px, qx, qy);
	*ns = ls_crown_centres(pv, r->w, r->h, cls, radius / px, sx, sy);
	free(pv), free(rv);
	for (long i = 0; i < nq; i++)
		ls_pixel_to_crs(r, &(*qx)[i], &(*qy)[i]);
	for (long i = 0; i < *ns; i++)
		ls_pixel_to_crs(r, &(*sx)[i], &(*sy)[i]);
	return nq;
}

OGRLayerH ls_vector_layer(const char *path, const char *layer, const char *what, GDALDatasetH *ds)
{
	*ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
	if (!*ds) {
		ls_err("cannot open %s %s: %s", what, path, ls_gdal_msg());
		return NULL;
	}
	OGRLayerH l = layer ? GDALDatasetGetLayerByName(*ds, layer) : GDALDatasetGetLayer(*ds, 0);
	if (!l) {
		GDALClose(*ds);
		*ds = NULL;
		layer ? ls_err("%s has no layer %s", path, layer) : ls_err("%s has no layer", path);
	}
	return l;
}

const char *ls_layer_if_present(const char *path, const char *name)
{
	const char *found = NULL;
	GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
	if (ds && GDALDatasetGetLayerByName(ds, name))
		found = name;
	if (ds)
		GDALClose(ds);
	return found;
}

int ls_objects_read(const char *path, const char *layer, const struct ls_raster *r, const uint8_t *keep,
		    int32_t *ids, int32_t *n)
{
	GDALDatasetH ds;
	OGRLayerH l = ls_vector_layer(path, layer, "objects", &ds);
	if (!l)
		return -1;
	OGRCoordinateTransformationH ct = to_raster(l, r);
	size_t cap = 1024, ng = 0, npix = (size_t)r->w * r->h;
	OGRGeometryH *geoms = ls_xmalloc(cap * sizeof *geoms);
	double *burn = ls_xmalloc(cap * sizeof *burn);
	OGRFeatureH f;
	int rc = 0;
	OGR_L_ResetReading(l);
	while (!rc && (f = OGR_L_GetNextFeature(l))) {
		OGRGeometryH g = OGR_F_GetGeometryRef(f);
		OGRwkbGeometryType t = g ? wkbFlatten(OGR_G_GetGeometryType(g)) : wkbNone;
		if (t != wkbNone && t != wkbPolygon && t != wkbMultiPolygon)
			rc = ls_err("%s: layer %s holds %s geometries, not polygons", path, OGR_L_GetName(l),
				    OGRGeometryTypeToName(t));
		else if (g) {
			OGRGeometryH c = OGR_G_Clone(g);
			if (ct && OGR_G_Transform(c, ct) != OGRERR_NONE) {
				OGR_G_DestroyGeometry(c);
				rc = ls_err("%s: a polygon cannot be reprojected to the prediction's CRS", path);
			} else {
				if (ng == cap) {
					cap *= 2;
					geoms = ls_xrealloc(geoms, cap * sizeof *geoms);
					burn = ls_xrealloc(burn, cap * sizeof *burn);
				}
				geoms[ng] = c;
				burn[ng] = (double)(ng + 1);
				ng++;
			}
		}
		OGR_F_Destroy(f);
	}
	if (!rc && ng > INT32_MAX - 1)
		rc = ls_err("%s: too many polygons", path);
	GDALDatasetH mem = NULL;
	if (!rc) {
		mem = GDALCreate(GDALGetDriverByName("MEM"), "", r->w, r->h, 1, GDT_Int32, NULL);
		if (!mem)
			rc = ls_err("%s: no memory to burn the polygons", path);
	}
	if (!rc) {
		int band = 1;
		GDALSetGeoTransform(mem, (double *)r->gt);
		GDALSetProjection(mem, r->wkt);
		if ((ng && GDALRasterizeGeometries(mem, 1, &band, (int)ng, geoms, NULL, NULL, burn, NULL, NULL, NULL) !=
				   CE_None) ||
		    GDALRasterIO(GDALGetRasterBand(mem, 1), GF_Read, 0, 0, r->w, r->h, ids, r->w, r->h, GDT_Int32, 0, 0) !=
			    CE_None)
			rc = ls_err("%s: burning the polygons failed: %s", path, ls_gdal_msg());
	}
	if (!rc) {	/* number the polygons that cover a kept pixel 1..n */
		int32_t *num = ls_xcalloc(ng + 1, sizeof *num);
		for (size_t i = 0; i < npix; i++)
			if (ids[i] > 0 && (size_t)ids[i] <= ng && (!keep || keep[i]))
				num[ids[i]] = 1;
		*n = 0;
		for (size_t j = 1; j <= ng; j++)
			num[j] = num[j] ? ++*n : 0;
		for (size_t i = 0; i < npix; i++)
			ids[i] = ids[i] > 0 && (size_t)ids[i] <= ng && (!keep || keep[i]) ? num[ids[i]] : 0;
		free(num);
	}
	if (mem)
		GDALClose(mem);
	for (size_t j = 0; j < ng; j++)
		OGR_G_DestroyGeometry(geoms[j]);
	free(geoms);
	free(burn);
	if (ct)
		OCTDestroyCoordinateTransformation(ct);
	GDALClose(ds);
	return rc;
}

void ls_object_centres(const int32_t *ids, int32_t n, const struct ls_raster *r, double **x, double **y)
{
	double *sx = ls_xcalloc((size_t)n + 1, sizeof *sx), *sy = ls_xcalloc((size_t)n + 1, sizeof *sy);
	long *cnt = ls_xcalloc((size_t)n + 1, sizeof *cnt);
	for (int py = 0; py < r->h; py++)
		for (int px = 0; px < r->w; px++) {
			int32_t id = ids[(size_t)py * r->w + px];
			if (id > 0 && id <= n) {
				sx[id] += px + 0.5;
				sy[id] += py + 0.5;
				cnt[id]++;
			}
		}
	for (int32_t i = 1; i <= n; i++) {
		sx[i - 1] = sx[i] / cnt[i];
		sy[i - 1] = sy[i] / cnt[i];
		ls_pixel_to_crs(r, &sx[i - 1], &sy[i - 1]);
	}
	free(cnt);
	*x = sx;
	*y = sy;
}

int ls_points_read(const char *path, const struct ls_raster *r, double **x, double **y, long *n)
{
	GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
	if (!ds)
		return ls_err("cannot open points %s: %s", path, ls_gdal_msg());
	OGRLayerH l = GDALDatasetGetLayer(ds, 0);
	OGRCoordinateTransformationH ct = l ? to_raster(l, r) : NULL;
	double minx = r->gt[0], maxx = r->gt[0] + r->w * r->gt[1], maxy = r->gt[3], miny = r->gt[3] + r->h * r->gt[5];
	long cap = 256;
	*x = ls_xmalloc(cap * sizeof **x);
	*y = ls_xmalloc(cap * sizeof **y);
	*n = 0;
	OGRFeatureH f;
	while (l && (f = OGR_L_GetNextFeature(l))) {
		OGRGeometryH g = OGR_F_GetGeometryRef(f);
		if (g && wkbFlatten(OGR_G_GetGeometryType(g)) == wkbPoint) {
			double px = OGR_G_GetX(g, 0), py = OGR_G_GetY(g, 0), pz = 0;
			if ((!ct || OCTTransform(ct, 1, &px, &py, &pz)) && px >= minx && px < maxx && py > miny &&
			    py <= maxy) {
				if (*n == cap) {
					cap *= 2;
					*x = ls_xrealloc(*x, cap * sizeof **x);
					*y = ls_xrealloc(*y, cap * sizeof **y);
				}
				(*x)[*n] = px;
				(*y)[(*n)++] = py;
			}
		}
		OGR_F_Destroy(f);
	}
	if (ct)
		OCTDestroyCoordinateTransformation(ct);
	GDALClose(ds);
	return 0;
}

int ls_error_map_write(const char *path, const struct ls_raster *r, const uint8_t *pred, const uint8_t *valid,
		       const uint8_t *ref, int c)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp)
		return ls_err("%s: the output path is too long", path);
	char *co[] = { "COMPRESS=DEFLATE", "TILED=YES", NULL };
	GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), tmp, r->w, r->h, 1, GDT_Byte, co);
	if (!ds)
		return ls_err("cannot create %s: %s", path, ls_gdal_msg());
	ls_cleanup_add(tmp);
	size_t n = (size_t)r->w * r->h;
	uint8_t *e = ls_xmalloc(n);
	for (size_t i = 0; i < n; i++) {
		if (!valid[i] || ref[i] == 255)
			e[i] = 255;
		else {
			int p = pred[i] == c, t = ref[i] == c;
			e[i] = (uint8_t)(p && t ? 1 : p ? 2 : t ? 3 : 0);
		}
	}
	GDALSetGeoTransform(ds, (double *)r->gt);
	GDALSetProjection(ds, r->wkt);
	GDALRasterBandH b = GDALGetRasterBand(ds, 1);
	GDALSetRasterNoDataValue(b, 255);
	GDALColorTableH ct = GDALCreateColorTable(GPI_RGB);
	const GDALColorEntry cols[4] = { { 0, 0, 0, 0 }, { 40, 170, 60, 255 }, { 220, 40, 40, 255 }, { 40, 90, 230, 255 } };
	for (int i = 0; i < 4; i++)
		GDALSetColorEntry(ct, i, &cols[i]);
	GDALSetRasterColorTable(b, ct);
	GDALDestroyColorTable(ct);
	char *cats[] = { "true negative", "true positive", "false positive", "false negative", NULL };
	GDALSetRasterCategoryNames(b, cats);
	CPLErrorReset();
	CPLErr err = GDALRasterIO(b, GF_Write, 0, 0, r->w, r->h, e, r->w, r->h, GDT_Byte, 0, 0);
	free(e);
	GDALClose(ds);	/* the compressed blocks reach the disk here: its errors count */
	if (err != CE_None || CPLGetLastErrorType() >= CE_Failure) {
		unlink(tmp);
		ls_cleanup_forget(tmp);
		return ls_err("writing %s failed: %s", path, ls_gdal_msg());
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		ls_cleanup_forget(tmp);
		return ls_err("cannot rename %s to %s: %s", tmp, path, strerror(errno));
	}
	ls_cleanup_forget(tmp);
	return 0;
}
