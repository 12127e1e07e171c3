/* adabn.h - AdaBN: a model's batch-norm statistics re-estimated on
 * unlabelled target tiles (Li et al. 2016). Batches go through the network
 * in training mode and each layer's running mean and variance become the
 * average of the batches' statistics; no weight changes, no label is read.
 * With statistics per domain only the stem's row is replaced. */
#ifndef LS_ADABN_H
#define LS_ADABN_H

#include "nn/unet.h"
#include "train/dataset.h"

struct ls_adabn {
	struct ls_unet *net;
	struct ls_bn *bn[4 * LS_MAX_DEPTH];
	real momentum[4 * LS_MAX_DEPTH];	/* the layers' own, restored at the end */
	int nbn;
	long batches;
};

void ls_adabn_begin(struct ls_adabn *a, struct ls_unet *net);
/* One batch x (two tiles or more) of stem dom through the network, in the
 * activations act; its statistics join the average. */
void ls_adabn_batch(struct ls_adabn *a, struct ls_unet_act *act, const struct ls_t4 *x, int dom);
/* Restores the layers' momentum; returns the batches averaged. */
long ls_adabn_end(struct ls_adabn *a);
/* The whole procedure over the tiles idx[0..n) of d, in batches of up to
 * act->n (a last single tile is left out), through stem dom; act belongs
 * to net. Returns the batches averaged. */
long ls_adabn_tiles(struct ls_unet *net, struct ls_unet_act *act, const struct ls_dataset *d, const int *idx, int n,
		    int dom);

#endif
