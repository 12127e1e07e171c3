#!/bin/bash
# pipelines/slurm-train.sh - data-parallel training on a GPU-less cluster
# with Slurm and MPI: one rank per node (or per socket), each with its share
# of every batch; rank 0 writes the model, checkpoints and metrics.
#
#   sbatch --nodes 4 pipelines/slurm-train.sh source.frames target.frames runs/wdgrl
#
# The frames come from adapt.sh's first steps (tile + normalise-bands) or your
# own pipeline, on a file system every node sees. --batch is the global batch:
# keep it a multiple of the number of ranks. OMP threads per rank follow
# SLURM_CPUS_PER_TASK.
#SBATCH --job-name=landshift-train
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=16
#SBATCH --time=04:00:00
#SBATCH --output=landshift-train-%j.log
set -euo pipefail
src=${1:?usage: slurm-train.sh SOURCE.frames TARGET.frames OUTDIR}
tgt=${2:?usage: slurm-train.sh SOURCE.frames TARGET.frames OUTDIR}
out=${3:?usage: slurm-train.sh SOURCE.frames TARGET.frames OUTDIR}
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$here/bin}
mkdir -p "$out"
# srun starts one MPI rank per task (OpenMPI is built with Slurm support on
# Debian); mpirun -np "$SLURM_NTASKS" works the same where it is not.
srun "$BIN"/critic-train-mpi --threads "${SLURM_CPUS_PER_TASK:-0}" \
	--source "$src" --target "$tgt" --method wdgrl --epochs 30 --batch $((8 * SLURM_NTASKS)) \
	--model "$out/model" --metrics "$out/train.jsonl" "${@:4}"
