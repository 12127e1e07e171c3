/* test_augment.c - self-training's and FDA's pieces on cases known by hand:
 * the teacher's moving average, pseudo-label masks (threshold and class
 * balanced), ClassMix, blur, the amplitude swap, and AdaBN's statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/unet.h"
#include "train/adabn.h"
#include "train/augment.h"
#include "train/dataset.h"

static void test_ema(void)
{
	struct ls_params t = { 0 }, s = { 0 };
	struct ls_param *a = ls_params_add(&t, "a", 5, 1), *b = ls_params_add(&s, "a", 5, 1);
	int exact = 1;
	for (int i = 0; i < 5; i++) {
		a->w[i] = (real)(0.3 * i - 1);
		b->w[i] = (real)(2 - 0.7 * i);
	}
	real before[5];
	memcpy(before, a->w, sizeof before);
	ls_ema_update(&t, &s, 0.99);
	for (int i = 0; i < 5; i++)
		exact &= a->w[i] == (real)(0.99 * before[i] + (1 - 0.99) * b->w[i]);
	ls_ema_update(&t, &s, 0);
	for (int i = 0; i < 5; i++)
		exact &= a->w[i] == b->w[i];
	CHECK(exact, "EMA: t = d t + (1 - d) s exactly, each value; decay 0 copies the student");
	ls_params_free(&t);
	ls_params_free(&s);
}

/* 2 classes, 8 pixels: probabilities of class 1 */
static void test_pseudo(void)
{
	const double p1[8] = { 0.99, 0.97, 0.6, 0.5, 0.4, 0.02, 0.1, 0.95 };
	real prob[16];
	uint8_t y[8], valid[8] = { 1, 1, 1, 1, 1, 1, 0, 1 };
	for (int i = 0; i < 8; i++) {
		prob[i] = (real)(1 - p1[i]);
		prob[8 + i] = (real)p1[i];
	}
	double q = ls_pseudo_labels(prob, 1, 2, 8, valid, 0.95, 0, y);
	/* argmax: 1 1 1 (0.5: class 0 wins ties) 0 0 - 1; confident >= 0.95: 0.99 0.97 0.98(0) 0.95 */
	const uint8_t want[8] = { 1, 1, 255, 255, 255, 0, 255, 1 };
	CHECK(!memcmp(y, want, 8) && fabs(q - 4.0 / 7) < 1e-12,
	      "pseudo-labels at a threshold of 0.95: the 4 confident of 7 valid pixels labelled, share %.3f", q);
	q = ls_pseudo_labels(prob, 1, 2, 8, NULL, 0, 0.5, y);
	/* class 1 (argmax): 0.99 0.97 0.6 0.95 -> top 2: 0.99 0.97; class 0: 0.5 0.6 0.98 0.9 -> top 2: 0.98 0.9 */
	const uint8_t cb[8] = { 1, 1, 255, 255, 255, 0, 0, 255 };
	CHECK(!memcmp(y, cb, 8) && fabs(q - 0.5) < 1e-12,
	      "class-balanced pseudo-labels (share 0.5): the two most confident of each class, none of a threshold");
}

static void test_classmix(void)
{
	enum { H = 4, W = 4, HW = H * W };
	real xs[2 * HW], xt[2 * HW], w[HW];
	uint8_t ys[HW], yt[HW], pick[256];
	for (int i = 0; i < HW; i++) {
		ys[i] = i < 6 ? 1 : i == 15 ? 255 : 0;
		yt[i] = 7;
		xs[i] = (real)i;
		xs[HW + i] = (real)(100 + i);
		xt[i] = xt[HW + i] = -1;
		w[i] = (real)0.25;
	}
	struct ls_rng g;
	ls_rng_seed(&g, 3);
	int both = 0, ones = 0;
	for (int k = 0; k < 50; k++) {
		int m = ls_classmix_pick(ys, HW, 2, &g, pick);
		both += m == 1 && pick[0] + pick[1] == 1 && !pick[255];
		ones += pick[1];
	}
	CHECK(both == 50 && ones > 10 && ones < 40, "ClassMix picks one of two classes present, each about half the time (%d of 50)",
	      ones);
	memset(pick, 0, sizeof pick);
	pick[1] = 1;
	size_t moved = ls_classmix(xs, ys, 2, HW, pick, xt, yt, w);
	int ok = moved == 6;
	for (int i = 0; i < HW; i++) {
		int in = ys[i] == 1;
		ok &= in ? xt[i] == xs[i] && xt[HW + i] == xs[HW + i] && yt[i] == 1 && w[i] == 1
			 : xt[i] == -1 && xt[HW + i] == -1 && yt[i] == 7 && w[i] == (real)0.25;
	}
	CHECK(ok, "ClassMix moves the picked class's pixels (every band), their labels and weight 1 together, nothing else");
}

static void test_blur(void)
{
	enum { H = 9, W = 11 };
	real x[H * W], s[H * W];
	double sum0 = 0, sum1 = 0;
	for (int i = 0; i < H * W; i++)
		sum0 += x[i] = (real)(i == 4 * W + 5);
	ls_blur(x, 1, H, W, 1.0, s);
	for (int i = 0; i < H * W; i++)
		sum1 += x[i];
	int sym = fabs(x[4 * W + 4] - x[4 * W + 6]) < 1e-7 && fabs(x[3 * W + 5] - x[5 * W + 5]) < 1e-7;
	CHECK(fabs(sum0 - sum1) < 1e-6 && x[4 * W + 5] < 0.2 && x[4 * W + 5] > x[4 * W + 6] && sym,
	      "blur spreads an impulse symmetrically and keeps its sum (centre %.3f)", x[4 * W + 5]);
}

static void test_fda(void)
{
	enum { C = 2, H = 16, W = 20, HW = H * W };
	real x[C * HW], x0[C * HW];
	float t[C * HW];
	struct ls_rng g;
	ls_rng_seed(&g, 11);
	for (int i = 0; i < C * HW; i++) {
		x[i] = x0[i] = (real)(ls_rng_uniform(&g) - 0.3);
		t[i] = (float)(2 * ls_rng_uniform(&g) + sin(i * 0.05));
	}
	ls_fda(x, t, C, H, W, 0);
	CHECK(!memcmp(x, x0, sizeof x), "FDA with beta 0 leaves the tile untouched");
	ls_fda(x, t, C, H, W, 0.25);	/* b = 4: |fy| < 4, fx < 4 */
	double worst = 0, outside = 0;
	real tr[HW];
	for (int i = 0; i < HW; i++)
		tr[i] = t[i];
	for (int fy = -3; fy <= 3; fy++)
		for (int fx = 0; fx < 4; fx++) {
			double a = ls_fda_amplitude(x, H, W, fy, fx), b = ls_fda_amplitude(tr, H, W, fy, fx);
			worst = fmax(worst, fabs(a - b) / (b + 1e-3));
		}
	for (int fy = 4; fy < 8; fy++)	/* outside the window: the source's amplitude kept */
		for (int fx = 4; fx < 8; fx++)
			outside = fmax(outside, fabs(ls_fda_amplitude(x, H, W, fy, fx) - ls_fda_amplitude(x0, H, W, fy, fx)));
	CHECK(worst < 1e-4 && outside < 1e-3,
	      "FDA: the amplitude inside the window is the target's (worst relative error %.1e), outside the source's (%.1e)",
	      worst, outside);
}

/* AdaBN over two batches: every layer's running mean is the average of
 * the batches' means; for the first layer (stem + BN) that is the mean of
 * the stem's output over all the tiles. */
static void test_adabn(void)
{
	struct ls_unet_spec sp = { .width = 4, .depth = 2, .classes = 2, .ndom = 1, .bands = { 3 } };
	struct ls_unet net;
	struct ls_unet_act act;
	strcpy(sp.dom[0], "source");
	ls_unet_init(&net, &sp, 5);
	ls_unet_act_init(&act, &net, 2, 8, 8);
	struct ls_adabn a;
	struct ls_rng g;
	ls_rng_seed(&g, 2);
	double want[4] = { 0 };
	ls_adabn_begin(&a, &net);
	for (int b = 0; b < 2; b++) {
		for (int i = 0; i < 2 * 3 * 64; i++)
			act.in[i] = (real)(ls_rng_uniform(&g) + b);
		struct ls_t4 x = ls_t4_make(act.in, 2, 3, 8, 8);
		ls_adabn_batch(&a, &act, &x, 0);
		for (int c = 0; c < 4; c++) {	/* the stem's output, before BN: ez[0][0] */
			double s = 0;
			for (int n = 0; n < 2; n++)
				for (int p = 0; p < 64; p++)
					s += ls_t4_img(&act.ez[0][0], n)[c * 64 + p];
			want[c] += s / 128 / 2;
		}
	}
	long nb = ls_adabn_end(&a);
	double worst = 0;
	for (int c = 0; c < 4; c++)
		worst = fmax(worst, fabs(net.enc[0][0].bn.rmean->w[c] - want[c]));
	CHECK(nb == 2 && worst < 1e-5 && net.enc[0][0].bn.momentum == (real)0.1,
	      "AdaBN: the running mean is the average of the batches' means (error %.1e), momentum restored", worst);
	ls_unet_act_free(&act);
	ls_unet_free(&net);
}

/* The zoom (critic-train --scale-jitter) on a tile whose bands are its own
 * column and row: a zoomed pixel's bands say where it sampled the tile, so
 * its label must be the label there, its neighbour one step of 1/z away, and
 * what lies beyond the tile unknown, over flips and turns. */
static void test_zoom(void)
{
	enum { N = 32, NN = N * N };
	float xs[2 * NN];
	uint8_t ys[NN], y[NN];
	real x[2 * NN];
	for (int r = 0; r < N; r++)
		for (int k = 0; k < N; k++) {
			xs[r * N + k] = (float)k;
			xs[NN + r * N + k] = (float)r;
			ys[r * N + k] = (uint8_t)((k >= 11) + 2 * (r >= 21));
		}
	struct ls_sample s = { .x = xs, .y = ys, .c = 2, .h = N, .w = N };
	struct ls_augment aug = { 1, 1, 0, 0.5 };
	struct ls_rng rng;
	ls_rng_seed(&rng, 7);
	int labels_ok = 1, steps_ok = 1, out_ok = 1, zin = 0, zout = 0;
	double lo = 9, hi = 0;
	for (int draw = 0; draw < 300; draw++) {
		ls_batch_put(&s, x, y, &aug, &rng);
		double step = 0;
		int unknown = 0;
		for (int r = 0; r < N; r++)
			for (int k = 0; k < N; k++) {
				int i = r * N + k;
				double c = x[i], rr = x[NN + i];
				if (y[i] == 255) {
					unknown++;
					out_ok &= c == 0 && rr == 0;
					continue;
				}
				int kc = (int)floor(c + 0.5), rc = (int)floor(rr + 0.5);
				labels_ok &= kc >= 0 && kc < N && rc >= 0 && rc < N && y[i] == ys[rc * N + kc];
				/* two neighbours sampled inside (a sample beyond the last pixel's centre is that pixel's) */
				if (k + 1 < N && y[i + 1] != 255 && c > 0.01 && c < N - 1.01 && rr > 0.01 && rr < N - 1.01) {
					double c1 = x[i + 1], r1 = x[NN + i + 1];
					if (c1 > 0.01 && c1 < N - 1.01 && r1 > 0.01 && r1 < N - 1.01) {
						double d = fabs(c1 - c) + fabs(r1 - rr);
						if (step > 0)
							steps_ok &= fabs(d - step) < 1e-4;
						step = d;
					}
				}
			}
		/* a step of 1/z: z from 1/1.5 to 1.5; unknown pixels only when zoomed out */
		lo = fmin(lo, 1 / step);
		hi = fmax(hi, 1 / step);
		out_ok &= unknown == 0 || step > 1;
		zin += step < 1;
		zout += unknown > 0;
	}
	CHECK(labels_ok && out_ok, "zoom: every label is the label where its pixel sampled the tile; beyond the tile "
				   "the bands are 0 and the label unknown, only when zoomed out");
	CHECK(steps_ok && lo >= 1 / 1.5 - 1e-4 && hi <= 1.5 + 1e-4 && lo < 0.75 && hi > 1.35 && zin > 50 && zout > 50,
	      "zoom: one factor per tile, from %.3f to %.3f within 1/1.5..1.5 (%d zoomed in, %d out with unknown edges)",
	      lo, hi, zin, zout);
	aug.scale = 0;
	uint8_t y0[NN];
	ls_batch_put(&s, x, y0, &aug, &rng);
	int plain = 1;
	for (int i = 0; i < 2 * NN; i++)
		plain &= x[i] == floor(x[i]);
	CHECK(plain, "no zoom (--scale-jitter 0): the tile's own pixels, flipped or turned only");
}

int main(void)
{
	test_zoom();
	test_ema();
	test_pseudo();
	test_classmix();
	test_blur();
	test_fda();
	test_adabn();
	return check_failed != 0;
}
