#!/bin/bash
# egs/rotterdam/run.sh - adaptation to new modalities with no labels at all:
# Atlanta RGB (3 x 8-bit, labelled buildings) to the Rotterdam WorldView-2
# multispectral rasters (4 x float64: B, G, R, NIR) and to the Capella SAR
# scene (4 x float32 dB: HH, HV, VH, VV, 4.5 m, masked areas NaN), with WDGRL
# and DSN. Each target gets its own input stem; nothing can be scored (there
# are no labels in Rotterdam), so each run's report shows the predicted
# buildings over the imagery.
#
# Environment: DATA (../shared/data), OUT (out/rotterdam), METHODS ("wdgrl
# dsn"), TARGETS ("ms sar"), EPOCHS (12), SEED (1). A run whose report.html
# exists is not run again.
# Outputs: OUT/TARGET/METHOD/ (adapt.sh's outputs: model, probs_*.tif,
# buildings_*.gpkg, report.html).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=$(cd "${DATA:-../shared/data}" && pwd)
OUT=${OUT:-out/rotterdam}
METHODS=${METHODS:-wdgrl dsn}
TARGETS=${TARGETS:-ms sar}
EPOCHS=${EPOCHS:-12}
SEED=${SEED:-1}
A=$DATA/atlanta_sn4 R=$DATA/rotterdam_sn6
mkdir -p "$OUT"
for t in $TARGETS; do
	case $t in
	ms)	# learn from two scenes, map the third
		args=(--target "$R/ms1.tif" --target "$R/ms2.tif" --eval "$R/ms3.tif" --view-bands 3,2,1) ;;
	sar)	args=(--target "$R/sar_masked.tif" --view-bands 4,2,1) ;;
	*) echo "rotterdam: unknown target $t (ms or sar)" >&2; exit 2 ;;
	esac
	for m in $METHODS; do
		dir=$OUT/$t/$m
		[ -f "$dir/report.html" ] && continue
		echo "rotterdam: $t $m" >&2
		rm -rf "$dir"
		pipelines/adapt.sh --method "$m" --source "$A/rgb_nadir10.tif" --source-labels "$A/rgb_nadir10_buildings.geojson" \
			"${args[@]}" --gsd 0.5 --seed "$SEED" --epochs "$EPOCHS" --train-opts "--adapt-warmup $((EPOCHS > 2 ? 2 : EPOCHS - 1))" \
			--out "$dir" 2>"$OUT/$t.$m.log" ||
			{ echo "rotterdam: $t $m failed, see $OUT/$t.$m.log" >&2; exit 1; }
		rm -f "$dir"/*.frames
	done
done
echo "rotterdam: reports in $OUT/*/*/report.html" >&2
