/* polygons.h - class or probability rasters to polygons (vectorise).
 *
 * The raster is turned into one class per pixel (a class raster as it is;
 * a probability raster by its most probable class, kept when that
 * probability reaches the threshold, or by a class threshold), polygonised by GDAL (so buildings
 * that cross tile seams in a stitched raster come out whole), then each
 * polygon gets its class, class name, mean score and area; polygons under
 * the minimum area are dropped and the rest simplified without becoming
 * invalid. Output in the raster's CRS, GeoPackage or GeoJSON by extension,
 * written under a temporary name and renamed: a GeoPackage holds one layer
 * per class, named by its class name (a layer name given: one for all),
 * GeoJSON one layer. Areas and tolerances are in metres, also for a
 * geographic CRS (converted at the raster's centre latitude).
 *
 * Classes named in `lines` (roads) become centrelines instead of polygons
 * (geo/centreline.h, over the whole raster at once: a byte a pixel and a
 * few more for the graph): LineStrings from junction to junction, each with
 * its class, mean width and length in metres, simplified by the same
 * tolerance, in a layer named by the class. */
#ifndef LS_POLYGONS_H
#define LS_POLYGONS_H

#include "geo/decide.h"

struct ls_vec_opts {
	double threshold;	/* probability rasters: minimum class probability */
	double min_area;	/* square metres */
	double simplify;	/* tolerance in metres, 0 = none */
	int eight;		/* 8-connected polygons */
	const char *classes;	/* "1,2" to keep only these; NULL = every non-zero class */
	const char *layer;		/* one layer of this name for every class; NULL: a layer per class */
	const char *class_names;	/* names of classes 0, 1, ... (NULL: LS_CLASS_NAMES) */
	const char *lines;	/* "3": these classes as centrelines (LineStrings, centreline.h) */
	double spur;		/* centrelines: drop spurs shorter than this many metres */
	struct ls_decision decision;	/* probability rasters: a class threshold (decide.h), which
					 * replaces threshold for its class */
};

int ls_vectorise(const char *in, const char *out, const struct ls_vec_opts *o, long *count);

#endif
