/* conv.h - 2-D convolution through im2col + GEMM (OpenBLAS).
 *
 * Weights are [co][ci][k][k]. The column matrix is built for a band of
 * output rows at a time (about 16k pixels), so the workspace stays small
 * whatever the tile size. 1x1 convolutions skip im2col. For stride 1 and
 * "same" padding the input gradient is itself a convolution of dY with
 * the flipped, transposed weights, which keeps every product in the fast
 * GEMM shape (docs/methods.md, "Speed"); other shapes use col2im. Images of a
 * batch run on separate threads.
 *
 * 3x3 stride-1 "same" convolutions in float (UNet-S's every 3x3 layer)
 * bypass im2col: a direct AVX2/FMA kernel keeps 4 output channels x 16
 * pixels of one row in registers (AVX-512: 8 channels x 32 pixels) and
 * streams a zero-padded band of input rows past them; the input gradient
 * of those layers is the same kernel on the flipped weights. The weight
 * gradient has a direct kernel too (4 output channels x 3 taps x 8 pixels
 * of sums; AVX-512: 8 x 3 x 16). The kernels need the output channels in
 * fours and the width in eights; other shapes (and the double-precision
 * build of the gradient tests) take the GEMM path, and a test checks that
 * both paths agree. */
#ifndef LS_CONV_H
#define LS_CONV_H

#include "nn/nn.h"

struct ls_conv {
	int ci, co, k, stride, pad;
	struct ls_param *w, *b;	/* b is NULL without bias */
	real *wflip;		/* [ci][co][k][k], rebuilt by each backward */
	real *dw_part;		/* per-thread weight-gradient partial sums */
	int nparts;
	real *wpack;		/* direct kernel: weights as [co/4][ci][9][4] (forward) */
	real *wpackT;		/* ... and flipped as [ci/4][co][9][4] (input gradient) */
};

/* 0 turns the direct 3x3 kernel off (LANDSHIFT_DIRECT_CONV=0 does too). */
extern int ls_conv_direct;
/* The direct kernels use AVX-512 when the CPU has it (1), AVX2 otherwise
 * (0; LANDSHIFT_AVX512=0 forces it); -1 until the first convolution asks. */
extern int ls_conv_avx512;

/* 1: inference's direct 3x3 convolutions in bfloat16 (inputs and weights
 * rounded to 8 bits of mantissa, sums in float) where the CPU has AVX-512
 * BF16 and the shape takes the AVX-512 kernel; training keeps float. Set
 * it only where ls_conv_bf16_available() says so. */
extern int ls_conv_bf16;
int ls_conv_bf16_available(void);
/* f rounded to the nearest bfloat16 (what the kernel computes with). */
float ls_bf16_round(float f);

void ls_conv_init(struct ls_conv *c, struct ls_params *ps, const char *name, int ci, int co, int k, int stride,
		  int pad, int bias, struct ls_rng *rng);
void ls_conv_free(struct ls_conv *c);
int ls_conv_out(int in, int k, int stride, int pad);
/* Workspace (reals) that forward and backward need for an h x w input. */
size_t ls_conv_ws(const struct ls_conv *c, int h, int w);
void ls_conv_forward(const struct ls_conv *c, const struct ls_t4 *x, struct ls_t4 *y, real *ws);
/* y = relu(conv(x) * scale[o] + shift[o]) (relu 0: without the ReLU), the
 * per-channel affine applied to each band of rows while it is in cache (an
 * inference batch norm folded in); returns 0, doing nothing, where the
 * convolution does not take the direct kernel or has a bias. */
int ls_conv_forward_affine(const struct ls_conv *c, const struct ls_t4 *x, struct ls_t4 *y, real *ws, const real *scale,
			   const real *shift, int relu);
/* dx may be NULL (no input gradient, e.g. the first layer). */
void ls_conv_backward(struct ls_conv *c, const struct ls_t4 *x, const struct ls_t4 *dy, struct ls_t4 *dx, real *ws);

#endif
