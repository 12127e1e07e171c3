#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef LS_DOUBLE
#include <immintrin.h>
#endif

#include "nn/conv.h"
#include "base/err.h"

#define CHUNK_PIX 1024

void ls_conv_init(struct ls_conv *c, struct ls_params *ps, const char *name, int ci, int co, int k, int stride,
		  int pad, int bias, struct ls_rng *rng)
{
	char pn[80];
	memset(c, 0, sizeof *c);
	c->ci = ci;
	c->co = co;
	c->k = k;
	c->stride = stride;
	c->pad = pad;
	snprintf(pn, sizeof pn, "%s.weight", name);
	c->w = ls_params_add(ps, pn, (size_t)co * ci * k * k, 1);
	ls_param_shape(c->w, 4, (int64_t[]){ co, ci, k, k });
	ls_he_init(c->w->w, c->w->n, ci * k * k, rng);
	if (bias) {
		snprintf(pn, sizeof pn, "%s.bias", name);
		c->b = ls_params_add(ps, pn, (size_t)co, 0);
	}
	c->wflip = ls_alloc_real(c->w->n);
	c->wpack = ls_alloc_real(c->w->n);
	c->wpackT = ls_alloc_real(c->w->n);
}

void ls_conv_free(struct ls_conv *c)
{
	free(c->wflip);
	free(c->dw_part);
	free(c->wpack);
	free(c->wpackT);
	c->wflip = c->dw_part = c->wpack = c->wpackT = NULL;
}

int ls_conv_out(int in, int k, int stride, int pad)
{
	return (in + 2 * pad - k) / stride + 1;
}

static int is_1x1(const struct ls_conv *c)
{
	return c->k == 1 && c->stride == 1 && c->pad == 0;
}

static int same_s1(const struct ls_conv *c)
{
	return c->stride == 1 && c->k % 2 == 1 && c->pad == c->k / 2;
}

static int chunk_rows(int wo)
{
	int r = CHUNK_PIX / wo;
	return r < 1 ? 1 : r;
}

/* ---- the direct 3x3 kernel ---- */

int ls_conv_direct = 1;

int ls_conv_bf16 = 0;

int ls_conv_bf16_available(void)
{
	return !!__builtin_cpu_supports("avx512f") && !!__builtin_cpu_supports("avx512bf16");
}

/* A float to bfloat16 bits, rounded to nearest even (finite values). */
static inline uint32_t bf16_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

float ls_bf16_round(float f)
{
	uint32_t u = bf16_bits(f) << 16;
	memcpy(&f, &u, sizeof f);
	return f;
}

#define DPAD 16		/* zero columns left of a padded row (keeps rows 64-byte aligned) */

static int direct_rows(int w)
{
	int r = 4096 / w;
	return r < 1 ? 1 : r;
}

#ifndef LS_DOUBLE
/* Can a 3x3 same convolution of cin -> cout channels at width w run direct? */
static int direct_ok(int k, int stride, int pad, int cin, int cout, int w)
{
	static int env = -1;
	if (env < 0) {
		const char *e = getenv("LANDSHIFT_DIRECT_CONV");
		env = !(e && !strcmp(e, "0"));
	}
	(void)cin;
	return env && ls_conv_direct && k == 3 && stride == 1 && pad == 1 && cout % 4 == 0 && w % 8 == 0;
}
#endif

#define DW_PX 1024	/* pixels of a weight-gradient band: 8 channels of dY (32 KB) stay in L1 */

/* Images of one weight-gradient work item (small images go several at a time) and its rows. */
static void dw_item(int h, int w, int *imgs, int *rows)
{
	*rows = DW_PX / w < 1 ? 1 : DW_PX / w > h ? h : DW_PX / w;
	*imgs = *rows == h && DW_PX / (h * w) > 1 ? DW_PX / (h * w) : 1;
}

static size_t direct_ws(int cin, int h, int w)
{
	int rows = direct_rows(w), imgs, drows;
	if (rows > h)
		rows = h;
	dw_item(h, w, &imgs, &drows);
	size_t f = (size_t)cin * (rows + 2) * (w + 2 * DPAD);
	size_t d = (size_t)imgs * cin * (drows + 2) * (w + 2 * DPAD) + 16 + (size_t)8 * imgs * drows * w;
	return f > d ? f : d;
}

#ifndef LS_DOUBLE
/* w [co][ci][3][3] -> [co/4][ci][9][4]; flip: w as [ci][co] flipped -> [ci/4][co][9][4]. */
static void direct_pack(const float *w, int ci, int co, float *p, int flip)
{
	int cout = flip ? ci : co, cin = flip ? co : ci;
	for (int ob = 0; ob < cout / 4; ob++)
		for (int i = 0; i < cin; i++)
			for (int t = 0; t < 9; t++)
				for (int j = 0; j < 4; j++) {
					int o = ob * 4 + j;	/* output channel of this (possibly flipped) conv */
					float v = flip ? w[((size_t)i * ci + o) * 9 + (8 - t)] : w[((size_t)o * ci + i) * 9 + t];
					p[(((size_t)ob * cin + i) * 9 + t) * 4 + j] = v;
				}
}

/* acc[4 channels][NV vectors of 8 pixels] += sum over cin, 3x3 taps. The
 * accumulators must stay in registers (NV = 2: 8 of them; 3 spills): every loop inside the
 * channel loop is unrolled so that the array indices are constants. */
#define DIRECT_KERNEL(NV)                                                                                      \
	static void direct_k##NV(const float *pin, size_t cstride, int wp, int cin, const float *wk, float *out, \
				 size_t ostride)                                                                \
	{                                                                                                      \
		__m256 acc[4][NV];                                                                             \
		_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)                                            \
		_Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) acc[j][v] = _mm256_setzero_ps();          \
		for (int i = 0; i < cin; i++, pin += cstride, wk += 36) {                                      \
			_Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ky++)                                 \
			_Pragma("GCC unroll 3") for (int kx = 0; kx < 3; kx++)                                 \
			{                                                                                      \
				const float *row = pin + (size_t)ky * wp + kx, *wt = wk + (ky * 3 + kx) * 4;   \
				__m256 x[NV];                                                                  \
				_Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) x[v] =                    \
					_mm256_loadu_ps(row + 8 * v);                                          \
				_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)                            \
				{                                                                              \
					__m256 b = _mm256_broadcast_ss(wt + j);                                \
					_Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) acc[j][v] =       \
						_mm256_fmadd_ps(b, x[v], acc[j][v]);                           \
				}                                                                              \
			}                                                                                      \
		}                                                                                              \
		_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)                                            \
		_Pragma("GCC unroll 3") for (int v = 0; v < NV; v++)                                           \
			_mm256_storeu_ps(out + j * ostride + 8 * v, acc[j][v]);                                \
	}
DIRECT_KERNEL(1)
DIRECT_KERNEL(2)

/* The same with AVX-512 where the CPU has it: 8 output channels x NV
 * vectors of 16 pixels, the weights broadcast straight from memory. The
 * packed weights of channel blocks ob and ob + 1 (wa, wb) serve as one
 * block of eight. Vector v reads input at pin + v vs and writes out + v os:
 * two pieces of one row (vs = os = 16) or, for 16-pixel rows, two rows. */
#define DIRECT_KERNEL512(NV)                                                                                   \
	__attribute__((target("avx512f"))) static void direct_z##NV(const float *pin, size_t cstride, int wp,   \
								    int cin, const float *wa, const float *wb,  \
								    float *out, size_t ostride, int vs, int os) \
	{                                                                                                      \
		__m512 acc[8][NV];                                                                             \
		_Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)                                            \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[j][v] = _mm512_setzero_ps();          \
		for (int i = 0; i < cin; i++, pin += cstride, wa += 36, wb += 36) {                            \
			_Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ky++)                                 \
			_Pragma("GCC unroll 3") for (int kx = 0; kx < 3; kx++)                                 \
			{                                                                                      \
				const float *row = pin + (size_t)ky * wp + kx;                                 \
				int t = (ky * 3 + kx) * 4;                                                     \
				__m512 x[NV];                                                                  \
				_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) x[v] =                    \
					_mm512_loadu_ps(row + (size_t)vs * v);                                 \
				_Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)                            \
				{                                                                              \
					__m512 b = _mm512_set1_ps(j < 4 ? wa[t + j] : wb[t + j - 4]);          \
					_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[j][v] =       \
						_mm512_fmadd_ps(b, x[v], acc[j][v]);                           \
				}                                                                              \
			}                                                                                      \
		}                                                                                              \
		_Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)                                            \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)                                           \
			_mm512_storeu_ps(out + j * ostride + (size_t)os * v, acc[j][v]);                       \
	}
DIRECT_KERNEL512(1)
DIRECT_KERNEL512(2)

int ls_conv_avx512 = -1;

static int use512(int cout, int w)
{
	if (ls_conv_avx512 < 0) {
		const char *e = getenv("LANDSHIFT_AVX512");
		ls_conv_avx512 = !!__builtin_cpu_supports("avx512f") && !(e && !strcmp(e, "0"));
	}
	return ls_conv_avx512 && cout % 8 == 0 && w % 16 == 0;
}

/* Zero-padded copy of input rows r0-1 .. r1 of x [cin][h][w]: [cin][rows][wp]. */
static void direct_pad(const float *x, int cin, int h, int w, int r0, int r1, float *pad)
{
	int wp = w + 2 * DPAD, rows = r1 - r0 + 2;
	size_t cstride = (size_t)rows * wp, plane = (size_t)h * w;
	for (int i = 0; i < cin; i++)
		for (int r = 0; r < rows; r++) {
			float *d = pad + i * cstride + (size_t)r * wp;
			int iy = r0 - 1 + r;
			memset(d, 0, DPAD * sizeof *d);
			memset(d + DPAD + w, 0, DPAD * sizeof *d);
			if (iy < 0 || iy >= h)
				memset(d + DPAD, 0, w * sizeof *d);
			else
				memcpy(d + DPAD, x + i * plane + (size_t)iy * w, w * sizeof *d);
		}
}

/* Output rows [r0, r1) of one image: x [cin][h][w] -> y [cout][h][w]. */
static void direct_band(const float *x, int cin, int h, int w, const float *wk, int cout, float *y, int r0, int r1,
			float *pad)
{
	int wp = w + 2 * DPAD, rows = r1 - r0 + 2;
	size_t cstride = (size_t)rows * wp, plane = (size_t)h * w;
	direct_pad(x, cin, h, w, r0, r1, pad);
	if (use512(cout, w)) {
		int two = w == 16;	/* 16-pixel rows go two at a time */
		for (int yy = r0; yy < r1; yy += two && yy + 1 < r1 ? 2 : 1)
			for (int ob = 0; ob < cout / 4; ob += 2) {
				const float *wa = wk + (size_t)ob * cin * 36, *wb = wa + (size_t)cin * 36;
				float *out = y + (size_t)ob * 4 * plane + (size_t)yy * w;
				const float *pin = pad + (size_t)(yy - r0) * wp + DPAD - 1;
				int xs = 0;
				if (two && yy + 1 < r1) {
					direct_z2(pin, cstride, wp, cin, wa, wb, out, plane, wp, w);
					continue;
				}
				for (; xs + 32 <= w; xs += 32)
					direct_z2(pin + xs, cstride, wp, cin, wa, wb, out + xs, plane, 16, 16);
				if (xs < w)
					direct_z1(pin + xs, cstride, wp, cin, wa, wb, out + xs, plane, 16, 16);
			}
		return;
	}
	for (int yy = r0; yy < r1; yy++)
		for (int ob = 0; ob < cout / 4; ob++) {
			const float *wb = wk + (size_t)ob * cin * 36;
			float *out = y + (size_t)ob * 4 * plane + (size_t)yy * w;
			const float *pin = pad + (size_t)(yy - r0) * wp + DPAD - 1;
			int xs = 0;
			for (; xs + 16 <= w; xs += 16)
				direct_k2(pin + xs, cstride, wp, cin, wb, out + xs, plane);
			if (w - xs == 8)
				direct_k1(pin + xs, cstride, wp, cin, wb, out + xs, plane);
		}
}

/* ---- the direct 3x3 kernel in bfloat16 (inference, --precision bf16) ----
 * Inputs and weights rounded to bfloat16 (8 bits of mantissa), products
 * summed in float by AVX-512 BF16's dot product of channel pairs: one
 * instruction does 32 multiply-adds where the float kernel's FMA does 16.
 * The padded band holds channel pairs interleaved, [cin/2][rows][wp] of
 * 32-bit pairs (the even channel in the low half); the weights are packed
 * as [cout/4][cin/2][9][4] pairs. An odd last channel pairs with zero. */

static void direct_pack_bf16(const float *w, int ci, int co, uint32_t *p)
{
	int cin2 = (ci + 1) / 2;
	for (int ob = 0; ob < co / 4; ob++)
		for (int i = 0; i < cin2; i++)
			for (int t = 0; t < 9; t++)
				for (int j = 0; j < 4; j++) {
					const float *wo = w + (size_t)(ob * 4 + j) * ci * 9;
					uint32_t lo = bf16_bits(wo[(size_t)2 * i * 9 + t]);
					uint32_t hi = 2 * i + 1 < ci ? bf16_bits(wo[(size_t)(2 * i + 1) * 9 + t]) : 0;
					p[(((size_t)ob * cin2 + i) * 9 + t) * 4 + j] = lo | hi << 16;
				}
}

/* The channel pairs of rows r0-1 .. r1, zero-padded: two rows of 16 floats
 * to bfloat16 (rounded to nearest even) by one instruction, interleaved by
 * a permutation; an odd last channel pairs with zero. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void direct_pad_bf16(const float *x, int cin, int h,
										 int w, int r0, int r1,
										 uint32_t *pad)
{
	int wp = w + 2 * DPAD, rows = r1 - r0 + 2, cin2 = (cin + 1) / 2;
	size_t cstride = (size_t)rows * wp, plane = (size_t)h * w;
	static const short perm[32] = { 0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
					8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31 };
	const __m512i idx = _mm512_loadu_si512(perm);
	for (int i = 0; i < cin2; i++)
		for (int r = 0; r < rows; r++) {
			uint32_t *d = pad + i * cstride + (size_t)r * wp;
			int iy = r0 - 1 + r;
			memset(d, 0, DPAD * sizeof *d);
			memset(d + DPAD + w, 0, DPAD * sizeof *d);
			if (iy < 0 || iy >= h) {
				memset(d + DPAD, 0, w * sizeof *d);
				continue;
			}
			const float *a = x + 2 * i * plane + (size_t)iy * w, *b = 2 * i + 1 < cin ? a + plane : NULL;
			for (int xs = 0; xs < w; xs += 16) {
				__m512 hi = b ? _mm512_loadu_ps(b + xs) : _mm512_setzero_ps();
				__m512i v = (__m512i)_mm512_cvtne2ps_pbh(hi, _mm512_loadu_ps(a + xs));
				_mm512_storeu_si512(d + DPAD + xs, _mm512_permutexvar_epi16(idx, v));
			}
		}
}

/* acc[8 channels][NV vectors of 16 pixels] += the dot products of channel
 * pairs over cin2 pairs and the 3x3 taps; wa, wb: channel blocks ob, ob + 1. */
#define DIRECT_KERNEL_BF16(NV)                                                                                 \
	__attribute__((target("avx512f,avx512bf16"))) static void direct_b##NV(                               \
		const uint32_t *pin, size_t cstride, int wp, int cin2, const uint32_t *wa, const uint32_t *wb, \
		float *out, size_t ostride)                                                                    \
	{                                                                                                      \
		__m512 acc[8][NV];                                                                             \
		_Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)                                            \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[j][v] = _mm512_setzero_ps();          \
		for (int i = 0; i < cin2; i++, pin += cstride, wa += 36, wb += 36) {                           \
			_Pragma("GCC unroll 3") for (int ky = 0; ky < 3; ky++)                                 \
			_Pragma("GCC unroll 3") for (int kx = 0; kx < 3; kx++)                                 \
			{                                                                                      \
				const uint32_t *row = pin + (size_t)ky * wp + kx;                              \
				int t = (ky * 3 + kx) * 4;                                                     \
				__m512bh x[NV];                                                                \
				_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) x[v] =                    \
					(__m512bh)_mm512_loadu_si512(row + 16 * v);                            \
				_Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)                            \
				{                                                                              \
					__m512bh b = (__m512bh)_mm512_set1_epi32(                              \
						(int)(j < 4 ? wa[t + j] : wb[t + j - 4]));                     \
					_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[j][v] =       \
						_mm512_dpbf16_ps(acc[j][v], b, x[v]);                          \
				}                                                                              \
			}                                                                                      \
		}                                                                                              \
		_Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)                                            \
		_Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)                                           \
			_mm512_storeu_ps(out + j * ostride + 16 * v, acc[j][v]);                               \
	}
DIRECT_KERNEL_BF16(1)
DIRECT_KERNEL_BF16(2)

static void direct_band_bf16(const float *x, int cin, int h, int w, const uint32_t *wk, int cout, float *y, int r0,
			     int r1, uint32_t *pad)
{
	int wp = w + 2 * DPAD, rows = r1 - r0 + 2, cin2 = (cin + 1) / 2;
	size_t cstride = (size_t)rows * wp, plane = (size_t)h * w;
	direct_pad_bf16(x, cin, h, w, r0, r1, pad);
	for (int yy = r0; yy < r1; yy++)
		for (int ob = 0; ob < cout / 4; ob += 2) {
			const uint32_t *wa = wk + (size_t)ob * cin2 * 36, *wb = wa + (size_t)cin2 * 36;
			float *out = y + (size_t)ob * 4 * plane + (size_t)yy * w;
			const uint32_t *pin = pad + (size_t)(yy - r0) * wp + DPAD - 1;
			int xs = 0;
			for (; xs + 32 <= w; xs += 32)
				direct_b2(pin + xs, cstride, wp, cin2, wa, wb, out + xs, plane);
			if (xs < w)
				direct_b1(pin + xs, cstride, wp, cin2, wa, wb, out + xs, plane);
		}
}

static float hsum8(__m256 v)
{
	__m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	a = _mm_add_ps(a, _mm_movehl_ps(a, a));
	a = _mm_add_ss(a, _mm_movehdup_ps(a));
	return _mm_cvtss_f32(a);
}

/* Weight gradient over output rows [r0, r1) of one image: dw [cout][cin][9]
 * += sum over pixels of dy[o][p] * x[i][p + tap]. For 4 output channels
 * and one (input channel, kernel row): 12 accumulators of 8 pixels. */
static void direct_dw_band(const float *x, int cin, int h, int w, const float *dy, int cout, int r0, int r1,
			   float *pad, float *dw)
{
	int wp = w + 2 * DPAD, rows = r1 - r0 + 2;
	size_t cstride = (size_t)rows * wp, plane = (size_t)h * w;
	direct_pad(x, cin, h, w, r0, r1, pad);
	for (int ob = 0; ob < cout / 4; ob++)
		for (int i = 0; i < cin; i++)
			for (int ky = 0; ky < 3; ky++) {
				__m256 acc[4][3];
				_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)
				_Pragma("GCC unroll 3") for (int k = 0; k < 3; k++) acc[j][k] = _mm256_setzero_ps();
				for (int yy = r0; yy < r1; yy++) {
					const float *xr = pad + i * cstride + (size_t)(yy - r0 + ky) * wp + DPAD - 1;
					const float *d = dy + (size_t)ob * 4 * plane + (size_t)yy * w;
					for (int xs = 0; xs < w; xs += 8) {
						__m256 x0 = _mm256_loadu_ps(xr + xs), x1 = _mm256_loadu_ps(xr + xs + 1),
						       x2 = _mm256_loadu_ps(xr + xs + 2);
						_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)
						{
							__m256 g = _mm256_loadu_ps(d + j * plane + xs);
							acc[j][0] = _mm256_fmadd_ps(g, x0, acc[j][0]);
							acc[j][1] = _mm256_fmadd_ps(g, x1, acc[j][1]);
							acc[j][2] = _mm256_fmadd_ps(g, x2, acc[j][2]);
						}
					}
				}
				for (int j = 0; j < 4; j++)
					for (int k = 0; k < 3; k++)
						dw[((size_t)(ob * 4 + j) * cin + i) * 9 + ky * 3 + k] += hsum8(acc[j][k]);
			}
}

/* Sixteen vectors to the vector of their sums, in the order given; the
 * caller passes them transposed (v[4 * (n % 4) + n / 4] for sum n). */
#define SHUF4(a, b, imm) _mm512_shuffle_f32x4(a, b, imm)
__attribute__((target("avx512f"))) static inline __m512 sum16(const __m512 *v)
{
	__m512 c[8], d[4], e[2];
	for (int p = 0; p < 8; p++)
		c[p] = _mm512_add_ps(SHUF4(v[2 * p], v[2 * p + 1], 0x44), SHUF4(v[2 * p], v[2 * p + 1], 0xEE));
	for (int q = 0; q < 4; q++)
		d[q] = _mm512_add_ps(SHUF4(c[2 * q], c[2 * q + 1], 0x88), SHUF4(c[2 * q], c[2 * q + 1], 0xDD));
	for (int r = 0; r < 2; r++)
		e[r] = _mm512_add_ps(_mm512_shuffle_ps(d[2 * r], d[2 * r + 1], 0x44),
				     _mm512_shuffle_ps(d[2 * r], d[2 * r + 1], 0xEE));
	return _mm512_add_ps(_mm512_shuffle_ps(e[0], e[1], 0x88), _mm512_shuffle_ps(e[0], e[1], 0xDD));
}

/* The weight gradient with AVX-512: 8 output channels x 3 taps x 16 pixels,
 * over `imgs` images (rows [r0, r1) of each). The 8 channels of dY are
 * first interleaved into one stream, [pixel/16][channel][16], that the
 * kernel reads sequentially from L1 (8 planes 256 KB apart share L1 sets).
 * The 24 sums of an (input channel, kernel row) go to dwb, laid out
 * [cout/8][cin][3][8][3], by a transposing reduction. */
__attribute__((target("avx512f"))) static void direct_dw_band512(const float *x, int cin, int h, int w,
								  const float *dy, int cout, int imgs, int r0,
								  int r1, float *pad, float *dwb)
{
	int wp = w + 2 * DPAD, rows = r1 - r0 + 2, nv = w / 16;
	size_t cstride = (size_t)rows * wp, plane = (size_t)h * w, istride = (size_t)cin * cstride;
	float *gp = pad + (((size_t)imgs * istride + 15) & ~(size_t)15);
	for (int m = 0; m < imgs; m++)
		direct_pad(x + (size_t)m * cin * plane, cin, h, w, r0, r1, pad + m * istride);
	for (int ob = 0; ob < cout / 8; ob++) {
		float *g = gp;
		for (int m = 0; m < imgs; m++)
			for (int yy = r0; yy < r1; yy++)
				for (int v = 0; v < nv; v++)
					for (int j = 0; j < 8; j++, g += 16)
						_mm512_store_ps(g, _mm512_loadu_ps(dy + ((size_t)m * cout + ob * 8 + j) * plane +
										   (size_t)yy * w + v * 16));
		for (int i = 0; i < cin; i++)
			for (int ky = 0; ky < 3; ky++) {
				__m512 acc[8][3];
				_Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)
				_Pragma("GCC unroll 3") for (int k = 0; k < 3; k++) acc[j][k] = _mm512_setzero_ps();
				g = gp;
				for (int m = 0; m < imgs; m++)
					for (int yy = r0; yy < r1; yy++) {
						const float *xr = pad + m * istride + i * cstride + (size_t)(yy - r0 + ky) * wp + DPAD - 1;
						for (int xs = 0; xs < w; xs += 16, g += 128) {
							__m512 x0 = _mm512_loadu_ps(xr + xs), x1 = _mm512_loadu_ps(xr + xs + 1),
							       x2 = _mm512_loadu_ps(xr + xs + 2);
							_Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)
							{
								__m512 gj = _mm512_load_ps(g + j * 16);
								acc[j][0] = _mm512_fmadd_ps(gj, x0, acc[j][0]);
								acc[j][1] = _mm512_fmadd_ps(gj, x1, acc[j][1]);
								acc[j][2] = _mm512_fmadd_ps(gj, x2, acc[j][2]);
							}
						}
					}
				/* sums n = 3 j + k: 0..15, then 16..23 */
				__m512 t[16], z = _mm512_setzero_ps();
				_Pragma("GCC unroll 16") for (int n = 0; n < 16; n++)
				{
					int a = 4 * (n % 4) + n / 4;
					t[n] = acc[a / 3][a % 3];
				}
				float *o = dwb + (((size_t)ob * cin + i) * 3 + ky) * 24;
				_mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), sum16(t)));
				_Pragma("GCC unroll 16") for (int n = 0; n < 16; n++)
				{
					int a = 16 + 4 * (n % 4) + n / 4;
					t[n] = a < 24 ? acc[a / 3][a % 3] : z;
				}
				__m256 s8 = _mm512_castps512_ps256(sum16(t));
				_mm256_storeu_ps(o + 16, _mm256_add_ps(_mm256_loadu_ps(o + 16), s8));
			}
	}
}

/* dw_part[thread] += weight gradient of a 3x3 same convolution, images and
 * row bands spread over the threads. With AVX-512 the partial sums are
 * blocked ([cout/8][cin][3][8][3]; returns 1) for direct_dw_unblock. */
static int direct_dw(const float *x, int n, int cin, int h, int w, const float *dy, int cout, float *dw_part,
		     size_t nw, float *ws, size_t wsz)
{
	int imgs, rows;
	dw_item(h, w, &imgs, &rows);
	int nb = (h + rows - 1) / rows, ng = (n + imgs - 1) / imgs, items = ng * nb, wide = use512(cout, w);
#pragma omp parallel for schedule(static) if (items > 1 && ls_nthreads > 1)
	for (int it = 0; it < items; it++) {
		int gi = it / nb, b = it % nb, r0 = b * rows, r1 = r0 + rows > h ? h : r0 + rows, t = omp_get_thread_num();
		int i0 = gi * imgs, ni = i0 + imgs > n ? n - i0 : imgs;
		if (wide) {
			direct_dw_band512(x + (size_t)i0 * cin * h * w, cin, h, w, dy + (size_t)i0 * cout * h * w, cout, ni,
					  r0, r1, ws + (size_t)t * wsz, dw_part + (size_t)t * nw);
		} else {
			for (int i = i0; i < i0 + ni; i++)
				direct_dw_band(x + (size_t)i * cin * h * w, cin, h, w, dy + (size_t)i * cout * h * w, cout,
					       r0, r1, ws + (size_t)t * wsz, dw_part + (size_t)t * nw);
		}
	}
	return wide;
}

/* g [cout][cin][3][3] += the threads' blocked partial sums */
static void direct_dw_unblock(float *g, const float *dw_part, int nt, size_t nw, int cin, int cout)
{
	for (int ob = 0; ob < cout / 8; ob++)
		for (int i = 0; i < cin; i++)
			for (int ky = 0; ky < 3; ky++)
				for (int j = 0; j < 8; j++)
					for (int k = 0; k < 3; k++) {
						size_t bi = ((((size_t)ob * cin + i) * 3 + ky) * 8 + j) * 3 + k;
						float sum = 0;
						for (int t = 0; t < nt; t++)
							sum += dw_part[(size_t)t * nw + bi];
						g[((size_t)(ob * 8 + j) * cin + i) * 9 + ky * 3 + k] += sum;
					}
}

/* y = relu(y * scale[o] + shift[o]) over rows [r0, r1) of one image's cout planes */
static void affine_rows(float *y, int cout, size_t plane, int w, int r0, int r1, const float *scale,
			const float *shift, int relu)
{
	for (int o = 0; o < cout; o++) {
		float *p = y + o * plane + (size_t)r0 * w;
		ls_affine(p, p, (size_t)(r1 - r0) * w, scale[o], shift[o], relu);
	}
}

/* y[n][cout][h][w] = conv3x3(x[n][cin][h][w]) with packed weights, and the
 * affine (scale not NULL) applied to each band; images and row bands spread
 * over the threads. */
static void direct_conv(const float *x, int n, int cin, int h, int w, const float *wk, int cout, float *y,
			float *ws, size_t wsz, int bf16, const float *scale, const float *shift, int relu)
{
	int rows = direct_rows(w), nb = (h + rows - 1) / rows, items = n * nb;
	if (ls_nthreads > 1 && items < 2 * ls_nthreads) {	/* few images (encode takes one tile): thinner bands */
		int per = (2 * ls_nthreads + n - 1) / n;
		rows = (h + per - 1) / per;
		nb = (h + rows - 1) / rows;
		items = n * nb;
	}
	ls_blas_threads(1);
#pragma omp parallel for schedule(static) if (items > 1 && ls_nthreads > 1)
	for (int it = 0; it < items; it++) {
		int i = it / nb, b = it % nb, r0 = b * rows, r1 = r0 + rows > h ? h : r0 + rows;
		float *pad = ws + (size_t)omp_get_thread_num() * wsz;
		if (bf16)
			direct_band_bf16(x + (size_t)i * cin * h * w, cin, h, w, (const uint32_t *)wk, cout,
					 y + (size_t)i * cout * h * w, r0, r1, (uint32_t *)pad);
		else
			direct_band(x + (size_t)i * cin * h * w, cin, h, w, wk, cout, y + (size_t)i * cout * h * w, r0,
				    r1, pad);
		if (scale)	/* the band's output is still in cache */
			affine_rows(y + (size_t)i * cout * h * w, cout, (size_t)h * w, w, r0, r1, scale, shift, relu);
	}
}
#endif

size_t ls_conv_ws(const struct ls_conv *c, int h, int w)
{
	int ho = ls_conv_out(h, c->k, c->stride, c->pad), wo = ls_conv_out(w, c->k, c->stride, c->pad);
	int rows = chunk_rows(wo);
	if (rows > ho)
		rows = ho;
	int ch = c->ci > c->co ? c->ci : c->co;
	if (is_1x1(c))
		return 1;
	/* im2col of x (ci rows) or of dY (co rows), one band of rows; col2im needs
	 * a whole-image band too */
	size_t band = (size_t)ch * c->k * c->k * rows * wo;
	size_t d = direct_ws(c->ci > c->co ? c->ci : c->co, h, w), m = band > d ? band : d;
	return (m + 15) & ~(size_t)15;	/* each thread's share starts 64-byte aligned */
}

/* Columns for output rows [r0, r1) of one image x [ci][h][w]. */
static void im2col(const real *x, int ci, int h, int w, int k, int s, int pad, int r0, int r1, int wo, real *col)
{
	size_t p = (size_t)(r1 - r0) * wo;
	for (int c = 0; c < ci; c++)
		for (int ky = 0; ky < k; ky++)
			for (int kx = 0; kx < k; kx++) {
				real *dst = col + ((size_t)(c * k + ky) * k + kx) * p;
				const real *src = x + (size_t)c * h * w;
				for (int y = r0; y < r1; y++, dst += wo) {
					int iy = y * s - pad + ky;
					if (iy < 0 || iy >= h) {
						memset(dst, 0, wo * sizeof *dst);
						continue;
					}
					const real *row = src + (size_t)iy * w;
					if (s == 1) {
						int x0 = pad - kx, xa = x0 > 0 ? x0 : 0;	/* first x with ix >= 0 */
						int xb = w + pad - kx;				/* first x with ix >= w */
						if (xb > wo)
							xb = wo;
						if (xa > wo)
							xa = wo;
						for (int xx = 0; xx < xa; xx++)
							dst[xx] = 0;
						if (xb > xa)
							memcpy(dst + xa, row + xa - pad + kx, (xb - xa) * sizeof *dst);
						for (int xx = xb > xa ? xb : xa; xx < wo; xx++)
							dst[xx] = 0;
					} else {
						for (int xx = 0; xx < wo; xx++) {
							int ix = xx * s - pad + kx;
							dst[xx] = ix >= 0 && ix < w ? row[ix] : 0;
						}
					}
				}
			}
}

/* Scatter-add columns for output rows [r0, r1) back into dx [ci][h][w]. */
static void col2im(const real *col, int ci, int h, int w, int k, int s, int pad, int r0, int r1, int wo, real *dx)
{
	size_t p = (size_t)(r1 - r0) * wo;
	for (int c = 0; c < ci; c++)
		for (int ky = 0; ky < k; ky++)
			for (int kx = 0; kx < k; kx++) {
				const real *src = col + ((size_t)(c * k + ky) * k + kx) * p;
				real *img = dx + (size_t)c * h * w;
				for (int y = r0; y < r1; y++, src += wo) {
					int iy = y * s - pad + ky;
					if (iy < 0 || iy >= h)
						continue;
					for (int xx = 0; xx < wo; xx++) {
						int ix = xx * s - pad + kx;
						if (ix >= 0 && ix < w)
							img[(size_t)iy * w + ix] += src[xx];
					}
				}
			}
}

/* Images of a batch go to separate threads; a single image uses the
 * threads inside its products when they are large enough to pay. */
static int parallel_images(int n, size_t pixels)
{
	int par = n > 1 && ls_nthreads > 1;
	ls_blas_threads(par || pixels < 16384 ? 1 : ls_nthreads);
	return par;
}

static void forward_image(const struct ls_conv *c, const real *x, int h, int w, real *y, int ho, int wo, real *col)
{
	int K = c->ci * c->k * c->k;
	size_t hwo = (size_t)ho * wo;
	if (is_1x1(c)) {
		ls_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->co, (int)hwo, c->ci, 1, c->w->w, c->ci, x,
			(int)hwo, 0, y, (int)hwo);
	} else {
		int rows = chunk_rows(wo);
		for (int r0 = 0; r0 < ho; r0 += rows) {
			int r1 = r0 + rows > ho ? ho : r0 + rows, p = (r1 - r0) * wo;
			im2col(x, c->ci, h, w, c->k, c->stride, c->pad, r0, r1, wo, col);
			ls_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->co, p, K, 1, c->w->w, K, col, p, 0,
				y + (size_t)r0 * wo, (int)hwo);
		}
	}
	if (c->b)
		for (int o = 0; o < c->co; o++) {
			real b = c->b->w[o], *yo = y + o * hwo;
			for (size_t i = 0; i < hwo; i++)
				yo[i] += b;
		}
}

#ifndef LS_DOUBLE
/* The weights packed for the direct kernel (bfloat16 pairs where asked and
 * the shape takes the AVX-512 kernel), then the convolution. */
static void direct_forward(const struct ls_conv *c, const struct ls_t4 *x, struct ls_t4 *y, real *ws, size_t wsz,
			   const real *scale, const real *shift, int relu)
{
	int bf16 = ls_conv_bf16 && use512(c->co, x->w);
	if (bf16)	/* the pairs fit in wpackT, which a backward pass repacks before use */
		direct_pack_bf16(c->w->w, c->ci, c->co, (uint32_t *)c->wpackT);
	else
		direct_pack(c->w->w, c->ci, c->co, c->wpack, 0);
	direct_conv(x->d, x->n, c->ci, x->h, x->w, bf16 ? c->wpackT : c->wpack, c->co, y->d, ws, wsz, bf16, scale, shift,
		    relu);
}
#endif

void ls_conv_forward(const struct ls_conv *c, const struct ls_t4 *x, struct ls_t4 *y, real *ws)
{
	int ho = ls_conv_out(x->h, c->k, c->stride, c->pad), wo = ls_conv_out(x->w, c->k, c->stride, c->pad);
	size_t wsz = ls_conv_ws(c, x->h, x->w);
	y->n = x->n;
	y->c = c->co;
	y->h = ho;
	y->w = wo;
	double t0 = ls_prof_on ? ls_prof_now() : 0;
#ifndef LS_DOUBLE
	if (direct_ok(c->k, c->stride, c->pad, c->ci, c->co, x->w)) {
		direct_forward(c, x, y, ws, wsz, NULL, NULL, 0);
		if (c->b)
			for (int i = 0; i < x->n; i++)
				for (int o = 0; o < c->co; o++) {
					real b = c->b->w[o], *yo = ls_t4_img(y, i) + (size_t)o * ho * wo;
					for (size_t p = 0; p < (size_t)ho * wo; p++)
						yo[p] += b;
				}
		if (ls_prof_on)
			ls_prof_t[LS_P_CONV_F] += ls_prof_now() - t0;
		return;
	}
#endif
	int par = parallel_images(x->n, (size_t)ho * wo);
#pragma omp parallel for schedule(static) if (par)
	for (int i = 0; i < x->n; i++)
		forward_image(c, ls_t4_img(x, i), x->h, x->w, ls_t4_img(y, i), ho, wo,
			      ws + (size_t)omp_get_thread_num() * wsz);
	if (ls_prof_on)
		ls_prof_t[LS_P_CONV_F] += ls_prof_now() - t0;
}

int ls_conv_forward_affine(const struct ls_conv *c, const struct ls_t4 *x, struct ls_t4 *y, real *ws, const real *scale,
			   const real *shift, int relu)
{
#ifndef LS_DOUBLE
	if (c->b || !direct_ok(c->k, c->stride, c->pad, c->ci, c->co, x->w))
		return 0;
	size_t wsz = ls_conv_ws(c, x->h, x->w);
	*y = ls_t4_make(y->d, x->n, c->co, x->h, x->w);
	double t0 = ls_prof_on ? ls_prof_now() : 0;
	direct_forward(c, x, y, ws, wsz, scale, shift, relu);
	if (ls_prof_on)
		ls_prof_t[LS_P_CONV_F] += ls_prof_now() - t0;
	return 1;
#else
	(void)c, (void)x, (void)y, (void)ws, (void)scale, (void)shift, (void)relu;
	return 0;
#endif
}

static void flip_weights(struct ls_conv *c)
{
	int k2 = c->k * c->k;
	for (int o = 0; o < c->co; o++)
		for (int i = 0; i < c->ci; i++)
			for (int t = 0; t < k2; t++)
				c->wflip[((size_t)i * c->co + o) * k2 + (k2 - 1 - t)] = c->w->w[((size_t)o * c->ci + i) * k2 + t];
}

/* dW += dY . colᵀ for one image. */
static void backward_dw(const struct ls_conv *c, const real *x, int h, int w, const real *dy, int ho, int wo, real *col,
			real *dw)
{
	int K = c->ci * c->k * c->k;
	size_t hwo = (size_t)ho * wo;
	int rows = chunk_rows(wo);
	if (is_1x1(c)) {
		ls_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->co, c->ci, (int)hwo, 1, dy, (int)hwo, x, (int)hwo, 1,
			dw, c->ci);
		return;
	}
	for (int r0 = 0; r0 < ho; r0 += rows) {
		int r1 = r0 + rows > ho ? ho : r0 + rows, p = (r1 - r0) * wo;
		im2col(x, c->ci, h, w, c->k, c->stride, c->pad, r0, r1, wo, col);
		ls_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->co, K, p, 1, dy + (size_t)r0 * wo, (int)hwo, col, p, 1,
			dw, K);
	}
}

/* dX for one image. */
static void backward_dx(const struct ls_conv *c, int h, int w, const real *dy, int ho, int wo, real *dx, real *col)
{
	int K = c->ci * c->k * c->k;
	size_t hwo = (size_t)ho * wo, hw = (size_t)h * w;
	int rows = chunk_rows(wo);
	if (is_1x1(c)) {
		ls_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, c->ci, (int)hw, c->co, 1, c->w->w, c->ci, dy, (int)hwo,
			0, dx, (int)hw);
	} else if (same_s1(c)) {
		int Kt = c->co * c->k * c->k, rw = chunk_rows(w);
		for (int r0 = 0; r0 < h; r0 += rw) {
			int r1 = r0 + rw > h ? h : r0 + rw, p = (r1 - r0) * w;
			im2col(dy, c->co, ho, wo, c->k, 1, c->pad, r0, r1, w, col);
			ls_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->ci, p, Kt, 1, c->wflip, Kt, col, p, 0,
				dx + (size_t)r0 * w, (int)hw);
		}
	} else {
		memset(dx, 0, (size_t)c->ci * hw * sizeof *dx);
		for (int r0 = 0; r0 < ho; r0 += rows) {
			int r1 = r0 + rows > ho ? ho : r0 + rows, p = (r1 - r0) * wo;
			ls_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, p, c->co, 1, c->w->w, K, dy + (size_t)r0 * wo,
				(int)hwo, 0, col, p);
			col2im(col, c->ci, h, w, c->k, c->stride, c->pad, r0, r1, wo, dx);
		}
	}
}

void ls_conv_backward(struct ls_conv *c, const struct ls_t4 *x, const struct ls_t4 *dy, struct ls_t4 *dx, real *ws)
{
	size_t wsz = ls_conv_ws(c, x->h, x->w), nw = c->w->n;
	int nt = ls_nthreads;
	if (c->nparts < nt) {
		free(c->dw_part);
		c->dw_part = ls_alloc_real(nw * nt);
		c->nparts = nt;
	}
	memset(c->dw_part, 0, nw * nt * sizeof(real));
	if (dx) {
		dx->n = x->n;
		dx->c = x->c;
		dx->h = x->h;
		dx->w = x->w;
		if (same_s1(c) && !is_1x1(c))
			flip_weights(c);
	}
	int par = parallel_images(x->n, (size_t)x->h * x->w), blocked = 0;
	(void)blocked;
	double t0 = ls_prof_on ? ls_prof_now() : 0;
#ifndef LS_DOUBLE
	if (direct_ok(c->k, c->stride, c->pad, c->ci, c->co, x->w))
		blocked = direct_dw(x->d, x->n, c->ci, x->h, x->w, dy->d, c->co, c->dw_part, nw, ws, wsz);
	else
#endif
#pragma omp parallel for schedule(static) if (par)
	for (int i = 0; i < x->n; i++) {
		int t = omp_get_thread_num();
		backward_dw(c, ls_t4_img(x, i), x->h, x->w, ls_t4_img(dy, i), dy->h, dy->w, ws + (size_t)t * wsz,
			    c->dw_part + (size_t)t * nw);
	}
	if (ls_prof_on)
		ls_prof_t[LS_P_CONV_DW] += ls_prof_now() - t0;
	if (dx) {
		t0 = ls_prof_on ? ls_prof_now() : 0;
#ifndef LS_DOUBLE
		if (direct_ok(c->k, c->stride, c->pad, c->co, c->ci, x->w)) {
			direct_pack(c->w->w, c->ci, c->co, c->wpackT, 1);
			direct_conv(dy->d, x->n, c->co, x->h, x->w, c->wpackT, c->ci, dx->d, ws, wsz, 0, NULL, NULL, 0);
			if (ls_prof_on)
				ls_prof_t[LS_P_CONV_DX] += ls_prof_now() - t0;
			goto bias;
		}
#endif
#pragma omp parallel for schedule(static) if (par)
		for (int i = 0; i < x->n; i++)
			backward_dx(c, x->h, x->w, ls_t4_img(dy, i), dy->h, dy->w, ls_t4_img(dx, i),
				    ws + (size_t)omp_get_thread_num() * wsz);
		if (ls_prof_on)
			ls_prof_t[LS_P_CONV_DX] += ls_prof_now() - t0;
	}
#ifndef LS_DOUBLE
bias:
	if (blocked)
		direct_dw_unblock(c->w->g, c->dw_part, nt, nw, c->ci, c->co);
	else
#endif
		for (int t = 0; t < nt; t++)
			for (size_t j = 0; j < nw; j++)
				c->w->g[j] += c->dw_part[(size_t)t * nw + j];
	if (c->b) {
		size_t hwo = (size_t)dy->h * dy->w;
		for (int i = 0; i < dy->n; i++)
			for (int o = 0; o < c->co; o++) {
				const real *d = ls_t4_img(dy, i) + o * hwo;
				double s = 0;
				for (size_t p = 0; p < hwo; p++)
					s += d[p];
				c->b->g[o] += (real)s;
			}
	}
}
