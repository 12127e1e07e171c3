#!/bin/bash
# bench/run.sh - the benchmarks (make bench). Everything that is compared is
# run side by side in this one invocation, alternating, and reported as
# ratios: these machines are shared and noisy.
set -eu
cd "$(dirname "$0")/.."
SHARED=${SHARED:-$(dirname "${DATA:-../shared/data}")}
TORCH=$SHARED/bench/torch_unet.py
ROUNDS=${ROUNDS:-2}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

echo "== frame stream through a pipe (write, read, validate f32 4x256x256 tiles)"
for i in 1 2 3; do bin/bench-frames --count 2000 | grep gb_per_s; done

echo "== UNet-S, 4 bands, 2 classes, width 16, 256x256 tiles, batch 8, 2 threads"
have_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && [ -f "$TORCH" ] && have_torch=1
[ $have_torch = 1 ] || echo "(python3-torch or $TORCH missing: Landshift alone)"
peak() { awk '/Maximum resident/ {printf "%.0f", $NF / 1024}' "$1"; }
for r in $(seq 1 "$ROUNDS"); do
	/usr/bin/time -v bin/bench-unet --threads 2 --steps 3 >"$T/ls.$r" 2>"$T/ls.time.$r"
	echo "landshift round $r: $(grep -E 'tiles_per_s|fraction' "$T/ls.$r" | tr '\n' ' ') peak_mb $(peak "$T/ls.time.$r")"
	if [ $have_torch = 1 ]; then
		/usr/bin/time -v /usr/bin/python3 "$TORCH" --threads 2 --steps 3 >"$T/pt.$r" 2>"$T/pt.time.$r"
		echo "pytorch   round $r: $(grep tiles_per_s "$T/pt.$r" | tr '\n' ' ') peak_mb $(peak "$T/pt.time.$r")"
	fi
done
if [ $have_torch = 1 ]; then
	cat "$T"/ls.[0-9]* | awk '/^train_tiles/ {t += $2; n++} /^infer_tiles/ {i += $2} END {print "landshift mean: train", t / n, "infer", i / n}' >"$T/lsm"
	cat "$T"/pt.[0-9]* | awk '/^train_tiles/ {t += $2; n++} /^infer_tiles/ {i += $2} END {print "pytorch mean: train", t / n, "infer", i / n}' >"$T/ptm"
	cat "$T/lsm" "$T/ptm"
	paste "$T/lsm" "$T/ptm" | awk '{printf "ratio landshift/pytorch: train %.2f infer %.2f\n", $4 / $10, $6 / $12}'
fi

echo "== vectorise vs gdal_polygonize.py on a 4096 x 4096 building mask, 3 rounds alternating"
export GDAL_PAM_ENABLED=NO
gdal_translate -q -outsize 4096 4096 -r near "${DATA:-../shared/data}/atlanta_sn4/rgb_nadir10_mask.tif" "$T/m.tif"
for i in 1 2 3; do
	rm -f "$T/gp.gpkg" "$T/lv.gpkg"
	s=$(date +%s.%N); gdal_polygonize.py -q "$T/m.tif" -f GPKG "$T/gp.gpkg" >/dev/null 2>&1; e=$(date +%s.%N)
	bin/vectorise --quiet "$T/m.tif" "$T/lv.gpkg"; f=$(date +%s.%N)
	awk -v a="$s" -v b="$e" -v c="$f" 'BEGIN {printf "gdal_polygonize.py %.3f s, vectorise %.3f s, ratio %.2f\n", b - a, c - b, (c - b) / (b - a)}'
done
