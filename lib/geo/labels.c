#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <gdal_alg.h>
#include <gdal_utils.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "base/err.h"
#include "geo/labels.h"

struct ls_label_src {
	char *path;
	int is_vector;
	int cls;
	char *attr;
	double line_width;
	int16_t map[65536];	/* value -> class, -1 = unchanged */
	/* raster */
	GDALDatasetH rds, aligned;
	int has_nodata;
	double nodata;
	/* vector, bound to the current image */
	GDALDatasetH vds;
	OGRLayerH layer;
	int attr_idx;
	OGRCoordinateTransformationH to_img, to_layer;
	OGRCoordinateTransformationH to_metric, from_metric;	/* buffering lines in metres on geographic rasters */
};

void ls_labels_init(struct ls_labels *l)
{
	memset(l, 0, sizeof *l);
	l->cls = 1;
}

static struct ls_label_src *last(struct ls_labels *l)
{
	return l->n ? l->src[l->n - 1] : NULL;
}

static int parse_map(int16_t *map, const char *s)
{
	for (int i = 0; i < 65536; i++)
		map[i] = -1;
	while (s && *s) {
		char *end;
		long from = strtol(s, &end, 10), to;
		if (end == s || *end != '=' || from < 0 || from > 65535)
			return ls_err("label map '%s': expected VALUE=CLASS pairs like 255=1,0=0", s);
		s = end + 1;
		to = strtol(s, &end, 10);
		if (end == s || to < 0 || to > 255 || (*end && *end != ','))
			return ls_err("label map: class must be 0..255 after '='");
		map[from] = (int16_t)to;
		s = *end ? end + 1 : end;
	}
	return 0;
}

int ls_labels_add(struct ls_labels *l, const char *path)
{
	struct ls_label_src *s = ls_xcalloc(1, sizeof *s);
	s->path = ls_xstrdup(path);
	s->cls = l->cls;
	s->attr = l->attr ? ls_xstrdup(l->attr) : NULL;
	s->line_width = l->line_width;
	parse_map(s->map, l->map);
	l->src = ls_xrealloc(l->src, (l->n + 1) * sizeof *l->src);
	l->src[l->n++] = s;
	return 0;
}

int ls_labels_set_class(struct ls_labels *l, int cls)
{
	if (cls < 0 || cls > 254)
		return ls_err("class %d out of range 0..254", cls);
	l->cls = cls;
	if (last(l))
		last(l)->cls = cls;
	return 0;
}

int ls_labels_set_attr(struct ls_labels *l, const char *attr)
{
	l->attr = attr;
	if (last(l))
		ls_frame_set_str(&last(l)->attr, attr);
	return 0;
}

int ls_labels_set_line_width(struct ls_labels *l, double m)
{
	if (!(m >= 0))
		return ls_err("line width must be >= 0 metres");
	l->line_width = m;
	if (last(l))
		last(l)->line_width = m;
	return 0;
}

int ls_labels_set_map(struct ls_labels *l, const char *map)
{
	static int16_t probe[65536];
	l->map = map;
	return parse_map(last(l) ? last(l)->map : probe, map);
}

static void extent_of(const struct ls_raster *img, double *e)
{
	double x0 = img->gt[0], y0 = img->gt[3];
	double x1 = x0 + img->w * img->gt[1] + img->h * img->gt[2];
	double y1 = y0 + img->w * img->gt[4] + img->h * img->gt[5];
	e[0] = fmin(x0, x1);
	e[1] = fmin(y0, y1);
	e[2] = fmax(x0, x1);
	e[3] = fmax(y0, y1);
}

static OGRSpatialReferenceH srs_of(const char *wkt)
{
	OGRSpatialReferenceH s = OSRNewSpatialReference(wkt);
	if (s)
		OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
	return s;
}

static int no_overlap(const struct ls_label_src *s, const char *lwkt, const struct ls_raster *img)
{
	char a[64], b[64];
	ls_crs_label(lwkt, a, sizeof a);
	ls_crs_label(img->wkt, b, sizeof b);
	return ls_err("labels %s (%s) do not overlap raster %s (%s): wrong file?", s->path, a, img->path, b);
}

static int bind_vector(struct ls_label_src *s, const struct ls_raster *img)
{
	double e[4], le[4];
	OGREnvelope env;
	if (!s->vds) {
		s->vds = GDALOpenEx(s->path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
		if (!s->vds)
			return ls_err("labels %s: cannot open as a raster or vector source", s->path);
		s->layer = GDALDatasetGetLayer(s->vds, 0);
		if (!s->layer)
			return ls_err("labels %s: no layer", s->path);
		s->attr_idx = -1;
		if (s->attr) {
			s->attr_idx = OGR_FD_GetFieldIndex(OGR_L_GetLayerDefn(s->layer), s->attr);
			if (s->attr_idx < 0)
				return ls_err("labels %s: no attribute '%s'", s->path, s->attr);
			OGRFieldType ft = OGR_Fld_GetType(OGR_FD_GetFieldDefn(OGR_L_GetLayerDefn(s->layer), s->attr_idx));
			if (ft != OFTInteger && ft != OFTInteger64 && ft != OFTReal)
				return ls_err("labels %s: attribute '%s' holds %s, not class numbers", s->path, s->attr,
					      OGR_GetFieldTypeName(ft));
		}
	}
	if (s->to_img)
		OCTDestroyCoordinateTransformation(s->to_img);
	if (s->to_layer)
		OCTDestroyCoordinateTransformation(s->to_layer);
	s->to_img = s->to_layer = NULL;
	OGRSpatialReferenceH ls = OGR_L_GetSpatialRef(s->layer), is = srs_of(img->wkt);
	char *lwkt = NULL;
	if (!ls) {
		ls_warn("labels %s have no CRS; assuming the raster's", s->path);
	} else if (!OSRIsSame(ls, is)) {
		OGRSpatialReferenceH lc = OSRClone(ls);
		OSRSetAxisMappingStrategy(lc, OAMS_TRADITIONAL_GIS_ORDER);
		s->to_img = OCTNewCoordinateTransformation(lc, is);
		s->to_layer = OCTNewCoordinateTransformation(is, lc);
		OSRDestroySpatialReference(lc);
		if (!s->to_img || !s->to_layer) {
			OSRDestroySpatialReference(is);
			return ls_err("labels %s: cannot transform to the raster's CRS", s->path);
		}
	}
	if (ls)
		OSRExportToWkt(ls, &lwkt);
	if (s->to_metric)
		OCTDestroyCoordinateTransformation(s->to_metric);
	if (s->from_metric)
		OCTDestroyCoordinateTransformation(s->from_metric);
	s->to_metric = s->from_metric = NULL;
	if (s->line_width > 0 && OSRIsGeographic(is)) {
		/* an azimuthal equidistant CRS centred on the raster: metres near it */
		char proj[256];
		double cx = img->gt[0] + img->w / 2.0 * img->gt[1], cy = img->gt[3] + img->h / 2.0 * img->gt[5];
		OGRSpatialReferenceH aeqd = OSRNewSpatialReference(NULL);
		snprintf(proj, sizeof proj, "+proj=aeqd +lat_0=%.10f +lon_0=%.10f +datum=WGS84 +units=m +no_defs", cy, cx);
		OSRImportFromProj4(aeqd, proj);
		OSRSetAxisMappingStrategy(aeqd, OAMS_TRADITIONAL_GIS_ORDER);
		s->to_metric = OCTNewCoordinateTransformation(is, aeqd);
		s->from_metric = OCTNewCoordinateTransformation(aeqd, is);
		OSRDestroySpatialReference(aeqd);
	}
	OSRDestroySpatialReference(is);
	extent_of(img, e);
	int rc = 0;
	OGR_L_SetSpatialFilter(s->layer, NULL);
	if (OGR_L_GetExtent(s->layer, &env, 1) != OGRERR_NONE) {
		rc = no_overlap(s, lwkt, img);
	} else {
		le[0] = env.MinX, le[1] = env.MinY, le[2] = env.MaxX, le[3] = env.MaxY;
		if (s->to_img && !OCTTransformBounds(s->to_img, env.MinX, env.MinY, env.MaxX, env.MaxY, &le[0],
						     &le[1], &le[2], &le[3], 21))
			rc = no_overlap(s, lwkt, img);
		else if (le[2] < e[0] || le[0] > e[2] || le[3] < e[1] || le[1] > e[3])
			rc = no_overlap(s, lwkt, img);
	}
	CPLFree(lwkt);
	return rc;
}

static int same_grid(GDALDatasetH ds, const struct ls_raster *img)
{
	double gt[6];
	if (GDALGetRasterXSize(ds) != img->w || GDALGetRasterYSize(ds) != img->h ||
	    GDALGetGeoTransform(ds, gt) != CE_None)
		return 0;
	for (int i = 0; i < 6; i++)
		if (fabs(gt[i] - img->gt[i]) > 1e-6 * fmax(1, fabs(img->gt[1])))
			return 0;
	OGRSpatialReferenceH a = srs_of(GDALGetProjectionRef(ds)), b = srs_of(img->wkt);
	int same = OSRIsSame(a, b);
	OSRDestroySpatialReference(a);
	OSRDestroySpatialReference(b);
	return same;
}

static int bind_raster(struct ls_label_src *s, const struct ls_raster *img)
{
	const char *wkt = GDALGetProjectionRef(s->rds);
	double gt[6], e[4];
	if (s->aligned && s->aligned != s->rds)
		GDALClose(s->aligned);
	s->aligned = NULL;
	if (same_grid(s->rds, img)) {
		s->aligned = s->rds;
		return 0;
	}
	if (!wkt || !*wkt)
		return ls_err("labels %s: raster has no CRS and is not on the image grid", s->path);
	if (GDALGetGeoTransform(s->rds, gt) != CE_None)
		return ls_err("labels %s: raster is not georeferenced", s->path);
	/* overlap, in the image CRS */
	OGRSpatialReferenceH a = srs_of(wkt), b = srs_of(img->wkt);
	OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(a, b);
	double x0 = gt[0], y0 = gt[3], x1 = gt[0] + GDALGetRasterXSize(s->rds) * gt[1],
	       y1 = gt[3] + GDALGetRasterYSize(s->rds) * gt[5], bx0, by0, bx1, by1;
	int ok = ct && OCTTransformBounds(ct, fmin(x0, x1), fmin(y0, y1), fmax(x0, x1), fmax(y0, y1), &bx0, &by0,
					  &bx1, &by1, 21);
	if (ct)
		OCTDestroyCoordinateTransformation(ct);
	OSRDestroySpatialReference(a);
	OSRDestroySpatialReference(b);
	extent_of(img, e);
	if (!ok || bx1 < e[0] || bx0 > e[2] || by1 < e[1] || by0 > e[3])
		return no_overlap(s, wkt, img);
	char te[4][40], ts[2][16];
	snprintf(te[0], 40, "%.17g", img->gt[0]);
	snprintf(te[1], 40, "%.17g", img->gt[3] + img->h * img->gt[5]);
	snprintf(te[2], 40, "%.17g", img->gt[0] + img->w * img->gt[1]);
	snprintf(te[3], 40, "%.17g", img->gt[3]);
	snprintf(ts[0], 16, "%d", img->w);
	snprintf(ts[1], 16, "%d", img->h);
	/* beyond the label raster's footprint: 65535, read as unknown (255), not background */
	char *argv[] = { "-of", "VRT", "-t_srs", img->wkt, "-te", te[0], te[1], te[2], te[3], "-ts", ts[0], ts[1],
			 "-r", "near", "-ot", "Float64", "-dstnodata", "nan", "-wo", "INIT_DEST=NO_DATA", NULL };
	GDALWarpAppOptions *wo = GDALWarpAppOptionsNew(argv, NULL);
	GDALDatasetH src = s->rds;
	s->aligned = wo ? GDALWarp("", NULL, 1, &src, wo, NULL) : NULL;
	if (wo)
		GDALWarpAppOptionsFree(wo);
	if (!s->aligned)
		return ls_err("labels %s: cannot align to %s: %s", s->path, img->path, ls_gdal_msg());
	return 0;
}

int ls_labels_bind(struct ls_labels *l, const struct ls_raster *img)
{
	for (int i = 0; i < l->n; i++) {
		struct ls_label_src *s = l->src[i];
		if (!s->rds && !s->vds && !s->is_vector) {
			s->rds = GDALOpenEx(s->path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
			if (s->rds) {
				GDALRasterBandH b = GDALGetRasterBand(s->rds, 1);
				s->nodata = GDALGetRasterNoDataValue(b, &s->has_nodata);
			} else {
				s->is_vector = 1;
			}
		}
		if ((s->is_vector ? bind_vector(s, img) : bind_raster(s, img)) < 0)
			return -1;
	}
	return 0;
}

static int read_raster_labels(struct ls_label_src *s, const struct ls_raster *img, int x0, int y0, int tw, int th,
			      uint8_t *out)
{
	int xs = x0 < 0 ? 0 : x0, ys = y0 < 0 ? 0 : y0;
	int xe = x0 + tw > img->w ? img->w : x0 + tw, ye = y0 + th > img->h ? img->h : y0 + th;
	if (xe <= xs || ye <= ys)
		return 0;
	int w = xe - xs, h = ye - ys;
	double *v = ls_xmalloc((size_t)w * h * sizeof *v);
	GDALRasterBandH b = GDALGetRasterBand(s->aligned, 1);
	if (GDALRasterIO(b, GF_Read, xs, ys, w, h, v, w, h, GDT_Float64, 0, 0) != CE_None) {
		free(v);
		return ls_err("labels %s: read failed: %s", s->path, ls_gdal_msg());
	}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double dv = v[(size_t)y * w + x];	/* NaN (no label, or outside the raster): unknown */
			int ok = isfinite(dv) && dv >= 0 && dv <= 65535 && dv == floor(dv);
			int val = ok ? (int)dv : 0, c = !ok ? 255 : s->map[val] >= 0 ? s->map[val] : (val > 255 ? 255 : val);
			if (ok && s->has_nodata && dv == s->nodata && s->map[val] < 0)
				c = 255;
			out[(size_t)(y + ys - y0) * tw + (x + xs - x0)] = (uint8_t)c;
		}
	free(v);
	return 0;
}

static int is_line(OGRGeometryH g)
{
	OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
	return t == wkbLineString || t == wkbMultiLineString;
}

static int read_vector_labels(struct ls_labels *l, struct ls_label_src *s, const struct ls_raster *img, int x0,
			      int y0, int tw, int th, uint8_t *out)
{
	double gt[6], bx0, by0, bx1, by1;
	memcpy(gt, img->gt, sizeof gt);
	gt[0] = img->gt[0] + x0 * img->gt[1] + y0 * img->gt[2];
	gt[3] = img->gt[3] + x0 * img->gt[4] + y0 * img->gt[5];
	double xa = gt[0], xb = gt[0] + tw * gt[1], ya = gt[3], yb = gt[3] + th * gt[5];
	double pad = s->line_width * (s->to_metric ? 1.0 / 100000 : 1);	/* degrees on geographic rasters */
	bx0 = fmin(xa, xb) - pad, bx1 = fmax(xa, xb) + pad, by0 = fmin(ya, yb) - pad, by1 = fmax(ya, yb) + pad;
	if (s->to_layer && !OCTTransformBounds(s->to_layer, bx0, by0, bx1, by1, &bx0, &by0, &bx1, &by1, 21))
		return 0;
	OGR_L_SetSpatialFilterRect(s->layer, bx0, by0, bx1, by1);
	OGR_L_ResetReading(s->layer);
	int n = 0, cap = 0;
	OGRGeometryH *geoms = NULL;
	double *burn = NULL;
	OGRFeatureH feat;
	while ((feat = OGR_L_GetNextFeature(s->layer))) {
		OGRGeometryH g = OGR_F_GetGeometryRef(feat);
		int cls = s->attr_idx >= 0 ? OGR_F_GetFieldAsInteger(feat, s->attr_idx) : s->cls;
		if (g && cls >= 0 && cls <= 255) {
			OGRGeometryH c = OGR_G_Clone(g);
			if (s->to_img)
				OGR_G_Transform(c, s->to_img);
			if (s->line_width > 0 && is_line(c)) {
				if (s->to_metric)
					OGR_G_Transform(c, s->to_metric);
				OGRGeometryH b = OGR_G_Buffer(c, s->line_width / 2, 8);
				OGR_G_DestroyGeometry(c);
				c = b;
				if (c && s->from_metric)
					OGR_G_Transform(c, s->from_metric);
			}
			if (c) {
				if (n == cap) {
					cap = cap ? 2 * cap : 64;
					geoms = ls_xrealloc(geoms, cap * sizeof *geoms);
					burn = ls_xrealloc(burn, cap * sizeof *burn);
				}
				geoms[n] = c;
				burn[n++] = cls;
			}
		}
		OGR_F_Destroy(feat);
	}
	int rc = 0;
	if (n) {
		if (!l->mem || l->mem_w != tw || l->mem_h != th) {
			if (l->mem)
				GDALClose(l->mem);
			l->mem = GDALCreate(GDALGetDriverByName("MEM"), "", tw, th, 1, GDT_Byte, NULL);
			l->mem_w = tw;
			l->mem_h = th;
		}
		GDALSetGeoTransform(l->mem, gt);
		GDALSetProjection(l->mem, img->wkt);
		GDALRasterBandH b = GDALGetRasterBand(l->mem, 1);
		int band = 1;
		if (GDALRasterIO(b, GF_Write, 0, 0, tw, th, out, tw, th, GDT_Byte, 0, 0) != CE_None)
			rc = ls_err("labels %s: scratch raster write failed", s->path);
		if (GDALRasterizeGeometries(l->mem, 1, &band, n, geoms, NULL, NULL, burn, NULL, NULL, NULL) != CE_None ||
		    GDALRasterIO(b, GF_Read, 0, 0, tw, th, out, tw, th, GDT_Byte, 0, 0) != CE_None)
			rc = ls_err("labels %s: rasterising failed: %s", s->path, ls_gdal_msg());
	}
	for (int i = 0; i < n; i++)
		OGR_G_DestroyGeometry(geoms[i]);
	free(geoms);
	free(burn);
	return rc;
}

int ls_labels_read_window(struct ls_labels *l, const struct ls_raster *img, int x0, int y0, int tw, int th,
			  uint8_t *out)
{
	for (int y = 0; y < th; y++)
		for (int x = 0; x < tw; x++) {
			int in = x0 + x >= 0 && x0 + x < img->w && y0 + y >= 0 && y0 + y < img->h;
			out[(size_t)y * tw + x] = in ? 0 : 255;
		}
	for (int i = 0; i < l->n; i++) {
		struct ls_label_src *s = l->src[i];
		int rc = s->is_vector ? read_vector_labels(l, s, img, x0, y0, tw, th, out)
				      : read_raster_labels(s, img, x0, y0, tw, th, out);
		if (rc < 0)
			return -1;
	}
	/* burning may cover pixels past the edge: keep them unknown */
	for (int y = 0; y < th; y++)
		for (int x = 0; x < tw; x++)
			if (!(x0 + x >= 0 && x0 + x < img->w && y0 + y >= 0 && y0 + y < img->h))
				out[(size_t)y * tw + x] = 255;
	return 0;
}

int ls_labels_read_tile(struct ls_labels *l, const struct ls_raster *img, int x0, int y0, int size, uint8_t *out)
{
	return ls_labels_read_window(l, img, x0, y0, size, size, out);
}

void ls_labels_free(struct ls_labels *l)
{
	for (int i = 0; i < l->n; i++) {
		struct ls_label_src *s = l->src[i];
		if (s->aligned && s->aligned != s->rds)
			GDALClose(s->aligned);
		if (s->rds)
			GDALClose(s->rds);
		if (s->to_img)
			OCTDestroyCoordinateTransformation(s->to_img);
		if (s->to_layer)
			OCTDestroyCoordinateTransformation(s->to_layer);
		if (s->to_metric)
			OCTDestroyCoordinateTransformation(s->to_metric);
		if (s->from_metric)
			OCTDestroyCoordinateTransformation(s->from_metric);
		if (s->vds)
			GDALClose(s->vds);
		free(s->path);
		free(s->attr);
		free(s);
	}
	free(l->src);
	if (l->mem)
		GDALClose(l->mem);
	memset(l, 0, sizeof *l);
}

int ls_names_ok(const char *list)
{
	const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
	size_t n = strlen(list);
	if (!n || list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,"))
		return 0;
	for (const char *p = list; *p; p++)
		if (*p != ',' && !strchr(ok, *p))
			return 0;
	return 1;
}

const char *ls_class_name(const char *list, int c, char *buf, size_t n)
{
	const char *s = list ? list : LS_CLASS_NAMES;
	for (int i = 0; i < c && s; i++)
		if ((s = strchr(s, ',')))
			s++;
	size_t len = s && c >= 0 ? strcspn(s, ",") : 0;
	if (!len || len >= n)
		snprintf(buf, n, "class%d", c);
	else
		snprintf(buf, n, "%.*s", (int)len, s);
	return buf;
}
