/* optim.h - Adam with decoupled weight decay (AdamW), SGD with momentum,
 * and learning-rate schedules (constant, step, cosine; linear warm-up). */
#ifndef LS_OPTIM_H
#define LS_OPTIM_H

#include "nn/nn.h"

enum ls_optim_kind { LS_ADAM, LS_SGD };
enum ls_sched_kind { LS_SCHED_CONST, LS_SCHED_STEP, LS_SCHED_COSINE };

struct ls_optim {
	enum ls_optim_kind kind;
	double lr, beta1, beta2, eps, weight_decay, momentum;
	enum ls_sched_kind sched;
	long warmup, total, step_every;	/* steps */
	double step_gamma, min_lr;
	long t;			/* steps taken */
};

void ls_optim_defaults(struct ls_optim *o, enum ls_optim_kind kind, double lr);
/* Parse "adam" / "sgd" and "const" / "step" / "cosine"; -1 with ls_err when unknown. */
int ls_optim_parse(struct ls_optim *o, const char *kind, const char *sched);
double ls_optim_lr(const struct ls_optim *o, long t);
/* One update of every non-frozen parameter from its gradient. */
void ls_optim_step(struct ls_optim *o, struct ls_params *ps);

#endif
