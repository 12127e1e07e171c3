/* evaluate - score a predicted raster against reference labels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>

#include "geo/decide.h"
#include "base/err.h"
#include "base/outpath.h"
#include "base/json.h"
#include "geo/labels.h"
#include "score/roads.h"
#include "score/scene.h"
#include "base/opt.h"
#include "base/progress.h"
#include "geo/raster.h"

static const char *ref_path, *points_path, *ref_map, *errors_path, *objects_path, *objects_layer, *lines_path,
	*lines_layer, *ref_lines, *class_names = LS_CLASS_NAMES;
static int ref_class = 1, object_class = 1, point_class = 2, eight, crown_points;
static double min_iou = 0.5, match_dist = 3, crown_radius = 1.5, line_width, road_buffer = 2, apls_snap = 4,
	apls_spacing = 50;
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
	{ "objects", LS_OPT_STR, &objects_path, "FILE", "the objects are these polygons (the GeoPackage vectorise delivered, any OGR source), not the prediction's connected components: scores what the user was given" },
	{ "objects-layer", LS_OPT_STR, &objects_layer, "NAME", "the layer of --objects (default: the one named after --object-class, else the first)" },
	{ "min-iou", LS_OPT_DOUBLE, &min_iou, "T", "IoU for an object match" },
	{ "eight", LS_OPT_FLAG, &eight, NULL, "8-connected objects" },
	{ "errors", LS_OPT_STR, &errors_path, "FILE.tif", "write the --object-class errors as a GeoTIFF on the prediction's grid: 1 true positive, 2 false positive, 3 false negative, 0 true negative, 255 not scored (with a colour table)" },
	{ "points", LS_OPT_STR, &points_path, "FILE", "point labels (e.g. surveyed trees), any OGR source" },
	{ "point-class", LS_OPT_INT, &point_class, "N", "class whose objects are matched to --points" },
	{ "match-distance", LS_OPT_DOUBLE, &match_dist, "M", "a predicted object's centre within M CRS units of a point" },
	{ "crown-points", LS_OPT_FLAG, &crown_points, NULL, "no --points: the reference raster's --point-class crowns (classified LiDAR) give one point per crown centre, and predicted trees are found as crown centres too (not object centres), both over the scored pixels" },
	{ "crown-radius", LS_OPT_DOUBLE, &crown_radius, "M", "with --crown-points: a crown centre lies at least M CRS units inside its crown" },
	{ "line-width", LS_OPT_DOUBLE, &line_width, "M", "burn a --ref of lines (road centrelines) this many metres wide for the pixel scores", NULL, 0, 1000 },
	{ "lines", LS_OPT_STR, &lines_path, "FILE", "predicted centrelines (vectorise --lines) scored against the --ref centrelines: completeness, correctness, quality and F1 within --buffer, and APLS" },
	{ "ref-lines", LS_OPT_STR, &ref_lines, "FILE", "the reference centrelines for --lines (default: --ref)" },
	{ "lines-layer", LS_OPT_STR, &lines_layer, "NAME", "the layer of --lines (default: the one named after --ref-class, else the first)" },
	{ "buffer", LS_OPT_DOUBLE, &road_buffer, "M", "a centreline within M metres of the other side's counts as found", NULL, 0.01, 1000 },
	{ "apls-snap", LS_OPT_DOUBLE, &apls_snap, "M", "APLS: a node snaps onto the other graph within M metres", NULL, 0.01, 1000 },
	{ "apls-spacing", LS_OPT_DOUBLE, &apls_spacing, "M", "APLS: control nodes every M metres along the roads", NULL, 1, 100000 },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"evaluate", "score a prediction (class or probability raster) against reference labels; JSON on stdout",
	"--ref REFERENCE [options] PREDICTION.tif",
	"evaluate --ref buildings.geojson probs.tif > scores.json", opts
};

/* layer, else the one named after class cls when path has it (vectorise's
 * GeoPackage), else the first. */
static const char *layer_of(const char *path, const char *layer, int cls)
{
	return layer ? layer : ls_layer_if_present(path, cname(cls));
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
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (pos.n != 1 || (!ref_path && !points_path))
		ls_die(LS_EXIT_USAGE, "usage: evaluate %s", cmd.usage);
	if (objects_path && crown_points)
		ls_die(LS_EXIT_USAGE, "evaluate: --crown-points finds crowns in the prediction raster; it takes no --objects");
	if (crown_points && (points_path || !ref_path))
		ls_die(LS_EXIT_USAGE, "evaluate: --crown-points takes the points from the --ref raster, so it needs --ref and no --points");
	if (!(crown_radius > 0) || !(match_dist > 0))
		ls_die(LS_EXIT_USAGE, "evaluate: --crown-radius and --match-distance must be positive");
	if (lines_path && !ref_lines && !(ref_lines = ref_path))
		ls_die(LS_EXIT_USAGE, "evaluate: --lines are scored against reference centrelines: give them as --ref-lines or --ref");
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
	if (ls_read_prediction(&r, &decision, pred, valid) < 0)
		ls_die_err();
	memset(ref, 255, n);
	if (ref_path) {
		ls_labels_init(&lab);
		ls_labels_set_class(&lab, ref_class);
		if (ref_map)
			ls_labels_set_map(&lab, ref_map);
		if (line_width > 0)
			ls_labels_set_line_width(&lab, line_width);
		ls_labels_add(&lab, ref_path);
		if (ls_labels_bind(&lab, &r) < 0 || ls_labels_read_window(&lab, &r, 0, 0, r.w, r.h, ref) < 0)
			ls_die_err();
		ls_labels_free(&lab);
	}
	int kc = ls_classes_seen(pred, valid, ref, n, r.nsel > 1 ? r.nsel : 2);
	uint64_t *conf = ls_xcalloc((size_t)kc * kc, sizeof *conf);
	uint64_t scored = ls_confusion(pred, valid, ref, n, kc, conf);
	if (ref_path && !scored)
		ls_die(LS_EXIT_DATA, "%s and %s share no valid pixel: nothing to score", pos.v[0], ref_path);
	if (errors_path && !ref_path)
		ls_die(LS_EXIT_USAGE, "--errors needs --ref");
	const char *ins[] = { pos.v[0], ref_path, points_path, objects_path, lines_path, ref_lines };
	if (errors_path && ls_output_ok(errors_path, ins, 6) < 0)
		ls_die_err();
	struct ls_match om = { 0 }, pm = { 0 };
	if (ref_path) {
		int32_t *pid = ls_xmalloc(n * sizeof *pid), *rid = ls_xmalloc(n * sizeof *rid), np;
		uint8_t *pv = ls_xmalloc(n);
		for (size_t i = 0; i < n; i++)
			pv[i] = valid[i] && ref[i] != 255 ? pred[i] : 254;
		if (objects_path) {
			for (size_t i = 0; i < n; i++)
				pv[i] = pv[i] != 254;
			if (ls_objects_read(objects_path, layer_of(objects_path, objects_layer, object_class), &r, pv, pid, &np) < 0)
				ls_die_err();
		} else {
			np = ls_components(pv, r.w, r.h, object_class, eight, pid);
		}
		int32_t nr = ls_components(ref, r.w, r.h, object_class, eight, rid);
		ls_match_objects(pid, np, rid, nr, n, min_iou, &om);
		free(pid), free(rid), free(pv);
	}
	if (points_path || crown_points) {
		double *qx = NULL, *qy = NULL, *sx, *sy;
		long nq = 0, np;
		uint8_t *pv = ls_xmalloc(n);
		if (crown_points) {	/* both sides as crown centres, over the scored pixels */
			nq = ls_crown_points(&r, pred, valid, ref, point_class, crown_radius, &qx, &qy, &sx, &sy, &np);
		} else {
			if (ls_points_read(points_path, &r, &qx, &qy, &nq) < 0)
				ls_die_err();
			int32_t *pid = ls_xmalloc(n * sizeof *pid), ni;
			if (objects_path) {
				if (ls_objects_read(objects_path, layer_of(objects_path, objects_layer, object_class), &r, valid, pid, &ni) < 0)
					ls_die_err();
			} else {
				for (size_t i = 0; i < n; i++)
					pv[i] = valid[i] ? pred[i] : 254;
				ni = ls_components(pv, r.w, r.h, point_class, eight, pid);
			}
			ls_object_centres(pid, ni, &r, &sx, &sy);
			np = ni;
			free(pid);
		}
		ls_match_points(sx, sy, np, qx, qy, nq, match_dist, &pm);
		free(pv), free(sx), free(sy), free(qx), free(qy);
	}
	struct ls_road_score rs;
	if (lines_path) {
		if (ls_road_evaluate(ref_lines, lines_path, layer_of(lines_path, lines_layer, ref_class), &r, road_buffer,
				     apls_spacing, apls_snap, &rs) < 0)
			ls_die_err();
	}
	if (errors_path && ls_error_map_write(errors_path, &r, pred, valid, ref, object_class) < 0)
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
	if (ref_path) {
		printf(",\"object\":{\"class\":\"%s\",\"min_iou\":%.2f,\"objects\":", cname(object_class), min_iou);
		ls_json_str(stdout, objects_path ? objects_path : "components");
		print_match("match", &om);
		printf("},\"object_f1\":%.6f", om.f1);
	}
	if (points_path || crown_points) {
		printf(",\"points\":{\"class\":\"%s\",\"distance\":%g,\"centres\":\"%s\"", cname(point_class),
		       match_dist, crown_points ? "crowns" : objects_path ? "polygons" : "objects");
		if (crown_points)
			printf(",\"crown_radius\":%g", crown_radius);
		print_match("match", &pm);
		printf("},\"point_f1\":%.6f", pm.f1);
	}
	if (lines_path)
		ls_road_print(stdout, ls_quiet ? NULL : stderr, &rs);
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
	ls_flush_stdout();
	free(pred);
	free(valid);
	free(ref);
	free(conf);
	free(sc);
	ls_raster_close(&r);
	ls_strlist_free(&pos);
	return 0;
}
