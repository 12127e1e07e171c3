/* frame.h - the msgpack frame stream every filter speaks (docs/frames.md).
 *
 * A stream is a sequence of msgpack maps ("frames") ended by a trailer map
 * that counts them; several streams concatenated read as one. Each frame
 * carries a primary tensor (dtype, shape [C,H,W], raw little-endian bytes),
 * optional named extra tensors, an optional valid-pixel mask and label
 * raster (u8, H x W), and the metadata a map needs. The last field of every
 * map is a CRC-32C of all bytes before it, so any flipped byte is caught.
 *
 * Ownership: a struct ls_frame owns every buffer it points to; ls_frame_reset
 * keeps the buffers for reuse, ls_frame_free releases them. */
#ifndef LS_FRAME_H
#define LS_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/opt.h"
#include "base/progress.h"

#define LS_FRAME_VERSION 1
#define LS_MAX_DIMS 4
#define LS_MAX_EXTRA 16
#define LS_DEFAULT_MAX_FRAME ((size_t)1 << 30)

enum ls_dtype { LS_U8, LS_U16, LS_I16, LS_F32, LS_NDTYPE };

size_t ls_dtype_size(int dtype);
const char *ls_dtype_name(int dtype);
int ls_dtype_parse(const char *s);	/* -1 when unknown */

struct ls_tensor {
	char *name;
	int dtype, ndim;
	int64_t shape[LS_MAX_DIMS];
	void *data;		/* 64-byte aligned */
	size_t nbytes, cap;
};

struct ls_norm {
	int n;			/* bands; 0 = not normalised */
	float *mean, *std, *lo, *hi;	/* x' = (clamp(x, lo, hi) - mean) / std */
};

struct ls_frame {
	char kind[32];		/* "tile", "features", "probs", ... */
	char *key;		/* unique name, e.g. "rgb_nadir10:256:512" */
	uint64_t seq;		/* index in its stream; set by the writer */
	struct ls_tensor t;	/* primary tensor, shape [C,H,W] for rasters */
	int nextra;
	struct ls_tensor extra[LS_MAX_EXTRA];
	/* georeference */
	int has_geo;
	double gt[6], src_gt[6];	/* GDAL geotransforms of the tile and its source grid */
	char *crs;		/* WKT */
	int64_t off_x, off_y;	/* tile's pixel offset in the source grid (may be < 0 or past edge) */
	int64_t src_w, src_h;
	char *src;		/* source identity (path) */
	int halo;		/* overlap between neighbouring tiles, pixels */
	int has_nodata;
	double nodata;
	struct ls_strlist bands;
	uint8_t *mask;		/* H*W, 1 = valid; NULL = all valid */
	uint8_t *label;		/* H*W class codes, 255 = unknown; NULL = none */
	uint64_t label_classes;	/* bit c: the labels speak for class c, their 0 means
				 * "none of these" (partial labels); 0: every class */
	size_t mask_cap, label_cap;
	char *domain;
	struct ls_norm norm;
	struct ls_strlist chain;	/* filters that produced it, oldest first */
};

/* Class c is one a label_classes set lists (bits 1 to 63). */
static inline int ls_label_class_listed(uint64_t label_classes, int c)
{
	return c >= 0 && c < 64 && (label_classes >> c & 1);
}

void ls_frame_init(struct ls_frame *f);
void ls_frame_reset(struct ls_frame *f);
void ls_frame_free(struct ls_frame *f);
/* Size the primary tensor (contents undefined). */
void ls_frame_alloc(struct ls_frame *f, int dtype, int ndim, const int64_t *shape);
void ls_tensor_alloc(struct ls_tensor *t, int dtype, int ndim, const int64_t *shape);
struct ls_tensor *ls_frame_add_extra(struct ls_frame *f, const char *name, int dtype, int ndim,
				     const int64_t *shape);
const struct ls_tensor *ls_frame_find_extra(const struct ls_frame *f, const char *name);
uint8_t *ls_frame_mask(struct ls_frame *f);	/* allocate (H*W) */
uint8_t *ls_frame_label(struct ls_frame *f);
void ls_frame_drop_mask(struct ls_frame *f);
void ls_frame_drop_label(struct ls_frame *f);
/* Copy everything but the primary and extra tensors. */
void ls_frame_copy_meta(struct ls_frame *dst, const struct ls_frame *src);
void ls_frame_set_str(char **dst, const char *s);
void ls_frame_chain_push(struct ls_frame *f, const char *prog);
void ls_norm_alloc(struct ls_norm *n, int bands);
int64_t ls_frame_h(const struct ls_frame *f);
int64_t ls_frame_w(const struct ls_frame *f);
int64_t ls_frame_c(const struct ls_frame *f);

/* Writer: frames to a file descriptor; the trailer is written by close. */
struct ls_writer;
/* Refuses a terminal (binary data), returns NULL with ls_err set. */
struct ls_writer *ls_writer_open(int fd, const char *name);
int ls_writer_put(struct ls_writer *w, struct ls_frame *f);	/* sets f->seq */
/* Write the trailer and flush; returns -1 on a write error (EPIPE included). */
int ls_writer_close(struct ls_writer *w);
/* The same, dying with the message on failure (quietly, status 141, when the
 * reader downstream went away). */
void ls_writer_put_or_die(struct ls_writer *w, struct ls_frame *f);
void ls_writer_close_or_die(struct ls_writer *w);
void ls_exit_epipe(void) __attribute__((noreturn));
uint64_t ls_writer_count(const struct ls_writer *w);
/* Nonzero when the last failure was a closed downstream pipe. */
int ls_writer_epipe(const struct ls_writer *w);

/* Reader: frames from a file descriptor or any byte source. */
typedef ssize_t (*ls_read_fn)(void *ctx, void *buf, size_t n);
struct ls_reader;
struct ls_reader *ls_reader_open(int fd, const char *name);
struct ls_reader *ls_reader_open_fn(ls_read_fn fn, void *ctx, const char *name);
/* Largest read per call (tests use 1 to feed a byte at a time). */
void ls_reader_set_chunk(struct ls_reader *r, size_t chunk);
void ls_reader_set_max_frame(struct ls_reader *r, size_t max);
/* 1 = a frame was read, 0 = the stream ended cleanly after a trailer,
 * -1 = error (message names the stream, frame index, byte offset, field). */
int ls_reader_next(struct ls_reader *r, struct ls_frame *f);
uint64_t ls_reader_frames(const struct ls_reader *r);
uint64_t ls_reader_bytes(const struct ls_reader *r);
void ls_reader_close(struct ls_reader *r);

/* The loop of a filter that maps each frame to one output frame: read `in`
 * ("-" = stdin), call fn, write the result to stdout, close with a trailer.
 * fn returns -1 with ls_err set to stop; the program then dies with it. */
typedef int (*ls_map_fn)(void *ctx, const struct ls_frame *in, struct ls_frame *out);
void ls_map_stream(const char *in, ls_map_fn fn, void *ctx);

/* Progress over a stream of tiles: the first frame's grid (source size,
 * tile size, overlap) tells how many tiles a one-raster stream holds; past
 * that count (several rasters in one stream) the estimate is dropped. Call
 * ls_stream_progress once per frame read, ls_stream_progress_end at the end. */
struct ls_stream_progress {
	struct ls_progress p;
	long done;
	int started;
};
/* Tiles along one axis: origins 0, step, 2 step, ... until one reaches the end. */
int ls_grid_count(int extent, int size, int step);
long ls_frame_grid_tiles(const struct ls_frame *f);
void ls_stream_progress(struct ls_stream_progress *sp, const struct ls_frame *f);
void ls_stream_progress_end(struct ls_stream_progress *sp);

/* The same loop over batches: up to `batch` consecutive frames of one kind,
 * dtype, shape and domain go to fn together (n of them), which fills n
 * output frames; they are written in input order. */
typedef int (*ls_map_batch_fn)(void *ctx, const struct ls_frame *const *in, int n, struct ls_frame **out);
void ls_map_stream_batch(const char *in, int batch, ls_map_batch_fn fn, void *ctx);

/* Open "-" or NULL as stdin, otherwise the named file; dies on failure. */
struct ls_reader *ls_reader_open_path(const char *path);

#endif
