/* decode - feature frames -> per-class probability frames (the decoder). */
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "stream/frame.h"
#include "nn/infer.h"
#include "base/opt.h"

static const char *precision = "f32", *model_path;
static int class_index, batch = 4;

static const struct ls_opt opts[] = {
	{ "model", LS_OPT_STR, &model_path, "FILE", "the model that encoded the features" },
	{ "class-index", LS_OPT_FLAG, &class_index, NULL, "write the most probable class (u8) instead of probabilities" },
	{ "precision", LS_OPT_STR, &precision, "P", "f32 (the default) or bf16: the 3x3 convolutions in bfloat16 with float sums, about 1.5x the speed where the CPU has AVX-512 BF16 (probabilities within about 0.01 of f32)" },
	{ "batch", LS_OPT_INT, &batch, "N", "tiles per forward pass (same output, faster; memory grows with N)" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"decode", "run the model's decoder on feature frames; write class probabilities for stitch",
	"--model M [--class-index] [FEATURES] > probs",
	"encode --model m.model < tiles | decode --model m.model | stitch probs.tif", opts
};

static int run(void *ctx, const struct ls_frame *const *in, int n, struct ls_frame **out)
{
	return ls_infer_decode_batch(ctx, in, n, out, class_index);
}

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	struct ls_infer in;
	ls_blas_init(argv);
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (!model_path || pos.n > 1)
		ls_die(LS_EXIT_USAGE, "usage: decode %s", cmd.usage);
	ls_threads_set(ls_threads);
	if (ls_infer_open(&in, model_path, NULL) < 0)
		ls_die_err();
	if (in.members > 1)
		ls_die(LS_EXIT_USAGE, "%s is an ensemble of %d networks: map it in one process, encode --decode, which averages them",
		       model_path, in.members);
	if (batch < 1 || batch > 256)
		ls_die(LS_EXIT_USAGE, "--batch must be 1..256");
	if (ls_infer_set_precision(precision) < 0)
		ls_die(LS_EXIT_USAGE, "--precision must be f32 or bf16, not '%s'", precision);
	ls_infer_set_batch(&in, batch);
	ls_map_stream_batch(pos.n ? pos.v[0] : "-", batch, run, &in);
	ls_infer_close(&in);
	return 0;
}
