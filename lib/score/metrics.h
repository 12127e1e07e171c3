/* metrics.h - how good a map is: pixel confusion, per-class IoU, precision,
 * recall and F1 over valid pixels; object F1 (polygons matched one to one
 * at IoU >= 0.5, the SpaceNet metric); detection F1 for point labels.
 *
 * Objects are connected components of a class. Their overlaps are counted
 * from the pixels where both rasters have an object (a hash of id pairs),
 * so only overlapping pairs are ever considered, never all pairs. */
#ifndef LS_METRICS_H
#define LS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Pixel scores of class c from a k x k confusion matrix (rows reference,
 * columns prediction). */
struct ls_class_score {
	double iou, precision, recall, f1;
	uint64_t ref, pred;	/* reference and predicted pixels of the class */
};

void ls_class_score(const uint64_t *conf, int k, int c, struct ls_class_score *s);

/* Component ids (1..n, 0 = not the class) of pixels equal to cls. Returns n. */
int32_t ls_components(const uint8_t *cls_raster, int w, int h, int cls, int eight, int32_t *ids);

struct ls_match {
	long pred, ref, tp;
	double precision, recall, f1;
};

/* One-to-one matching of components at IoU >= min_iou, greedy by IoU. */
void ls_match_objects(const int32_t *pid, int32_t np, const int32_t *rid, int32_t nr, size_t npix, double min_iou,
		      struct ls_match *m);

/* Greedy one-to-one matching of predicted centres to points within dist. */
void ls_match_points(const double *px, const double *py, long np, const double *qx, const double *qy, long nq,
		     double dist, struct ls_match *m);

/* d[i]: the Euclidean distance in pixels from pixel i, if it equals cls,
 * to the nearest pixel that does not (outside the raster counts as one that
 * does not: a pixel on the edge is 1 away); 0 elsewhere. Exact, in time
 * linear in the pixels (Felzenszwalb and Huttenlocher's transform). */
void ls_distance(const uint8_t *cls_raster, int w, int h, int cls, float *d);

/* Tree crowns as points, for crown labels (classified LiDAR) that no survey
 * gives one point per tree for: the local maxima of the Euclidean distance
 * from pixels equal to cls to the nearest other pixel (outside the raster
 * counts as other), at least r_min pixels deep, taken deepest first and
 * kept when the disc of that radius overlaps no kept one's. A round crown
 * gives one point, a row of merged crowns one per disc along it. Writes the
 * pixel coordinates (column, row; centres at .5) to *x, *y (malloc'd) and
 * returns how many. */
long ls_crown_centres(const uint8_t *cls_raster, int w, int h, int cls, double r_min, double **x, double **y);

#endif
