/* roads.h - scoring road centrelines: buffer completeness, correctness and
 * quality (Wiedemann 1998), and APLS (score/apls.h).
 *
 * Lines are read from any OGR source, reprojected to an azimuthal
 * equidistant CRS centred on the prediction raster (metres, whatever the
 * raster's CRS), clipped to the raster's footprint, and noded (split where
 * they cross) through GEOS. A layer that holds anything but lines is an
 * error: centrelines are compared with centrelines (vectorise --lines). */
#ifndef LS_ROADS_H
#define LS_ROADS_H

#include <stdio.h>

#include <ogr_api.h>

#include "geo/raster.h"
#include "score/apls.h"

struct ls_road_score {
	double buffer;			/* metres */
	double ref_len, pred_len;	/* metres of centreline */
	double ref_matched;		/* reference length within the buffer of the prediction */
	double pred_matched;		/* predicted length within the buffer of the reference */
	double completeness, correctness, quality, f1;	/* NaN when a length is 0 */
	struct ls_apls apls;
};

/* The lines of layer (NULL: the first) of path, in metres around r, clipped
 * to r and noded, into *out (a geometry to destroy). */
int ls_road_lines_read(const char *path, const char *layer, const struct ls_raster *r, OGRGeometryH *out);

/* lines split where they cross or touch (GEOS noding); a new geometry. */
OGRGeometryH ls_road_node(OGRGeometryH lines);

/* The linestrings of g (recursing into collections) appended to l. */
void ls_road_lines(OGRGeometryH g, struct ls_lines *l);

/* Both lineal geometries in metres and noded. APLS with control nodes every
 * spacing metres, snapping within snap metres, at most max_nodes pair ends. */
void ls_road_score(OGRGeometryH ref, OGRGeometryH pred, double buffer, double spacing, double snap, int max_nodes,
		   struct ls_road_score *s);

/* The lines of ref (its first layer) and of pred (layer, NULL: the first)
 * read with ls_road_lines_read and scored, at most 500 APLS pair ends. */
int ls_road_evaluate(const char *ref, const char *pred, const char *layer, const struct ls_raster *r, double buffer,
		     double spacing, double snap, struct ls_road_score *s);

/* s as the JSON members ,"roads":{...},"road_f1":F,"apls":A on out (NaN as
 * null), and a summary line on err unless err is NULL. */
void ls_road_print(FILE *out, FILE *err, const struct ls_road_score *s);

#endif
