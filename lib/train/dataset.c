#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "train/dataset.h"
#include "base/err.h"

int ls_dataset_domain(const struct ls_dataset *d, const char *name)
{
	for (int i = 0; i < d->ndom; i++)
		if (!strcmp(d->dom[i], name))
			return i;
	return -1;
}

static int add_domain(struct ls_dataset *d, const char *name, const struct ls_frame *f)
{
	int i = ls_dataset_domain(d, name);
	if (i >= 0)
		return i;
	if (d->ndom >= 8)
		return ls_err("more than 8 domains");
	i = d->ndom++;
	snprintf(d->dom[i], sizeof d->dom[i], "%s", name);
	for (int b = 0; b < f->bands.n; b++)
		ls_strlist_push(&d->bands[i], f->bands.v[b]);
	ls_norm_alloc(&d->norm[i], f->norm.n);
	for (int b = 0; b < f->norm.n; b++) {
		d->norm[i].mean[b] = f->norm.mean[b];
		d->norm[i].std[b] = f->norm.std[b];
		d->norm[i].lo[b] = f->norm.lo[b];
		d->norm[i].hi[b] = f->norm.hi[b];
	}
	return i;
}

static int add_frame(struct ls_dataset *d, const struct ls_frame *f, const char *path, const char *dom, int keep)
{
	int64_t c = ls_frame_c(f), h = ls_frame_h(f), w = ls_frame_w(f);
	size_t hw = (size_t)(h * w);
	if (f->t.dtype != LS_F32 || f->t.ndim != 3)
		return ls_err("%s: frame %s is %s, training needs f32 [bands, h, w] tiles (run normalise-bands first)",
			      path, f->key ? f->key : "?", ls_dtype_name(f->t.dtype));
	int di = add_domain(d, f->domain ? f->domain : dom, f);
	if (di < 0)
		return -1;
	if (d->n && (d->s[0].h != h || d->s[0].w != w))
		return ls_err("%s: frame %s is %lldx%lld, earlier tiles %dx%d: one tile size per run", path, f->key,
			      (long long)w, (long long)h, d->s[0].w, d->s[0].h);
	for (int i = 0; i < d->n; i++)
		if (d->s[i].dom == di && d->s[i].c != c)
			return ls_err("%s: frame %s has %lld bands, domain %s has %d", path, f->key, (long long)c,
				      d->dom[di], d->s[i].c);
	if (keep && !f->label)
		return ls_err("%s: frame %s has no labels (tile the raster with its labels), but this stream trains the task", path,
			      f->key ? f->key : "?");
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->s = ls_xrealloc(d->s, d->cap * sizeof *d->s);
	}
	struct ls_sample *s = &d->s[d->n++];
	memset(s, 0, sizeof *s);
	s->c = (int)c;
	s->h = (int)h;
	s->w = (int)w;
	s->dom = di;
	s->off_x = f->off_x;
	s->src_w = f->src_w;
	s->src = -1;
	for (int i = 0; i < d->srcs.n && s->src < 0; i++)
		if (!strcmp(d->srcs.v[i], f->src ? f->src : path))
			s->src = i;
	if (s->src < 0) {
		ls_strlist_push(&d->srcs, f->src ? f->src : path);
		s->src = d->srcs.n - 1;
	}
	s->x = ls_xmalloc(f->t.nbytes);
	memcpy(s->x, f->t.data, f->t.nbytes);
	for (int64_t b = 0; b < c; b++)	/* a value the network cannot take, where the tile is valid */
		for (size_t i = 0; i < hw; i++)
			if (!isfinite(s->x[b * hw + i]) && (!f->mask || f->mask[i])) {
				d->n--;
				free(s->x);
				return ls_err("%s: frame %s: band %lld, pixel (%zu, %zu) is %g inside the valid area "
					      "(tile masks non-finite pixels: was the stream made otherwise?)",
					      path, f->key ? f->key : "?", (long long)b + 1, i % (size_t)w, i / (size_t)w,
					      (double)s->x[b * hw + i]);
			}
	if (keep && f->has_geo && f->crs) {
		int projected = strstr(f->crs, "PROJCS[") || strstr(f->crs, "PROJCRS[");
		double g = projected ? fabs(f->gt[1]) : fabs(f->gt[5]) * 111320;	/* metres */
		d->gsd = d->gsd > 0 ? fmin(d->gsd, g) : g;
		d->gsd_max = fmax(d->gsd_max, g);
		d->gsd_geo |= !projected;
	}
	/* statistics that differ between the frames of a domain: each raster
	 * was standardised with its own */
	if (f->norm.n && d->norm[di].n == f->norm.n && memcmp(d->norm[di].mean, f->norm.mean, f->norm.n * sizeof(float)))
		d->per_raster = 1;
	if (keep) {
		s->y = ls_xmalloc(hw);
		s->lcls = f->label_classes;
		for (size_t i = 0; i < hw; i++) {
			s->y[i] = f->mask && !f->mask[i] ? 255 : f->label[i];
			if (s->lcls && s->y[i] && s->y[i] != 255 && !ls_label_class_listed(s->lcls, s->y[i]))
				return ls_err("%s: frame %s holds class %d, which its label_classes do not list", path,
					      f->key, s->y[i]);
		}
	} else if (f->label) {
		d->labelled_ignored = 1;
	}
	return 0;
}

int ls_dataset_read(struct ls_dataset *d, const char *path, const char *default_dom, int keep_labels)
{
	struct ls_reader *r = ls_reader_open_path(path);
	struct ls_frame f;
	int rc;
	ls_frame_init(&f);
	while ((rc = ls_reader_next(r, &f)) == 1)
		if (add_frame(d, &f, path, default_dom, keep_labels) < 0) {
			rc = -1;
			break;
		}
	ls_frame_free(&f);
	ls_reader_close(r);
	return rc;
}

void ls_dataset_split(struct ls_dataset *d, double frac)
{
	int *labelled = ls_xcalloc(d->srcs.n + 1, sizeof *labelled), nl = 0, k = 0;	/* 1 labelled, 2 held out */
	for (int i = 0; i < d->n; i++)
		if (d->s[i].y && !labelled[d->s[i].src]) {
			labelled[d->s[i].src] = 1;
			nl++;
		}
	int every = frac > 0 ? (int)(1 / frac + 0.5) : 0;
	for (int r = 0; r < d->srcs.n && every > 0; r++)	/* every (1/frac)-th labelled raster, whole */
		if (labelled[r] == 1 && ++k % every == 0)
			labelled[r] = 2;
	for (int i = 0; i < d->n; i++) {
		struct ls_sample *s = &d->s[i];
		if (nl >= 5)
			s->val = s->y && frac > 0 && labelled[s->src] == 2;
		else
			s->val = s->y && frac > 0 && s->src_w > 0 && (double)s->off_x >= (1 - frac) * (double)s->src_w;
	}
	free(labelled);
}

void ls_dataset_free(struct ls_dataset *d)
{
	for (int i = 0; i < d->n; i++) {
		free(d->s[i].x);
		free(d->s[i].y);
	}
	free(d->s);
	ls_strlist_free(&d->srcs);
	for (int i = 0; i < 8; i++) {
		ls_strlist_free(&d->bands[i]);
		ls_norm_alloc(&d->norm[i], 0);
	}
	memset(d, 0, sizeof *d);
}

/* Source pixel of output (r, c) after transform t: bit 0 flip x, bit 1
 * flip y, bit 2 transpose. */
static size_t src_index(int t, int r, int c, int h, int w)
{
	if (t & 4) {
		int tmp = r;
		r = c;
		c = tmp;
	}
	if (t & 1)
		c = w - 1 - c;
	if (t & 2)
		r = h - 1 - r;
	return (size_t)r * w + c;
}

/* Band brightness and contrast jitter: a gain and a shift drawn per band. */
static void jitter_of(const struct ls_augment *aug, struct ls_rng *rng, real *gain, real *shift)
{
	*gain = 1;
	*shift = 0;
	if (aug && aug->jitter > 0) {
		*gain = (real)(1 + aug->jitter * (2 * ls_rng_uniform(rng) - 1));
		*shift = (real)(aug->jitter * (2 * ls_rng_uniform(rng) - 1));
	}
}

/* Where output row (or column) i of n samples the tile when zoomed by z
 * from origin o: the pixel above it (a), the weight of the one below (f),
 * the nearest (near) and whether it lies in the tile at all (in). */
struct zoom_at {
	int a, near, in;
	float f;
};

static void zoom_axis(struct zoom_at *za, int n, double z, double o)
{
	for (int i = 0; i < n; i++) {
		double v = o + (i + 0.5) / z - 0.5;
		za[i].in = v > -0.5 && v < n - 0.5;
		v = v < 0 ? 0 : v > n - 1 ? n - 1 : v;
		za[i].a = (int)floor(v);
		za[i].a = za[i].a > n - 2 ? (n > 1 ? n - 2 : 0) : za[i].a;
		za[i].f = n > 1 ? (float)(v - za[i].a) : 0;
		za[i].near = (int)floor(v + 0.5);
	}
}

/* A labelled tile zoomed by a random factor z from 1/(1+scale) to 1+scale
 * (log-uniform), the window placed at random: the bands bilinear, the labels
 * the nearest pixel's; where a zoom-out shows what lies beyond the tile, the
 * bands are the mean (0, before the jitter) and the labels unknown. In the
 * frame of transform t. */
static void put_zoomed(const struct ls_sample *s, real *x, uint8_t *y, int t, const struct ls_augment *aug,
		       struct ls_rng *rng)
{
	int h = s->h, w = s->w;
	double a = log1p(aug->scale), z = exp(a * (2 * ls_rng_uniform(rng) - 1));
	double oy = (h - h / z) * ls_rng_uniform(rng), ox = (w - w / z) * ls_rng_uniform(rng);
	struct zoom_at *zr = ls_xmalloc((size_t)(h + w) * sizeof *zr), *zc = zr + h;
	zoom_axis(zr, h, z, oy);
	zoom_axis(zc, w, z, ox);
	int h1 = h > 1, w1 = w > 1;
	for (int c = 0; c < s->c; c++) {
		real gain, shift;
		jitter_of(aug, rng, &gain, &shift);
		const float *src = s->x + (size_t)c * h * w;
		real *dst = x + (size_t)c * h * w;
		for (int r = 0; r < h; r++)
			for (int k = 0; k < w; k++) {
				real v = 0;
				if (zr[r].in && zc[k].in) {
					int r0 = zr[r].a, k0 = zc[k].a;
					float fr = zr[r].f, fk = zc[k].f;
					float p00 = src[src_index(t, r0, k0, h, w)], p01 = src[src_index(t, r0, k0 + w1, h, w)];
					float p10 = src[src_index(t, r0 + h1, k0, h, w)];
					float p11 = src[src_index(t, r0 + h1, k0 + w1, h, w)];
					v = (1 - fr) * ((1 - fk) * p00 + fk * p01) + fr * ((1 - fk) * p10 + fk * p11);
				}
				dst[(size_t)r * w + k] = v * gain + shift;
			}
	}
	for (int r = 0; r < h; r++)
		for (int k = 0; k < w; k++)
			y[(size_t)r * w + k] = s->y && zr[r].in && zc[k].in ? s->y[src_index(t, zr[r].near, zc[k].near, h, w)]
									     : 255;
	free(zr);
}

void ls_batch_put(const struct ls_sample *s, real *x, uint8_t *y, const struct ls_augment *aug, struct ls_rng *rng)
{
	int t = 0, h = s->h, w = s->w;
	if (aug && aug->flip)
		t |= (int)(ls_rng_u64(rng) & 3);
	if (aug && aug->rot90 && h == w && (ls_rng_u64(rng) & 1))
		t |= 4;
	if (aug && aug->scale > 0 && y) {
		put_zoomed(s, x, y, t, aug, rng);
		return;
	}
	for (int c = 0; c < s->c; c++) {
		real gain, shift;
		jitter_of(aug, rng, &gain, &shift);
		const float *src = s->x + (size_t)c * h * w;
		real *dst = x + (size_t)c * h * w;
		for (int r = 0; r < h; r++)
			for (int k = 0; k < w; k++)
				dst[(size_t)r * w + k] = src[src_index(t, r, k, h, w)] * gain + shift;
	}
	if (y)
		for (int r = 0; r < h; r++)
			for (int k = 0; k < w; k++)
				y[(size_t)r * w + k] = s->y ? s->y[src_index(t, r, k, h, w)] : 255;
}

int ls_dataset_share_stems(struct ls_dataset *d)
{
	int merged = 0;
	for (int u = 0; u < d->ndom; u++) {
		int labelled = 0, into = -1;
		for (int i = 0; i < d->n; i++)
			labelled |= d->s[i].dom == u && d->s[i].y;
		if (labelled)
			continue;
		for (int l = 0; l < d->ndom && into < 0; l++) {
			if (l == u || d->bands[l].n != d->bands[u].n || !d->bands[u].n)
				continue;
			int same = 1, has = 0;
			for (int b = 0; b < d->bands[u].n; b++)
				same &= !strcasecmp(d->bands[l].v[b], d->bands[u].v[b]);
			for (int i = 0; i < d->n; i++)
				has |= d->s[i].dom == l && d->s[i].y;
			if (same && has)
				into = l;
		}
		if (into < 0)
			continue;
		for (int i = 0; i < d->n; i++)
			if (d->s[i].dom == u)
				d->s[i].dom = into;
		merged++;
	}
	/* drop domains no tile uses any more, keeping indices dense */
	for (int k = d->ndom - 1; k >= 0; k--) {
		int used = 0;
		for (int i = 0; i < d->n; i++)
			used |= d->s[i].dom == k;
		if (used)
			continue;
		ls_strlist_free(&d->bands[k]);
		ls_norm_alloc(&d->norm[k], 0);
		for (int j = k; j < d->ndom - 1; j++) {
			memcpy(d->dom[j], d->dom[j + 1], sizeof d->dom[j]);
			d->bands[j] = d->bands[j + 1];
			d->norm[j] = d->norm[j + 1];
		}
		memset(&d->bands[d->ndom - 1], 0, sizeof d->bands[0]);
		memset(&d->norm[d->ndom - 1], 0, sizeof d->norm[0]);
		d->ndom--;
		for (int i = 0; i < d->n; i++)
			if (d->s[i].dom > k)
				d->s[i].dom--;
	}
	return merged;
}
