#!/bin/bash
# bench/run.sh - the benchmarks (make bench). Everything that is compared is
# run side by side in this one invocation, alternating, and reported as
# ratios: these machines are shared and noisy. Each section prints its
# rounds; the end prints one summary table of them all (markdown).
set -eu
cd "$(dirname "$0")/.."
SHARED=${SHARED:-$(dirname "${DATA:-../shared/data}")}
TORCH=$SHARED/bench/torch_unet.py
ROUNDS=${ROUNDS:-2}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
row() { echo "| $* |" >>"$T/summary"; }	# row MEASURE | LANDSHIFT | PEER | RATIO

echo "== frame stream through a pipe (write, read, validate f32 4x256x256 tiles)"
for i in 1 2 3; do bin/bench-frames --count 2000 | grep gb_per_s | tee -a "$T/frames"; done
row "frame stream through a pipe (f32 4x256x256 tiles) | $(awk '{s += $2} END {printf "%.2f GB/s", s / NR}' "$T/frames") | | "

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
cat "$T"/ls.[0-9]* | awk '/^train_tiles/ {t += $2; n++} /^infer_tiles/ {i += $2} END {print "landshift mean: train", t / n, "infer", i / n}' >"$T/lsm"
if grep -q '^infer_bf16' "$T/ls.1"; then	# the same model, inference in bfloat16 (--precision bf16)
	cat "$T"/ls.[0-9]* | awk '/^infer_tiles/ {i += $2; n++} /^infer_bf16/ {b += $2} END {
		printf "| UNet-S inference, --precision bf16 (mean of %d rounds) | %.2f tiles/s | float %.2f tiles/s | %.2fx float |\n", n, b / n, i / n, b / i }' >"$T/bf16row"
fi
cat "$T/lsm"
lsmb=$(for r in $(seq 1 "$ROUNDS"); do peak "$T/ls.time.$r"; echo; done | sort -n | tail -n 1)
if [ $have_torch = 1 ]; then
	cat "$T"/pt.[0-9]* | awk '/^train_tiles/ {t += $2; n++} /^infer_tiles/ {i += $2} END {print "pytorch mean: train", t / n, "infer", i / n}' >"$T/ptm"
	cat "$T/ptm"
	paste "$T/lsm" "$T/ptm" | awk '{printf "ratio landshift/pytorch: train %.2f infer %.2f\n", $4 / $10, $6 / $12}'
	ptmb=$(for r in $(seq 1 "$ROUNDS"); do peak "$T/pt.time.$r"; echo; done | sort -n | tail -n 1)
	paste "$T/lsm" "$T/ptm" | awk -v a="$lsmb" -v b="$ptmb" -v r="$ROUNDS" '{
		printf "| UNet-S training, batch 8 of 4x256x256, 2 threads (mean of %d rounds; peak memory) | %.2f tiles/s, %s MB | PyTorch %.2f tiles/s, %s MB | %.2fx |\n", r, $4, a, $10, b, $4 / $10
		printf "| UNet-S inference | %.2f tiles/s | PyTorch %.2f tiles/s | %.2fx |\n", $6, $12, $6 / $12 }' >>"$T/summary"
else
	awk -v a="$lsmb" '{printf "| UNet-S training, batch 8 of 4x256x256, 2 threads | %.2f tiles/s, %s MB | (no PyTorch) | |\n| UNet-S inference | %.2f tiles/s | | |\n", $4, a, $6}' "$T/lsm" >>"$T/summary"
fi

[ ! -f "$T/bf16row" ] || cat "$T/bf16row" >>"$T/summary"

echo "== vectorise vs gdal_polygonize.py on a 4096 x 4096 building mask, 3 rounds alternating"
export GDAL_PAM_ENABLED=NO
gdal_translate -q -outsize 4096 4096 -r near "${DATA:-../shared/data}/atlanta_sn4/rgb_nadir10_mask.tif" "$T/m.tif"
for i in 1 2 3; do
	rm -f "$T/gp.gpkg" "$T/lv.gpkg"
	s=$(date +%s.%N); gdal_polygonize.py -q "$T/m.tif" -f GPKG "$T/gp.gpkg" >/dev/null 2>&1; e=$(date +%s.%N)
	bin/vectorise --quiet "$T/m.tif" "$T/lv.gpkg"; f=$(date +%s.%N)
	awk -v a="$s" -v b="$e" -v c="$f" 'BEGIN {printf "gdal_polygonize.py %.3f s, vectorise %.3f s, ratio %.2f\n", b - a, c - b, (c - b) / (b - a)}' | tee -a "$T/vec"
done
awk '{g += $2; v += $5} END {printf "| vectorise a 4096x4096 building mask to GeoPackage (mean of 3) | %.2f s | gdal_polygonize.py %.2f s | %.2fx the time |\n", v / NR, g / NR, v / g}' "$T/vec" >>"$T/summary"

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
	'BEGIN {printf "%.1f megapixels/s (%.1f s); peak MB: tile %s, normalise-bands %s, stitch %s\n", n * n / 1e6 / (b - a), b - a, t, m, st}' |
	tee "$T/big"
row "tile \\| normalise-bands \\| stitch, ${BIG}x${BIG} RGB | $(sed 's/ (.*); peak MB:/, peak MB/' "$T/big") | | "

# Whole-scene mapping as issue 28 counts it: the statistics pass, then tile
# 512 | normalise-bands | the fused model pass (encode --decode, bfloat16
# where the CPU has it) | stitch, then vectorise, with a width-16 model
# trained briefly on Atlanta (so its map holds buildings for vectorise to
# trace, not noise); against the model pass alone on the same tiles.
SCENE=${SCENE:-8000}
echo "== whole-scene mapping, UNet-S width 16: tile | normalise-bands | encode --decode | stitch, then vectorise, ${SCENE} x ${SCENE} RGB"
gdal_translate -q -outsize "$SCENE" "$SCENE" -co TILED=YES "${DATA:-../shared/data}/atlanta_sn4/rgb_nadir10.tif" "$T/scene.tif"
bin/tile --quiet --size 256 --labels "${DATA:-../shared/data}/atlanta_sn4/rgb_nadir10_buildings.geojson" --sample 64 \
	"${DATA:-../shared/data}/atlanta_sn4/rgb_nadir10.tif" >"$T/train.frames"
bin/normalise-bands --quiet --fit "$T/train.stats" <"$T/train.frames"
bin/normalise-bands --quiet --stats "$T/train.stats" <"$T/train.frames" |
	bin/critic-train --quiet --model "$T/bench.model" --source - --width 16 --epochs 8 --class-weights 1,2 --val-frac 0 2>/dev/null
P=(--precision bf16)
for r in 1 2; do
	s=$(date +%s.%N)
	bin/tile --quiet --size 512 --overlap 32 "$T/scene.tif" | bin/normalise-bands --quiet --fit "$T/scene.stats"
	stage tile bin/tile --quiet --size 512 --overlap 32 "$T/scene.tif" |
		stage norm bin/normalise-bands --quiet --stats "$T/scene.stats" |
		stage encode bin/encode --quiet --batch 1 --decode "${P[@]}" --model "$T/bench.model" |
		stage stitch bin/stitch --quiet --round-bits 12 --level 1 "$T/scene_probs.tif"
	stage vec bin/vectorise --quiet --min-area 4 --simplify 0.25 "$T/scene_probs.tif" "$T/scene.gpkg"
	e=$(date +%s.%N)
	[ "$r" = 2 ] || bin/tile --quiet --size 512 --overlap 32 "$T/scene.tif" | bin/normalise-bands --quiet --stats "$T/scene.stats" >"$T/scene.frames"
	a=$(date +%s.%N)
	bin/encode --quiet --batch 1 --decode "${P[@]}" --model "$T/bench.model" <"$T/scene.frames" >/dev/null
	b=$(date +%s.%N)
	awk -v a="$s" -v b="$e" -v c="$a" -v d="$b" -v n="$SCENE" -v t="$(mb tile)" -v m="$(mb norm)" -v en="$(mb encode)" \
		-v st="$(mb stitch)" -v ve="$(mb vec)" -v po="$(ogrinfo -so -al "$T/scene.gpkg" | awk '/Feature Count/ {s += $3} END {print s}')" \
		'BEGIN {printf "round %d: %.2f megapixels/s (%.1f s, %d polygons); model pass alone %.2f megapixels/s (%.1f s); peak MB: tile %s, normalise-bands %s, encode %s, stitch %s, vectorise %s\n",
		'"$r"', n * n / 1e6 / (b - a), b - a, po, n * n / 1e6 / (d - c), d - c, t, m, en, st, ve}' | tee -a "$T/scene"
done
rm -f "$T/scene.frames"
best=$(sort -k3 -g "$T/scene" | tail -n 1 | sed 's/^round [0-9]*: //')
row "whole-scene mapping, ${SCENE}x${SCENE} RGB, width 16, bf16: statistics, tile \\| normalise-bands \\| encode --decode \\| stitch, vectorise (best of 2) | $(echo "$best" | sed 's/ (.*); model pass alone/; model pass alone/; s/ (.*); peak MB:/, peak MB/') | | "

# One command on a whole scene, with the shipped buildings model (three
# networks, their probabilities averaged): bin/map
# (resample, tile 512, normalise, the fused model pass, two COGs, vectorise,
# quick-look, report) against the model pass alone on the same tiles. Peak
# memory is the largest process of the map's tree (time -v of the script).
MAPSCENE=${MAPSCENE:-8000}
if [ -f models/buildings.model ]; then
	echo "== bin/map on a ${MAPSCENE} x ${MAPSCENE} RGB scene at the model's 0.5 m, against the model pass alone"
	gdal_translate -q -outsize "$MAPSCENE" "$MAPSCENE" -co TILED=YES "${DATA:-../shared/data}/atlanta_sn4/rgb_nadir10.tif" "$T/map.tif"
	gdal_edit.py -a_srs EPSG:32616 -a_ullr 500000 $((4000000 + MAPSCENE / 2)) $((500000 + MAPSCENE / 2)) 4000000 "$T/map.tif"
	bin/tile --quiet --size 512 --overlap 32 "$T/map.tif" | bin/normalise-bands --quiet --fit "$T/map.stats"
	bin/tile --quiet --size 512 --overlap 32 "$T/map.tif" | bin/normalise-bands --quiet --stats "$T/map.stats" >"$T/map.frames"
	for r in 1 2; do
		s=$(date +%s.%N)
		bin/encode --quiet --batch 1 --decode --model models/buildings.model <"$T/map.frames" >/dev/null
		e=$(date +%s.%N)
		rm -rf "$T/maps"
		/usr/bin/time -v -o "$T/time.map" bin/map --model models/buildings.model "$T/map.tif" --out "$T/maps" 2>/dev/null
		f=$(date +%s.%N)
		rm -rf "$T/maps"	# the same with --precision bf16 (float where the CPU lacks AVX-512 BF16)
		bin/map --precision bf16 --model models/buildings.model "$T/map.tif" --out "$T/maps" 2>/dev/null
		g=$(date +%s.%N)
		awk -v a="$s" -v b="$e" -v c="$f" -v d="$g" -v n="$MAPSCENE" -v m="$(mb map)" -v r="$r" 'BEGIN {
			printf "round %d: map %.2f megapixels/s (%.1f s, peak %s MB), model pass alone %.2f megapixels/s (%.1f s), map/model %.2f, map --precision bf16 %.2f megapixels/s (%.1f s), bf16/f32 %.2f\n",
			r, n * n / 1e6 / (c - b), c - b, m, n * n / 1e6 / (b - a), b - a, (b - a) / (c - b), n * n / 1e6 / (d - c), d - c, (c - b) / (d - c) }' | tee -a "$T/map"
	done
	best=$(sort -k4 -g "$T/map" | tail -n 1)
	row "bin/map, ${MAPSCENE}x${MAPSCENE} RGB at 0.5 m, shipped buildings model (best of 2) | $(echo "$best" | awk '{print $4, "megapixels/s, peak", $9, "MB"}' | tr -d ',') | model pass alone $(echo "$best" | awk '{print $14, "megapixels/s"}') | $(echo "$best" | awk '{print $19}' | tr -d ',')x the model's rate | "
	best=$(awk '{print $(NF - 5), $0}' "$T/map" | sort -g | tail -n 1 | cut -d' ' -f2-)
	row "bin/map --precision bf16, the same (best of 2) | $(echo "$best" | awk '{print $(NF - 5), "megapixels/s"}') | f32 $(echo "$best" | awk '{print $4, "megapixels/s"}') | $(echo "$best" | awk '{print $NF}')x f32's rate | "
else
	echo "== bin/map: models/buildings.model missing (make models), skipped"
fi

echo
echo "== summary ($(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}'), $(nproc) cores, $(date -u +%Y-%m-%d))"
echo "| measure | Landshift | peer | ratio |"
echo "|---|---|---|---|"
cat "$T/summary"
