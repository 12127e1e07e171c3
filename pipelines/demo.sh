#!/bin/bash
# pipelines/demo.sh - the main job on the sample data (make demo).
# Inputs: DATA (default ../shared/data), OUT (default out/demo), EPOCHS (40:
# about 6 minutes on 2 cores; EPOCHS=80 trains the model README's results
# table quotes, building IoU above 0.5, in 11-18 minutes).
# Trains a source-only building detector on Rio de Janeiro (SpaceNet 1) and
# the western two thirds of the Atlanta scene (SpaceNet 4), maps the eastern
# third, which training never sees, and scores it against the SpaceNet
# footprints: a probability GeoTIFF, a GeoPackage of buildings, metrics.json.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(cd "${DATA:-../shared/data}" && pwd)	# absolute: the VRTs below name their source
OUT=${OUT:-out/demo}
EPOCHS=${EPOCHS:-40}
export GDAL_PAM_ENABLED=NO
mkdir -p "$OUT"
A=$DATA/atlanta_sn4
# the two parts of the Atlanta scene, as VRTs that point into the original
gdal_translate -q -of VRT -srcwin 0 0 600 900 "$A/rgb_nadir10.tif" "$OUT/atlanta_west.vrt"
gdal_translate -q -of VRT -srcwin 600 0 300 900 "$A/rgb_nadir10.tif" "$OUT/atlanta_east.vrt"
src=()
for img in "$DATA"/rio_sn1/images/*.tif; do
	src+=(--source "$img" --source-labels "$DATA/rio_sn1/masks/$(basename "$img")")
done
start=$(date +%s)
pipelines/adapt.sh --method source-only "${src[@]}" \
	--source "$OUT/atlanta_west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson" \
	--target "$OUT/atlanta_east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" \
	--gsd 0.5 --seed 1 --epochs "$EPOCHS" --class-weights 1,1 --out "$OUT"
cat >&2 <<MSG
demo: finished in $(( $(date +%s) - start )) s; outputs in $OUT/
  probs_atlanta_east.tif      building probability on the eastern third (GeoTIFF, EPSG:32616)
  buildings_atlanta_east.gpkg building polygons with mean score
  metrics.json                $(/usr/bin/python3 -c "import json; m = json.load(open('$OUT/metrics.json')); print(f'building IoU {m[\"building_iou\"]:.3f}, F1 {m[\"building_f1\"]:.3f}, object F1 {m[\"object_f1\"]:.3f}')")
  model, train.jsonl          the trained model and its per-epoch metrics
  report.html                 the report: options, metrics, quick-looks, training curves
demo: report: $OUT/report.html
MSG
