/* ensemble - several trained models as one model file (a deep ensemble):
 * mapping with it (encode --decode, bin/map) averages the members' class
 * probabilities. The members must share the architecture and everything
 * mapping reads from a model (bands, normalisation, GSD, classes), as
 * seeds of one recipe do. With one model, its weights stored again in
 * another precision (--weights). The first model's records describe the
 * file; "seeds" lists every member's seed. --decision records the rule
 * that maps the class probabilities to classes (bin/map applies it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/opt.h"
#include "base/outpath.h"
#include "nn/model.h"

static const char *out_path, *weights, *decision;

static const struct ls_opt opts[] = {
	{ "out", LS_OPT_STR, &out_path, "FILE", "write the ensemble here (it may be one of the models: they are read first)" },
	{ "weights", LS_OPT_STR, &weights, "HOW", "how the convolution weights are stored: f32, i16 or i8 (each output channel scaled to 16- or 8-bit integers: a half or a quarter of the file; default: the first model's)" },
	{ "decision", LS_OPT_STR, &decision, "RULE", "the decision rule the model records for mapping: argmax, expected-iou or share=F (bin/map --decision)" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"ensemble", "several trained models of one architecture as one model file whose mapping averages their probabilities",
	"--out OUT [--weights f32|i16|i8] MODEL...",
	"ensemble --out b.model --weights i8 seed1.model seed2.model seed3.model", opts
};

/* The records mapping reads, which every member must share. */
static int mapped_key(const char *k)
{
	static const char *const pre[] = { "gsd", "classes", "normalisation", "bands.", "norm.", "decision" };
	for (size_t i = 0; i < sizeof pre / sizeof *pre; i++)
		if (!strncmp(k, pre[i], strlen(pre[i])))
			return 1;
	return 0;
}

static void same_mapping(const char *a, const struct ls_model_meta *ma, const char *b, const struct ls_model_meta *mb)
{
	for (int pass = 0; pass < 2; pass++) {
		const struct ls_model_meta *x = pass ? mb : ma, *y = pass ? ma : mb;
		for (int i = 0; i < x->keys.n; i++) {
			const char *k = x->keys.v[i], *v = ls_meta_get(y, k);
			if (!mapped_key(k))
				continue;
			if (!v || strcmp(v, x->vals.v[i]))
				ls_die(LS_EXIT_DATA, "%s and %s map differently: '%s' is %s in %s, %s in %s", a, b, k,
				       pass ? (v ? v : "(none)") : x->vals.v[i], a,
				       pass ? x->vals.v[i] : (v ? v : "(none)"), b);
		}
	}
}

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	struct ls_model_meta meta = { 0 }, mi;
	struct ls_unet *all[LS_MODEL_MAX_MEMBERS], *nets[LS_MODEL_MAX_MEMBERS];
	int nall = 0, nfiles = 0, held[LS_MODEL_MAX_MEMBERS];
	char spec0[1024], spec[1024], seeds[1024] = "";
	size_t off = 0;
	ls_opt_parse(&cmd, argc, argv, &pos);
	if (!out_path || pos.n < 1)
		ls_die(LS_EXIT_USAGE, "usage: ensemble %s", cmd.usage);
	if (weights && strcmp(weights, "f32") && strcmp(weights, "i16") && strcmp(weights, "i8"))
		ls_die(LS_EXIT_USAGE, "--weights must be f32, i16 or i8, not %s", weights);
	if (decision && strcmp(decision, "argmax") && strcmp(decision, "expected-iou")) {
		char *end;
		double f = strncmp(decision, "share=", 6) ? NAN : strtod(decision + 6, &end);
		if (!(f > 0 && f < 1) || *end)
			ls_die(LS_EXIT_USAGE, "--decision must be argmax, expected-iou or share=F (0 < F < 1), not '%s'", decision);
	}
	if (ls_output_ok(out_path, NULL, 0) < 0)
		ls_die_err();
	for (int i = 0; i < pos.n; i++) {
		struct ls_unet *m;
		int n;
		memset(&mi, 0, sizeof mi);
		if (ls_model_load_members(pos.v[i], &m, &n, &mi) < 0)
			ls_die_err();
		if (nall + n > LS_MODEL_MAX_MEMBERS)
			ls_die(LS_EXIT_USAGE, "%s: more than %d members in all", pos.v[i], LS_MODEL_MAX_MEMBERS);
		ls_unet_spec_format(&m[0].spec, spec, sizeof spec);
		if (!i) {
			snprintf(spec0, sizeof spec0, "%s", spec);
			meta = mi;
		} else {
			if (strcmp(spec, spec0))
				ls_die(LS_EXIT_DATA, "%s is %s, %s is %s: the members need one architecture", pos.v[i],
				       spec, pos.v[0], spec0);
			same_mapping(pos.v[0], &meta, pos.v[i], &mi);
		}
		const char *s = ls_meta_get(&mi, "seeds") ? ls_meta_get(&mi, "seeds") : ls_meta_get(&mi, "seed");
		off += (size_t)snprintf(seeds + off, off < sizeof seeds ? sizeof seeds - off : 0, "%s%s", off ? "," : "",
					s ? s : "?");
		for (int k = 0; k < n; k++)
			all[nall++] = &m[k];
		held[nfiles++] = n;
		if (i)
			ls_meta_free(&mi);
	}
	/* the first model's records less its random state, which says
	 * nothing of the other members; the members' seeds */
	struct ls_model_meta om = { 0 };
	for (int i = 0; i < meta.keys.n; i++)
		if (strncmp(meta.keys.v[i], "rng.", 4) && strcmp(meta.keys.v[i], "seed"))
			ls_meta_set(&om, meta.keys.v[i], meta.vals.v[i]);
	ls_meta_free(&meta);
	meta = om;
	ls_meta_set(&meta, "seeds", seeds);
	if (weights)
		ls_meta_set(&meta, "weights", weights);
	if (decision)
		ls_meta_set(&meta, "decision", decision);
	for (int k = 0; k < nall; k++)
		nets[k] = all[k];
	if (ls_model_save_members(out_path, nets, nall, &meta) < 0)
		ls_die_err();
	ls_info("wrote %s: %d member%s from %d file%s, weights %s", out_path, nall, nall > 1 ? "s" : "", nfiles,
		nfiles > 1 ? "s" : "", ls_meta_get(&meta, "weights") ? ls_meta_get(&meta, "weights") : "f32");
	for (int i = 0, k = 0; i < nfiles; k += held[i], i++) {
		for (int j = 0; j < held[i]; j++)
			ls_unet_free(all[k + j]);
		free(all[k]);
	}
	ls_meta_free(&meta);
	ls_strlist_free(&pos);
	return 0;
}
