/* method.h - what a training method sees of the loop, and what it gives.
 *
 * The loop (trainer.c) owns the network, its optimiser, the batches, the
 * validation and the checkpoints; a method (one file each) owns its own
 * parts (a critic, a teacher) and turns a batch of labelled source tiles
 * into one optimiser step. */
#ifndef LS_METHOD_H
#define LS_METHOD_H

#include <stdio.h>

#include "base/rng.h"
#include "nn/model.h"
#include "nn/optim.h"
#include "nn/unet.h"
#include "train/trainer.h"

struct ls_trainer {
	const struct ls_train_opts *o;
	struct ls_dataset *d;
	struct ls_unet net;
	struct ls_unet_act act;	/* the source batch's activations; act.in its input */
	struct ls_optim opt;
	struct ls_rng shuffle, aug;
	struct ls_model_meta meta;
	real *cw;		/* class weights of the task loss */
	uint8_t *y;		/* the source batch's labels */
	uint64_t *ylc;		/* and their tiles' label_classes (partial labels) */
	int *train, ntrain;	/* labelled training tiles, in stream order */
	int *val, nval;		/* held out for validation */
	int *tgt, ntgt;		/* unlabelled target tiles */
	int *order;		/* this epoch's shuffle of train */
	int epoch, adapting;	/* adapting: past the warm-up */
	int warned_no_fg;	/* validation without foreground: epochs ranked by loss */
	double best;
	FILE *metrics;
	char ckpt[4096];
	real *xskip, *gbuf;	/* data-parallel scratch */
	uint8_t *yskip;
	const struct ls_method *m;
	void *ms;		/* the method's state */
};

/* The task loss of the source batch in t->act, n_own of its tiles this
 * rank's: cross-entropy (partial labels honoured) scaled to the whole
 * batch's mean, and --dice's term over the whole batch; its gradient
 * written to t->act.dlogits. */
double ls_tr_source_loss(struct ls_trainer *t, int n_own);

/* A set of parameters a method keeps beside the network (a critic, a
 * teacher), saved in checkpoints under prefix/NAME with its optimiser's
 * step count, so that a resumed run continues exactly. */
struct ls_method_state {
	const char *prefix;
	struct ls_params *ps;
	struct ls_optim *opt;	/* NULL: not trained by an optimiser */
};

struct ls_method {
	const char *name;
	int adapts;		/* learns from target tiles, after the warm-up epochs */
	int (*setup)(struct ls_trainer *t);
	/* the first adapting epoch is about to start (not called again on resume) */
	int (*begin)(struct ls_trainer *t);
	/* one optimiser step on the source tiles idx[0..n); returns the task loss */
	double (*step)(struct ls_trainer *t, const int *idx, int n);
	/* text added to the epoch's line: ", W 0.1, GP 0.2" */
	void (*log)(struct ls_trainer *t, char *buf, size_t n);
	/* up to 2 parameter sets checkpointed beside the network; returns how many */
	int (*state)(struct ls_trainer *t, struct ls_method_state *st);
	/* the network written as the model (NULL: the trained one) */
	struct ls_unet *(*model)(struct ls_trainer *t);
	/* the run is over: last changes to the model before it is written */
	int (*finish)(struct ls_trainer *t);
	void (*free)(struct ls_trainer *t);
};

extern const struct ls_method ls_method_supervised, ls_method_wdgrl, ls_method_dsn, ls_method_selftrain;

/* Batches (batch.c). A data-parallel rank holds the share [lo, hi) of a
 * batch of n tiles; every rank draws the random numbers of every tile. */
void ls_tr_share(int n, int *lo, int *hi);
/* The source tiles idx[0..n) with labels into t->act.in and t->y; returns
 * the batch tensor (this rank's share) and its domain. */
struct ls_t4 ls_tr_source_batch(struct ls_trainer *t, const int *idx, int n, int *dom);
/* n target tiles drawn at random (of the first target tile's domain) into
 * x, without labels; aug NULL: none. Their indices into ti when not NULL. */
struct ls_t4 ls_tr_target_batch(struct ls_trainer *t, int n, real *x, const struct ls_augment *aug, int *dom,
				int *ti);
/* Average the gradients of ps over the ranks (nothing in one process). */
void ls_tr_average(struct ls_trainer *t, struct ls_params *ps);
/* The task loss of this rank's share scaled so that the ranks' mean is the
 * whole batch's; returns the factor (1 in one process). */
double ls_tr_xent_scale(struct ls_trainer *t, int n_own, size_t hw, struct ls_t4 *dl);
double ls_tr_mean(double v);
/* The supervised step every method starts with. */
double ls_tr_supervised_step(struct ls_trainer *t, const int *idx, int n);
/* Every batch-norm layer of a UNet (in forward order); returns the count. */
int ls_tr_bn_list(struct ls_unet *m, struct ls_bn **bn);

/* Checkpoints (checkpoint.c). */
int ls_tr_checkpoint(struct ls_trainer *t, int epoch, int improved);
int ls_tr_resume(struct ls_trainer *t);
FILE *ls_tr_metrics_resume(const char *path, int epochs);
void ls_tr_describe(struct ls_trainer *t);

#endif
