/* nn.h - the learning core: tensors, parameters, threads.
 *
 * Tensors are NCHW, row-major, x fastest (struct ls_t4). The scalar type is
 * float; the gradient tests build the same sources with LS_DOUBLE to check
 * the analytic gradients against finite differences in double precision.
 * Layers are small structs with _forward/_backward functions that take
 * their buffers from the caller: a model sizes one workspace once and a
 * training step allocates nothing. Backward functions ADD parameter
 * gradients into their .g arrays (zeroed by ls_params_zero_grad) and WRITE
 * input gradients. */
#ifndef LS_NN_H
#define LS_NN_H

#include <stddef.h>
#include <stdint.h>

#include <cblas.h>

#include "base/rng.h"

#ifdef LS_DOUBLE
typedef double real;
#define ls_gemm cblas_dgemm
#define ls_axpy cblas_daxpy
#else
typedef float real;
#define ls_gemm cblas_sgemm
#define ls_axpy cblas_saxpy
#endif

struct ls_t4 {
	real *d;
	int n, c, h, w;
};

static inline size_t ls_t4_len(const struct ls_t4 *t)
{
	return (size_t)t->n * t->c * t->h * t->w;
}

static inline struct ls_t4 ls_t4_make(real *d, int n, int c, int h, int w)
{
	struct ls_t4 t = { d, n, c, h, w };
	return t;
}

/* One image of a batch. */
/* q[i] = p[i] * g + sh over n values, with relu max(that, 0): batch norm
 * at inference, one channel; q may be p. */
static inline void ls_affine(const real *p, real *q, size_t n, real g, real sh, int relu)
{
	if (relu)
		for (size_t i = 0; i < n; i++) {
			real v = p[i] * g + sh;
			q[i] = v > 0 ? v : 0;
		}
	else
		for (size_t i = 0; i < n; i++)
			q[i] = p[i] * g + sh;
}

static inline real *ls_t4_img(const struct ls_t4 *t, int i)
{
	return t->d + (size_t)i * t->c * t->h * t->w;
}

real *ls_alloc_real(size_t n);	/* zeroed, 64-byte aligned; dies on failure */

/* Named parameters (and their gradients and optimiser state). */
struct ls_param {
	char name[64];
	real *w, *g;
	real *m, *v;		/* Adam moments or SGD velocity (v unused) */
	size_t n;
	int ndim;
	int64_t shape[4];	/* as stored in model files: [out][in][ky][kx] for a convolution */
	int decay;		/* weight decay applies (not to BN or biases) */
	int frozen;
};

struct ls_params {
	int n, cap;
	struct ls_param **p;	/* stable addresses: layers keep pointers */
};

struct ls_param *ls_params_add(struct ls_params *ps, const char *name, size_t n, int decay);
/* Give a parameter its shape (product = n; a new parameter is 1-D [n]). */
void ls_param_shape(struct ls_param *p, int ndim, const int64_t *shape);
void ls_params_zero_grad(struct ls_params *ps);
size_t ls_params_count(const struct ls_params *ps);
struct ls_param *ls_params_find(struct ls_params *ps, const char *name);
void ls_params_free(struct ls_params *ps);

/* Threads: element-wise loops and per-image work use ls_nthreads OpenMP
 * threads; matrix products run single-threaded inside them, or on all
 * threads when a batch has a single image. */
extern int ls_nthreads;
void ls_threads_set(int n);	/* 0 = all cores */
/* OpenBLAS 0.3.21 does not recognise some recent CPUs and falls back to its
 * slowest (SSE3 "Prescott") kernels. When OPENBLAS_CORETYPE is unset and
 * that happened on a CPU with AVX2 and FMA, run the program again with
 * OPENBLAS_CORETYPE=Haswell. A value set by the user is always kept. */
void ls_blas_init(char **argv);
void ls_blas_threads(int n);

/* Where the time of a step goes: with LANDSHIFT_PROFILE set (or
 * ls_prof_on = 1), the model's layers add their wall time to ls_prof_t by
 * kind, and ls_prof_report prints the table. Off, it costs one branch. */
enum { LS_P_CONV_F, LS_P_CONV_DW, LS_P_CONV_DX, LS_P_BN_F, LS_P_BN_B, LS_P_POOL, LS_P_UP, LS_P_CAT, LS_P_LOSS,
       LS_P_OPTIM, LS_P_N };
extern int ls_prof_on;
extern double ls_prof_t[LS_P_N];
double ls_prof_now(void);
void ls_prof_report(const char *title, double total);
#define LS_PROF(kind, stmt)                                      \
	do {                                                     \
		if (ls_prof_on) {                                \
			double t_ = ls_prof_now();               \
			stmt;                                    \
			ls_prof_t[kind] += ls_prof_now() - t_;   \
		} else {                                         \
			stmt;                                    \
		}                                                \
	} while (0)

/* He (Kaiming) normal initialisation for a fan-in. */
void ls_he_init(real *w, size_t n, int fan_in, struct ls_rng *rng);

#endif
