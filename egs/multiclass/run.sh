#!/bin/bash
# egs/multiclass/run.sh - one model for buildings, trees and roads against
# three one-class models trained with the same optimiser steps,
# all on three bands at each source's own ground sample distance:
#   building  Atlanta (WorldView-2 R, G, B, 0.5 m): the western two thirds train,
#             the eastern third is scored (SpaceNet 4 polygons)
#   tree      NAIP Santa Monica (R, G, B of R, G, B, NIR, 0.6 m): chips 0-15 train,
#             chips 80-87 are scored (2.4 m discs around surveyed trees)
#   road      Las Vegas (WorldView-3 panchromatic, 0.3 m, as grey R, G, B): the
#             western two thirds train, the eastern third is scored (SpaceNet 3)
#   and Zurich (SWISSIMAGE R, G, B, 0.5 m), whose LiDAR labels hold buildings and
#             trees together, trains the building and tree models (not scored)
# The multi-class model (multi) learns from all four with partial labels
# (Atlanta speaks for buildings, NAIP for trees, Vegas for roads, Zurich for
# both); multi-pl from the same sources with their labels completed by the
# one-class models of its seed (local/pseudo.py: a teacher's class where its
# probability reaches PL_HI, background where every teacher is below PL_LO,
# unknown between). Each class is scored on its own held-back part as the map
# decides it (the most probable of all the classes). A multi-class model takes
# MBATCH tiles a step (24: the three one-class models' 8 each), so that with
# the same steps it sees as many tiles as the three one-class models together,
# and is MWIDTH wide (28: 1.49 M parameters, the three width-16 one-class
# models' 3 x 0.49 M together).
# Stages: 1 the crops, 2 the runs (JOBS at a time), 3 the table
# (docs/experiments/multiclass.{md,json}).
# Environment: DATA (../shared/data), OUT (out/multiclass), SEEDS ("1 2 3"),
# STEPS (1000 optimiser steps of 8 tiles), MBATCH (24), MWIDTH (28), JOBS (2), THREADS (1 per job),
# MODELS ("building tree road multi multi-pl"; multi-pl after the others of its
# seed), PL_HI (0.9), PL_LO (0.5), EXTRA (more adapt.sh options), RESULTS
# (docs/experiments).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=$(cd "${DATA:-../shared/data}" && pwd)
OUT=${OUT:-out/multiclass} SEEDS=${SEEDS:-1 2 3} STEPS=${STEPS:-1000} MBATCH=${MBATCH:-24} MWIDTH=${MWIDTH:-28} JOBS=${JOBS:-2} THREADS=${THREADS:-1}
MODELS=${MODELS:-building tree road multi multi-pl} PL_HI=${PL_HI:-0.9} PL_LO=${PL_LO:-0.5} EXTRA=${EXTRA:-} RESULTS=${RESULTS:-docs/experiments}
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
A=$DATA/atlanta_sn4 N=$DATA/naip_trees/images NM=$DATA/naip_trees/masks V=$DATA/vegas_sn3_roads Z=$DATA/zurich_lidar D=$OUT/data
TRAIN_CHIPS=$(seq 0 15) EVAL_CHIPS=$(seq 80 87)

if runs 1; then
	gdal_translate -q -of VRT -srcwin 0 0 600 900 "$A/rgb_nadir10.tif" "$D/atlanta_west.vrt"
	gdal_translate -q -of VRT -srcwin 600 0 300 900 "$A/rgb_nadir10.tif" "$D/atlanta_east.vrt"
	gdal_translate -q -of VRT -b 1 -b 1 -b 1 -srcwin 0 0 867 1300 "$V/pan.tif" "$D/vegas_west.vrt"
	gdal_translate -q -of VRT -b 1 -b 1 -b 1 -srcwin 867 0 433 1300 "$V/pan.tif" "$D/vegas_east.vrt"
	gdal_translate -q -of VRT -srcwin 0 0 600 900 "$A/rgb_nadir10_mask.tif" "$D/atlanta_west_mask.vrt"
	gdal_translate -q -of VRT -srcwin 0 0 867 1300 "$V/road_mask.tif" "$D/vegas_west_mask.vrt"
fi

# the arguments of each source and held-back part, per class
building_src() { echo --source "$D/atlanta_west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson"; }
building_eval() { echo --target "$D/atlanta_east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson"; }
tree_src() { for c in $TRAIN_CHIPS; do echo --source "$N/santa_monica_2020_$c.tif" --source-labels "$NM/santa_monica_2020_$c.tif"; done; }
tree_eval() { for c in $EVAL_CHIPS; do echo --target "$N/santa_monica_2020_$c.tif" --eval-labels "$NM/santa_monica_2020_$c.tif"; done; }
road_src() { echo --source "$D/vegas_west.vrt" --source-labels "$V/road_mask.tif"; }
road_eval() { echo --target "$D/vegas_east.vrt" --eval-labels "$V/road_mask.tif"; }
zurich() { echo --source "$Z/rgb_full.tif" --source-labels "$Z/labels_full.tif"; }

# teach MODEL IMG PROBS: a one-class model's probabilities on IMG's grid
teach() {
	local T=(--size 128 --overlap 32 --bands 1,2,3 --band-names red,green,blue)
	bin/tile --quiet "${T[@]}" "$2" | bin/normalise-bands --quiet --fit "$3.stats"
	bin/tile --quiet "${T[@]}" "$2" | bin/normalise-bands --quiet --stats "$3.stats" |
		bin/encode --quiet --threads "$THREADS" --decode --model "$1" | bin/stitch --quiet "$3"
	rm -f "$3.stats"
}
# pseudo SEED: every source's labels completed by the seed's one-class models;
# prints the multi-pl run's source arguments
pseudo() {
	local seed=$1 pl=$OUT/pl.s$1 img lab known name c t
	mkdir -p "$pl"
	{
		echo "$D/atlanta_west.vrt $D/atlanta_west_mask.vrt building atlanta"
		for c in $TRAIN_CHIPS; do echo "$N/santa_monica_2020_$c.tif $NM/santa_monica_2020_$c.tif tree naip$c"; done
		echo "$D/vegas_west.vrt $D/vegas_west_mask.vrt road vegas"
		echo "$Z/rgb_full.tif $Z/labels_full.tif building,tree zurich"
	} | while read -r img lab known name; do
		t=()
		for c in building tree road; do
			case ,$known, in *,$c,*) continue ;; esac
			[ -f "$pl/$name.$c.tif" ] || teach "$OUT/$c.s$seed/model" "$img" "$pl/$name.$c.tif"
			t+=("$(code "$c")=$pl/$name.$c.tif")
		done
		[ -f "$pl/$name.tif" ] || /usr/bin/python3 egs/multiclass/local/pseudo.py "$lab" "$pl/$name.tif" "$PL_HI" "$PL_LO" "${t[@]}" >>"$pl/shares.txt"
		echo --source "$img" --source-labels "$pl/$name.tif"
	done
}
code() { case $1 in building) echo 1 ;; tree) echo 2 ;; road) echo 3 ;; esac; }

# one run: MODEL SEED
one() {
	local m=$1 seed=$2 dir=$OUT/$1.s$2 args=() batch=8
	[ -f "$dir/metrics.json" ] && return 0
	if [ "$m" = multi ] || [ "$m" = multi-pl ]; then
		args=(--classes building,tree,road --width "$MWIDTH") batch=$MBATCH
		for c in building tree road; do
			# shellcheck disable=SC2207 # the paths hold no spaces (DATA and OUT do not)
			local s=($("${c}_src")) e=($("${c}_eval"))
			[ "$m" = multi ] && for ((i = 0; i < ${#s[@]}; i += 4)); do args+=("${s[@]:i:4}" --source-classes "$c"); done
			for ((i = 0; i < ${#e[@]}; i += 4)); do args+=("${e[@]:i:4}" --eval-classes "$c"); done
		done
		# shellcheck disable=SC2207
		if [ "$m" = multi ]; then args+=($(zurich) --source-classes building,tree); else args+=($(pseudo "$seed")); fi
	else
		# shellcheck disable=SC2207
		args=($("${m}_src") $("${m}_eval") --class-name "$m")
		case $m in	# Zurich's buildings and trees: the one class, the other background
		building) args+=($(zurich) --label-map 2=0) ;;
		tree) args+=($(zurich) --label-map 1=0,2=1) ;;
		road) args+=(--label-map 3=1) ;;
		esac
	fi
	# shellcheck disable=SC2086 # EXTRA is a list of options
	pipelines/adapt.sh --method source-only "${args[@]}" --source-bands 1,2,3 --source-band-names red,green,blue \
		--target-bands 1,2,3 --target-band-names red,green,blue --tile 128 --epochs $((STEPS / 25)) --batch "$batch" \
		--train-opts "--epoch-steps 25 --select last" --seed "$seed" --threads "$THREADS" $EXTRA \
		--out "$dir" --overwrite 2>"$dir.log" || { echo "multiclass: $m seed $seed failed, see $dir.log" >&2; return 1; }
	echo "multiclass: $m seed $seed: $(grep "^adapt: .*IoU" "$dir.log" | tail -n 1)" >&2
}

if runs 2; then
	failed=0
	for pass in first pl; do	# multi-pl learns from the one-class models: after them
		for seed in $SEEDS; do
			for m in $MODELS; do
				[ "$m" = multi-pl ] && [ $pass = first ] && continue
				[ "$m" != multi-pl ] && [ $pass = pl ] && continue
				while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || failed=1; done
				one "$m" "$seed" &
			done
		done
		while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=1; done
	done
	[ "$failed" = 0 ] || exit 1
fi

if runs 3; then
	mkdir -p "$RESULTS"
	/usr/bin/python3 egs/multiclass/local/table.py "$OUT" "$RESULTS/multiclass" $SEEDS
fi
