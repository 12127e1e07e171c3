/* centreline.h - a road mask to centrelines: thinning, a graph, spurs.
 *
 * The mask (1 = road, 0 = not) is thinned to an 8-connected skeleton one
 * pixel wide (Zhang and Suen's thinning, then every pixel whose removal
 * keeps its neighbours 8-connected and that is no end is removed: no
 * staircases, no false junctions). The skeleton is a graph: pixels with
 * other than two neighbours are nodes (ends and junctions), the chains of
 * pixels between them edges; a closed loop without a node gets one. Spurs,
 * edges from an end to a junction shorter than a length, are removed and
 * the graph traced again, so a junction left with two edges joins them into
 * one. The whole mask is held (one byte a pixel, and one more for the
 * skeleton), so lines never break where tiles met. */
#ifndef LS_CENTRELINE_H
#define LS_CENTRELINE_H

#include <stdint.h>

/* One edge: pixel centres (column + 0.5, row + 0.5) from node to node, and
 * the road's mean width along it in pixels (twice the distance from each
 * skeleton pixel to the nearest pixel that is not road, less one). */
struct ls_polyline {
	int n;
	double *x, *y;
	double width;
};

/* Thin m (w x h, values 0 or 1) in place to its skeleton. */
void ls_thin(uint8_t *m, int w, int h);

/* The centrelines of mask (0/1, unchanged): spurs shorter than spur pixels
 * dropped. Returns the number of lines, *out malloc'd (ls_polylines_free). */
long ls_centrelines(const uint8_t *mask, int w, int h, double spur, struct ls_polyline **out);
void ls_polylines_free(struct ls_polyline *l, long n);

#endif
