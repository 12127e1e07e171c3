/* frame-info - print a frame stream as JSON lines, or check it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "stream/frame.h"
#include "base/json.h"
#include "base/opt.h"
#include "stream/pixel.h"
#include "geo/raster.h"

static int check, no_stats;

static const struct ls_opt opts[] = {
	{ "check", LS_OPT_FLAG, &check, NULL, "validate only: print nothing, exit 1 on the first problem" },
	{ "no-stats", LS_OPT_FLAG, &no_stats, NULL, "skip per-band statistics (faster)" },
	{ 0 }
};

static const struct ls_cmd cmd = {
	"frame-info", "print one JSON line per frame (metadata and data statistics), or --check a stream",
	"[options] [STREAM...] (default stdin)",
	"tile --size 256 scene.tif | frame-info | head -3", opts
};

static void print_strs(const char *name, const struct ls_strlist *l)
{
	printf(",\"%s\":[", name);
	for (int i = 0; i < l->n; i++) {
		if (i)
			putchar(',');
		ls_json_str(stdout, l->v[i]);
	}
	putchar(']');
}

static void print_stats(const struct ls_frame *f)
{
	int64_t c = ls_frame_c(f);
	size_t hw = (size_t)(ls_frame_h(f) * ls_frame_w(f));
	printf(",\"stats\":[");
	for (int64_t b = 0; b < c; b++) {
		double mn = INFINITY, mx = -INFINITY, sum = 0;
		size_t n = 0;
		for (size_t i = 0; i < hw; i++) {
			if (f->mask && !f->mask[i])
				continue;
			double v = ls_px_get(f->t.data, f->t.dtype, b * hw + i);
			mn = v < mn ? v : mn;
			mx = v > mx ? v : mx;
			sum += v;
			n++;
		}
		printf("%s{\"min\":", b ? "," : "");
		ls_json_num(stdout, n ? mn : NAN);
		printf(",\"max\":");
		ls_json_num(stdout, n ? mx : NAN);
		printf(",\"mean\":");
		ls_json_num(stdout, n ? sum / n : NAN);
		putchar('}');
	}
	putchar(']');
}

static void print_label(const struct ls_frame *f)
{
	size_t hw = (size_t)(ls_frame_h(f) * ls_frame_w(f)), hist[256] = { 0 };
	int first = 1;
	for (size_t i = 0; i < hw; i++)
		hist[f->label[i]]++;
	printf(",\"label\":{");
	for (int k = 0; k < 256; k++)
		if (hist[k]) {
			printf("%s\"%d\":%zu", first ? "" : ",", k, hist[k]);
			first = 0;
		}
	putchar('}');
}

static void print_frame(const struct ls_frame *f)
{
	static char crs_label[128], *last_wkt;
	printf("{\"seq\":%llu,\"kind\":", (unsigned long long)f->seq);
	ls_json_str(stdout, f->kind);
	printf(",\"key\":");
	ls_json_str(stdout, f->key);
	printf(",\"dtype\":\"%s\",\"shape\":[", ls_dtype_name(f->t.dtype));
	for (int i = 0; i < f->t.ndim; i++)
		printf("%s%lld", i ? "," : "", (long long)f->t.shape[i]);
	printf("],\"bytes\":%zu", f->t.nbytes);
	if (f->domain) {
		printf(",\"domain\":");
		ls_json_str(stdout, f->domain);
	}
	if (f->bands.n)
		print_strs("bands", &f->bands);
	if (f->has_geo) {
		if (!last_wkt || strcmp(last_wkt, f->crs)) {
			free(last_wkt);
			last_wkt = ls_xstrdup(f->crs);
			ls_crs_label(f->crs, crs_label, sizeof crs_label);
		}
		printf(",\"crs\":");
		ls_json_str(stdout, crs_label);
		printf(",\"gt\":[");
		for (int i = 0; i < 6; i++)
			printf("%s%.17g", i ? "," : "", f->gt[i]);
		printf("],\"off\":[%lld,%lld],\"src_size\":[%lld,%lld],\"halo\":%d,\"src\":", (long long)f->off_x,
		       (long long)f->off_y, (long long)f->src_w, (long long)f->src_h, f->halo);
		ls_json_str(stdout, f->src);
		if (f->has_nodata) {
			printf(",\"nodata\":");
			ls_json_num(stdout, f->nodata);
		}
	}
	size_t hw = (size_t)(ls_frame_h(f) * ls_frame_w(f)), valid = hw;
	if (f->mask) {
		valid = 0;
		for (size_t i = 0; i < hw; i++)
			valid += f->mask[i] != 0;
	}
	printf(",\"valid\":%.6f", hw ? (double)valid / hw : 0.0);
	if (f->label)
		print_label(f);
	if (f->label && f->label_classes) {
		printf(",\"label_classes\":[");
		for (int c = 0, n = 0; c < 64; c++)
			if (ls_label_class_listed(f->label_classes, c))
				printf("%s%d", n++ ? "," : "", c);
		printf("]");
	}
	if (f->norm.n) {
		printf(",\"norm\":{\"mean\":[");
		for (int i = 0; i < f->norm.n; i++)
			printf("%s%.7g", i ? "," : "", f->norm.mean[i]);
		printf("],\"std\":[");
		for (int i = 0; i < f->norm.n; i++)
			printf("%s%.7g", i ? "," : "", f->norm.std[i]);
		printf("]}");
	}
	for (int i = 0; i < f->nextra; i++) {
		printf("%s{\"name\":", i ? "," : ",\"extra\":[");
		ls_json_str(stdout, f->extra[i].name);
		printf(",\"dtype\":\"%s\",\"shape\":[", ls_dtype_name(f->extra[i].dtype));
		for (int d = 0; d < f->extra[i].ndim; d++)
			printf("%s%lld", d ? "," : "", (long long)f->extra[i].shape[d]);
		printf("]}%s", i == f->nextra - 1 ? "]" : "");
	}
	if (f->chain.n)
		print_strs("chain", &f->chain);
	if (!no_stats)
		print_stats(f);
	printf("}\n");
}

static void scan(const char *path)
{
	struct ls_reader *r = ls_reader_open_path(path);
	struct ls_frame f;
	int rc;
	ls_frame_init(&f);
	while ((rc = ls_reader_next(r, &f)) == 1)
		if (!check)
			print_frame(&f);
	if (rc < 0)
		ls_die_err();
	if (!check)
		printf("{\"kind\":\"end\",\"frames\":%llu,\"bytes\":%llu}\n",
		       (unsigned long long)ls_reader_frames(r), (unsigned long long)ls_reader_bytes(r));
	ls_frame_free(&f);
	ls_reader_close(r);
}

int main(int argc, char **argv)
{
	struct ls_strlist in;
	ls_opt_parse(&cmd, argc, argv, &in);
	if (!in.n)
		ls_strlist_push(&in, "-");
	for (int i = 0; i < in.n; i++)
		scan(in.v[i]);
	ls_flush_stdout();
	ls_strlist_free(&in);
	return 0;
}
