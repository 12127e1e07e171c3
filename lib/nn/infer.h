/* infer.h - running a trained model on frames (encode, decode).
 *
 * A features frame (kind "features") carries everything the decoder needs:
 * its primary tensor is the full-resolution skip features [W, H, W_px],
 * its extra tensors "skip1".."skipN" the deeper skips and "bottleneck" the
 * deepest level; the tile's metadata (grid, mask, domain) passes through.
 * A probs frame (kind "probs") holds per-class probabilities [K, H, W]
 * (f32), or with class_index the most probable class [1, H, W] (u8). */
#ifndef LS_INFER_H
#define LS_INFER_H

#include "stream/frame.h"
#include "nn/model.h"
#include "nn/unet.h"

struct ls_infer {
	struct ls_unet net;	/* the model, or an ensemble's first member */
	struct ls_unet *nets;	/* an ensemble's members: nets[1..loaded) (nets[0] moved to net) */
	int loaded;		/* the networks the file holds */
	int members;		/* those that map (the first members; a caller may lower it) */
	struct ls_unet_act act;
	struct ls_model_meta meta;
	char *path;
	const char *stem;	/* force this stem (domain) */
	int act_h, act_w;
	int batch;		/* images per forward pass (1 unless ls_infer_set_batch) */
	int flips;		/* test-time flips averaged by predict: 1, 2 or 4 */
	real *sum;		/* their running sum, sum_len values */
	size_t sum_len;
};

int ls_infer_open(struct ls_infer *in, const char *model_path, const char *stem);
void ls_infer_close(struct ls_infer *in);
/* The stem (domain index) a tile goes through, after checking its bands
 * and normalisation against the model; -1 with ls_err when it does not fit. */
int ls_infer_stem(struct ls_infer *in, const struct ls_frame *tile);
/* tile frame -> features frame (a single network: an ensemble maps with
 * ls_infer_predict, which averages its members) */
int ls_infer_encode(struct ls_infer *in, const struct ls_frame *tile, struct ls_frame *out);
/* features frame -> probs frame */
int ls_infer_decode(struct ls_infer *in, const struct ls_frame *feat, struct ls_frame *out, int class_index);
/* tile frame -> probs frame in one process (encode and decode) */
int ls_infer_predict(struct ls_infer *in, const struct ls_frame *tile, struct ls_frame *out, int class_index);
/* The same over n <= batch frames of one shape and one domain at a time
 * (ls_map_stream_batch groups them): one forward pass, n output frames.
 * Every output equals what the one-frame call gives. */
void ls_infer_set_batch(struct ls_infer *in, int batch);
/* predict averages the class probabilities over 1 (none), 2 (and the tile
 * mirrored left-right) or 4 (and top-bottom, and both) flips of each tile,
 * and over an ensemble's members */
void ls_infer_set_flips(struct ls_infer *in, int flips);
/* The arithmetic of the 3x3 convolutions: "f32" (the default) or "bf16"
 * (bfloat16 products summed in float, about twice the convolutions' speed
 * on CPUs with AVX-512 BF16; elsewhere f32, said once on stderr). Returns
 * -1 with the error set for another name. */
int ls_infer_set_precision(const char *precision);
int ls_infer_encode_batch(struct ls_infer *in, const struct ls_frame *const *tiles, int n, struct ls_frame **out);
int ls_infer_decode_batch(struct ls_infer *in, const struct ls_frame *const *feats, int n, struct ls_frame **out,
			  int class_index);
int ls_infer_predict_batch(struct ls_infer *in, const struct ls_frame *const *tiles, int n, struct ls_frame **out,
			   int class_index);

#endif
