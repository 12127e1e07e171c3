#include <stdlib.h>

#include "train/dist.h"
#include "base/err.h"

struct ls_dist ls_dist = { 0, 1 };

#ifdef LS_MPI
#include <mpi.h>

void ls_dist_init(int *argc, char ***argv)
{
	MPI_Init(argc, argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &ls_dist.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &ls_dist.size);
}

void ls_dist_finalize(void)
{
	MPI_Finalize();
}

void ls_dist_sum_d(double *v, size_t n)
{
	if (ls_dist.size > 1 && n)
		MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void ls_dist_sum_f(float *v, size_t n)
{
	for (size_t off = 0; ls_dist.size > 1 && off < n; off += 1 << 28) {
		size_t k = n - off < (size_t)1 << 28 ? n - off : (size_t)1 << 28;
		MPI_Allreduce(MPI_IN_PLACE, v + off, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
	}
}

int ls_dist_mpi(void)
{
	return 1;
}

#else
void ls_dist_init(int *argc, char ***argv)
{
	(void)argc, (void)argv;
}

void ls_dist_finalize(void)
{
}

void ls_dist_sum_d(double *v, size_t n)
{
	(void)v, (void)n;
}

void ls_dist_sum_f(float *v, size_t n)
{
	(void)v, (void)n;
}

int ls_dist_mpi(void)
{
	return 0;
}

#endif
