/* roads.c - centrelines through OGR/GEOS: reading, clipping, noding, buffers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ogr_srs_api.h>

#include "base/err.h"
#include "score/roads.h"
#include "score/scene.h"

/* An azimuthal equidistant CRS centred on r, and the transformation to it
 * from r's CRS (*to_m). */
static OGRSpatialReferenceH metric_crs(const struct ls_raster *r, OGRCoordinateTransformationH *to_m)
{
	OGRSpatialReferenceH rs = OSRNewSpatialReference(r->wkt), ll = OSRNewSpatialReference(NULL);
	OSRSetAxisMappingStrategy(rs, OAMS_TRADITIONAL_GIS_ORDER);
	OSRSetWellKnownGeogCS(ll, "WGS84");
	OSRSetAxisMappingStrategy(ll, OAMS_TRADITIONAL_GIS_ORDER);
	double cx = r->gt[0] + r->w / 2.0 * r->gt[1] + r->h / 2.0 * r->gt[2];
	double cy = r->gt[3] + r->w / 2.0 * r->gt[4] + r->h / 2.0 * r->gt[5], cz = 0;
	OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(rs, ll);
	OGRSpatialReferenceH m = NULL;
	if (ct && OCTTransform(ct, 1, &cx, &cy, &cz)) {
		char proj[256];
		snprintf(proj, sizeof proj, "+proj=aeqd +lat_0=%.10f +lon_0=%.10f +datum=WGS84 +units=m +no_defs", cy, cx);
		m = OSRNewSpatialReference(NULL);
		OSRImportFromProj4(m, proj);
		OSRSetAxisMappingStrategy(m, OAMS_TRADITIONAL_GIS_ORDER);
		*to_m = OCTNewCoordinateTransformation(rs, m);
	}
	if (ct)
		OCTDestroyCoordinateTransformation(ct);
	OSRDestroySpatialReference(rs);
	OSRDestroySpatialReference(ll);
	return m;
}

/* r's footprint in the metric CRS. */
static OGRGeometryH footprint(const struct ls_raster *r, OGRCoordinateTransformationH to_m)
{
	OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing), poly = OGR_G_CreateGeometry(wkbPolygon);
	const double c[5][2] = { { 0, 0 }, { r->w, 0 }, { r->w, r->h }, { 0, r->h }, { 0, 0 } };
	for (int i = 0; i < 5; i++)
		OGR_G_AddPoint_2D(ring, r->gt[0] + c[i][0] * r->gt[1] + c[i][1] * r->gt[2],
				  r->gt[3] + c[i][0] * r->gt[4] + c[i][1] * r->gt[5]);
	OGR_G_AddGeometryDirectly(poly, ring);
	OGR_G_Segmentize(poly, (fabs(r->w * r->gt[1]) + fabs(r->h * r->gt[5])) / 64);
	OGR_G_Transform(poly, to_m);
	return poly;
}

OGRGeometryH ls_road_node(OGRGeometryH lines)
{
	struct ls_lines l = { 0 };
	ls_road_lines(lines, &l);
	if (!l.n) {
		ls_lines_free(&l);
		return OGR_G_CreateGeometry(wkbMultiLineString);
	}
	/* a union with a point on the lines nodes them (GEOS overlay) */
	OGRGeometryH pt = OGR_G_CreateGeometry(wkbPoint);
	OGR_G_SetPoint_2D(pt, 0, l.xy[0][0], l.xy[0][1]);
	OGRGeometryH u = OGR_G_Union(lines, pt);
	OGR_G_DestroyGeometry(pt);
	ls_lines_free(&l);
	return u ? u : OGR_G_Clone(lines);
}

void ls_road_lines(OGRGeometryH g, struct ls_lines *l)
{
	if (!g || OGR_G_IsEmpty(g))
		return;
	OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
	if (t == wkbLineString) {
		int n = OGR_G_GetPointCount(g);
		double *xy = ls_xmalloc((2 * n + 2) * sizeof *xy);
		for (int i = 0; i < n; i++)
			xy[2 * i] = OGR_G_GetX(g, i), xy[2 * i + 1] = OGR_G_GetY(g, i);
		if (n >= 2)
			ls_lines_add(l, xy, n);
		free(xy);
	} else if (t == wkbMultiLineString || t == wkbGeometryCollection) {
		for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
			ls_road_lines(OGR_G_GetGeometryRef(g, i), l);
	}
}

int ls_road_lines_read(const char *path, const char *layer, const struct ls_raster *r, OGRGeometryH *out)
{
	*out = NULL;
	if (!r->wkt || !*r->wkt)
		return ls_err("%s has no CRS: road lengths need one", r->path);
	GDALDatasetH ds;
	OGRLayerH l = ls_vector_layer(path, layer, "lines", &ds);
	if (!l)
		return -1;
	OGRCoordinateTransformationH to_m = NULL, ct = NULL;
	OGRSpatialReferenceH m = metric_crs(r, &to_m);
	if (!m || !to_m) {
		if (m)
			OSRDestroySpatialReference(m);
		GDALClose(ds);
		return ls_err("%s: cannot place its centre on the earth (%s)", r->path, ls_gdal_msg());
	}
	OGRSpatialReferenceH ls = OGR_L_GetSpatialRef(l);
	if (ls) {	/* the layer's CRS to metres; without one, the raster's */
		OGRSpatialReferenceH lc = OSRClone(ls);
		OSRSetAxisMappingStrategy(lc, OAMS_TRADITIONAL_GIS_ORDER);
		ct = OCTNewCoordinateTransformation(lc, m);
		OSRDestroySpatialReference(lc);
	}
	OGRGeometryH all = OGR_G_CreateGeometry(wkbMultiLineString);
	OGRFeatureH f;
	int rc = 0;
	OGR_L_ResetReading(l);
	while (!rc && (f = OGR_L_GetNextFeature(l))) {
		OGRGeometryH g = OGR_F_GetGeometryRef(f);
		OGRwkbGeometryType t = g ? wkbFlatten(OGR_G_GetGeometryType(g)) : wkbNone;
		if (t != wkbNone && t != wkbLineString && t != wkbMultiLineString)
			rc = ls_err("%s: layer %s holds %s geometries, not lines: road scores compare centrelines "
				    "(vectorise --lines)", path, OGR_L_GetName(l), OGRGeometryTypeToName(t));
		else if (g) {
			OGRGeometryH c = OGR_G_Clone(g);
			if (OGR_G_Transform(c, ct ? ct : to_m) != OGRERR_NONE)
				rc = ls_err("%s: cannot reproject feature %lld to metres", path,
					    (long long)OGR_F_GetFID(f));
			else if (t == wkbLineString)
				OGR_G_AddGeometry(all, c);
			else
				for (int i = 0; i < OGR_G_GetGeometryCount(c); i++)
					OGR_G_AddGeometry(all, OGR_G_GetGeometryRef(c, i));
			OGR_G_DestroyGeometry(c);
		}
		OGR_F_Destroy(f);
	}
	if (!rc) {
		OGRGeometryH fp = footprint(r, to_m), clip = OGR_G_Intersection(all, fp);
		OGR_G_DestroyGeometry(fp);
		*out = clip ? ls_road_node(clip) : NULL;
		if (clip)
			OGR_G_DestroyGeometry(clip);
		if (!*out)
			rc = ls_err("%s: clipping its lines to %s failed: %s", path, r->path, ls_gdal_msg());
	}
	OGR_G_DestroyGeometry(all);
	if (ct)
		OCTDestroyCoordinateTransformation(ct);
	OCTDestroyCoordinateTransformation(to_m);
	OSRDestroySpatialReference(m);
	GDALClose(ds);
	return rc;
}

/* The length of lines inside the buffer of other. */
static double matched(OGRGeometryH lines, OGRGeometryH other, double buffer)
{
	if (OGR_G_IsEmpty(lines) || OGR_G_IsEmpty(other))
		return 0;
	OGRGeometryH b = OGR_G_Buffer(other, buffer, 8), in = b ? OGR_G_Intersection(lines, b) : NULL;
	double len = in ? OGR_G_Length(in) : 0;
	if (in)
		OGR_G_DestroyGeometry(in);
	if (b)
		OGR_G_DestroyGeometry(b);
	return len;
}

void ls_road_score(OGRGeometryH ref, OGRGeometryH pred, double buffer, double spacing, double snap, int max_nodes,
		   struct ls_road_score *s)
{
	memset(s, 0, sizeof *s);
	s->buffer = buffer;
	s->ref_len = OGR_G_IsEmpty(ref) ? 0 : OGR_G_Length(ref);
	s->pred_len = OGR_G_IsEmpty(pred) ? 0 : OGR_G_Length(pred);
	s->ref_matched = matched(ref, pred, buffer);
	s->pred_matched = matched(pred, ref, buffer);
	s->completeness = s->ref_len > 0 ? s->ref_matched / s->ref_len : NAN;
	s->correctness = s->pred_len > 0 ? s->pred_matched / s->pred_len : NAN;
	double d = s->pred_len + s->ref_len - s->ref_matched;
	s->quality = d > 0 ? s->pred_matched / d : NAN;
	double c = s->completeness, k = s->correctness;
	s->f1 = isnan(c) || isnan(k) ? NAN : c + k > 0 ? 2 * c * k / (c + k) : 0;
	struct ls_lines a = { 0 }, b = { 0 };
	ls_road_lines(ref, &a);
	ls_road_lines(pred, &b);
	ls_apls(&a, &b, spacing, snap, max_nodes, &s->apls);
	ls_lines_free(&a);
	ls_lines_free(&b);
}

int ls_road_evaluate(const char *ref, const char *pred, const char *layer, const struct ls_raster *r, double buffer,
		     double spacing, double snap, struct ls_road_score *s)
{
	OGRGeometryH rl = NULL, pl = NULL;
	int rc = ls_road_lines_read(ref, NULL, r, &rl);
	if (!rc)
		rc = ls_road_lines_read(pred, layer, r, &pl);
	if (!rc)
		ls_road_score(rl, pl, buffer, spacing, snap, 500, s);
	if (rl)
		OGR_G_DestroyGeometry(rl);
	if (pl)
		OGR_G_DestroyGeometry(pl);
	return rc;
}

static void num(FILE *out, const char *name, double v)
{
	if (isfinite(v))
		fprintf(out, ",\"%s\":%.6f", name, v);
	else
		fprintf(out, ",\"%s\":null", name);
}

void ls_road_print(FILE *out, FILE *err, const struct ls_road_score *s)
{
	const struct ls_apls *a = &s->apls;
	fprintf(out, ",\"roads\":{\"buffer_m\":%g,\"ref_length_m\":%.2f,\"pred_length_m\":%.2f", s->buffer, s->ref_len,
		s->pred_len);
	num(out, "completeness", s->completeness);
	num(out, "correctness", s->correctness);
	num(out, "quality", s->quality);
	num(out, "f1", s->f1);
	num(out, "apls", a->score);
	num(out, "apls_gt_to_prop", a->gt_to_prop);
	num(out, "apls_prop_to_gt", a->prop_to_gt);
	fprintf(out, ",\"apls_pairs\":[%ld,%ld],\"apls_nodes\":[%d,%d]}", a->pairs_gp, a->pairs_pg, a->gt_nodes,
		a->prop_nodes);
	num(out, "road_f1", s->f1);
	num(out, "apls", a->score);
	if (err)
		fprintf(err, "roads (within %g m): completeness %.3f, correctness %.3f, quality %.3f, F1 %.3f; "
			"APLS %.3f (%.0f m of %.0f m reference, %.0f m predicted)\n", s->buffer, s->completeness,
			s->correctness, s->quality, s->f1, a->score, s->ref_matched, s->ref_len, s->pred_len);
}
