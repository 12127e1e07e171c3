/* labels.h - label sources rasterised onto each tile's grid.
 *
 * A source is a label raster (resampled nearest onto the image grid, values
 * optionally mapped to classes) or any OGR vector source (reprojected to the
 * image CRS and burned with a fixed class or an attribute's value; lines are
 * buffered by a width in metres). Sources are applied in order, later ones
 * over earlier ones, on a background of 0; pixels outside the image or at a
 * label raster's nodata are 255 (unknown). */
#ifndef LS_LABELS_H
#define LS_LABELS_H

#include <stdint.h>

#include "geo/raster.h"

struct ls_label_src;

struct ls_labels {
	int n;
	struct ls_label_src **src;
	/* defaults for sources added next */
	int cls;
	const char *attr;
	double line_width;
	const char *map;
	GDALDatasetH mem;	/* scratch tile for rasterising */
	int mem_w, mem_h;
};

void ls_labels_init(struct ls_labels *l);
int ls_labels_add(struct ls_labels *l, const char *path);
/* Change a setting of the most recently added source (and of later ones). */
int ls_labels_set_class(struct ls_labels *l, int cls);
int ls_labels_set_attr(struct ls_labels *l, const char *attr);
int ls_labels_set_line_width(struct ls_labels *l, double metres);
int ls_labels_set_map(struct ls_labels *l, const char *map);	/* "255=1,1=1" */
/* Prepare every source for one image: CRS checks, overlap, alignment. */
int ls_labels_bind(struct ls_labels *l, const struct ls_raster *img);
int ls_labels_read_tile(struct ls_labels *l, const struct ls_raster *img, int x0, int y0, int size,
			uint8_t *out);
int ls_labels_read_window(struct ls_labels *l, const struct ls_raster *img, int x0, int y0, int w, int h,
			  uint8_t *out);
void ls_labels_free(struct ls_labels *l);

/* The class codes' names, "background,building,tree,road", and the c-th name
 * of such a comma-separated list (into buf), or "classC" when it has none. */
#define LS_CLASS_NAMES "background,building,tree,road"
const char *ls_class_name(const char *list, int c, char *buf, size_t n);
/* 1 when every comma-separated name of list is non-empty and made of
 * letters, digits, _ and - (a name may become a layer or a file name). */
int ls_names_ok(const char *list);

#endif
