/* adapt-bn - re-estimate a model's batch-norm statistics on target tiles
 * (AdaBN): the cheap adaptation baseline. Normalised target tiles in, the
 * same model out with the running mean and variance of every batch-norm
 * layer recomputed from the target: batches go through the network in
 * training mode and each layer's statistics are the average over all
 * batches. No label is read, no weight changes. With per-domain statistics
 * (critic-train --bn-per-domain) only the target stem's row is replaced.
 * Every member of an ensemble is adapted, each on the same batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/outpath.h"
#include "nn/infer.h"
#include "train/adabn.h"
#include "base/opt.h"

static const char *model_path, *out_path, *stem;
static int batch = 8;

static const struct ls_opt opts[] = {
	{ "model", LS_OPT_STR, &model_path, "FILE", "the trained model" },
	{ "out", LS_OPT_STR, &out_path, "FILE", "write the adapted model here" },
	{ "stem", LS_OPT_STR, &stem, "NAME", "the input stem (domain) the tiles go through (default: the frames' domain)" },
	{ "batch", LS_OPT_INT, &batch, "N", "tiles per batch-norm batch" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"adapt-bn", "re-estimate a model's batch-norm statistics on unlabelled target tiles (AdaBN)",
	"--model IN --out OUT [options] [FRAMES] (default stdin)",
	"tile --overlap 32 target.tif | normalise-bands --stats t.stats | adapt-bn --model m.model --out m_target.model",
	opts
};

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	struct ls_infer in;
	struct ls_frame f;
	struct ls_unet_act act;
	struct ls_adabn ab[LS_MODEL_MAX_MEMBERS];
	ls_blas_init(argv);
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (!model_path || !out_path || pos.n > 1 || batch < 2 || batch > 256)
		ls_die(LS_EXIT_USAGE, "usage: adapt-bn %s (--batch 2..256)", cmd.usage);
	ls_threads_set(ls_threads);
	if (ls_infer_open(&in, model_path, stem) < 0)
		ls_die_err();
	const char *src = pos.n ? pos.v[0] : "-";
	if (ls_output_ok(out_path, &src, 1) < 0)	/* --out may be --model: read whole, then renamed over */
		ls_die_err();
	struct ls_reader *r = ls_reader_open_path(src);
	ls_frame_init(&f);
	int have = 0, h = 0, w = 0, c = 0, dom = -1, rc;
	long batches = 0, tiles = 0;
	for (int m = 0; m < in.members; m++)
		ls_adabn_begin(&ab[m], m ? &in.nets[m] : &in.net);
	while ((rc = ls_reader_next(r, &f)) == 1 || (rc == 0 && have > 0)) {
		if (rc == 1) {
			int d = ls_infer_stem(&in, &f);
			if (d < 0)
				ls_die_err();
			if (!tiles) {
				h = (int)ls_frame_h(&f);
				w = (int)ls_frame_w(&f);
				c = (int)ls_frame_c(&f);
				dom = d;
				if (ls_unet_act_init(&act, &in.net, batch, h, w) < 0)
					ls_die_err();
			} else if (ls_frame_h(&f) != h || ls_frame_w(&f) != w || d != dom)
				ls_die(LS_EXIT_DATA, "%s: frame %ld: tiles must share one size and stem (%dx%d, stem %s)", src,
				       tiles, w, h, in.net.spec.dom[dom]);
			memcpy(act.in + (size_t)have * c * h * w, f.t.data, f.t.nbytes);
			have++;
			tiles++;
		}
		if (have == batch || (rc == 0 && have > 0)) {
			if (have < 2 && batches > 0)
				break;	/* batch norm needs two tiles; a last single one is left out */
			for (int m = 0; m < in.members; m++) {
				struct ls_t4 x = ls_t4_make(act.in, have, c, h, w);
				ls_adabn_batch(&ab[m], &act, &x, dom);
			}
			batches++;
			have = 0;
		}
		if (rc == 0)
			break;
	}
	if (rc < 0)
		ls_die_err();
	for (int m = 0; m < in.members; m++)
		ls_adabn_end(&ab[m]);
	if (tiles < 2)
		ls_die(LS_EXIT_DATA, "%s: %ld tile(s): batch norm needs at least two", src, tiles);
	char note[160];
	snprintf(note, sizeof note, "%ld target tiles in %ld batches, stem %s", tiles, batches, in.net.spec.dom[dom]);
	ls_meta_set(&in.meta, "bn_adapted", note);
	struct ls_unet *nets[LS_MODEL_MAX_MEMBERS];
	for (int m = 0; m < in.members; m++)
		nets[m] = m ? &in.nets[m] : &in.net;
	if (ls_model_save_members(out_path, nets, in.members, &in.meta) < 0)
		ls_die_err();
	ls_info("wrote %s: batch-norm statistics from %s", out_path, note);
	ls_unet_act_free(&act);
	ls_frame_free(&f);
	ls_reader_close(r);
	ls_infer_close(&in);
	ls_strlist_free(&pos);
	return 0;
}
