# Several classes in one model (buildings, trees, roads) from sources whose
# labels speak for some classes only (partial labels).
. tests/shell/lib.sh
A=$DATA/atlanta_sn4 N=$DATA/naip_trees
export OPENBLAS_NUM_THREADS=1

# tile records what the labels speak for; frame-info shows it
$BIN/tile --size 128 --labels "$N/masks/santa_monica_2020_3.tif" --label-classes 2 --bands 1,2,3 \
	"$N/images/santa_monica_2020_3.tif" >"$T/tree.frames" 2>/dev/null
lc=$($BIN/frame-info --no-stats <"$T/tree.frames" 2>/dev/null | head -n 1 | grep -o '"label_classes":\[[0-9,]*\]')
[ "$lc" = '"label_classes":[2]' ] && pass "tile --label-classes 2: the frames say their labels speak for trees only" ||
	fail "tile --label-classes" "'$lc'"
must_fail "tile --label-classes refuses class 0" 2 "label-classes.*class codes 1 to 63" \
	"$BIN/tile --labels $N/masks/santa_monica_2020_3.tif --label-classes 0 $N/images/santa_monica_2020_3.tif"
must_fail "tile --label-classes without --labels is refused" 2 "no --labels" \
	"$BIN/tile --label-classes 2 $N/images/santa_monica_2020_3.tif"
# labels that hold a class they do not speak for are a contradiction
$BIN/tile --size 128 --labels "$N/masks/santa_monica_2020_3.tif" --label-classes 1 --bands 1,2,3 \
	"$N/images/santa_monica_2020_3.tif" 2>/dev/null | $BIN/normalise-bands --fit "$T/c.stats"
$BIN/tile --size 128 --labels "$N/masks/santa_monica_2020_3.tif" --label-classes 1 --bands 1,2,3 \
	"$N/images/santa_monica_2020_3.tif" 2>/dev/null | $BIN/normalise-bands --stats "$T/c.stats" >"$T/bad.frames"
must_fail "critic-train refuses labels holding a class their label_classes do not list" 1 \
	"bad.frames: frame .* holds class 2, which its label_classes do not list" \
	"$BIN/critic-train --quiet --model $T/x.model --source $T/bad.frames --classes 4 --width 4 --epochs 1"

# adapt.sh --classes: buildings from Atlanta, trees from NAIP, one model
gdal_translate -q -of VRT -srcwin 0 0 600 900 "$A/rgb_nadir10.tif" "$T/west.vrt"
gdal_translate -q -of VRT -srcwin 600 0 300 900 "$A/rgb_nadir10.tif" "$T/east.vrt"
run() {
	pipelines/adapt.sh --method source-only --classes building,tree,road \
		--source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson" --source-classes building \
		--source "$N/images/santa_monica_2020_3.tif" --source-labels "$N/masks/santa_monica_2020_3.tif" --source-classes tree \
		--target "$T/east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" --eval-classes building \
		--target "$N/images/santa_monica_2020_90.tif" --eval-labels "$N/masks/santa_monica_2020_90.tif" --eval-classes tree \
		--source-bands 1,2,3 --source-band-names red,green,blue --target-bands 1,2,3 --target-band-names red,green,blue \
		--epochs 1 --width 4 --threads 1 "$@"
}
if run --out "$T/mc" 2>"$T/mc.err"; then
	layers=$(ogrinfo -q "$T/mc/map_east.gpkg" 2>/dev/null | sed 's/^[0-9]*: \([a-z]*\) .*/\1/' | sort | tr '\n' ' ')
	keys=$($PY -c 'import json, sys; print(" ".join(sorted(json.load(open(sys.argv[1]))["per_class"])))' "$T/mc/metrics.json")
	names=$(grep -a -o 'background,building,tree,road' "$T/mc/model" | head -n 1)
	if [ "$layers" = "building road tree " ] && [ "$keys" = "building tree" ] && [ -n "$names" ]; then
		pass "adapt.sh --classes building,tree,road: one model, a GeoPackage layer per class, each class scored where its labels are"
	else
		fail "adapt.sh --classes" "layers '$layers', scored '$keys', names '$names'"
	fi
else
	fail "adapt.sh --classes" "$(tail -n 3 "$T/mc.err" | tr '\n' ' ')"
fi
must_fail "adapt.sh --source-classes names a class of --classes" 2 "class 'car' is not one of --classes building,tree,road" \
	"pipelines/adapt.sh --method source-only --classes building,tree,road --source $T/west.vrt --source-labels x --source-classes car --target $T/east.vrt --out $T/no"
must_fail "adapt.sh --source-classes without --classes is refused" 2 "name classes of --classes" \
	"pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels x --source-classes building --target $T/east.vrt --out $T/no"
must_fail "adapt.sh wants one --eval-classes per eval raster" 2 "give one --eval-classes per --eval raster" \
	"pipelines/adapt.sh --method source-only --classes building,tree --source $T/west.vrt --source-labels x --target $T/east.vrt --target $T/west.vrt --eval-classes building --out $T/no2"
