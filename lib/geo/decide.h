/* decide.h - the class a pixel of a probability raster is given.
 *
 * By default the most probable class. A class threshold C=T instead gives
 * class C wherever its probability reaches T, and the most probable of the
 * other classes elsewhere: for a model whose scores for C are calibrated to
 * another domain, with T chosen without labels so that a share of the map
 * is called C (share-threshold). evaluate and vectorise decide alike. */
#ifndef LS_DECIDE_H
#define LS_DECIDE_H

#include <stddef.h>

struct ls_decision {
	int cls;	/* 0: the most probable class everywhere */
	double t;	/* class cls where its probability >= t */
};

/* Parse "C=T" (C >= 1, 0 <= T <= 1) into d; -1 with ls_err set otherwise.
 * Shaped as an LS_OPT_CB callback (ctx: the struct ls_decision). */
int ls_decision_parse(void *d, const char *s);

/* The class of pixel p[0], p[stride], ..., p[(k - 1) * stride]. */
static inline int ls_decide(const float *p, size_t stride, int k, const struct ls_decision *d)
{
	if (d->cls > 0 && d->cls < k && p[d->cls * stride] >= d->t)
		return d->cls;
	int best = 0;	/* background is never the thresholded class */
	for (int b = 1; b < k; b++)
		if (b != d->cls && p[b * stride] > p[best * stride])
			best = b;
	return best;
}

#endif
