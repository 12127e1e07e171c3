/* dist.h - data-parallel training across processes.
 *
 * liblandshift.a holds the single-process version (rank 0 of 1, every call
 * a no-op). bin/critic-train-mpi links the MPI build of dist.c instead
 * (make builds it when Debian's OpenMPI is installed): run under
 * `mpirun -np N`, each rank trains on its share of every batch, gradients
 * (network, critic, DSN parts) are averaged with MPI_Allreduce each step,
 * batch-norm statistics are summed across ranks (synchronised BN, so the
 * ranks together compute exactly the statistics of the whole batch), and
 * only rank 0 writes checkpoints, metrics and progress. */
#ifndef LS_DIST_H
#define LS_DIST_H

#include <stddef.h>

struct ls_dist {
	int rank, size;
};
extern struct ls_dist ls_dist;

void ls_dist_init(int *argc, char ***argv);
void ls_dist_finalize(void);
/* In-place sums over the ranks. */
void ls_dist_sum_d(double *v, size_t n);
void ls_dist_sum_f(float *v, size_t n);
/* 1 when this program was built with MPI. */
int ls_dist_mpi(void);

#endif
