/* dataset.h - training tiles held in memory, batches and augmentation.
 *
 * Training reads every tile of its streams once (files or pipes) into
 * memory: the training set, unlike a scene being mapped, must be visited
 * many times. A tile keeps its f32 bands, its labels with invalid pixels
 * set to 255, its domain and its place in its source raster. */
#ifndef LS_DATASET_H
#define LS_DATASET_H

#include <stdint.h>

#include "stream/frame.h"
#include "nn/nn.h"

struct ls_sample {
	float *x;		/* [c][h][w] */
	uint8_t *y;		/* [h][w], 255 = not scored; NULL when unlabelled */
	uint64_t lcls;		/* partial labels: bit c, y speaks for class c and its 0
				 * means "none of them" (frame label_classes); 0: every class */
	int c, h, w, dom;
	int64_t off_x, src_w;
	int src;		/* which source raster (index into the dataset's list) */
	int val;		/* held out for validation */
};

struct ls_dataset {
	int n, cap;
	struct ls_sample *s;
	int ndom;
	char dom[8][32];
	struct ls_strlist bands[8];	/* band names per domain, from the frames */
	struct ls_norm norm[8];		/* normalisation per domain, from the frames */
	int labelled_ignored;		/* target frames carried labels that were dropped */
	double gsd, gsd_max;		/* the labelled tiles' pixel size in metres, smallest and largest
					 * (geographic tiles: their height in degrees x 111 km) */
	int gsd_geo;			/* some labelled tiles are in a geographic CRS */
	int per_raster;			/* a domain's frames carry different band statistics */
	struct ls_strlist srcs;		/* source raster identities, in order of appearance */
};

/* Read every frame of a stream; domain: the frames' own or default_dom;
 * keep_labels = 0 drops labels (unlabelled target domain). */
int ls_dataset_read(struct ls_dataset *d, const char *path, const char *default_dom, int keep_labels);
/* Hold out an area for validation: with five or more labelled source
 * rasters, every (1/frac)-th of them whole; otherwise the eastern `frac`
 * of each raster's width. */
void ls_dataset_split(struct ls_dataset *d, double frac);
int ls_dataset_domain(const struct ls_dataset *d, const char *name);
/* An unlabelled domain whose bands (names, in order) equal a labelled
 * domain's shares that domain's input stem; returns how many were merged. */
int ls_dataset_share_stems(struct ls_dataset *d);
void ls_dataset_free(struct ls_dataset *d);

/* Augmentation of one tile into a batch slot: flips, 90-degree turns (square
 * tiles), brightness and contrast jitter of +-jitter. */
struct ls_augment {
	int flip, rot90;
	double jitter;
	double scale;	/* labelled tiles zoomed by 1/(1+scale) to 1+scale; 0: off */
};

void ls_batch_put(const struct ls_sample *s, real *x, uint8_t *y, const struct ls_augment *aug, struct ls_rng *rng);

#endif
