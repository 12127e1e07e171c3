/* evaluate - score a predicted raster against reference labels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <unistd.h>

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "geo/decide.h"
#include "base/err.h"
#include "base/outpath.h"
#include "base/json.h"
#include "geo/labels.h"
#include "score/metrics.h"
#include "base/opt.h"
#include "base/progress.h"
#include "geo/raster.h"

static const char *ref_path, *points_path, *ref_map, *errors_path, *class_names = LS_CLASS_NAMES;
static int ref_class = 1, object_class = 1, point_class = 2, eight, crown_points;
static double min_iou = 0.5, match_dist = 3, crown_radius = 1.5;
static struct ls_decision decision;

/* Class c's name (--class-names); a buffer per class, so that one printf
 * can name several. */
static const char *cname(int c)
{
	static char buf[256][32];
	return ls_class_name(class_names, c, buf[c & 255], sizeof buf[0]);
}

static const struct ls_opt opts[] = {
	{ "ref", LS_OPT_STR, &ref_path, "FILE", "reference labels: a class raster or a vector source" },
	{ "ref-class", LS_OPT_INT, &ref_class, "N", "class of a vector reference's features" },
	{ "ref-map", LS_OPT_STR, &ref_map, "V=C,...", "map reference raster values to classes" },
	{ "class-names", LS_OPT_STR, &class_names, "LIST", "names of classes 0, 1, ... in the output (background,building,tree,road)" },
	{ "class-threshold", LS_OPT_CB, &decision, "C=T", "probability rasters: class C wherever its probability reaches T, elsewhere the most probable other class (default: the most probable class everywhere); e.g. 1=0.23 from share-threshold", ls_decision_parse },
	{ "object-class", LS_OPT_INT, &object_class, "N", "class scored as objects (object F1)" },
	{ "min-iou", LS_OPT_DOUBLE, &min_iou, "T", "IoU for an object match" },
	{ "eight", LS_OPT_FLAG, &eight, NULL, "8-connected objects" },
	{ "errors", LS_OPT_STR, &errors_path, "FILE.tif", "write the --object-class errors as a GeoTIFF on the prediction's grid: 1 true positive, 2 false positive, 3 false negative, 0 true negative, 255 not scored (with a colour table)" },
	{ "points", LS_OPT_STR, &points_path, "FILE", "point labels (e.g. surveyed trees), any OGR source" },
	{ "point-class", LS_OPT_INT, &point_class, "N", "class whose objects are matched to --points" },
	{ "match-distance", LS_OPT_DOUBLE, &match_dist, "M", "a predicted object's centre within M CRS units of a point" },
	{ "crown-points", LS_OPT_FLAG, &crown_points, NULL, "no --points: the reference raster's --point-class crowns (classified LiDAR) give one point per crown centre, and predicted trees are found as crown centres too (not object centres), both over the scored pixels" },
	{ "crown-radius", LS_OPT_DOUBLE, &crown_radius, "M", "with --crown-points: a crown centre lies at least M CRS units inside its crown" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"evaluate", "score a prediction (class or probability raster) against reference labels; JSON on stdout",
	"--ref REFERENCE [options] PREDICTION.tif",
	"evaluate --ref buildings.geojson probs.tif > scores.json", opts
};

/* Prediction classes (argmax of probabilities, or the class raster) and validity. */
static int read_prediction(struct ls_raster *r, uint8_t *cls, uint8_t *valid, int *k)
{
	size_t n = (size_t)r->w * r->h;
	int rows = 256;
	struct ls_frame f;
	ls_frame_init(&f);
	*k = r->nsel > 1 ? r->nsel : 0;
	struct ls_progress prog;
	ls_progress_start(&prog, "reading the prediction", r->h);
	for (int y0 = 0; y0 < r->h; y0 += rows) {
		ls_progress_update(&prog, y0);
		for (int x0 = 0; x0 < r->w; x0 += rows) {
			if (ls_raster_read_tile(r, x0, y0, rows, &f) < 0)
				{ ls_progress_end(&prog); return -1; }
			size_t hw = (size_t)rows * rows;
			for (int y = 0; y < rows && y0 + y < r->h; y++)
				for (int x = 0; x < rows && x0 + x < r->w; x++) {
					size_t i = (size_t)y * rows + x, o = (size_t)(y0 + y) * r->w + x0 + x;
					int best = 0;
					if (r->nsel == 1) {
						double v = r->dtype == 0 ? ((uint8_t *)f.t.data)[i]
						       : r->dtype == 1 ? ((uint16_t *)f.t.data)[i]
								       : ((float *)f.t.data)[i];
						best = v >= 0 && v < 255 ? (int)v : 255;
					} else {
						best = ls_decide((const float *)f.t.data + i, hw, r->nsel, &decision);
					}
					cls[o] = (uint8_t)best;
					valid[o] = (!f.mask || f.mask[i]) && best != 255;
				}
		}
	}
	(void)n;
	ls_progress_end(&prog);
	ls_frame_free(&f);
	return 0;
}

static int load_points(const char *path, const struct ls_raster *r, double **x, double **y, long *n)
{
	GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
	if (!ds)
		return ls_err("cannot open points %s", path);
	OGRLayerH l = GDALDatasetGetLayer(ds, 0);
	OGRSpatialReferenceH ls = l ? OGR_L_GetSpatialRef(l) : NULL, rs = OSRNewSpatialReference(r->wkt);
	OGRCoordinateTransformationH ct = NULL;
	OSRSetAxisMappingStrategy(rs, OAMS_TRADITIONAL_GIS_ORDER);
	if (ls) {
		OGRSpatialReferenceH lc = OSRClone(ls);
		OSRSetAxisMappingStrategy(lc, OAMS_TRADITIONAL_GIS_ORDER);
		if (!OSRIsSame(lc, rs))
			ct = OCTNewCoordinateTransformation(lc, rs);
		OSRDestroySpatialReference(lc);
	}
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
			if ((!ct || OCTTransform(ct, 1, &px, &py, &pz)) && px >= minx && px < maxx && py > miny && py <= maxy) {
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
	OSRDestroySpatialReference(rs);
	GDALClose(ds);
	return 0;
}

/* The error map of class c: a Byte GeoTIFF, written to a temporary name
 * and renamed. */
static int write_errors(const char *path, const struct ls_raster *r, const uint8_t *pred, const uint8_t *valid,
			const uint8_t *ref, int c)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp)
		return ls_err("%s: the output path is too long", path);
	char *co[] = { "COMPRESS=DEFLATE", "TILED=YES", NULL };
	GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), tmp, r->w, r->h, 1, GDT_Byte, co);
	if (!ds)
		return ls_err("cannot create %s: %s", path, CPLGetLastErrorMsg());
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
		return ls_err("writing %s failed: %s", path, ls_gdal_msg());
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return ls_err("cannot rename %s to %s: %s", tmp, path, strerror(errno));
	}
	ls_cleanup_forget(tmp);
	return 0;
}

/* Pixel coordinates (column, row) to the raster's CRS. */
static void to_crs(const struct ls_raster *r, double *x, double *y)
{
	double px = *x, py = *y;
	*x = r->gt[0] + px * r->gt[1] + py * r->gt[2];
	*y = r->gt[3] + px * r->gt[4] + py * r->gt[5];
}

static void print_match(const char *name, const struct ls_match *m)
{
	printf(",\"%s\":{\"f1\":%.6f,\"precision\":%.6f,\"recall\":%.6f,\"tp\":%ld,\"pred\":%ld,\"ref\":%ld}", name, m->f1,
	       m->precision, m->recall, m->tp, m->pred, m->ref);
}

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	struct ls_raster r;
	struct ls_raster_opts ro = { 0 };
	struct ls_labels lab;
	int k;
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (pos.n != 1 || (!ref_path && !points_path))
		ls_die(LS_EXIT_USAGE, "usage: evaluate %s", cmd.usage);
	if (crown_points && (points_path || !ref_path))
		ls_die(LS_EXIT_USAGE, "evaluate: --crown-points takes the points from the --ref raster, so it needs --ref and no --points");
	if (!(crown_radius > 0) || !(match_dist > 0))
		ls_die(LS_EXIT_USAGE, "evaluate: --crown-radius and --match-distance must be positive");
	if (!ls_names_ok(class_names))
		ls_die(LS_EXIT_USAGE, "evaluate: --class-names '%s': names are letters, digits, '_' and '-', separated by commas", class_names);
	ls_gdal_init((size_t)128 << 20);
	if (ls_raster_open(&r, pos.v[0], &ro) < 0)
		ls_die_err();
	if (decision.cls && decision.cls >= r.nsel)
		ls_die(LS_EXIT_USAGE, r.nsel > 1 ? "--class-threshold %d=%g: %s holds %d classes, no class %d"
					      : "--class-threshold %d=%g: %s holds classes, not probabilities",
		       decision.cls, decision.t, pos.v[0], r.nsel, decision.cls);
	size_t n = (size_t)r.w * r.h;
	uint8_t *pred = ls_xmalloc(n), *valid = ls_xmalloc(n), *ref = ls_xmalloc(n);
	if (read_prediction(&r, pred, valid, &k) < 0)
		ls_die_err();
	memset(ref, 255, n);
	if (ref_path) {
		ls_labels_init(&lab);
		ls_labels_set_class(&lab, ref_class);
		if (ref_map)
			ls_labels_set_map(&lab, ref_map);
		ls_labels_add(&lab, ref_path);
		if (ls_labels_bind(&lab, &r) < 0 || ls_labels_read_window(&lab, &r, 0, 0, r.w, r.h, ref) < 0)
			ls_die_err();
		ls_labels_free(&lab);
	}
	int kc = k > 0 ? k : 2;
	for (size_t i = 0; i < n; i++) {
		if (ref[i] != 255 && ref[i] + 1 > kc)
			kc = ref[i] + 1;
		if (valid[i] && pred[i] + 1 > kc)
			kc = pred[i] + 1;
	}
	uint64_t *conf = ls_xcalloc((size_t)kc * kc, sizeof *conf), scored = 0;
	for (size_t i = 0; i < n; i++)
		if (valid[i] && ref[i] != 255) {
			conf[ref[i] * kc + pred[i]]++;
			scored++;
		}
	if (ref_path && !scored)
		ls_die(LS_EXIT_DATA, "%s and %s share no valid pixel: nothing to score", pos.v[0], ref_path);
	if (errors_path && !ref_path)
		ls_die(LS_EXIT_USAGE, "--errors needs --ref");
	const char *ins[] = { pos.v[0], ref_path, points_path };
	if (errors_path && ls_output_ok(errors_path, ins, 3) < 0)
		ls_die_err();
	if (errors_path && write_errors(errors_path, &r, pred, valid, ref, object_class) < 0)
		ls_die_err();
	printf("{\"prediction\":");
	ls_json_str(stdout, pos.v[0]);
	printf(",\"reference\":");
	ls_json_str(stdout, ref_path);
	printf(",\"scored_pixels\":%llu,\"classes\":{", (unsigned long long)scored);
	struct ls_class_score *sc = ls_xcalloc(kc, sizeof *sc);
	for (int c = 0; c < kc; c++) {
		ls_class_score(conf, kc, c, &sc[c]);
		printf("%s\"%s\":{\"iou\":%.6f,\"precision\":%.6f,\"recall\":%.6f,\"f1\":%.6f,\"ref_pixels\":%llu}", c ? "," : "",
		       cname(c), sc[c].iou, sc[c].precision, sc[c].recall, sc[c].f1,
		       (unsigned long long)sc[c].ref);
	}
	printf("},\"confusion\":[");
	for (int a = 0; a < kc; a++) {
		printf("%s[", a ? "," : "");
		for (int b = 0; b < kc; b++)
			printf("%s%llu", b ? "," : "", (unsigned long long)conf[a * kc + b]);
		printf("]");
	}
	printf("]");
	for (int c = 1; c < kc; c++)
		printf(",\"%s_iou\":%.6f,\"%s_f1\":%.6f", cname(c), sc[c].iou, cname(c), sc[c].f1);
	struct ls_match om = { 0 }, pm = { 0 };
	if (ref_path) {
		int32_t *pid = ls_xmalloc(n * sizeof *pid), *rid = ls_xmalloc(n * sizeof *rid);
		uint8_t *pv = ls_xmalloc(n);
		for (size_t i = 0; i < n; i++)
			pv[i] = valid[i] && ref[i] != 255 ? pred[i] : 254;
		int32_t np = ls_components(pv, r.w, r.h, object_class, eight, pid);
		int32_t nr = ls_components(ref, r.w, r.h, object_class, eight, rid);
		ls_match_objects(pid, np, rid, nr, n, min_iou, &om);
		printf(",\"object\":{\"class\":\"%s\",\"min_iou\":%.2f", cname(object_class),
		       min_iou);
		print_match("match", &om);
		printf("},\"object_f1\":%.6f", om.f1);
		free(pid);
		free(rid);
		free(pv);
	}
	if (points_path || crown_points) {
		double *qx = NULL, *qy = NULL, *sx, *sy;
		long nq = 0, np;
		uint8_t *pv = ls_xmalloc(n);
		if (crown_points) {	/* both sides as crown centres, over the scored pixels */
			uint8_t *rv = ls_xmalloc(n);
			for (size_t i = 0; i < n; i++) {
				int scored_px = valid[i] && ref[i] != 255;
				pv[i] = scored_px ? pred[i] : 254;
				rv[i] = scored_px ? ref[i] : 254;
			}
			double px = sqrt(fabs(r.gt[1] * r.gt[5] - r.gt[2] * r.gt[4]));
			nq = ls_crown_centres(rv, r.w, r.h, point_class, crown_radius / px, &qx, &qy);
			np = ls_crown_centres(pv, r.w, r.h, point_class, crown_radius / px, &sx, &sy);
			free(rv);
			for (long i = 0; i < nq; i++)
				to_crs(&r, &qx[i], &qy[i]);
			for (long i = 0; i < np; i++)
				to_crs(&r, &sx[i], &sy[i]);
		} else {
			if (load_points(points_path, &r, &qx, &qy, &nq) < 0)
				ls_die_err();
			int32_t *pid = ls_xmalloc(n * sizeof *pid);
			for (size_t i = 0; i < n; i++)
				pv[i] = valid[i] ? pred[i] : 254;
			np = ls_components(pv, r.w, r.h, point_class, eight, pid);
			sx = ls_xcalloc((size_t)np + 1, sizeof *sx);
			sy = ls_xcalloc((size_t)np + 1, sizeof *sy);
			long *cnt = ls_xcalloc((size_t)np + 1, sizeof *cnt);
			for (int y = 0; y < r.h; y++)
				for (int x = 0; x < r.w; x++) {
					int32_t id = pid[(size_t)y * r.w + x];
					if (id) {
						sx[id] += x + 0.5;
						sy[id] += y + 0.5;
						cnt[id]++;
					}
				}
			for (long i = 1; i <= np; i++) {
				sx[i - 1] = sx[i] / cnt[i];
				sy[i - 1] = sy[i] / cnt[i];
				to_crs(&r, &sx[i - 1], &sy[i - 1]);
			}
			free(cnt);
			free(pid);
		}
		ls_match_points(sx, sy, np, qx, qy, nq, match_dist, &pm);
		printf(",\"points\":{\"class\":\"%s\",\"distance\":%g,\"centres\":\"%s\"", cname(point_class),
		       match_dist, crown_points ? "crowns" : "objects");
		if (crown_points)
			printf(",\"crown_radius\":%g", crown_radius);
		print_match("match", &pm);
		printf("},\"point_f1\":%.6f", pm.f1);
		free(pv);
		free(sx);
		free(sy);
		free(qx);
		free(qy);
	}
	printf("}\n");
	if (!ls_quiet) {
		fprintf(stderr, "%-12s %8s %9s %8s %8s\n", "class", "IoU", "precision", "recall", "F1");
		for (int c = 0; c < kc && ref_path; c++)
			fprintf(stderr, "%-12s %8.3f %9.3f %8.3f %8.3f\n", cname(c), sc[c].iou,
				sc[c].precision, sc[c].recall, sc[c].f1);
		if (ref_path)
			fprintf(stderr, "objects (%s, IoU >= %.2f): F1 %.3f, precision %.3f, recall %.3f (%ld matched of %ld predicted, %ld reference)\n",
				cname(object_class), min_iou, om.f1, om.precision, om.recall,
				om.tp, om.pred, om.ref);
		if (points_path || crown_points)
			fprintf(stderr, "points (%s within %g): F1 %.3f, precision %.3f, recall %.3f (%ld of %ld %s, %ld %spoints)\n",
				cname(point_class), match_dist, pm.f1, pm.precision, pm.recall,
				pm.tp, pm.pred, crown_points ? "predicted crowns" : "objects", pm.ref,
				crown_points ? "reference crown " : "");
	}
	if (fflush(stdout) || ferror(stdout))
		ls_die(LS_EXIT_DATA, "writing stdout failed");
	free(pred);
	free(valid);
	free(ref);
	free(conf);
	free(sc);
	ls_raster_close(&r);
	ls_strlist_free(&pos);
	return 0;
}
