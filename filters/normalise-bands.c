/* normalise-bands - fit per-band statistics, or apply them (clip + standardise). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/bandstats.h"
#include "base/err.h"
#include "base/outpath.h"
#include "stream/frame.h"
#include "base/opt.h"
#include "stream/pixel.h"

static const char *fit_path, *stats_path;
static double plo = 2, phi = 98;
static int pass;
static struct ls_strlist order;

static int cb_bands(void *ctx, const char *v)
{
	ls_strlist_split(&order, v, ',');
	return 0;
}

static const struct ls_opt opts[] = {
	{ "fit", LS_OPT_STR, &fit_path, "FILE", "compute statistics of the stream's valid pixels into FILE" },
	{ "stats", LS_OPT_STR, &stats_path, "FILE", "apply statistics from FILE: clip to percentiles, standardise to f32" },
	{ "bands", LS_OPT_CB, NULL, "LIST", "output these bands, by name, in this order (e.g. red,green,blue)", cb_bands },
	{ "plo", LS_OPT_DOUBLE, &plo, "P", "lower clipping percentile for --fit" },
	{ "phi", LS_OPT_DOUBLE, &phi, "P", "upper clipping percentile for --fit" },
	{ "pass", LS_OPT_FLAG, &pass, NULL, "with --fit, also copy the frames to stdout" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"normalise-bands", "fit per-band statistics over a stream, or apply them",
	"--fit STATS < frames | --stats STATS < frames > frames",
	"tile a.tif | normalise-bands --fit a.stats; tile a.tif | normalise-bands --stats a.stats | frame-info",
	opts
};

static void fit(struct ls_reader *r)
{
	struct ls_stats s;
	struct ls_frame f;
	struct ls_writer *w = NULL;
	struct ls_stream_progress sp = { 0 };
	int rc;
	ls_stats_init(&s, plo, phi);
	ls_frame_init(&f);
	if (pass && !(w = ls_writer_open(1, "stdout")))
		ls_die_err();
	while ((rc = ls_reader_next(r, &f)) == 1) {
		if (ls_stats_add(&s, &f) < 0)
			ls_die_err();
		if (w)
			ls_writer_put_or_die(w, &f);
		ls_stream_progress(&sp, &f);
	}
	ls_stream_progress_end(&sp);
	if (rc < 0)
		ls_die_err();
	ls_stats_finish(&s);
	for (int i = 0; i < s.nb; i++)
		if (!s.b[i].count)
			ls_die(LS_EXIT_DATA, "band %s has no valid pixel: nothing to fit", s.b[i].name);
	if (ls_stats_write(&s, fit_path) < 0)
		ls_die_err();
	if (w)
		ls_writer_close_or_die(w);
	ls_stats_free(&s);
	ls_frame_free(&f);
}

/* map[k] = input band of output band k, st[k] = its statistics */
static int plan(const struct ls_stats *s, const struct ls_frame *f, int *map, int *st)
{
	int nin = (int)ls_frame_c(f), nout = order.n ? order.n : nin;
	for (int k = 0; k < nout; k++) {
		const char *want = order.n ? order.v[k] : (k < f->bands.n ? f->bands.v[k] : NULL);
		map[k] = order.n ? -1 : k;
		for (int i = 0; order.n && i < f->bands.n; i++)
			if (!strcasecmp(f->bands.v[i], want))
				map[k] = i;
		if (map[k] < 0)
			return ls_err("frame %s has no band '%s'", f->key ? f->key : "?", want);
		st[k] = want ? ls_stats_find(s, want) : -1;
		if (st[k] < 0 && s->nb == nin)
			st[k] = map[k];
		if (st[k] < 0)
			return ls_err("%s has no statistics for band '%s'", stats_path, want ? want : "?");
	}
	return nout;
}

static void apply_frame(const struct ls_stats *s, const struct ls_frame *in, struct ls_frame *out, const int *map,
			const int *st, int nout)
{
	int64_t shape[3] = { nout, ls_frame_h(in), ls_frame_w(in) };
	size_t hw = (size_t)(shape[1] * shape[2]);
	ls_frame_copy_meta(out, in);
	ls_frame_alloc(out, LS_F32, 3, shape);
	ls_norm_alloc(&out->norm, nout);
	ls_strlist_free(&out->bands);
	uint8_t *m = out->mask;
	float *o = out->t.data;
	for (int k = 0; k < nout; k++) {
		const struct ls_band *b = &s->b[st[k]];
		float lo = (float)b->lo, hi = (float)b->hi, mean = (float)b->mean;
		float inv = b->std > 0 ? (float)(1 / b->std) : 1;
		ls_strlist_push(&out->bands, b->name);
		out->norm.mean[k] = mean;
		out->norm.std[k] = b->std > 0 ? (float)b->std : 1;
		out->norm.lo[k] = lo;
		out->norm.hi[k] = hi;
		for (size_t i = 0; i < hw; i++) {
			double v = ls_px_get(in->t.data, in->t.dtype, map[k] * hw + i);
			if (!isfinite(v)) {
				if (!m) {
					m = ls_frame_mask(out);
					memset(m, 1, hw);
				}
				m[i] = 0;
			}
			float x = (float)v;
			x = x < lo ? lo : x > hi ? hi : x;
			o[k * hw + i] = (x - mean) * inv;
		}
	}
	if (m)
		for (int k = 0; k < nout; k++)
			for (size_t i = 0; i < hw; i++)
				if (!m[i])
					o[k * hw + i] = 0;
	ls_frame_chain_push(out, "normalise-bands");
}

struct applying {
	struct ls_stats s;
	int map[4096], st[4096];
	int warned;
};

static int apply_one(void *ctx, const struct ls_frame *in, struct ls_frame *out)
{
	struct applying *a = ctx;
	int nout;
	if (ls_frame_c(in) > 4096)
		return ls_err("frame %s has %lld bands (at most 4096)", in->key, (long long)ls_frame_c(in));
	if (in->norm.n)
		return ls_err("frame %s is normalised already (by %s): normalise the raw tiles", in->key,
			      in->chain.n ? in->chain.v[in->chain.n - 1] : "normalise-bands");
	if ((nout = plan(&a->s, in, a->map, a->st)) < 0)
		return -1;
	for (int k = 0; k < nout && !a->warned; k++)
		if (!(a->s.b[a->st[k]].std > 0) && ++a->warned)
			ls_warn("%s: band %s has standard deviation 0 (constant where fitted): it is only centred", stats_path,
				a->s.b[a->st[k]].name);
	apply_frame(&a->s, in, out, a->map, a->st, nout);
	return 0;
}

static void apply(const char *path)
{
	static struct applying a;
	if (ls_stats_read(&a.s, stats_path) < 0)
		ls_die_err();
	ls_map_stream(path, apply_one, &a);
	ls_stats_free(&a.s);
}

int main(int argc, char **argv)
{
	struct ls_strlist in;
	ls_opt_parse(&cmd, argc, argv, &in);
	if (!!fit_path == !!stats_path)
		ls_die(LS_EXIT_USAGE, "give exactly one of --fit STATS or --stats STATS");
	if (!(plo >= 0 && plo < phi && phi <= 100))
		ls_die(LS_EXIT_USAGE, "percentiles must satisfy 0 <= --plo < --phi <= 100");
	if (in.n > 1)
		ls_die(LS_EXIT_USAGE, "at most one input stream");
	if (fit_path) {
		const char *srcs[] = { in.n ? in.v[0] : "-" };
		if (ls_output_ok(fit_path, srcs, 1) < 0)
			ls_die_err();
		struct ls_reader *r = ls_reader_open_path(in.n ? in.v[0] : "-");
		fit(r);
		ls_reader_close(r);
	} else {
		apply(in.n ? in.v[0] : "-");
	}
	ls_strlist_free(&in);
	ls_strlist_free(&order);
	return 0;
}
