#include <math.h>
#include <string.h>

#include "base/err.h"
#include "nn/optim.h"

void ls_optim_defaults(struct ls_optim *o, enum ls_optim_kind kind, double lr)
{
	memset(o, 0, sizeof *o);
	o->kind = kind;
	o->lr = lr;
	o->beta1 = 0.9;
	o->beta2 = 0.999;
	o->eps = 1e-8;
	o->momentum = 0.9;
	o->step_gamma = 0.1;
	o->sched = LS_SCHED_CONST;
}

int ls_optim_parse(struct ls_optim *o, const char *kind, const char *sched)
{
	if (kind) {
		if (!strcmp(kind, "adam"))
			o->kind = LS_ADAM;
		else if (!strcmp(kind, "sgd"))
			o->kind = LS_SGD;
		else
			return ls_err("unknown optimiser '%s' (adam or sgd)", kind);
	}
	if (sched) {
		if (!strcmp(sched, "const"))
			o->sched = LS_SCHED_CONST;
		else if (!strcmp(sched, "step"))
			o->sched = LS_SCHED_STEP;
		else if (!strcmp(sched, "cosine"))
			o->sched = LS_SCHED_COSINE;
		else
			return ls_err("unknown schedule '%s' (const, step or cosine)", sched);
	}
	return 0;
}

double ls_optim_lr(const struct ls_optim *o, long t)
{
	double lr = o->lr;
	if (o->warmup > 0 && t < o->warmup)
		return lr * (double)(t + 1) / (double)o->warmup;
	long s = t - o->warmup, span = o->total - o->warmup;
	switch (o->sched) {
	case LS_SCHED_STEP:
		if (o->step_every > 0)
			lr *= pow(o->step_gamma, (double)(s / o->step_every));
		break;
	case LS_SCHED_COSINE:
		if (span > 0) {
			double f = s >= span ? 1 : (double)s / (double)span;
			lr = o->min_lr + (lr - o->min_lr) * 0.5 * (1 + cos(M_PI * f));
		}
		break;
	default:
		break;
	}
	return lr;
}

void ls_optim_step(struct ls_optim *o, struct ls_params *ps)
{
	double lr = ls_optim_lr(o, o->t);
	o->t++;
	double bc1 = 1 - pow(o->beta1, (double)o->t), bc2 = 1 - pow(o->beta2, (double)o->t);
	for (int k = 0; k < ps->n; k++) {
		struct ls_param *p = ps->p[k];
		if (p->frozen)
			continue;
		if (!p->m)
			p->m = ls_alloc_real(p->n);
		if (o->kind == LS_ADAM && !p->v)
			p->v = ls_alloc_real(p->n);
		real *w = p->w, *g = p->g, *m = p->m, *v = p->v;
		real decay = (real)(p->decay ? lr * o->weight_decay : 0);
		if (o->kind == LS_ADAM) {
			real b1 = (real)o->beta1, b2 = (real)o->beta2, a = (real)(lr / bc1), eps = (real)o->eps;
			real sq = (real)(1 / sqrt(bc2));
#pragma omp parallel for schedule(static) if (p->n > 65536)
			for (size_t i = 0; i < p->n; i++) {
				m[i] = b1 * m[i] + (1 - b1) * g[i];
				v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
				w[i] -= decay * w[i] + a * m[i] / ((real)sqrt(v[i]) * sq + eps);
			}
		} else {
			real mu = (real)o->momentum, l = (real)lr;
			for (size_t i = 0; i < p->n; i++) {
				m[i] = mu * m[i] + g[i];
				w[i] -= decay * w[i] + l * m[i];
			}
		}
	}
}
