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

# Streaming stages on a large raster, and whole-scene inference: each stage
# of the pipeline runs under /usr/bin/time in the same pipe, so its peak
# memory is its own; the rate is megapixels of the scene per second of the
# whole pipeline.
stage() {	# stage NAME CMD...: run CMD under time -v, its report in $T/time.NAME
	local name=$1; shift
	/usr/bin/time -v -o "$T/time.$name" "$@"
}
mb() { awk '/Maximum resident/ {printf "%.0f", $NF / 1024}' "$T/time.$1"; }
BIG=${BIG:-8000}
echo "== tile | normalise-bands | stitch on a ${BIG} x ${BIG} RGB raster (tiles 256, overlap 32)"
gdal_translate -q -outsize "$BIG" "$BIG" -co TILED=YES "${DATA:-../shared/data}/atlanta_sn4/rgb_nadir10.tif" "$T/big.tif"
bin/tile --quiet --size 256 --overlap 32 "$T/big.tif" | bin/normalise-bands --quiet --fit "$T/big.stats"
s=$(date +%s.%N)
stage tile bin/tile --quiet --size 256 --overlap 32 "$T/big.tif" |
	stage norm bin/normalise-bands --quiet --stats "$T/big.stats" |
	stage stitch bin/stitch --quiet "$T/big_out.tif"
e=$(date +%s.%N)
awk -v a="$s" -v b="$e" -v n="$BIG" -v t="$(mb tile)" -v m="$(mb norm)" -v st="$(mb stitch)" \
	'BEGIN {printf "%.1f megapixels/s (%.1f s); peak MB: tile %s, normalise-bands %s, stitch %s\n", n * n / 1e6 / (b - a), b - a, t, m, st}'

SCENE=${SCENE:-4000}
echo "== whole-scene inference, UNet-S width 16: tile | normalise-bands | encode | decode | stitch, ${SCENE} x ${SCENE} RGB"
gdal_translate -q -outsize "$SCENE" "$SCENE" -co TILED=YES "${DATA:-../shared/data}/atlanta_sn4/rgb_nadir10.tif" "$T/scene.tif"
bin/tile --quiet --size 256 --labels "${DATA:-../shared/data}/atlanta_sn4/rgb_nadir10_buildings.geojson" --sample 16 \
	"${DATA:-../shared/data}/atlanta_sn4/rgb_nadir10.tif" >"$T/train.frames"
bin/normalise-bands --quiet --fit "$T/train.stats" <"$T/train.frames"
bin/normalise-bands --quiet --stats "$T/train.stats" <"$T/train.frames" |
	bin/critic-train --quiet --model "$T/bench.model" --source - --width 16 --epochs 1 --val-frac 0
bin/tile --quiet --size 256 --overlap 32 "$T/scene.tif" | bin/normalise-bands --quiet --fit "$T/scene.stats"
for r in 1 2; do
	s=$(date +%s.%N)
	stage tile bin/tile --quiet --size 256 --overlap 32 "$T/scene.tif" |
		stage norm bin/normalise-bands --quiet --stats "$T/scene.stats" |
		stage encode bin/encode --quiet --model "$T/bench.model" |
		stage decode bin/decode --quiet --model "$T/bench.model" |
		stage stitch bin/stitch --quiet "$T/scene_probs.tif"
	e=$(date +%s.%N)
	awk -v a="$s" -v b="$e" -v n="$SCENE" -v t="$(mb tile)" -v m="$(mb norm)" -v en="$(mb encode)" -v de="$(mb decode)" \
		-v st="$(mb stitch)" 'BEGIN {printf "round %d: %.2f megapixels/s (%.1f s); peak MB: tile %s, normalise-bands %s, encode %s, decode %s, stitch %s\n",
		'"$r"', n * n / 1e6 / (b - a), b - a, t, m, en, de, st}'
done
