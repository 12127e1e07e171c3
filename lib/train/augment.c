/* augment.c - Fourier domain adaptation, pseudo-labels, ClassMix, strong
 * augmentation and the teacher's moving average (augment.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "base/err.h"
#include "train/augment.h"

_Static_assert(sizeof(real) == sizeof(float), "the FFT works on float tiles");

/* One tile size's plans and buffers, made on first use. */
static struct {
	int h, w;
	fftwf_plan fwd, inv;
	float *in;
	fftwf_complex *fx, *ft;
} fft;

static void fft_size(int h, int w)
{
	if (fft.h == h && fft.w == w)
		return;
	if (fft.h) {
		fftwf_destroy_plan(fft.fwd);
		fftwf_destroy_plan(fft.inv);
		free(fft.in);
		free(fft.fx);
		free(fft.ft);
	}
	size_t nc = (size_t)h * (w / 2 + 1);
	fft.in = ls_xaligned(64, ((size_t)h * w * sizeof(float) + 63) & ~(size_t)63);
	fft.fx = ls_xaligned(64, (nc * sizeof(fftwf_complex) + 63) & ~(size_t)63);
	fft.ft = ls_xaligned(64, (nc * sizeof(fftwf_complex) + 63) & ~(size_t)63);
	fft.fwd = fftwf_plan_dft_r2c_2d(h, w, fft.in, fft.fx, FFTW_ESTIMATE);
	fft.inv = fftwf_plan_dft_c2r_2d(h, w, fft.fx, fft.in, FFTW_ESTIMATE);
	fft.h = h;
	fft.w = w;
}

void ls_fda(real *x, const float *tgt, int c, int h, int w, double beta)
{
	int m = h < w ? h : w, b = (int)floor(beta * m);
	if (b <= 0)
		return;
	b = b > m / 2 ? m / 2 : b;
	fft_size(h, w);
	size_t hw = (size_t)h * w, wc = (size_t)w / 2 + 1;
	for (int k = 0; k < c; k++) {
		memcpy(fft.in, tgt + k * hw, hw * sizeof(float));
		fftwf_execute_dft_r2c(fft.fwd, fft.in, fft.ft);
		memcpy(fft.in, x + k * hw, hw * sizeof(float));
		fftwf_execute_dft_r2c(fft.fwd, fft.in, fft.fx);
		for (int fy = -(b - 1); fy < b; fy++)
			for (int fx = 0; fx < b; fx++) {
				size_t i = (size_t)((fy + h) % h) * wc + fx;
				double at = hypot(fft.ft[i][0], fft.ft[i][1]), ph = atan2(fft.fx[i][1], fft.fx[i][0]);
				fft.fx[i][0] = (float)(at * cos(ph));
				fft.fx[i][1] = (float)(at * sin(ph));
			}
		fftwf_execute_dft_c2r(fft.inv, fft.fx, fft.in);
		for (size_t i = 0; i < hw; i++)
			x[k * hw + i] = fft.in[i] / (float)hw;
	}
}

double ls_fda_amplitude(const real *x, int h, int w, int fy, int fx)
{
	fft_size(h, w);
	memcpy(fft.in, x, (size_t)h * w * sizeof(float));
	fftwf_execute_dft_r2c(fft.fwd, fft.in, fft.fx);
	size_t i = (size_t)((fy % h + h) % h) * ((size_t)w / 2 + 1) + fx;
	return hypot(fft.fx[i][0], fft.fx[i][1]);
}

static int desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x < y) - (x > y);
}

double ls_pseudo_labels(const real *prob, int n, int k, size_t hw, const uint8_t *valid, double thr,
			double share, uint8_t *y)
{
	size_t total = (size_t)n * hw, nvalid = 0, kept = 0;
	float *conf = ls_xmalloc(total * sizeof *conf), cut[256];
	for (int i = 0; i < n; i++)
		for (size_t p = 0; p < hw; p++) {
			const real *q = prob + (size_t)i * k * hw + p;
			int best = 0;
			for (int c = 1; c < k; c++)
				best = q[c * hw] > q[best * hw] ? c : best;
			y[i * hw + p] = (uint8_t)best;
			conf[i * hw + p] = (float)q[best * hw];
			if (valid && !valid[i * hw + p])
				y[i * hw + p] = 255;
		}
	for (int c = 0; c < k; c++)
		cut[c] = (float)thr;
	if (share > 0) {	/* each class's own cut: its ceil(share * count) most confident pixels */
		float *v = ls_xmalloc(total * sizeof *v);
		for (int c = 0; c < k; c++) {
			size_t m = 0;
			for (size_t i = 0; i < total; i++)
				if (y[i] == c)
					v[m++] = conf[i];
			size_t keep = (size_t)ceil(share * (double)m);
			if (keep == 0) {
				cut[c] = INFINITY;
				continue;
			}
			qsort(v, m, sizeof *v, desc);
			cut[c] = v[(keep < m ? keep : m) - 1];
		}
		free(v);
	}
	for (size_t i = 0; i < total; i++) {
		if (y[i] == 255)
			continue;
		nvalid++;
		if (conf[i] >= cut[y[i]])
			kept++;
		else
			y[i] = 255;
	}
	free(conf);
	return nvalid ? (double)kept / (double)nvalid : 0;
}

int ls_classmix_pick(const uint8_t *ys, size_t hw, int k, struct ls_rng *rng, uint8_t pick[256])
{
	int present[256], m = 0;
	uint8_t seen[256] = { 0 };
	memset(pick, 0, 256);
	for (size_t i = 0; i < hw; i++)
		if (ys[i] < k && !seen[ys[i]]++)
			present[m++] = ys[i];
	for (int i = 1; i < m; i++)	/* classes in increasing order, so the draw depends on the set only */
		for (int j = i; j > 0 && present[j - 1] > present[j]; j--) {
			int s = present[j];
			present[j] = present[j - 1];
			present[j - 1] = s;
		}
	int want = (m + 1) / 2;
	for (int i = 0; i < want; i++) {	/* a partial Fisher-Yates shuffle */
		int j = i + (int)(ls_rng_u64(rng) % (uint64_t)(m - i)), s = present[j];
		present[j] = present[i];
		present[i] = s;
		pick[present[i]] = 1;
	}
	return want;
}

size_t ls_classmix(const real *xs, const uint8_t *ys, int c, size_t hw, const uint8_t pick[256], real *xt,
		   uint8_t *yt, real *w)
{
	size_t moved = 0;
	for (size_t i = 0; i < hw; i++) {
		if (!pick[ys[i]] || ys[i] == 255)
			continue;
		for (int b = 0; b < c; b++)
			xt[b * hw + i] = xs[b * hw + i];
		yt[i] = ys[i];
		if (w)
			w[i] = 1;
		moved++;
	}
	return moved;
}

static int mirror(int i, int n)
{
	while (i < 0 || i >= n)
		i = i < 0 ? -i - 1 : 2 * n - i - 1;
	return i;
}

void ls_blur(real *x, int c, int h, int w, double sigma, real *scratch)
{
	int r = (int)ceil(3 * sigma);
	r = r < 1 ? 1 : r > 15 ? 15 : r;
	double k[31], s = 0;
	for (int i = -r; i <= r; i++)
		s += k[i + r] = exp(-0.5 * i * i / (sigma * sigma));
	for (int i = 0; i <= 2 * r; i++)
		k[i] /= s;
	for (int b = 0; b < c; b++) {
		real *p = x + (size_t)b * h * w;
		for (int y = 0; y < h; y++)	/* rows into scratch */
			for (int x0 = 0; x0 < w; x0++) {
				double v = 0;
				for (int i = -r; i <= r; i++)
					v += k[i + r] * p[(size_t)y * w + mirror(x0 + i, w)];
				scratch[(size_t)y * w + x0] = (real)v;
			}
		for (int y = 0; y < h; y++)	/* columns back */
			for (int x0 = 0; x0 < w; x0++) {
				double v = 0;
				for (int i = -r; i <= r; i++)
					v += k[i + r] * scratch[(size_t)mirror(y + i, h) * w + x0];
				p[(size_t)y * w + x0] = (real)v;
			}
	}
}

void ls_strong_augment(real *x, int c, int h, int w, double jitter, double blur, struct ls_rng *rng, real *scratch)
{
	size_t hw = (size_t)h * w;
	for (int b = 0; b < c; b++) {
		real gain = (real)(1 + jitter * (2 * ls_rng_uniform(rng) - 1));
		real shift = (real)(jitter * (2 * ls_rng_uniform(rng) - 1));
		for (size_t i = 0; i < hw; i++)
			x[b * hw + i] = x[b * hw + i] * gain + shift;
	}
	double u = ls_rng_uniform(rng), sigma = 0.15 + (blur - 0.15) * ls_rng_uniform(rng);
	if (blur > 0.15 && u < 0.5)
		ls_blur(x, c, h, w, sigma, scratch);
}

void ls_ema_update(struct ls_params *teacher, const struct ls_params *student, double decay)
{
	for (int i = 0; i < teacher->n && i < student->n; i++) {
		real *t = teacher->p[i]->w;
		const real *s = student->p[i]->w;
		for (size_t j = 0; j < teacher->p[i]->n; j++)
			t[j] = (real)(decay * t[j] + (1 - decay) * s[j]);
	}
}
