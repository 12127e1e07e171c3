/* scene.h - scoring a whole prediction raster: what evaluate computes.
 *
 * A prediction is a class raster or a raster of class probabilities (one
 * band per class, decided by a geo/decide.h rule). It is read whole, one
 * byte of class and one of validity per pixel, and compared with reference
 * classes on the same grid (255 = unknown, not scored). Objects are either
 * the prediction's connected components or the polygons the user was given
 * (a GeoPackage from vectorise), burned onto the grid: then what is scored
 * is what was delivered, after minimum area and simplification. */
#ifndef LS_SCENE_H
#define LS_SCENE_H

#include <stdint.h>

#include <gdal.h>
#include <ogr_api.h>

#include "geo/decide.h"
#include "geo/raster.h"
#include "score/metrics.h"

/* The classes and validity of every pixel of r (opened whole). */
int ls_read_prediction(struct ls_raster *r, const struct ls_decision *d, uint8_t *cls, uint8_t *valid);

/* The number of classes seen: k, raised to cover every reference and valid
 * predicted class. */
int ls_classes_seen(const uint8_t *pred, const uint8_t *valid, const uint8_t *ref, size_t n, int k);

/* conf[ref * k + pred] over the pixels valid and known in the reference
 * (conf holds k * k zeroed counts); returns how many were scored. */
uint64_t ls_confusion(const uint8_t *pred, const uint8_t *valid, const uint8_t *ref, size_t n, int k,
		      uint64_t *conf);

/* Object ids (1..*n, 0 none) on r's grid from the polygons of layer (NULL:
 * the first) of an OGR source, reprojected to r's CRS and burned at pixel
 * centres, later features over earlier ones. Only polygons that cover a
 * pixel where keep[i] is set are numbered (keep NULL: every pixel). */
int ls_objects_read(const char *path, const char *layer, const struct ls_raster *r, const uint8_t *keep,
		    int32_t *ids, int32_t *n);

/* The crown centres (metrics.h ls_crown_centres, radius in CRS units) of
 * class cls in the reference (*qx, *qy; the count returned) and in the
 * prediction (*sx, *sy, *ns), over the pixels valid and known, in r's CRS. */
long ls_crown_points(const struct ls_raster *r, const uint8_t *pred, const uint8_t *valid, const uint8_t *ref, int cls,
		     double radius, double **qx, double **qy, double **sx, double **sy, long *ns);

/* Layer `layer` (NULL: the first) of the OGR source path, its dataset in
 * *ds (GDALClose it); NULL with the error set, naming it as `what`. */
OGRLayerH ls_vector_layer(const char *path, const char *layer, const char *what, GDALDatasetH *ds);

/* name when the OGR source path has a layer of that name, else NULL. */
const char *ls_layer_if_present(const char *path, const char *name);

/* The centres of objects 1..n of ids, in r's CRS, into *x, *y (malloc'd). */
void ls_object_centres(const int32_t *ids, int32_t n, const struct ls_raster *r, double **x, double **y);

/* Pixel coordinates (column, row) of r to its CRS, in place. */
void ls_pixel_to_crs(const struct ls_raster *r, double *x, double *y);

/* The point features of an OGR source inside r, in r's CRS. */
int ls_points_read(const char *path, const struct ls_raster *r, double **x, double **y, long *n);

/* Class c's errors on r's grid as a Byte GeoTIFF with a colour table: 1 true
 * positive, 2 false positive, 3 false negative, 0 true negative, 255 not
 * scored; written under a temporary name and renamed. */
int ls_error_map_write(const char *path, const struct ls_raster *r, const uint8_t *pred, const uint8_t *valid,
		       const uint8_t *ref, int c);

#endif
