/* raster.h - reading rasters through GDAL as georeferenced tiles.
 *
 * A struct ls_raster is one input opened for windowed reads: optionally
 * warped (as an on-demand VRT, so memory stays bounded) to a ground sample
 * distance in metres, with selected bands. Tiles are read on a regular grid
 * whose origins are multiples of the step S - overlap; the last row and
 * column may reach past the raster's edge, where pixels are marked invalid. */
#ifndef LS_RASTER_H
#define LS_RASTER_H

#include <gdal.h>

#include "stream/frame.h"
#include "base/opt.h"

struct ls_raster_opts {
	double gsd;		/* metres per pixel; 0 = native grid */
	const char *t_srs;	/* target CRS for --gsd (default: UTM zone, or the raster's own CRS) */
	const char *a_srs;	/* assign a CRS to a raster that has none */
	const char *resample;	/* near, bilinear, cubic, average */
	struct ls_strlist *bands;	/* names or 1-based indices; NULL = all but alpha */
	struct ls_strlist *band_names;	/* override names */
};

struct ls_raster {
	char *path;
	GDALDatasetH src, ds;	/* ds == src, or a warped VRT over it */
	int w, h;
	double gt[6];
	char *wkt;
	int nsel, *sel;		/* selected 1-based bands of ds */
	struct ls_strlist names;
	GDALDataType gtype;
	int dtype;		/* frame dtype */
	int has_nodata;
	double nodata;
	int mask_all_valid;	/* GDAL says every pixel is valid */
};

/* One GDAL set-up per program: drivers, quiet error handler, cache size. */
void ls_gdal_init(size_t cache_bytes);
/* The last GDAL error message, or "" */
const char *ls_gdal_msg(void);
/* A GDALProgressFunc drawing an ls_progress (arg) started with total 1000. */
int CPL_STDCALL ls_gdal_progress(double frac, const char *msg, void *arg);

int ls_raster_open(struct ls_raster *r, const char *path, const struct ls_raster_opts *o);
void ls_raster_close(struct ls_raster *r);
/* Read a size x size window at (x0, y0) into f: data, mask, georeference. */
int ls_raster_read_tile(struct ls_raster *r, int x0, int y0, int size, struct ls_frame *f);
/* Frame dtype for a GDAL type, and back. */
int ls_dtype_from_gdal(GDALDataType t);
GDALDataType ls_dtype_to_gdal(int dtype);
/* "EPSG:32616" or the CRS name, for messages. */
void ls_crs_label(const char *wkt, char *buf, size_t n);

#endif
