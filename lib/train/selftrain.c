/* selftrain.c - self-training with a mean teacher (docs/methods.md).
 *
 * When adaptation starts (after the warm-up, or at once from a trained
 * model) the student's batch-norm statistics are re-estimated on the
 * target tiles (AdaBN; --no-target-bn keeps the source's) and the teacher
 * is a copy of it. Each step: the
 * student's task loss on a source batch (its running statistics left
 * alone); the teacher, in inference mode, labels weakly augmented target
 * tiles where it is confident; half of each source tile's classes are
 * pasted into its target tile with their labels (ClassMix); the mix is
 * strongly augmented (colour jitter, blur) and the student learns it, the
 * pseudo-labels weighted by the batch's confident share; then the teacher
 * moves towards the student (exponential moving average). The model
 * written is the teacher, its statistics re-estimated on the target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "train/adabn.h"
#include "train/augment.h"
#include "train/dist.h"
#include "train/method.h"

struct st {
	struct ls_unet teacher;
	struct ls_unet_act act_t;	/* the target batch: the teacher's forward, then the student's */
	real *prob, *pw, *scratch;
	uint8_t *yp;
	int mix;			/* source and target go through one stem: ClassMix possible */
	double last_share, last_loss;
};

static int setup(struct ls_trainer *t)
{
	const struct ls_train_opts *o = t->o;
	const struct ls_sample *s0 = &t->d->s[t->train[0]], *t0 = &t->d->s[t->tgt[0]];
	size_t hw = (size_t)s0->h * s0->w;
	struct st *s = ls_xcalloc(1, sizeof *s);
	t->ms = s;
	if (ls_dist.size > 1)
		return ls_err("self-training runs in one process, not over %d ranks", ls_dist.size);
	if (ls_unet_init(&s->teacher, &t->net.spec, (uint64_t)o->seed) < 0 ||
	    ls_unet_act_init(&s->act_t, &t->net, o->batch, s0->h, s0->w) < 0)
		return -1;
	s->prob = ls_alloc_real((size_t)o->batch * o->classes * hw);
	s->pw = ls_alloc_real((size_t)o->batch * hw);
	s->scratch = ls_alloc_real(hw);
	s->yp = ls_xmalloc((size_t)o->batch * hw);
	s->mix = o->st.classmix && s0->dom == t0->dom && s0->c == t0->c;
	if (o->st.classmix && !s->mix)
		ls_info("selftrain: the target has its own input stem (other bands): no ClassMix");
	return 0;
}

static void copy_params(struct ls_params *dst, const struct ls_params *src)
{
	for (int i = 0; i < dst->n; i++)
		memcpy(dst->p[i]->w, src->p[i]->w, dst->p[i]->n * sizeof(real));
}

static int begin(struct ls_trainer *t)
{
	struct st *s = t->ms;
	if (t->o->st.target_bn) {
		long b = ls_adabn_tiles(&t->net, &t->act, t->d, t->tgt, t->ntgt, t->d->s[t->tgt[0]].dom);
		ls_info("selftrain: batch-norm statistics from %d target tiles (%ld batches)", t->ntgt, b);
	}
	copy_params(&s->teacher.params, &t->net.params);
	ls_info("selftrain: the teacher starts as the student");
	return 0;
}

static void set_momentum(struct ls_unet *net, real m)
{
	struct ls_bn *bn[4 * LS_MAX_DEPTH];
	int n = ls_tr_bn_list(net, bn);
	for (int i = 0; i < n; i++)
		bn[i]->momentum = m;
}

/* The teacher's pseudo-labels of the target batch x into s->yp, with every
 * pixel's weight the confident share; returns that share. */
static double pseudo(struct ls_trainer *t, struct st *s, const struct ls_t4 *x, int dom)
{
	const struct ls_selftrain_opts *so = &t->o->st;
	size_t hw = (size_t)x->h * x->w;
	ls_unet_forward(&s->teacher, &s->act_t, x, dom, 0);
	struct ls_t4 p = ls_t4_make(s->prob, x->n, t->o->classes, x->h, x->w);
	ls_softmax(&s->act_t.logits, &p);
	double q = ls_pseudo_labels(s->prob, x->n, t->o->classes, hw, NULL, so->threshold, so->class_share, s->yp);
	for (size_t i = 0; i < (size_t)x->n * hw; i++)
		s->pw[i] = (real)q;
	return q;
}

static double step(struct ls_trainer *t, const int *idx, int n)
{
	const struct ls_train_opts *o = t->o;
	struct st *s = t->ms;
	struct ls_augment weak = { o->aug.flip, o->aug.rot90, 0 };
	int dom_s, dom_t;
	/* the source task, running statistics left to the target side */
	ls_params_zero_grad(&t->net.params);
	struct ls_t4 xs = ls_tr_source_batch(t, idx, n, &dom_s);
	if (o->st.target_bn)
		set_momentum(&t->net, 0);
	ls_unet_forward(&t->net, &t->act, &xs, dom_s, 1);
	if (o->st.target_bn)
		set_momentum(&t->net, (real)0.1);
	double loss = ls_tr_source_loss(t, xs.n);
	ls_unet_backward(&t->net, &t->act, &t->act.dlogits, NULL, dom_s);
	/* the target: the teacher's labels, the source's classes pasted in */
	struct ls_t4 xt = ls_tr_target_batch(t, n, s->act_t.in, &weak, &dom_t, NULL);
	s->last_share = pseudo(t, s, &xt, dom_t);
	size_t hw = (size_t)xt.h * xt.w, img = (size_t)xt.c * hw;
	for (int i = 0; i < xt.n; i++) {
		uint8_t pick[256];
		if (s->mix && i < xs.n) {
			ls_classmix_pick(t->y + i * hw, hw, o->classes, &t->aug, pick);
			ls_classmix(xs.d + i * img, t->y + i * hw, xt.c, hw, pick, xt.d + i * img, s->yp + i * hw,
				    s->pw + i * hw);
		}
		ls_strong_augment(xt.d + i * img, xt.c, xt.h, xt.w, o->st.jitter, o->st.blur, &t->aug, s->scratch);
	}
	ls_unet_forward(&t->net, &s->act_t, &xt, dom_t, 1);
	s->last_loss = ls_softmax_xent_pw(&s->act_t.logits, s->yp, t->cw, s->pw, &s->act_t.dlogits, NULL);
	ls_unet_backward(&t->net, &s->act_t, &s->act_t.dlogits, NULL, dom_t);
	ls_optim_step(&t->opt, &t->net.params);
	ls_ema_update(&s->teacher.params, &t->net.params, o->st.ema);
	if (t->metrics)
		fprintf(t->metrics, "{\"step\":%ld,\"task_loss\":%.6g,\"pseudo_loss\":%.6g,\"confident\":%.6g}\n", t->opt.t,
			loss, s->last_loss, s->last_share);
	return loss;
}

static void log_epoch(struct ls_trainer *t, char *buf, size_t n)
{
	struct st *s = t->ms;
	snprintf(buf, n, ", pseudo-label loss %.4f, confident %.3f", s->last_loss, s->last_share);
}

static int state(struct ls_trainer *t, struct ls_method_state *st)
{
	struct st *s = t->ms;
	st[0] = (struct ls_method_state){ "teacher", &s->teacher.params, NULL };
	return 1;
}

static struct ls_unet *model(struct ls_trainer *t)
{
	struct st *s = t->ms;
	return t->adapting ? &s->teacher : &t->net;
}

static int finish(struct ls_trainer *t)
{
	struct st *s = t->ms;
	if (t->adapting && t->o->st.target_bn)
		ls_adabn_tiles(&s->teacher, &t->act, t->d, t->tgt, t->ntgt, t->d->s[t->tgt[0]].dom);
	return 0;
}

static void free_state(struct ls_trainer *t)
{
	struct st *s = t->ms;
	if (!s)
		return;
	ls_unet_act_free(&s->act_t);
	if (s->teacher.params.n)
		ls_unet_free(&s->teacher);
	free(s->prob);
	free(s->pw);
	free(s->scratch);
	free(s->yp);
	free(s);
}

const struct ls_method ls_method_selftrain = {
	.name = "selftrain", .adapts = 1, .setup = setup, .begin = begin, .step = step, .log = log_epoch,
	.state = state, .model = model, .finish = finish, .free = free_state,
};
