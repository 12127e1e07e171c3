#!/bin/bash
# egs/models/run.sh - the models that ship in models/ (make models), each
# trained by adapt.sh on the sample data, scored on data it never saw, with
# its model card (models/NAME.md).
#   buildings  WorldView-2 R, G, B at 0.5 m: Rio de Janeiro (SpaceNet 1) and the
#              western two thirds of Atlanta (SpaceNet 4); scored on Atlanta's eastern third;
#              width 24 (0.526 IoU against width 16's 0.490, one seed), the loss
#              cross-entropy + soft Dice (0.537 and object F1 0.400 against 0.526 and 0.177);
#              three seeds shipped as one ensemble (bin/ensemble: the mean of their
#              probabilities), weights as i8

#   trees      NAIP R, G, B, NIR at 0.6 m: the first three quarters of the Santa Monica
#              chips; scored on the last quarter's surveyed tree points (point F1, 3 m)
#   trees-rgb  the same from R, G, B alone (the near-infrared left out), for scenes of an
#              RGB camera (drone, aerial), which trees.model cannot map
#   roads      WorldView-3 panchromatic at 0.3 m: the western two thirds of the Las Vegas
#              scene (SpaceNet 3); its centrelines scored on the eastern third (F1 within
#              2 m, APLS)
#   multiclass buildings, trees and roads in one model, from R, G, B at each source's own
#              GSD: Atlanta west (buildings), NAIP Santa Monica chips 0-15 (trees), Vegas
#              west as grey R, G, B (roads) and Zurich (SWISSIMAGE, LiDAR buildings and
#              trees), each speaking for its classes only (partial labels); scored on
#              Atlanta east, NAIP chips 80-87 and Vegas east; width 28, 24 tiles a step,
#              1000 steps (the recipe of docs/experiments/multiclass.md), its
#              convolution weights stored as i16 (3 MB instead of 6)
# Environment: DATA (../shared/data), OUT (out/models), MODELS (which: "buildings
# trees trees-rgb roads multiclass"), THREADS (2: the same threads give the same bytes), EPOCHS (each
# model's own), SEEDS (one, or several for an ensemble; each model's own: "1 2 3" for
# buildings, else 1; a member whose run folder OUT/NAME.seedN has its seconds is not
# trained again), EXTRA (more adapt.sh options, e.g. "--width 4" in the tests), DEST (models/). A model whose card exists in OUT is not trained again.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=$(cd "${DATA:-../shared/data}" && pwd)
OUT=${OUT:-out/models} DEST=${DEST:-models} MODELS=${MODELS:-buildings trees trees-rgb roads multiclass} THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-} EXTRA=${EXTRA:-}
export GDAL_PAM_ENABLED=NO
mkdir -p "$OUT" "$DEST"
log() { echo "models: $*" >&2; }
A=$DATA/atlanta_sn4 N=$DATA/naip_trees V=$DATA/vegas_sn3_roads
RGB=(--source-bands 1,2,3 --source-band-names red,green,blue --target-bands 1,2,3 --target-band-names red,green,blue)
for m in $MODELS; do
	dir=$OUT/$m args=() topts="--select last"
	case $m in
	buildings)
		gdal_translate -q -of VRT -srcwin 0 0 600 900 "$A/rgb_nadir10.tif" "$OUT/atlanta_west.vrt"
		gdal_translate -q -of VRT -srcwin 600 0 300 900 "$A/rgb_nadir10.tif" "$OUT/atlanta_east.vrt"
		for img in "$DATA"/rio_sn1/images/*.tif; do
			args+=(--source "$img" --source-labels "$DATA/rio_sn1/masks/$(basename "$img")")
		done
		args+=(--source "$OUT/atlanta_west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson"
			--target "$OUT/atlanta_east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson"
			--gsd 0.5 --class-name building --class-weights 1,2 --width 24 --epochs "${EPOCHS:-100}")
		topts="--select last --dice 1" ;;
	trees|trees-rgb)
		[ "$m" = trees ] || args+=("${RGB[@]}")
		chips=$(ls "$N"/images/*.tif | sed 's/.*_\([0-9]*\)\.tif$/\1/' | sort -n)
		ntrain=$(( $(echo "$chips" | wc -l) * 3 / 4 ))
		for c in $(echo "$chips" | head -n "$ntrain"); do
			args+=(--source "$N/images/santa_monica_2020_$c.tif" --source-labels "$N/masks/santa_monica_2020_$c.tif")
		done
		for c in $(echo "$chips" | tail -n +$((ntrain + 1))); do
			args+=(--target "$N/images/santa_monica_2020_$c.tif" --eval-labels "$N/masks/santa_monica_2020_$c.tif"
				--eval-points "$N/json/santa_monica_2020_$c.json")
		done
		args+=(--class-name tree --label-map 2=1 --class-weights 1,2 --epochs "${EPOCHS:-30}") ;;
	roads)
		gdal_translate -q -of VRT -srcwin 0 0 867 1300 "$V/pan.tif" "$OUT/vegas_west.vrt"
		gdal_translate -q -of VRT -srcwin 867 0 433 1300 "$V/pan.tif" "$OUT/vegas_east.vrt"
		args+=(--source "$OUT/vegas_west.vrt" --source-labels "$V/road_mask.tif"
			--target "$OUT/vegas_east.vrt" --eval-labels "$V/road_mask.tif" --eval-lines "$V/roads.geojson"
			--gsd 0.3 --class-name road --label-map 3=1 --class-weights 1,2 --epochs "${EPOCHS:-40}") ;;
	multiclass)
		gdal_translate -q -of VRT -srcwin 0 0 600 900 "$A/rgb_nadir10.tif" "$OUT/atlanta_west.vrt"
		gdal_translate -q -of VRT -srcwin 600 0 300 900 "$A/rgb_nadir10.tif" "$OUT/atlanta_east.vrt"
		gdal_translate -q -of VRT -b 1 -b 1 -b 1 -srcwin 0 0 867 1300 "$V/pan.tif" "$OUT/vegas_west3.vrt"
		gdal_translate -q -of VRT -b 1 -b 1 -b 1 -srcwin 867 0 433 1300 "$V/pan.tif" "$OUT/vegas_east3.vrt"
		args+=(--source "$OUT/atlanta_west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson" --source-classes building
			--target "$OUT/atlanta_east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" --eval-classes building)
		for c in $(seq 0 15); do
			args+=(--source "$N/images/santa_monica_2020_$c.tif" --source-labels "$N/masks/santa_monica_2020_$c.tif" --source-classes tree)
		done
		for c in $(seq 80 87); do
			args+=(--target "$N/images/santa_monica_2020_$c.tif" --eval-labels "$N/masks/santa_monica_2020_$c.tif" --eval-classes tree)
		done
		args+=(--source "$OUT/vegas_west3.vrt" --source-labels "$V/road_mask.tif" --source-classes road
			--target "$OUT/vegas_east3.vrt" --eval-labels "$V/road_mask.tif" --eval-classes road
			--source "$DATA/zurich_lidar/rgb_full.tif" --source-labels "$DATA/zurich_lidar/labels_full.tif" --source-classes building,tree
			--classes building,tree,road "${RGB[@]}" --tile 128 --width 28 --batch 24 --epochs "${EPOCHS:-40}")
		topts="--select last --epoch-steps 25 --weights i16" ;;
	*) echo "models: unknown model $m (buildings, trees, trees-rgb, roads or multiclass)" >&2; exit 2 ;;
	esac
	# buildings: three seeds as one ensemble file (their mean probability),
	# its weights as i8 (3 x 1.1 MB); the others: one seed
	seeds=${SEEDS:-$([ "$m" = buildings ] && echo "1 2 3" || echo 1)} first=${seeds%% *}
	if [ ! -f "$dir/card.md" ]; then
		t0=$(date +%s)
		if [ "$seeds" = "$first" ]; then
			log "$m: training ($THREADS threads)"
			# shellcheck disable=SC2086 # EXTRA is a list of options
			pipelines/adapt.sh --method source-only "${args[@]}" --seed "$first" --threads "$THREADS" --train-opts "$topts" \
				$EXTRA --out "$dir" --overwrite 2>"$OUT/$m.log" || { log "$m failed, see $OUT/$m.log"; exit 1; }
			echo $(( $(date +%s) - t0 )) >"$dir/seconds"
		else
			members=() secs=0
			for s in $seeds; do
				run=$OUT/$m.seed$s members+=("$run")
				if [ ! -f "$run/seconds" ]; then	# a member is finished when its time is written
					log "$m: training seed $s ($THREADS threads)"
					t1=$(date +%s)
					# shellcheck disable=SC2086 # EXTRA is a list of options
					pipelines/adapt.sh --method source-only "${args[@]}" --seed "$s" --threads "$THREADS" --train-opts "$topts" \
						$EXTRA --out "$run" --overwrite 2>"$OUT/$m.seed$s.log" || { log "$m seed $s failed, see $OUT/$m.seed$s.log"; exit 1; }
					echo $(( $(date +%s) - t1 )) >"$run/seconds"
				fi
				secs=$(( secs + $(cat "$run/seconds") ))
			done
			log "$m: the ensemble of seeds $seeds, mapped and scored"
			rm -rf "$dir"
			cp -a "${members[0]}" "$dir"
			"${BIN:-bin}"/ensemble --quiet --out "$dir/model" --weights i8 "${members[@]/%//model}"
			# shellcheck disable=SC2086 # EXTRA is a list of options
			pipelines/adapt.sh --method source-only "${args[@]}" --seed "$first" --threads "$THREADS" --train-opts "$topts" \
				$EXTRA --out "$dir" --stage 4 2>"$OUT/$m.log" || { log "$m failed, see $OUT/$m.log"; exit 1; }
			echo $(( secs + $(date +%s) - t0 )) >"$dir/seconds"
			printf '%s\n' "${members[@]}" >"$dir/members"
		fi
		/usr/bin/python3 egs/models/local/card.py "$m" "$dir" "$THREADS" >"$dir/card.md.tmp" && mv "$dir/card.md.tmp" "$dir/card.md"
	fi
	cp "$dir/model" "$DEST/$m.model.tmp" && mv "$DEST/$m.model.tmp" "$DEST/$m.model"
	cp "$dir/card.md" "$DEST/$m.md"
	log "$m: $DEST/$m.model ($(du -k "$DEST/$m.model" | cut -f1) KB), card $DEST/$m.md"
done
