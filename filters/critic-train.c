/* critic-train - train the segmentation model from labelled source tiles
 * (and, for the adapting methods, unlabelled target tiles). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/outpath.h"
#include "base/opt.h"
#include "geo/labels.h"
#include "train/dataset.h"
#include "train/dist.h"
#include "train/trainer.h"

static struct ls_train_opts o;
static struct ls_strlist sources, targets;
static int no_augment, private_stems, no_classmix, no_target_bn;
static const char *features, *level = "pixel", *similarity = "critic";

/* --critic-features: "all", or encoder levels "0,1,3" -> bit mask */
static unsigned parse_levels(const char *text, int depth)
{
	if (!strcmp(text, "all"))
		return (1u << depth) - 1;
	unsigned mask = 0;
	for (const char *p = text;; p++) {
		char *end;
		long l = strtol(p, &end, 10);
		if (end == p || l < 0 || l >= depth || (*end && *end != ','))
			ls_die(LS_EXIT_USAGE, "--critic-features must be all or encoder levels 0 to %d separated by commas, not %s",
			       depth - 1, text);
		mask |= 1u << l;
		if (!*end)
			return mask;
		p = end;
	}
}

#define ADAPT "wdgrl, dsn: "
static const struct ls_opt opts[] = {
	{ "model", LS_OPT_STR, &o.model_path, "FILE", "write the trained model here (checkpoints go to FILE.ckpt)" },
	{ "source", LS_OPT_LIST, &sources, "FRAMES", "labelled source tiles (normalised), a file or - for stdin" },
	{ "target", LS_OPT_LIST, &targets, "FRAMES", "unlabelled target tiles (their labels, if any, are never read)" },
	{ "method", LS_OPT_STR, &o.method, "NAME", "source-only (supervised; also the oracle when given target labels), selftrain, wdgrl or dsn" },
	{ "init", LS_OPT_STR, &o.init_path, "MODEL", "start from this trained model (its width and depth; stems matched by band names, a new stem for bands it has not seen)" },
	{ "epochs", LS_OPT_INT, &o.epochs, "N", "passes over the training tiles", NULL, 1, 100000 },
	{ "epoch-steps", LS_OPT_INT, &o.epoch_steps, "N", "optimiser steps per epoch, the tiles revisited in fresh shuffles; 0: one pass over the training tiles", NULL, 0, 1000000 },
	{ "batch", LS_OPT_INT, &o.batch, "N", "tiles per step", NULL, 1, 256 },
	{ "lr", LS_OPT_DOUBLE, &o.lr, "RATE", "learning rate", NULL, 1e-9, 10 },
	{ "weight-decay", LS_OPT_DOUBLE, &o.weight_decay, "W", "decoupled weight decay", NULL, 0, 1 },
	{ "optimiser", LS_OPT_STR, &o.optimiser, "NAME", "adam or sgd (momentum 0.9)" },
	{ "schedule", LS_OPT_STR, &o.schedule, "NAME", "learning-rate schedule: const, step or cosine" },
	{ "warmup", LS_OPT_INT, &o.warmup, "STEPS", "linear learning-rate warm-up", NULL, 0, 1000000 },
	{ "seed", LS_OPT_INT, &o.seed, "N", "random seed (initialisation, shuffling, augmentation)", NULL, 0, 2147483647 },
	{ "val-frac", LS_OPT_DOUBLE, &o.val_frac, "F", "validation area: every 1/F-th source raster (5 or more), else the eastern F of each", NULL, 0, 0.9 },
	{ "width", LS_OPT_INT, &o.width, "N", "UNet-S base width", NULL, 1, 256 },
	{ "depth", LS_OPT_INT, &o.depth, "N", "UNet-S levels", NULL, 1, 6 },
	{ "classes", LS_OPT_INT, &o.classes, "N", "classes including background (0)", NULL, 2, 254 },
	{ "class-weights", LS_OPT_STR, &o.class_weights, "W0,W1,..", "loss weight per class" },
	{ "class-names", LS_OPT_STR, &o.class_names, "NAMES", "the classes' names, background first (background,building), recorded in the model for mapping" },
	{ "no-augment", LS_OPT_FLAG, &no_augment, NULL, "no flips, turns, jitter or zoom" },
	{ "jitter", LS_OPT_DOUBLE, &o.aug.jitter, "J", "brightness and contrast jitter", NULL, 0, 1 },
	{ "scale-jitter", LS_OPT_DOUBLE, &o.aug.scale, "S", "labelled tiles zoomed by a random factor from 1/(1+S) to 1+S (log-uniform, the window placed at random; the bands bilinear, the labels the nearest pixel's; what a zoom-out shows beyond the tile is unknown); 0: off", NULL, 0, 1 },
	{ "dice", LS_OPT_DOUBLE, &o.dice, "W", "the labelled tiles' loss adds W times the soft Dice loss of the foreground classes (overlap over the batch, as V-Net's) to the cross-entropy; 0: cross-entropy alone", NULL, 0, 100 },
	{ "fda", LS_OPT_DOUBLE, &o.fda_beta, "BETA", "Fourier domain adaptation, any method: each source tile takes a random target tile's amplitude at the lowest frequencies (a window of BETA times the tile size); 0: off", NULL, 0, 0.5 },
	{ "select", LS_OPT_STR, &o.select, "HOW", "the epoch kept as MODEL: val-iou (val-loss where the validation tiles hold no foreground pixel), val-loss (both on source validation tiles), or last; adapted runs choose among the epochs after --adapt-warmup" },
	{ "weights", LS_OPT_STR, &o.weights, "HOW", "how MODEL stores the convolution weights: f32, i16 or i8 (each output channel scaled to 16- or 8-bit integers: a half or a quarter of the file, each weight within 1/65534 or 1/254 of its channel's largest; checkpoints keep f32)" },
	{ "metrics", LS_OPT_STR, &o.metrics_path, "FILE", "per-epoch metrics as JSON lines" },
	{ "resume", LS_OPT_FLAG, &o.resume, NULL, "continue from MODEL.ckpt exactly where it stopped" },
	{ "adapt-warmup", LS_OPT_INT, &o.adapt_warmup, "EPOCHS", "selftrain, wdgrl, dsn: supervised epochs before adaptation starts (0 with --init)", NULL, 0, 100000 },
	{ "private-stems", LS_OPT_FLAG, &private_stems, NULL, "give the target its own input stem even when its bands equal the source's" },
	{ "ema", LS_OPT_DOUBLE, &o.st.ema, "D", "selftrain: the teacher's decay (exponential moving average of the student)", NULL, 0, 1 },
	{ "pl-threshold", LS_OPT_DOUBLE, &o.st.threshold, "P", "selftrain: a pseudo-label where the teacher's probability reaches P", NULL, 0, 1 },
	{ "pl-class-share", LS_OPT_DOUBLE, &o.st.class_share, "F", "selftrain: instead, the most confident share F of each class's pixels (class-balanced, as CBST); 0: off", NULL, 0, 1 },
	{ "no-classmix", LS_OPT_FLAG, &no_classmix, NULL, "selftrain: no source classes pasted into the target tiles" },
	{ "no-target-bn", LS_OPT_FLAG, &no_target_bn, NULL, "selftrain: keep the source model's batch-norm statistics (default: the target's, as AdaBN)" },
	{ "strong-jitter", LS_OPT_DOUBLE, &o.st.jitter, "J", "selftrain: colour jitter of the student's target tiles", NULL, 0, 1 },
	{ "blur", LS_OPT_DOUBLE, &o.st.blur, "SIGMA", "selftrain: the student's target tiles blurred half the time, sigma up to SIGMA pixels (0: never)", NULL, 0, 5 },
	{ "lambda", LS_OPT_DOUBLE, &o.align.lambda, "L", ADAPT "weight of the similarity term (the Wasserstein estimate W, or the reversed domain-classifier loss)", NULL, 0, 1000 },
	{ "gamma", LS_OPT_DOUBLE, &o.align.gamma, "G", ADAPT "gradient-penalty weight in the critic's loss", NULL, 0, 1000 },
	{ "n-critic", LS_OPT_INT, &o.align.n_critic, "N", ADAPT "critic steps per encoder step", NULL, 1, 100 },
	{ "critic-lr", LS_OPT_DOUBLE, &o.align.critic_lr, "RATE", ADAPT "critic (or domain classifier) learning rate (Adam)", NULL, 1e-9, 10 },
	{ "critic-hidden", LS_OPT_INT, &o.align.critic_hidden, "N", ADAPT "critic (or domain classifier) hidden width", NULL, 1, 4096 },
	{ "critic-level", LS_OPT_STR, &level, "LEVEL", ADAPT "what the critic sees: pixel (bottleneck vectors) or tile (bottleneck pooled per tile)" },
	{ "critic-features", LS_OPT_STR, &features, "LEVELS", ADAPT "the encoder levels whose outputs the critic sees, e.g. 0,3 or all (depth-1 is the bottleneck, the default); each pooled onto the bottleneck's cells and concatenated, so the decoder's skips are aligned too" },
	{ "alpha", LS_OPT_DOUBLE, &o.align.alpha, "A", "dsn: weight of the scale-invariant reconstruction loss", NULL, 0, 1000 },
	{ "beta", LS_OPT_DOUBLE, &o.align.beta, "B", "dsn: weight of the difference loss between shared and private codes", NULL, 0, 1000 },
	{ "similarity", LS_OPT_STR, &similarity, "HOW", "dsn: critic (Wasserstein, as WDGRL) or dann (domain classifier behind gradient reversal)" },
	{ 0 }
};

#define GONE "it did not help on any pair (docs/results.md)"
static const char *const retired[] = {
	"importance-weighted", GONE, "target-prior", GONE, "critic-patch", GONE, "lambda-schedule", GONE,
	"bn-per-domain", GONE, NULL
};

static const struct ls_cmd cmd = {
	"critic-train", "train the UNet-S segmentation model: source-only, oracle, or adapted to a target domain by self-training, WDGRL or DSN",
	"--model OUT --source FRAMES [--source FRAMES...] [--target FRAMES...] [options]",
	"tile --labels b.geojson a.tif | normalise-bands --stats a.stats > a.frames; "
	"critic-train --model m.model --source a.frames --epochs 20",
	opts, retired
};

static void check(void)
{
	int adapts;
	if (!o.model_path || !sources.n)
		ls_die(LS_EXIT_USAGE, "usage: critic-train %s", cmd.usage);
	if (!ls_train_method_known(o.method, &adapts))
		ls_die(LS_EXIT_USAGE, "--method %s is not available (source-only, oracle, selftrain, wdgrl or dsn)", o.method);
	if ((adapts || o.fda_beta > 0) && !targets.n)
		ls_die(LS_EXIT_USAGE, "%s needs unlabelled target tiles (--target)",
		       adapts ? "--method selftrain, wdgrl and dsn" : "--fda");
	if (strcmp(similarity, "critic") && strcmp(similarity, "dann"))
		ls_die(LS_EXIT_USAGE, "--similarity must be critic or dann, not %s", similarity);
	if (!strcmp(level, "output"))
		ls_die(LS_EXIT_USAGE, "--critic-level output was retired: %s", GONE);
	if (strcmp(level, "pixel") && strcmp(level, "tile"))
		ls_die(LS_EXIT_USAGE, "--critic-level must be pixel or tile, not %s", level);
	if (features && strcmp(o.method, "wdgrl") && strcmp(o.method, "dsn"))
		ls_die(LS_EXIT_USAGE, "--critic-features needs an adapted method (wdgrl or dsn)");
	if (!strcmp(o.select, "target-entropy"))
		ls_die(LS_EXIT_USAGE, "--select target-entropy was retired: %s", GONE);
	if (strcmp(o.select, "val-iou") && strcmp(o.select, "val-loss") && strcmp(o.select, "last"))
		ls_die(LS_EXIT_USAGE, "--select must be val-iou, val-loss or last");
	if (strcmp(o.weights, "f32") && strcmp(o.weights, "i16") && strcmp(o.weights, "i8"))
		ls_die(LS_EXIT_USAGE, "--weights must be f32, i16 or i8, not %s", o.weights);
	if (adapts && o.epochs <= o.adapt_warmup)
		ls_die(LS_EXIT_USAGE, "--method %s adapts after %d warm-up epochs (--adapt-warmup): --epochs %d would train source-only; give more epochs or a shorter warm-up",
		       o.method, o.adapt_warmup, o.epochs);
	if (o.class_names && !ls_names_ok(o.class_names))
		ls_die(LS_EXIT_USAGE, "--class-names: '%s': names are letters, digits, _ and -, separated by commas", o.class_names);
	for (int k = 0; k < 2; k++) {	/* model and metrics: no input, not each other, no special file */
		const char *out = k ? o.metrics_path : o.model_path, *other = k ? o.model_path : o.metrics_path;
		if (!out)
			continue;
		if (other && (!strcmp(out, other) || ls_same_file(out, other)))
			ls_die(LS_EXIT_USAGE, "--model and --metrics are one file (%s): give two", out);
		const char **ins = ls_xmalloc((size_t)(sources.n + targets.n + 1) * sizeof *ins);
		int n = 0;
		for (int i = 0; i < sources.n; i++)
			ins[n++] = sources.v[i];
		for (int i = 0; i < targets.n; i++)
			ins[n++] = targets.v[i];
		ins[n++] = o.init_path;
		if (ls_output_ok(out, ins, n) < 0)
			ls_die(LS_EXIT_USAGE, "%s", ls_errmsg());
		free(ins);
	}
	if (o.init_path && ls_train_spec_from(o.init_path, &o) < 0)
		ls_die(LS_EXIT_USAGE, "--init: %s", ls_errmsg());
}

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
	if (pos.n)
		ls_die(LS_EXIT_USAGE, "usage: critic-train %s", cmd.usage);
	check();
	o.align.tile_level = !strcmp(level, "tile");
	o.align.dann = !strcmp(similarity, "dann");
	o.align.levels = features ? parse_levels(features, o.depth) : 0;
	o.st.classmix = !no_classmix;
	o.st.target_bn = !no_target_bn;
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
	if (!private_stems && ls_dataset_share_stems(&d))
		ls_info("target bands equal the source's: one shared input stem");
	if (ls_dist.rank == 0 && ls_lock_output(o.model_path) < 0)
		ls_die_err();
	if (ls_train_run(&o, &d) < 0)
		ls_die_err();
	ls_info("wrote %s%s", o.model_path, ls_dist.size > 1 ? " (data-parallel over the MPI ranks)" : "");
	ls_dataset_free(&d);
	ls_dist_finalize();
	return 0;
}
