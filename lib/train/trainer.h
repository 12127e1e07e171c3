/* trainer.h - training a UNet-S: the loop every method shares.
 *
 * Epochs over shuffled batches of labelled source tiles (with
 * augmentation), a validation area held out by area, per-epoch metrics on
 * stderr and in a JSON-lines file, a checkpoint after every epoch (written
 * atomically with the optimiser, random-generator and method state, so that
 * resuming continues exactly), and the epoch kept as the model chosen by a
 * source-only signal, never by target labels.
 *
 * The methods (docs/methods.md) are one file each behind struct ls_method
 * (train/method.h): supervised (source-only, and the oracle on target
 * labels), wdgrl, dsn and selftrain. Adapting methods train supervised for
 * the warm-up epochs first. */
#ifndef LS_TRAINER_H
#define LS_TRAINER_H

#include "nn/unet.h"
#include "train/dataset.h"

/* WDGRL and DSN: the domain-similarity term (a Wasserstein critic, or a
 * domain classifier behind gradient reversal) and DSN's own terms. */
struct ls_align_opts {
	double lambda;		/* weight of the similarity term in the encoder's loss */
	double gamma;		/* the critic's gradient-penalty weight */
	double critic_lr;
	int n_critic, critic_hidden;
	int tile_level;		/* 1: one point a tile (features pooled); 0: one a bottleneck pixel */
	unsigned levels;	/* bit l: the critic sees encoder level l's output (a skip),
				 * pooled onto the bottleneck's cells; 0: the bottleneck alone */
	double alpha, beta;	/* DSN: reconstruction and difference weights */
	int dann;		/* DSN: the similarity term is a domain classifier (DANN) */
};

/* Self-training with a mean teacher (DACS's recipe, docs/methods.md). */
struct ls_selftrain_opts {
	double ema;		/* the teacher's decay */
	double threshold;	/* pseudo-labels where the teacher's confidence reaches it */
	double class_share;	/* > 0: instead, the most confident share of each class (CBST) */
	int classmix;		/* paste half of a source tile's classes into the target tile */
	int target_bn;		/* start from, and keep, the target's batch-norm statistics */
	double jitter, blur;	/* strong augmentation: colour jitter amplitude, blur sigma at most */
};

struct ls_train_opts {
	const char *method;		/* source-only (also the oracle's), wdgrl, dsn or selftrain */
	const char *model_path, *metrics_path;
	const char *init_path;		/* start from this trained model (NULL: He initialisation) */
	int epochs, batch, seed, resume;
	int epoch_steps;		/* optimiser steps per epoch; 0: one pass over the training tiles */
	double lr, weight_decay, val_frac;
	const char *optimiser, *schedule;
	int warmup;			/* learning-rate warm-up, steps */
	int width, depth, classes;
	const char *class_weights;	/* "1,3" */
	const char *class_names;	/* "background,building": recorded in the model (NULL: none) */
	const char *select;		/* the epoch kept: val-iou, val-loss or last */
	const char *weights;		/* how MODEL stores convolution weights: f32 or i16 */
	int adapt_warmup;		/* adapting methods: supervised epochs first */
	double fda_beta;		/* > 0: source tiles take a target tile's low-frequency amplitude */
	double dice;			/* > 0: the source task loss adds this times the soft Dice loss */
	struct ls_augment aug;
	struct ls_align_opts align;
	struct ls_selftrain_opts st;
};

void ls_train_defaults(struct ls_train_opts *o);
/* 1 when the method is known; *adapts = 1 when it learns from target tiles. */
int ls_train_method_known(const char *name, int *adapts);
/* --init: the architecture of the trained model at path (width, depth,
 * classes) into o. */
int ls_train_spec_from(const char *path, struct ls_train_opts *o);
/* Its weights into net (the same architecture, stems of d's domains):
 * every tensor by name, each stem from the model's stem with the same band
 * names (case aside), a stem for bands it has not seen left as initialised. */
int ls_train_init_from(struct ls_unet *net, const struct ls_dataset *d, const char *path);
/* Train on d: labelled source tiles and, for the adapting methods, the
 * unlabelled target tiles (whose labels were never read). */
int ls_train_run(const struct ls_train_opts *o, struct ls_dataset *d);

#endif
