#!/bin/sh
# pipelines/demo.sh - the demo on the sample data (make demo).
# Inputs: DATA (default ../shared/data); OUT (default out/demo).
# The raster path: tile -> normalise-bands -> stitch, with the stream
# inspector, on the Atlanta RGB scene and its building labels.
set -eu
DATA=${DATA:-../shared/data}
OUT=${OUT:-out/demo}
BIN=${BIN:-bin}
export GDAL_PAM_ENABLED=NO
mkdir -p "$OUT"
src=$DATA/atlanta_sn4/rgb_nadir10.tif
labels=$DATA/atlanta_sn4/rgb_nadir10_buildings.geojson
echo "demo: tiling $src (256 px tiles, 32 px overlap) with building labels" >&2
$BIN/tile --size 256 --overlap 32 --domain source --labels "$labels" "$src" >"$OUT/tiles.frames"
$BIN/frame-info "$OUT/tiles.frames" >"$OUT/tiles.jsonl"
echo "demo: fitting band statistics" >&2
$BIN/normalise-bands --fit "$OUT/rgb.stats" <"$OUT/tiles.frames"
echo "demo: normalising and stitching back" >&2
$BIN/normalise-bands --stats "$OUT/rgb.stats" <"$OUT/tiles.frames" | tee "$OUT/norm.frames" |
	$BIN/stitch --quiet --cog "$OUT/normalised.tif"
$BIN/stitch --quiet --label "$OUT/labels.tif" <"$OUT/tiles.frames"
$BIN/stitch --quiet "$OUT/roundtrip.tif" <"$OUT/tiles.frames"
a=$(gdalinfo -checksum "$src" | grep Checksum | tr -d ' \n')
b=$(gdalinfo -checksum "$OUT/roundtrip.tif" | grep Checksum | tr -d ' \n')
[ "$a" = "$b" ] && same=identical || same=DIFFERENT
cat >&2 <<MSG
demo: outputs in $OUT/
  tiles.frames      $(tail -n 1 "$OUT/tiles.jsonl")
  tiles.jsonl       one JSON line per tile (frame-info)
  rgb.stats         per-band statistics (normalise-bands --fit)
  normalised.tif    standardised bands, Cloud Optimized GeoTIFF
  labels.tif        building labels rasterised from GeoJSON on the image grid
  roundtrip.tif     tile | stitch of the input: pixels $same to the source
MSG
