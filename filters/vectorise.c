/* vectorise - a class or probability raster to polygons (GeoPackage/GeoJSON). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/outpath.h"
#include "base/opt.h"
#include "geo/labels.h"
#include "geo/polygons.h"
#include "geo/raster.h"

static struct ls_vec_opts o = { .threshold = 0.5, .min_area = 2.0, .spur = 10 };

static const struct ls_opt opts[] = {
	{ "threshold", LS_OPT_DOUBLE, &o.threshold, "P", "probability rasters: keep a pixel's best class when p >= P" },
	{ "class-threshold", LS_OPT_CB, &o.decision, "C=T", "probability rasters: class C wherever its probability reaches T (--threshold then applies to the other classes); e.g. 1=0.23 from share-threshold", ls_decision_parse },
	{ "min-area", LS_OPT_DOUBLE, &o.min_area, "A", "drop polygons smaller than A square metres (a geographic raster's converted at its centre latitude)", NULL, 0, 1e12 },
	{ "simplify", LS_OPT_DOUBLE, &o.simplify, "T", "simplify with tolerance T metres, keeping polygons valid", NULL, 0, 1e6 },
	{ "eight", LS_OPT_FLAG, &o.eight, NULL, "8-connected polygons (default 4-connected)" },
	{ "lines", LS_OPT_STR, &o.lines, "LIST", "these classes as centrelines (e.g. 3 for roads): LineStrings from junction to junction with width and length in metres, over the whole raster" },
	{ "spur", LS_OPT_DOUBLE, &o.spur, "M", "centrelines: drop spurs (an end to a junction) shorter than M metres", NULL, 0, 1e6 },
	{ "classes", LS_OPT_STR, &o.classes, "LIST", "only these classes (e.g. 1 for buildings)" },
	{ "layer", LS_OPT_STR, &o.layer, "NAME", "one layer of this name for every class (default: a GeoPackage layer per class, named by its class name)" },
	{ "class-names", LS_OPT_STR, &o.class_names, "LIST", "the class_name of classes 0, 1, ... (background,building,tree,road)" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"vectorise", "turn a class or probability raster into polygons with class and mean score",
	"[options] IN.tif|- OUT.gpkg|OUT.geojson",
	"vectorise --min-area 4 --simplify 0.5 probs.tif buildings.gpkg", opts
};

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	long n = 0;
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (pos.n != 2)
		ls_die(LS_EXIT_USAGE, "usage: vectorise %s", cmd.usage);
	if (!strcmp(pos.v[1], "-"))
		ls_die(LS_EXIT_USAGE, "a GeoPackage is written to a file, not to stdout: give its name instead of -");
	if (o.class_names && !ls_names_ok(o.class_names))
		ls_die(LS_EXIT_USAGE, "--class-names: '%s': names are letters, digits, _ and -, separated by commas", o.class_names);
	if (o.layer && !ls_names_ok(o.layer))
		ls_die(LS_EXIT_USAGE, "--layer: '%s': a name is letters, digits, _ and -", o.layer);
	if (o.lines && o.layer)
		ls_die(LS_EXIT_USAGE, "--lines: centrelines go to a layer of their own; give no --layer");
	if (ls_output_ok(pos.v[1], (const char *const *)pos.v, 1) < 0)
		ls_die_err();
	ls_gdal_init((size_t)128 << 20);
	if (ls_vectorise(strcmp(pos.v[0], "-") ? pos.v[0] : "/vsistdin/", pos.v[1], &o, &n) < 0)
		ls_die_err();
	ls_info("wrote %ld %s to %s", n, o.lines ? "polygons and lines" : "polygons", pos.v[1]);
	ls_strlist_free(&pos);
	return 0;
}
