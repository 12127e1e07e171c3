#!/bin/sh
# bench/run.sh - the benchmarks (make bench). Figures are ratios measured in
# one run, side by side: these machines are shared and noisy.
set -eu
cd "$(dirname "$0")/.."
echo "== frame stream through a pipe (write, read, validate), 3 runs"
for i in 1 2 3; do bin/bench-frames --count 2000 | grep gb_per_s; done
