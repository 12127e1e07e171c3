#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geo/bandstats.h"
#include "base/err.h"
#include "stream/pixel.h"

#define RESERVOIR (1u << 20)

void ls_stats_init(struct ls_stats *s, double plo, double phi)
{
	memset(s, 0, sizeof *s);
	s->plo = plo;
	s->phi = phi;
	ls_rng_seed(&s->rng, 12345);
}

void ls_stats_free(struct ls_stats *s)
{
	for (int i = 0; i < s->nb; i++) {
		free(s->b[i].hist);
		free(s->b[i].res);
	}
	free(s->b);
	memset(s, 0, sizeof *s);
}

static int setup(struct ls_stats *s, const struct ls_frame *f)
{
	int nb = (int)ls_frame_c(f);
	if (s->nb) {
		if (s->nb != nb)
			return ls_err("frame %s has %d bands, earlier frames %d", f->key ? f->key : "?", nb, s->nb);
		return 0;
	}
	s->nb = nb;
	s->b = ls_xcalloc(nb, sizeof *s->b);
	for (int i = 0; i < nb; i++) {
		struct ls_band *b = &s->b[i];
		if (i < f->bands.n)
			snprintf(b->name, sizeof b->name, "%s", f->bands.v[i]);
		else
			snprintf(b->name, sizeof b->name, "b%d", i + 1);
		for (char *p = b->name; *p; p++)
			if (*p == ' ' || *p == '\t')
				*p = '_';
		b->min = INFINITY;
		b->max = -INFINITY;
		if (f->t.dtype == LS_F32)
			b->res = ls_xmalloc(RESERVOIR * sizeof *b->res);
		else
			b->hist = ls_xcalloc(65536, sizeof *b->hist);
	}
	return 0;
}

/* The pixels this tile owns: its step from its origin, or to the source's end. */
static void own_range(int64_t off, int64_t size, int64_t step, int64_t src, int64_t *a, int64_t *b)
{
	int64_t end = off + size >= src ? src : off + step;
	*a = off < 0 ? -off : 0;
	*b = end - off;
	if (*b > size)
		*b = size;
}

static void add_value(struct ls_stats *s, struct ls_band *b, double v, int dtype)
{
	if (b->count == 0)
		b->shift = v;
	b->count++;
	double d = v - b->shift;
	b->sum += d;
	b->sumsq += d * d;
	b->min = v < b->min ? v : b->min;
	b->max = v > b->max ? v : b->max;
	if (b->hist) {
		b->hist[dtype == LS_I16 ? (int)v + 32768 : (int)v]++;
	} else if (b->nres < RESERVOIR) {
		b->res[b->nres++] = (float)v;
	} else {
		uint64_t j = ls_rng_u64(&s->rng) % b->count;
		if (j < RESERVOIR)
			b->res[j] = (float)v;
	}
}

int ls_stats_add(struct ls_stats *s, const struct ls_frame *f)
{
	int64_t h = ls_frame_h(f), w = ls_frame_w(f), x0 = 0, x1 = w, y0 = 0, y1 = h;
	size_t hw = (size_t)(h * w);
	if (setup(s, f) < 0)
		return -1;
	if (f->has_geo) {
		own_range(f->off_x, w, w - f->halo, f->src_w, &x0, &x1);
		own_range(f->off_y, h, h - f->halo, f->src_h, &y0, &y1);
	}
	for (int c = 0; c < s->nb; c++)
		for (int64_t y = y0; y < y1; y++)
			for (int64_t x = x0; x < x1; x++) {
				size_t i = (size_t)(y * w + x);
				if (f->mask && !f->mask[i])
					continue;
				double v = ls_px_get(f->t.data, f->t.dtype, c * hw + i);
				if (isfinite(v))
					add_value(s, &s->b[c], v, f->t.dtype);
			}
	return 0;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static double hist_pct(const struct ls_band *b, double p, int i16)
{
	uint64_t want = (uint64_t)floor(p / 100 * (double)(b->count - 1)), acc = 0;
	for (int k = 0; k < 65536; k++) {
		acc += b->hist[k];
		if (acc > want)
			return i16 ? k - 32768 : k;
	}
	return b->max;
}

void ls_stats_finish(struct ls_stats *s)
{
	for (int i = 0; i < s->nb; i++) {
		struct ls_band *b = &s->b[i];
		if (!b->count)
			continue;
		double m = b->sum / b->count, var = b->sumsq / b->count - m * m;
		b->mean = b->shift + m;
		b->std = sqrt(var > 0 ? var : 0);
		if (b->hist) {
			int i16 = b->min < 0;
			b->lo = hist_pct(b, s->plo, i16);
			b->hi = hist_pct(b, s->phi, i16);
		} else {
			qsort(b->res, b->nres, sizeof *b->res, cmp_float);
			b->lo = b->res[(size_t)floor(s->plo / 100 * (b->nres - 1))];
			b->hi = b->res[(size_t)floor(s->phi / 100 * (b->nres - 1))];
		}
	}
}

int ls_stats_write(const struct ls_stats *s, const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	FILE *fp = fopen(tmp, "w");
	if (!fp)
		return ls_err("cannot write %s: %s", path, strerror(errno));
	ls_cleanup_add(tmp);
	fprintf(fp, "landshift-stats 1\npercentiles %.17g %.17g\nbands %d\n", s->plo, s->phi, s->nb);
	for (int i = 0; i < s->nb; i++) {
		const struct ls_band *b = &s->b[i];
		fprintf(fp, "band %s count %llu mean %.17g std %.17g min %.17g max %.17g lo %.17g hi %.17g\n", b->name,
			(unsigned long long)b->count, b->mean, b->std, b->count ? b->min : 0, b->count ? b->max : 0,
			b->lo, b->hi);
	}
	if (fflush(fp) || ferror(fp) || fsync(fileno(fp)) < 0) {
		fclose(fp);
		unlink(tmp);
		return ls_err("writing %s: %s", path, strerror(errno));
	}
	fclose(fp);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return ls_err("cannot rename %s to %s: %s", tmp, path, strerror(errno));
	}
	ls_cleanup_forget(tmp);
	return 0;
}

static int bad(const char *path, int line, const char *what)
{
	return ls_err("%s:%d: %s", path, line, what);
}

int ls_stats_read(struct ls_stats *s, const char *path)
{
	char line[1024];
	int ln = 0, nb = -1, got = 0, version = 0;
	FILE *fp = fopen(path, "r");
	if (!fp)
		return ls_err("cannot open statistics %s: %s", path, strerror(errno));
	ls_stats_init(s, 2, 98);
	int rc = 0;
	while (!rc && fgets(line, sizeof line, fp)) {
		ln++;
		if (!strchr(line, '\n') && !feof(fp)) {
			rc = bad(path, ln, "line too long");
			break;
		}
		if (ln == 1) {
			if (sscanf(line, "landshift-stats %d", &version) != 1 || version != 1)
				rc = bad(path, ln, "not a landshift statistics file (version 1)");
		} else if (!strncmp(line, "percentiles ", 12)) {
			if (sscanf(line, "percentiles %lf %lf", &s->plo, &s->phi) != 2)
				rc = bad(path, ln, "expected 'percentiles LO HI'");
		} else if (!strncmp(line, "bands ", 6)) {
			if (sscanf(line, "bands %d", &nb) != 1 || nb < 1 || nb > 4096 || s->nb)
				rc = bad(path, ln, "expected 'bands N' (1..4096), once");
			else {
				s->nb = nb;
				s->b = ls_xcalloc(nb, sizeof *s->b);
			}
		} else if (!strncmp(line, "band ", 5)) {
			struct ls_band *b;
			unsigned long long count;
			if (nb < 0 || got >= nb) {
				rc = bad(path, ln, "band line without or beyond 'bands N'");
				break;
			}
			b = &s->b[got];
			if (sscanf(line, "band %63s count %llu mean %lf std %lf min %lf max %lf lo %lf hi %lf", b->name,
				   &count, &b->mean, &b->std, &b->min, &b->max, &b->lo, &b->hi) != 8)
				rc = bad(path, ln, "expected 'band NAME count N mean M std S min A max B lo L hi H'");
			else if (!isfinite(b->mean) || !isfinite(b->std) || b->std < 0 || !isfinite(b->lo) ||
				 !isfinite(b->hi) || b->lo > b->hi)
				rc = bad(path, ln, "statistics are not finite, or lo > hi");
			b->count = count;
			got++;
		} else if (line[0] != '#' && line[0] != '\n') {
			rc = bad(path, ln, "unknown line");
		}
	}
	fclose(fp);
	if (!rc && (nb < 1 || got != nb))
		rc = ls_err("%s: expected %d band lines, found %d (truncated file?)", path, nb, got);
	for (int i = 0; i < got && !rc; i++)
		for (int j = 0; j < i && !rc; j++)
			if (!strcasecmp(s->b[i].name, s->b[j].name))
				rc = ls_err("%s: band '%s' appears twice: bands are matched by name", path, s->b[i].name);
	return rc;
}

int ls_stats_find(const struct ls_stats *s, const char *name)
{
	for (int i = 0; i < s->nb; i++)
		if (!strcasecmp(s->b[i].name, name))
			return i;
	return -1;
}
