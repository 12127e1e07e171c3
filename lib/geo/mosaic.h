/* mosaic.h - frames back into one GeoTIFF on their source grid (stitch).
 *
 * Tiles are blended where they overlap with a separable window weight that
 * ramps linearly across the halo, times the valid mask, so seams vanish and
 * identical overlapping values reproduce exactly. Frames must arrive in row
 * order of their origins (as tile writes them); rows above the current
 * frame's origin are final and are written out a row of 128-pixel blocks
 * at a time, so memory is about one tile row plus one block row of the
 * raster's width, whatever its height. The file is written under
 * a temporary name (OUT.PID.tmp) and renamed when complete. */
#ifndef LS_MOSAIC_H
#define LS_MOSAIC_H

#include "geo/decide.h"
#include "stream/frame.h"

struct ls_mosaic_opts {
	const char *compress;	/* DEFLATE, LZW, ZSTD, NONE */
	int cog;		/* Cloud Optimized GeoTIFF with overviews */
	int class_index;	/* write the most probable class of the blended probabilities
				 * (one u8 band, 255 where no tile is valid) */
	struct ls_decision decision;	/* class_index: a class threshold instead (decide.h; cls 0: none) */
	int level;		/* DEFLATE (1-9) or ZSTD (1-22) level; 0: GDAL's default */
	int threads;		/* threads compressing the Cloud Optimized GeoTIFF (0: all cores) */
	int round_bits;		/* float values rounded to multiples of 2^-round_bits (0: kept), the
				 * most probable class chosen among the rounded values */
	int has_nodata;		/* override the frames' nodata */
	double nodata;
	const struct ls_strlist *metadata;	/* KEY=VALUE items of the dataset (NULL: none) */
};

struct ls_mosaic;

struct ls_mosaic *ls_mosaic_open(const char *path, const struct ls_frame *first, const struct ls_mosaic_opts *o);
int ls_mosaic_add(struct ls_mosaic *m, const struct ls_frame *f);
/* Write the remaining rows, close and rename; -1 leaves no output file. */
int ls_mosaic_close(struct ls_mosaic *m);
void ls_mosaic_abort(struct ls_mosaic *m);

#endif
