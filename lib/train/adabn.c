/* adabn.c - batch-norm statistics re-estimated on target tiles (adabn.h). */
#include <string.h>

#include "train/adabn.h"
#include "train/method.h"

void ls_adabn_begin(struct ls_adabn *a, struct ls_unet *net)
{
	memset(a, 0, sizeof *a);
	a->net = net;
	a->nbn = ls_tr_bn_list(net, a->bn);
	for (int i = 0; i < a->nbn; i++)
		a->momentum[i] = a->bn[i]->momentum;
}

void ls_adabn_batch(struct ls_adabn *a, struct ls_unet_act *act, const struct ls_t4 *x, int dom)
{
	for (int i = 0; i < a->nbn; i++)	/* a cumulative average over the batches */
		a->bn[i]->momentum = (real)1 / (real)(a->batches + 1);
	ls_unet_forward(a->net, act, x, dom, 1);
	a->batches++;
}

long ls_adabn_end(struct ls_adabn *a)
{
	for (int i = 0; i < a->nbn; i++)
		a->bn[i]->momentum = a->momentum[i];
	return a->batches;
}

long ls_adabn_tiles(struct ls_unet *net, struct ls_unet_act *act, const struct ls_dataset *d, const int *idx, int n,
		    int dom)
{
	struct ls_adabn a;
	ls_adabn_begin(&a, net);
	for (int b = 0; b < n; b += act->n) {
		int k = n - b < act->n ? n - b : act->n;
		if (k < 2 && b > 0)
			break;	/* batch norm needs two tiles; a last single one is left out */
		const struct ls_sample *s0 = &d->s[idx[b]];
		size_t img = (size_t)s0->c * s0->h * s0->w;
		for (int i = 0; i < k; i++)
			ls_batch_put(&d->s[idx[b + i]], act->in + i * img, NULL, NULL, NULL);
		struct ls_t4 x = ls_t4_make(act->in, k, s0->c, s0->h, s0->w);
		ls_adabn_batch(&a, act, &x, dom);
	}
	return ls_adabn_end(&a);
}
