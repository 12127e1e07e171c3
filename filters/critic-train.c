/* critic-train - train the segmentation model from labelled source tiles
 * (and, for the adaptation methods, unlabelled target tiles). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "dist.h"
#include "err.h"
#include "opt.h"
#include "trainer.h"

static struct ls_train_opts o;
static struct ls_strlist sources, targets;
static int no_augment, private_stems;
static const char *features;

/* --critic-features: "all", or encoder levels "0,1,3" -> bit mask */
static unsigned parse_levels(const char *text, int depth)
{
	if (!strcmp(text, "all"))
		return (1u << depth) - 1;
	unsigned mask = 0;
	const char *p = text;
	for (;;) {
		char *end;
		long l = strtol(p, &end, 10);
		if (end == p || l < 0 || l >= depth || (*end && *end != ','))
			ls_die(LS_EXIT_USAGE, "--critic-features must be all or encoder levels 0 to %d separated by commas, not %s",
			       depth - 1, text);
		mask |= 1u << l;
		if (!*end)
			return mask;
		p = end + 1;
	}
}

static const struct ls_opt opts[] = {
	{ "model", LS_OPT_STR, &o.model_path, "FILE", "write the trained model here (checkpoints go to FILE.ckpt)" },
	{ "source", LS_OPT_LIST, &sources, "FRAMES", "labelled source tiles (normalised), a file or - for stdin" },
	{ "target", LS_OPT_LIST, &targets, "FRAMES", "unlabelled target tiles (their labels, if any, are never read)" },
	{ "method", LS_OPT_STR, &o.method, "NAME", "source-only (supervised; also the oracle when given target labels), wdgrl or dsn" },
	{ "epochs", LS_OPT_INT, &o.epochs, "N", "passes over the training tiles" },
	{ "epoch-steps", LS_OPT_INT, &o.epoch_steps, "N", "optimiser steps per epoch, the tiles revisited in fresh shuffles (e.g. an oracle on a few target tiles given the source-only run's steps); 0: one pass over the training tiles" },
	{ "batch", LS_OPT_INT, &o.batch, "N", "tiles per step" },
	{ "lr", LS_OPT_DOUBLE, &o.lr, "RATE", "learning rate" },
	{ "weight-decay", LS_OPT_DOUBLE, &o.weight_decay, "W", "decoupled weight decay" },
	{ "optimiser", LS_OPT_STR, &o.optimiser, "NAME", "adam or sgd (momentum 0.9)" },
	{ "schedule", LS_OPT_STR, &o.schedule, "NAME", "learning-rate schedule: const, step or cosine" },
	{ "warmup", LS_OPT_INT, &o.warmup, "STEPS", "linear learning-rate warm-up" },
	{ "seed", LS_OPT_INT, &o.seed, "N", "random seed (initialisation, shuffling, augmentation)" },
	{ "val-frac", LS_OPT_DOUBLE, &o.val_frac, "F", "validation area: every 1/F-th source raster (5 or more), else the eastern F of each" },
	{ "width", LS_OPT_INT, &o.width, "N", "UNet-S base width" },
	{ "depth", LS_OPT_INT, &o.depth, "N", "UNet-S levels" },
	{ "classes", LS_OPT_INT, &o.classes, "N", "classes including background (0)" },
	{ "class-weights", LS_OPT_STR, &o.class_weights, "W0,W1,..", "loss weight per class" },
	{ "bn-per-domain", LS_OPT_FLAG, &o.bn_per_domain, NULL, "separate batch-norm statistics per input stem (so per domain where the target has a stem of its own; refused where it shares the source's)" },
	{ "no-augment", LS_OPT_FLAG, &no_augment, NULL, "no flips, turns or jitter" },
	{ "jitter", LS_OPT_DOUBLE, &o.aug.jitter, "J", "brightness and contrast jitter" },
	{ "select", LS_OPT_STR, &o.select, "HOW", "the epoch kept as MODEL: val-iou (val-loss where the validation tiles hold no foreground pixel) or val-loss (source validation), target-entropy (mean prediction entropy on up to 64 target tiles; wdgrl, dsn), or last; adapted runs choose among the epochs after --adapt-warmup" },
	{ "metrics", LS_OPT_STR, &o.metrics_path, "FILE", "per-epoch metrics as JSON lines" },
	{ "resume", LS_OPT_FLAG, &o.resume, NULL, "continue from MODEL.ckpt exactly where it stopped" },
	{ "lambda-schedule", LS_OPT_STR, &o.lambda_schedule, "HOW", "wdgrl, dsn: const, or ramp (from 0 to --lambda over the adaptation epochs, 2 / (1 + exp(-10 p)) - 1, as in DANN)" },
	{ "lambda", LS_OPT_DOUBLE, &o.lambda, "L", "wdgrl, dsn: weight of the similarity term (the Wasserstein estimate W, or the reversed domain-classifier loss) in the encoder's loss" },
	{ "gamma", LS_OPT_DOUBLE, &o.gamma, "G", "wdgrl, dsn: gradient-penalty weight in the critic's loss" },
	{ "n-critic", LS_OPT_INT, &o.n_critic, "N", "wdgrl, dsn: critic steps per encoder step" },
	{ "critic-lr", LS_OPT_DOUBLE, &o.critic_lr, "RATE", "wdgrl, dsn: critic (or domain classifier) learning rate (Adam)" },
	{ "critic-hidden", LS_OPT_INT, &o.critic_hidden, "N", "wdgrl, dsn: critic (or domain classifier) hidden width" },
	{ "critic-level", LS_OPT_STR, &o.critic_level, "LEVEL", "wdgrl, dsn: what the critic sees: pixel (bottleneck vectors), tile (bottleneck pooled per tile) or output (patches of class probabilities; the target runs through the whole network)" },
	{ "critic-features", LS_OPT_STR, &features, "LEVELS", "wdgrl, dsn with --critic-level pixel or tile: the encoder levels whose outputs the critic sees, e.g. 0,3 or all (0 the first, its output the decoder's highest-resolution skip; depth-1 the bottleneck, the default): each level's map averaged over the bottleneck pixel's cell (or the tile), concatenated into one point, so that the skips the decoder reads are aligned too" },
	{ "critic-patch", LS_OPT_INT, &o.critic_patch, "P", "wdgrl, dsn with --critic-level output: P x P pixels of class probabilities per critic point" },
	{ "adapt-warmup", LS_OPT_INT, &o.adapt_warmup, "EPOCHS", "wdgrl, dsn: source-only epochs before adaptation starts" },
	{ "alpha", LS_OPT_DOUBLE, &o.alpha, "A", "dsn: weight of the scale-invariant reconstruction loss" },
	{ "beta", LS_OPT_DOUBLE, &o.beta, "B", "dsn: weight of the difference loss between shared and private codes" },
	{ "similarity", LS_OPT_STR, &o.similarity, "HOW", "dsn: critic (Wasserstein, as WDGRL) or dann (domain classifier behind gradient reversal)" },
	{ "importance-weighted", LS_OPT_FLAG, &o.importance_weighted, NULL, "wdgrl, dsn (critic similarity): weigh the critic's source points by class, w_c = p_target(c) / p_source(c), so that alignment does not force the source's class proportions on the target (IWDAN); p_target is estimated each epoch from the model's predictions on the target tiles, corrected by its source validation confusion (BBSE)" },
	{ "target-prior", LS_OPT_STR, &o.target_prior, "P0,P1,..", "wdgrl, dsn (critic similarity): the target's class proportions, known from elsewhere (a survey, a land-cover statistic): the critic's source points weighed by their ratios to the source's, fixed, instead of --importance-weighted's estimate" },
	{ "private-stems", LS_OPT_FLAG, &private_stems, NULL, "give the target its own input stem even when its bands equal the source's" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"critic-train", "train the UNet-S segmentation model: source-only, oracle, or adapted to a target domain with WDGRL or DSN",
	"--model OUT --source FRAMES [--source FRAMES...] [--target FRAMES...] [options]",
	"tile --labels b.geojson a.tif | normalise-bands --stats a.stats > a.frames; "
	"critic-train --model m.model --source a.frames --epochs 20",
	opts
};

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	struct ls_dataset d;
	ls_blas_init(argv);
	ls_dist_init(&argc, &argv);
	ls_train_defaults(&o);
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (ls_dist.rank > 0)
		ls_quiet = 1;	/* rank 0 reports for all */
	if (!o.model_path || !sources.n || pos.n)
		ls_die(LS_EXIT_USAGE, "usage: critic-train %s", cmd.usage);
	if (strcmp(o.method, "source-only") && strcmp(o.method, "oracle") && strcmp(o.method, "wdgrl") &&
	    strcmp(o.method, "dsn"))
		ls_die(LS_EXIT_USAGE, "--method %s is not available (source-only, oracle, wdgrl or dsn)", o.method);
	if ((!strcmp(o.method, "wdgrl") || !strcmp(o.method, "dsn")) && !targets.n)
		ls_die(LS_EXIT_USAGE, "--method %s needs unlabelled target tiles (--target)", o.method);
	if (strcmp(o.similarity, "critic") && strcmp(o.similarity, "dann"))
		ls_die(LS_EXIT_USAGE, "--similarity must be critic or dann, not %s", o.similarity);
	if (o.importance_weighted && o.target_prior)
		ls_die(LS_EXIT_USAGE, "--importance-weighted estimates what --target-prior gives: use one of them");
	const char *iwname = o.target_prior ? "--target-prior" : "--importance-weighted";
	if ((o.importance_weighted || o.target_prior) && (strcmp(o.method, "wdgrl") && strcmp(o.method, "dsn")))
		ls_die(LS_EXIT_USAGE, "%s needs an adapted method (wdgrl or dsn)", iwname);
	if ((o.importance_weighted || o.target_prior) && !strcmp(o.similarity, "dann"))
		ls_die(LS_EXIT_USAGE, "%s weighs the Wasserstein critic's points: not with --similarity dann", iwname);
	if (strcmp(o.lambda_schedule, "const") && strcmp(o.lambda_schedule, "ramp"))
		ls_die(LS_EXIT_USAGE, "--lambda-schedule must be const or ramp, not %s", o.lambda_schedule);
	if (strcmp(o.critic_level, "pixel") && strcmp(o.critic_level, "tile") && strcmp(o.critic_level, "output"))
		ls_die(LS_EXIT_USAGE, "--critic-level must be pixel, tile or output, not %s", o.critic_level);
	if (o.depth < 1 || o.depth > LS_MAX_DEPTH)
		ls_die(LS_EXIT_USAGE, "--depth must be 1 to %d, not %d", LS_MAX_DEPTH, o.depth);
	if (features) {
		if (strcmp(o.method, "wdgrl") && strcmp(o.method, "dsn"))
			ls_die(LS_EXIT_USAGE, "--critic-features needs an adapted method (wdgrl or dsn)");
		if (!strcmp(o.critic_level, "output"))
			ls_die(LS_EXIT_USAGE, "--critic-features picks encoder levels: not with --critic-level output");
		o.critic_levels = parse_levels(features, o.depth);
	}
	if (o.critic_patch < 1 || o.critic_patch > 32)
		ls_die(LS_EXIT_USAGE, "--critic-patch must be 1 to 32, not %d", o.critic_patch);
	if (o.epoch_steps < 0 || o.epoch_steps > 1000000)
		ls_die(LS_EXIT_USAGE, "--epoch-steps must be 0 to 1000000, not %d", o.epoch_steps);
	if (o.epochs < 1 || o.batch < 1 || o.batch > 256 || !(o.lr > 0) || o.val_frac < 0 || o.val_frac >= 1)
		ls_die(LS_EXIT_USAGE, "need --epochs >= 1, --batch 1..256, --lr > 0 and 0 <= --val-frac < 1");
	if (strcmp(o.select, "val-iou") && strcmp(o.select, "val-loss") && strcmp(o.select, "last") &&
	    strcmp(o.select, "target-entropy"))
		ls_die(LS_EXIT_USAGE, "--select must be val-iou, val-loss, target-entropy or last");
	if (!strcmp(o.select, "target-entropy") && strcmp(o.method, "wdgrl") && strcmp(o.method, "dsn"))
		ls_die(LS_EXIT_USAGE, "--select target-entropy needs an adapted method (wdgrl or dsn) and its --target tiles");
	if (no_augment)
		memset(&o.aug, 0, sizeof o.aug);
	ls_threads_set(ls_threads);
	memset(&d, 0, sizeof d);
	for (int i = 0; i < sources.n; i++)
		if (ls_dataset_read(&d, sources.v[i], "source", 1) < 0)
			ls_die_err();
	for (int i = 0; i < targets.n; i++)
		if (ls_dataset_read(&d, targets.v[i], "target", 0) < 0)
			ls_die_err();
	if (!private_stems && ls_dataset_share_stems(&d)) {
		/* batch-norm rows follow the stems: with one stem there is one set of
		 * statistics, the option would change nothing in the trunk */
		if (o.bn_per_domain && d.ndom == 1)
			ls_die(LS_EXIT_USAGE, "--bn-per-domain: the target's bands equal the source's, so it shares the source's input stem and its batch-norm statistics; give --private-stems for a stem and statistics of its own, or re-estimate the target's statistics after training (adapt-bn; adapt.sh --target-bn)");
		ls_info("target bands equal the source's: one shared input stem");
	}
	if (ls_train_run(&o, &d) < 0) {
		ls_die_err();
	}
	ls_info("wrote %s%s", o.model_path, ls_dist.size > 1 ? " (data-parallel over the MPI ranks)" : "");
	ls_dataset_free(&d);
	ls_dist_finalize();
	return 0;
}
