/* encode - normalised tiles -> feature frames (the model's encoder). */
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "stream/frame.h"
#include "nn/infer.h"
#include "base/opt.h"

static const char *precision = "f32", *model_path, *stem;
static int predict, class_index, batch = 4, flips = 1, members;

static const struct ls_opt opts[] = {
	{ "model", LS_OPT_STR, &model_path, "FILE", "trained model (critic-train --model)" },
	{ "stem", LS_OPT_STR, &stem, "DOMAIN", "use this domain's input stem (default: the frame's domain)" },
	{ "decode", LS_OPT_FLAG, &predict, NULL, "run the decoder too and write probability frames (encode | decode in one process)" },
	{ "class-index", LS_OPT_FLAG, &class_index, NULL, "with --decode: the most probable class (u8) instead of probabilities" },
	{ "precision", LS_OPT_STR, &precision, "P", "f32 (the default) or bf16: the 3x3 convolutions in bfloat16 with float sums, about 1.5x the speed where the CPU has AVX-512 BF16 (probabilities within about 0.01 of f32)" },
	{ "batch", LS_OPT_INT, &batch, "N", "tiles per forward pass (same output, faster; memory grows with N)" },
	{ "flips", LS_OPT_INT, &flips, "N", "with --decode: probabilities averaged over N flips of each tile: 1 (none), 2 (left-right), 4 (and top-bottom); N times the time" },
	{ "members", LS_OPT_INT, &members, "N", "an ensemble model (bin/ensemble): average its first N members only, N times one network's time (default: all)" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"encode", "run the model's encoder on normalised tiles; write feature frames for decode",
	"--model M [--stem DOMAIN] [FRAMES] > features",
	"tile scene.tif | normalise-bands --stats s.txt | encode --model m.model | decode --model m.model | stitch p.tif",
	opts
};

static int run(void *ctx, const struct ls_frame *const *in, int n, struct ls_frame **out)
{
	return predict ? ls_infer_predict_batch(ctx, in, n, out, class_index) : ls_infer_encode_batch(ctx, in, n, out);
}

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	struct ls_infer in;
	ls_blas_init(argv);
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (!model_path || pos.n > 1)
		ls_die(LS_EXIT_USAGE, "usage: encode %s", cmd.usage);
	ls_threads_set(ls_threads);
	if (ls_infer_open(&in, model_path, stem) < 0)
		ls_die_err();
	if (batch < 1 || batch > 256)
		ls_die(LS_EXIT_USAGE, "--batch must be 1..256");
	if (flips != 1 && flips != 2 && flips != 4)
		ls_die(LS_EXIT_USAGE, "--flips must be 1, 2 or 4, not %d", flips);
	if (flips > 1 && !predict)
		ls_die(LS_EXIT_USAGE, "--flips averages probabilities: it needs --decode");
	if (ls_infer_set_precision(precision) < 0)
		ls_die(LS_EXIT_USAGE, "--precision must be f32 or bf16, not '%s'", precision);
	if ((members ? members : in.members) > 1 && !predict)
		ls_die(LS_EXIT_USAGE, "%s is an ensemble of %d networks, whose features are no one network's: map it with --decode, which averages them (or --members 1: the first network's features)",
		       model_path, in.members);
	if (members < 0 || members > in.members)
		ls_die(LS_EXIT_USAGE, "--members must be 1 to %d (the members of %s), not %d", in.members, model_path, members);
	if (members)
		in.members = members;
	ls_infer_set_batch(&in, batch);
	ls_infer_set_flips(&in, flips);
	ls_map_stream_batch(pos.n ? pos.v[0] : "-", batch, run, &in);
	ls_infer_close(&in);
	return 0;
}
