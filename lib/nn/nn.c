#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>
#include <xmmintrin.h>

#include "base/err.h"
#include "nn/nn.h"

void openblas_set_num_threads(int);
char *openblas_get_corename(void);

int ls_nthreads = 1;
int ls_prof_on;
double ls_prof_t[LS_P_N];

double ls_prof_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void ls_prof_report(const char *title, double total)
{
	static const char *names[LS_P_N] = { "conv forward", "conv weight grad", "conv input grad", "bn+relu forward",
					     "bn+relu backward", "max-pool", "upsample", "concat", "loss", "optimiser" };
	double sum = 0;
	fprintf(stderr, "profile %s (%.3f s)\n", title, total);
	for (int k = 0; k < LS_P_N; k++) {
		sum += ls_prof_t[k];
		if (ls_prof_t[k] > 0)
			fprintf(stderr, "  %-18s %8.3f s %5.1f%%\n", names[k], ls_prof_t[k], 100 * ls_prof_t[k] / total);
	}
	fprintf(stderr, "  %-18s %8.3f s %5.1f%%\n", "other", total - sum, 100 * (total - sum) / total);
	memset(ls_prof_t, 0, sizeof ls_prof_t);
}
static int blas_threads = -1;

real *ls_alloc_real(size_t n)
{
	size_t bytes = ((n ? n : 1) * sizeof(real) + 63) & ~(size_t)63;
	real *p = ls_xaligned(64, bytes);
	memset(p, 0, bytes);
	return p;
}

struct ls_param *ls_params_add(struct ls_params *ps, const char *name, size_t n, int decay)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? 2 * ps->cap : 64;
		ps->p = ls_xrealloc(ps->p, ps->cap * sizeof *ps->p);
	}
	struct ls_param *p = ls_xcalloc(1, sizeof *p);
	ps->p[ps->n++] = p;
	snprintf(p->name, sizeof p->name, "%s", name);
	p->n = n;
	p->ndim = 1;
	p->shape[0] = (int64_t)n;
	p->w = ls_alloc_real(n);
	p->g = ls_alloc_real(n);
	p->decay = decay;
	return p;
}

void ls_param_shape(struct ls_param *p, int ndim, const int64_t *shape)
{
	int64_t prod = 1;
	for (int i = 0; i < ndim; i++)
		prod *= shape[i];
	if (ndim < 1 || ndim > 4 || prod != (int64_t)p->n)
		ls_bug("shape of %zu values given to %s", p->n, p->name);
	p->ndim = ndim;
	memcpy(p->shape, shape, ndim * sizeof *shape);
}

void ls_params_zero_grad(struct ls_params *ps)
{
	for (int i = 0; i < ps->n; i++)
		memset(ps->p[i]->g, 0, ps->p[i]->n * sizeof(real));
}

size_t ls_params_count(const struct ls_params *ps)
{
	size_t n = 0;
	for (int i = 0; i < ps->n; i++)
		n += ps->p[i]->n;
	return n;
}

struct ls_param *ls_params_find(struct ls_params *ps, const char *name)
{
	for (int i = 0; i < ps->n; i++)
		if (!strcmp(ps->p[i]->name, name))
			return ps->p[i];
	return NULL;
}

void ls_params_free(struct ls_params *ps)
{
	for (int i = 0; i < ps->n; i++) {
		free(ps->p[i]->w);
		free(ps->p[i]->g);
		free(ps->p[i]->m);
		free(ps->p[i]->v);
		free(ps->p[i]);
	}
	free(ps->p);
	memset(ps, 0, sizeof *ps);
}

void ls_threads_set(int n)
{
	if (n <= 0)
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	ls_nthreads = n < 1 ? 1 : n;
	omp_set_num_threads(ls_nthreads);
	ls_blas_threads(1);
	/* Denormal floats cost a hundred cycles each: weights and activations
	 * that decay towards zero made inference twice as slow as training.
	 * Flush them to zero on every worker thread (results differ only
	 * below 1.2e-38). */
#pragma omp parallel
	_mm_setcsr(_mm_getcsr() | 0x8040);
}

void ls_blas_init(char **argv)
{
	const char *core = openblas_get_corename();
	if (getenv("OPENBLAS_CORETYPE") || !core || strcasecmp(core, "Prescott"))
		return;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		return;
	/* OpenBLAS chooses its kernels when it is loaded: start again with them. */
	setenv("OPENBLAS_CORETYPE", "Haswell", 1);
	execv("/proc/self/exe", argv);
}

void ls_blas_threads(int n)
{
	if (n != blas_threads) {
		openblas_set_num_threads(n);
		blas_threads = n;
	}
}

void ls_he_init(real *w, size_t n, int fan_in, struct ls_rng *rng)
{
	double s = sqrt(2.0 / fan_in);
	for (size_t i = 0; i < n; i++)
		w[i] = (real)(s * ls_rng_normal(rng));
}
