/* bench-unet - UNet-S training and inference throughput, the same options
 * and output lines as ../shared/bench/torch_unet.py, plus achieved GFLOP/s,
 * the fraction of an OpenBLAS sgemm rate measured in the same run, and peak
 * memory. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/err.h"
#include "base/opt.h"
#include "nn/conv.h"
#include "nn/optim.h"
#include "nn/unet.h"

static int bands = 4, classes = 2, width = 16, tile = 256, batch = 8, steps = 5;

static const struct ls_opt opts[] = {
	{ "bands", LS_OPT_INT, &bands, "N", "input bands" },
	{ "classes", LS_OPT_INT, &classes, "N", "classes" },
	{ "width", LS_OPT_INT, &width, "N", "UNet-S base width W" },
	{ "tile", LS_OPT_INT, &tile, "N", "tile size" },
	{ "batch", LS_OPT_INT, &batch, "N", "tiles per batch" },
	{ "steps", LS_OPT_INT, &steps, "N", "timed steps" },
	{ 0 }
};

static const struct ls_cmd cmd = { "bench-unet", "UNet-S training and inference throughput (tiles per second)",
				   "[--bands N] [--classes N] [--width N] [--tile N] [--batch N] [--steps N] [--threads N]",
				   "bench-unet --threads 2", opts };

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static double conv_flops(const struct ls_conv *c, int h, int w)
{
	if (!c->w)
		return 0;
	return 2.0 * c->co * c->ci * c->k * c->k * h * w;
}

/* Forward FLOPs of one tile, and those of the first convolution (which
 * needs no input gradient in training). */
static double model_flops(const struct ls_unet *m, int h, int w, double *first)
{
	double f = conv_flops(&m->stem[0], h, w) + conv_flops(&m->head, h, w);
	*first = conv_flops(&m->stem[0], h, w);
	for (int l = 0; l < m->spec.depth; l++)
		for (int k = 0; k < 2; k++)
			f += conv_flops(&m->enc[l][k].conv, h >> l, w >> l) + conv_flops(&m->dec[l][k].conv, h >> l, w >> l);
	return f;
}

/* Aggregate sgemm rate with every thread running its own product, the way
 * the convolutions use them (64 x 576 x 4096, UNet-S's middle shape). */
static double sgemm_rate(void)
{
	int M = 64, K = 576, N = 4096, reps = 6;
	int nt = ls_nthreads;
	float *a = calloc((size_t)nt * M * K, 4), *b = calloc((size_t)nt * K * N, 4), *c = calloc((size_t)nt * M * N, 4);
	for (size_t i = 0; i < (size_t)nt * K * N; i++)
		b[i] = (float)(i % 7) * 0.1f;
	for (size_t i = 0; i < (size_t)nt * M * K; i++)
		a[i] = (float)(i % 5) * 0.1f;
	ls_blas_threads(1);
	double t0 = now();
#pragma omp parallel for schedule(static)
	for (int t = 0; t < nt; t++)
		for (int r = 0; r < reps; r++)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a + (size_t)t * M * K, K,
				    b + (size_t)t * K * N, N, 0, c + (size_t)t * M * N, N);
	double s = now() - t0;
	free(a);
	free(b);
	free(c);
	return 2.0 * M * N * K * reps * nt / s / 1e9;
}

int main(int argc, char **argv)
{
	struct ls_strlist pos;
	struct ls_unet m;
	struct ls_unet_act a;
	struct ls_unet_spec s;
	struct ls_optim o;
	struct ls_rng rng;
	char spec[256];
	ls_blas_init(argv);
	ls_opt_parse(&cmd, argc, argv, &pos);
	ls_threads_set(ls_threads);
	ls_prof_on = getenv("LANDSHIFT_PROFILE") != NULL;
	snprintf(spec, sizeof spec, "unet width=%d depth=4 classes=%d stem=bench:%d", width, classes, bands);
	if (ls_unet_spec_parse(&s, spec) < 0 || ls_unet_init(&m, &s, 1) < 0 || ls_unet_act_init(&a, &m, batch, tile, tile) < 0)
		ls_die_err();
	ls_rng_seed(&rng, 0);
	struct ls_t4 x = ls_t4_make(ls_alloc_real((size_t)batch * bands * tile * tile), batch, bands, tile, tile);
	uint8_t *lab = ls_xmalloc((size_t)batch * tile * tile);
	for (size_t i = 0; i < ls_t4_len(&x); i++)
		x.d[i] = (real)ls_rng_normal(&rng);
	for (size_t i = 0; i < (size_t)batch * tile * tile; i++)
		lab[i] = (uint8_t)(ls_rng_u64(&rng) % classes);
	ls_optim_defaults(&o, LS_ADAM, 1e-3);
	double t_train = 0, t_infer = 0;
	for (int i = 0; i <= steps; i++) {	/* step 0 warms up */
		double t0 = now();
		ls_params_zero_grad(&m.params);
		ls_unet_forward(&m, &a, &x, 0, 1);
		LS_PROF(LS_P_LOSS, ls_softmax_xent(&a.logits, lab, NULL, &a.dlogits, NULL));
		ls_unet_backward(&m, &a, &a.dlogits, NULL, 0);
		LS_PROF(LS_P_OPTIM, ls_optim_step(&o, &m.params));
		if (i)
			t_train += now() - t0;
		else
			memset(ls_prof_t, 0, sizeof ls_prof_t);
	}
	if (ls_prof_on)
		ls_prof_report("training", t_train);
	for (int i = 0; i <= steps; i++) {
		double t0 = now();
		ls_unet_forward(&m, &a, &x, 0, 0);
		if (i)
			t_infer += now() - t0;
		else
			memset(ls_prof_t, 0, sizeof ls_prof_t);
	}
	if (ls_prof_on)
		ls_prof_report("inference", t_infer);
	double t_bf16 = 0;	/* the same in bfloat16 (encode --precision bf16), where the CPU has it */
	if (ls_conv_bf16_available()) {
		ls_conv_bf16 = 1;
		for (int i = 0; i <= steps; i++) {
			double t0 = now();
			ls_unet_forward(&m, &a, &x, 0, 0);
			if (i)
				t_bf16 += now() - t0;
		}
		ls_conv_bf16 = 0;
	}
	double first, fwd = model_flops(&m, tile, tile, &first);
	double train_gf = (3 * fwd - first) * batch * steps / t_train / 1e9, infer_gf = fwd * batch * steps / t_infer / 1e9;
	double peak = sgemm_rate();
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("landshift threads=%d params=%zu tile=%d batch=%d workspace_mb=%.0f\n", ls_nthreads,
	       ls_params_count(&m.params) - 0, tile, batch, a.bytes / 1e6);
	printf("train_tiles_per_s %.2f\n", batch * steps / t_train);
	printf("infer_tiles_per_s %.2f\n", batch * steps / t_infer);
	if (t_bf16 > 0)
		printf("infer_bf16_tiles_per_s %.2f\n", batch * steps / t_bf16);
	printf("train_gflops %.1f infer_gflops %.1f sgemm_gflops %.1f train_fraction %.2f infer_fraction %.2f\n", train_gf,
	       infer_gf, peak, train_gf / peak, infer_gf / peak);
	printf("peak_rss_mb %.0f\n", ru.ru_maxrss / 1024.0);
	ls_unet_act_free(&a);
	ls_unet_free(&m);
	free(x.d);
	free(lab);
	return 0;
}
