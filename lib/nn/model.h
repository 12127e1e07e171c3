/* model.h - model files: a UNet-S with its training state, self-describing.
 *
 * A model file is a frame stream (docs/frames.md), so it is checksummed,
 * versioned and readable from any msgpack library:
 *   frame 0: kind "model", key = the architecture spec, data = u8 text
 *            "landshift-model 1\n" followed by KEY VALUE lines (training
 *            step, band order and normalisation per domain, notes);
 *   then one frame per named tensor: kind "param", key = name, f32 [n],
 *            with the optimiser moments as extra tensors "m" and "v";
 *            where the meta says "weights i16" (not in checkpoints), a
 *            convolution's weights are i16 [out][in][ky][kx] with an extra
 *            f32 "scale" [out]: weight = value x its output channel's scale
 *            (the largest magnitude over 32767), half the file's bytes;
 *            "weights i8": the same in u8 tensors of two's-complement bytes
 *            (scale: the largest magnitude over 127), a quarter;
 *   an ensemble (meta "members K", K >= 2): members 2..K of the same
 *            architecture follow member 1's "param" frames as frames of
 *            kind "member", key "M/NAME" (M = 1..K-1); mapping averages the
 *            members' class probabilities, and a reader that wants one
 *            network (ls_model_load) gets the first.
 * Saving writes a temporary file and renames it; loading checks the spec,
 * every tensor's presence and size, and refuses anything else. */
#ifndef LS_MODEL_H
#define LS_MODEL_H

#include "base/opt.h"
#include "nn/unet.h"

#define LS_MODEL_VERSION 1
#define LS_MODEL_MAX_MEMBERS 16

struct ls_model_meta {
	struct ls_strlist keys, vals;
};

void ls_meta_set(struct ls_model_meta *m, const char *key, const char *val);
const char *ls_meta_get(const struct ls_model_meta *m, const char *key);
void ls_meta_free(struct ls_model_meta *m);

/* with_state: also save the optimiser moments (for --resume). */
int ls_model_save(const char *path, struct ls_unet *net, const struct ls_model_meta *meta, int with_state);
/* Parameter sets saved beside the network in a checkpoint (a critic, a
 * teacher): frames of kind "state", key PREFIX/NAME, with their optimiser
 * moments. A model load skips them. */
struct ls_model_extra {
	const char *prefix;
	struct ls_params *ps;
};

int ls_model_save_ext(const char *path, struct ls_unet *net, const struct ls_model_meta *meta, int with_state,
		      const struct ls_model_extra *x, int nx);
/* Reads the state frames of path into the nx (at most 4) sets; every
 * parameter of each must be there. */
int ls_model_load_extra(const char *path, const struct ls_model_extra *x, int nx);
/* Initialises *net from the file (ls_unet_free it afterwards); of an
 * ensemble, the first member (the meta's "members" says how many). */
int ls_model_load(const char *path, struct ls_unet *net, struct ls_model_meta *meta);
/* Every member: *nets (ls_model_free_members) holds *n networks. */
int ls_model_load_members(const char *path, struct ls_unet **nets, int *n, struct ls_model_meta *meta);
void ls_model_free_members(struct ls_unet *nets, int n);
/* n networks of one architecture as one model file (an ensemble when n > 1;
 * its meta gets "members n"), without training state. */
int ls_model_save_members(const char *path, struct ls_unet *const *nets, int n, const struct ls_model_meta *meta);

#endif
