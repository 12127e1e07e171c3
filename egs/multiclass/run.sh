#!/bin/bash
# egs/multiclass/run.sh - one model for buildings, trees and roads against
# three one-class models trained with the same steps (issue #27), all on
# R, G, B imagery at each source's own ground sample distance:
#   building  Atlanta (WorldView-2, 0.5 m): the western two thirds train, the
#             eastern third is scored (SpaceNet 4 polygons)
#   tree      NAIP Santa Monica (0.6 m, R, G, B of R, G, B, NIR): chips 0-15 train,
#             chips 80-87 are scored (2.4 m discs around surveyed trees)
#   road      Massachusetts (aerial, 1 m): 900 x 900 of one tile trains, 900 x 900
#             of another is scored (rasterised OSM roads)
# The multi-class model learns from the three sources together with partial
# labels (each speaks for its own class only); each class is scored on its
# own held-back part, as the map decides (the most probable of all classes).
# Stages: 1 the crops, 2 the runs (JOBS at a time), 3 the table
# (docs/experiments/multiclass.{md,json}).
# Environment: DATA (../shared/data), OUT (out/multiclass), SEEDS ("1 2 3"),
# STEPS (600 optimiser steps of 8 tiles), JOBS (2), THREADS (1 per job),
# MODELS ("multi building tree road"), EXTRA (more adapt.sh options), RESULTS
# (docs/experiments).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=$(cd "${DATA:-../shared/data}" && pwd)
OUT=${OUT:-out/multiclass} SEEDS=${SEEDS:-1 2 3} STEPS=${STEPS:-600} JOBS=${JOBS:-2} THREADS=${THREADS:-1}
MODELS=${MODELS:-multi building tree road} EXTRA=${EXTRA:-} RESULTS=${RESULTS:-docs/experiments}
stage=1 stop=3
while [ $# -gt 0 ]; do
	case $1 in
	--stage) stage=$2 ;; --stop-stage) stop=$2 ;;
	*) echo "multiclass: unknown argument '$1' (--stage N, --stop-stage M)" >&2; exit 2 ;;
	esac
	shift 2
done
runs() { [ "$stage" -le "$1" ] && [ "$1" -le "$stop" ]; }
export GDAL_PAM_ENABLED=NO
mkdir -p "$OUT/data"
A=$DATA/atlanta_sn4 N=$DATA/naip_trees/images NM=$DATA/naip_trees/masks M=$DATA/massachusetts_roads D=$OUT/data
TRAIN_CHIPS=$(seq 0 15) EVAL_CHIPS=$(seq 80 87)

if runs 1; then
	gdal_translate -q -of VRT -srcwin 0 0 600 900 "$A/rgb_nadir10.tif" "$D/atlanta_west.vrt"
	gdal_translate -q -of VRT -srcwin 600 0 300 900 "$A/rgb_nadir10.tif" "$D/atlanta_east.vrt"
	for k in images masks; do
		gdal_translate -q -of VRT -srcwin 300 300 900 900 "$M/$k/10078735_15.tif" "$D/mass_train_$k.vrt"
		gdal_translate -q -of VRT -srcwin 300 300 900 900 "$M/$k/16228945_15.tif" "$D/mass_eval_$k.vrt"
	done
fi

# the arguments of each source and held-back part, per class
building_src() { echo --source "$D/atlanta_west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson"; }
building_eval() { echo --target "$D/atlanta_east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson"; }
tree_src() { for c in $TRAIN_CHIPS; do echo --source "$N/santa_monica_2020_$c.tif" --source-labels "$NM/santa_monica_2020_$c.tif"; done; }
tree_eval() { for c in $EVAL_CHIPS; do echo --target "$N/santa_monica_2020_$c.tif" --eval-labels "$NM/santa_monica_2020_$c.tif"; done; }
road_src() { echo --source "$D/mass_train_images.vrt" --source-labels "$D/mass_train_masks.vrt"; }
road_eval() { echo --target "$D/mass_eval_images.vrt" --eval-labels "$D/mass_eval_masks.vrt"; }
code() { case $1 in building) echo 1 ;; tree) echo 2 ;; road) echo 3 ;; esac; }

# one run: MODEL SEED
one() {
	local m=$1 seed=$2 dir=$OUT/$1.s$2 args=()
	[ -f "$dir/metrics.json" ] && return 0
	if [ "$m" = multi ]; then
		args=(--classes building,tree,road)
		for c in building tree road; do
			# shellcheck disable=SC2207 # the paths hold no spaces (DATA and OUT do not)
			local s=($("${c}_src")) e=($("${c}_eval"))
			for ((i = 0; i < ${#s[@]}; i += 4)); do args+=("${s[@]:i:4}" --source-classes "$c"); done
			for ((i = 0; i < ${#e[@]}; i += 4)); do args+=("${e[@]:i:4}" --eval-classes "$c"); done
		done
	else
		# shellcheck disable=SC2207
		args=($("${m}_src") $("${m}_eval") --class-name "$m")
		[ "$m" = building ] || args+=(--label-map "$(code "$m")=1")
	fi
	# shellcheck disable=SC2086 # EXTRA is a list of options
	pipelines/adapt.sh --method source-only "${args[@]}" --source-bands 1,2,3 --source-band-names red,green,blue \
		--target-bands 1,2,3 --target-band-names red,green,blue --tile 128 --epochs $((STEPS / 25)) \
		--train-opts "--epoch-steps 25 --select last" --seed "$seed" --threads "$THREADS" $EXTRA \
		--out "$dir" --overwrite 2>"$dir.log" || { echo "multiclass: $m seed $seed failed, see $dir.log" >&2; return 1; }
	echo "multiclass: $m seed $seed: $(grep "^adapt: .*IoU" "$dir.log" | tail -n 1)" >&2
}

if runs 2; then
	pids=() failed=0
	for seed in $SEEDS; do
		for m in $MODELS; do
			while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || failed=1; done
			one "$m" "$seed" &
		done
	done
	while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=1; done
	[ "$failed" = 0 ] || exit 1
fi

if runs 3; then
	mkdir -p "$RESULTS"
	/usr/bin/python3 egs/multiclass/local/table.py "$OUT" "$RESULTS/multiclass" $SEEDS
fi
