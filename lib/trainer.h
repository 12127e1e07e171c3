/* trainer.h - the training loop shared by critic-train's methods.
 *
 * Epochs over shuffled batches of labelled source tiles (with augmentation),
 * a validation split held out by area, per-epoch metrics on stderr and in a
 * JSON-lines file, a checkpoint after every epoch (written atomically, with
 * the optimiser and random-generator state, so that --resume continues
 * exactly), and the model chosen by a source-only signal (source
 * validation IoU by default; never anything computed from target labels). */
#ifndef LS_TRAINER_H
#define LS_TRAINER_H

#include "dataset.h"
#include "model.h"
#include "optim.h"
#include "unet.h"

struct ls_train_opts {
	const char *method;		/* source-only (also used for oracle runs) */
	const char *model_path, *metrics_path;
	int epochs, batch, seed, resume;
	int epoch_steps;		/* optimiser steps per epoch (the tiles revisited in fresh
					 * shuffles); 0: one pass over the training tiles */
	double lr, weight_decay, val_frac;
	const char *optimiser, *schedule;
	int warmup;
	int width, depth, bn_per_domain;
	int classes;
	const char *class_weights;	/* "1,3" */
	const char *select;		/* which epoch becomes the model: val-iou, val-loss or last */
	struct ls_augment aug;
	/* WDGRL */
	double lambda, gamma, critic_lr;
	int n_critic, critic_hidden, adapt_warmup;	/* warm-up in epochs of source-only training */
	const char *critic_level;	/* "pixel" (bottleneck vectors), "tile" (pooled) or "output" */
	int critic_patch;		/* output level: p x p patches of class probabilities */
	unsigned critic_levels;		/* pixel, tile: bit l (l < depth) = the critic sees encoder
					 * level l's output (a skip), pooled to the bottleneck's cells;
					 * 0: the bottleneck alone; ignored at the output level (the
					 * caller refuses the two together) */
	int importance_weighted;	/* critic's source points weighed by estimated target / source class ratios */
	const char *target_prior;	/* "p0,p1,..": known target class proportions, the ratios fixed */
	const char *lambda_schedule;	/* "const", or "ramp": lambda * (2 / (1 + exp(-10 p)) - 1),
					 * p the share of the adaptation epochs done */
	/* DSN: lambda weighs the similarity term (gamma of the DSN paper;
	 * --gamma stays the critic's gradient-penalty weight) */
	double alpha, beta;		/* reconstruction and difference weights */
	const char *similarity;		/* "critic" (Wasserstein, default) or "dann" (gradient reversal) */
};

void ls_train_defaults(struct ls_train_opts *o);
/* Train on d: labelled source tiles, and for wdgrl and dsn the unlabelled target
 * tiles (whose labels were never read). */
int ls_train_run(const struct ls_train_opts *o, struct ls_dataset *d);

#endif
