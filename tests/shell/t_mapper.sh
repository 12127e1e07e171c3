# The one-command mapper (bin/map) and the models it maps with: band
# matching, GSD, the Cloud Optimized GeoTIFFs, the GeoPackage, the report,
# --adapt adabn, and make models' recipe (tiny) giving the same bytes twice.
. tests/shell/lib.sh
A=$DATA/atlanta_sn4
export OPENBLAS_NUM_THREADS=1
# a tiny buildings model, the recipe of make models: an ensemble of two
# seeds here (three in make models), weights as i8
mk() { OUT=$T/$1 DEST=$T/$1/models MODELS=buildings EPOCHS=1 EXTRA="--width 4" SEEDS="1 2" THREADS=1 egs/models/run.sh 2>"$T/$1.err"; }
if mk m1 && mk m2 && cmp -s "$T/m1/models/buildings.model" "$T/m2/models/buildings.model" &&
	grep -aq '^members 2$' "$T/m1/models/buildings.model" && grep -aq '^weights i8$' "$T/m1/models/buildings.model" &&
	grep -q '^| training | .*, an ensemble of 2 networks, seeds 1, 2, each the last epoch; mapping averages their probabilities (each alone scores building IoU [0-9.]*, [0-9.]*);' "$T/m1/models/buildings.md" &&
	grep -q '^| held-back score | building IoU \*\*[0-9.]*\*\*' "$T/m1/models/buildings.md" &&
	grep -q '^| ground sample distance | 0.5 m |' "$T/m1/models/buildings.md" && grep -q 'CC BY-SA 4.0' "$T/m1/models/buildings.md"; then
	pass "egs/models (tiny): an ensemble of two seeds, the same bytes twice on the same threads; the card with its members' scores, GSD, held-back score and licence"
else
	fail "egs/models" "$(tail -n 2 "$T/m1.err" "$T/m2.err" | tr '\n' ' ')"
fi
# the card says the run's own seed and when no tile was held out (read from
# its run.txt), not a fixed "seed 1"
cp -r "$T/m1/buildings.seed1" "$T/card2"
sed -i 's/^seed 1$/seed 2/; s/^\(training .*\)$/\1 --val-frac 0/' "$T/card2/run.txt"
if $PY egs/models/local/card.py buildings "$T/card2" 1 >"$T/card2.md" 2>"$T/card2.err" &&
	grep -q '^| training | .*, every labelled tile (none held out for validation), seed 2, the last epoch;' "$T/card2.md" &&
	$PY egs/models/local/card.py buildings "$T/m1/buildings.seed1" 1 >"$T/card1.md" 2>>"$T/card2.err" &&
	grep -q ', seed 1, the last epoch;' "$T/card1.md" && ! grep -q 'every labelled tile' "$T/card1.md"; then
	pass "egs/models card: the run's seed and its held-out tiles, from run.txt"
else
	fail "egs/models card seed" "$(grep '^| training' "$T/card2.md") $(tail -n 1 "$T/card2.err")"
fi
# the multi-class model's recipe (tiny): i16 weights, the sources' GSD range
# (no one GSD to map at), a score per class in the card; mapped, one layer
# per class, roads as centrelines
if OUT=$T/mc DEST=$T/mc/models MODELS=multiclass EPOCHS=1 EXTRA="--width 4" THREADS=1 egs/models/run.sh 2>"$T/mc.err" &&
	grep -aq '^weights i16$' "$T/mc/models/multiclass.model" && grep -aq '^gsd_range 0.3-0.6$' "$T/mc/models/multiclass.model" &&
	grep -q '^| architecture | .* KB, convolution weights stored as 16-bit integers) |' "$T/mc/models/multiclass.md" &&
	grep -q '^| held-back score | building IoU \*\*[0-9.]*\*\*, tree IoU \*\*[0-9.]*\*\*, road IoU \*\*[0-9.]*\*\*' "$T/mc/models/multiclass.md" &&
	bin/map --model "$T/mc/models/multiclass.model" "$DATA/zurich_lidar/rgb_full.tif" --out "$T/mcmap" 2>"$T/mcmap.err" &&
	grep -q 'the model learned from 0.3-0.6 m: the scene keeps its own grid' "$T/mcmap.err" &&
	[ "$(ogrinfo -q "$T/mcmap/rgb_full.gpkg" | tr '\n' ' ')" = "1: building (Polygon) 2: road (Line String) 3: tree (Polygon) " ]; then
	pass "egs/models multiclass (tiny): i16 weights, the GSD range recorded and said when mapping, a score per class; mapped to one layer per class"
else
	fail "egs/models multiclass" "$(tail -n 2 "$T/mc.err" "$T/mcmap.err" | tr '\n' ' ') $(ogrinfo -q "$T/mcmap/rgb_full.gpkg" 2>&1 | tr '\n' ' ')"
fi
M=$T/m1/models/buildings.model
# a scene the model never saw, in another CRS (geographic), bands in another order
gdalwarp -q -t_srs EPSG:4326 "$A/rgb_nadir10.tif" "$T/geo.tif"
gdal_translate -q -b 3 -b 2 -b 1 "$T/geo.tif" "$T/bgr.tif"
$PY -c "
from osgeo import gdal
d = gdal.Open('$T/bgr.tif', gdal.GA_Update)
for i, n in enumerate(('blue', 'green', 'red')): d.GetRasterBand(i + 1).SetDescription(n)"
if bin/map --model "$M" "$T/bgr.tif" --out "$T/map" 2>"$T/map.err" &&
	grep -q 'bands 3,2,1, --gsd 0.5' "$T/map.err" && gdalinfo "$T/map/bgr_probs.tif" >"$T/p.info" &&
	grep -q 'LAYOUT=COG' "$T/p.info" && grep -q 'Overviews: ' "$T/p.info" && grep -q 'NoData Value=-1' "$T/p.info" &&
	grep -q 'Description = building' "$T/p.info" && grep -q 'LANDSHIFT_MODEL_SHA256=' "$T/p.info" &&
	grep -q 'UTM zone 16N' "$T/p.info" &&
	$PY /usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py "$T/map/bgr_probs.tif" >/dev/null &&
	$PY /usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py "$T/map/bgr_classes.tif" >/dev/null &&
	gdalinfo "$T/map/bgr_classes.tif" | grep -q 'NoData Value=255' &&
	ogrinfo -so "$T/map/bgr.gpkg" building | grep -q 'UTM zone 16N' && [ -s "$T/map/bgr.png" ] &&
	grep -q 'bgr.gpkg' "$T/map/bgr.html" && grep -q 'buildings.model (its 2 networks, their probabilities averaged)' "$T/map/bgr.html" &&
	[ -z "$(ls -A "$T/map" | grep -v '^bgr')" ]; then
	pass "bin/map: a geographic BGR scene mapped at the model's 0.5 m, bands matched by name; valid COGs (probabilities with overviews, nodata, band names, the model's hash; classes), a GeoPackage layer in UTM, quick-look and report (naming the ensemble's networks), nothing else left"
else
	fail "bin/map" "$(tail -n 3 "$T/map.err" | tr '\n' ' ')"
fi
# the map equals the filter chain's within float tolerance
$BIN/tile --quiet --size 512 --overlap 32 --gsd 0.5 --bands 3,2,1 "$T/bgr.tif" | $BIN/normalise-bands --fit "$T/c.stats"
$BIN/tile --quiet --size 512 --overlap 32 --gsd 0.5 --bands 3,2,1 "$T/bgr.tif" | $BIN/normalise-bands --stats "$T/c.stats" |
	$BIN/encode --quiet --model "$M" --decode | $BIN/stitch --quiet "$T/chain.tif"
if $PY -c "
from osgeo import gdal
import numpy as np
a = gdal.Open('$T/map/bgr_probs.tif').ReadAsArray(); b = gdal.Open('$T/chain.tif').ReadAsArray()
c = gdal.Open('$T/map/bgr_classes.tif').ReadAsArray()
m = a[0] >= 0
assert a.shape == b.shape and np.abs(a[:, m] - b[:, m]).max() < 2 ** -13 + 1e-5, np.abs(a[:, m] - b[:, m]).max()
assert (a[:, m] * 4096 == np.round(a[:, m] * 4096)).all(), 'not multiples of 1/4096'
assert (a[:, m] != b[:, m]).any(), 'not rounded'
assert (c[m] == a[:, m].argmax(0)).all(), 'the class raster is not the most probable rounded class'" 2>"$T/eq.py" &&
	gdalinfo "$T/map/bgr_probs.tif" | grep -q 'LANDSHIFT_PROBABILITY_STEP=0.000244140625'; then
	pass "bin/map's probabilities equal the filter chain's (tile | normalise-bands | encode --decode | stitch, the ensemble's two members averaged) to within half of their 1/4096 step (said in the metadata), the class raster their most probable class"
else
	fail "bin/map against the chain" "$(tail -n 1 "$T/eq.py")"
fi
# a model that records its decision (ensemble --decision): bin/map applies it
# unless told otherwise; the class raster and the polygons follow the
# threshold share-threshold --expected-iou finds on the map
$BIN/ensemble --quiet --out "$T/dec.model" --weights i8 --decision expected-iou "$M"
if bin/map --model "$T/dec.model" "$T/bgr.tif" --out "$T/dec" 2>"$T/dec.err" &&
	bin/map --model "$T/dec.model" --decision argmax "$T/bgr.tif" --out "$T/dec_am" 2>>"$T/dec.err" &&
	t=$($BIN/share-threshold --quiet --expected-iou "$T/dec/bgr_probs.tif") && grep -q "^map: decision expected-iou: class 1 where its probability is $t or more" "$T/dec.err" &&
	gdalinfo "$T/dec/bgr_classes.tif" | grep -q "LANDSHIFT_DECISION=expected-iou: class 1 where its probability is $t or more" &&
	$PY /usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py "$T/dec/bgr_classes.tif" >/dev/null &&
	grep -q "expected-iou: building where its probability is $t or more" "$T/dec/bgr.html" && $PY -c "
from osgeo import gdal, ogr
import numpy as np
t = float('$t')
dp, dc, da = (gdal.Open('$T/%s' % f) for f in ('dec/bgr_probs.tif', 'dec/bgr_classes.tif', 'dec_am/bgr_classes.tif'))
p, c, a = dp.ReadAsArray(), dc.ReadAsArray(), da.ReadAsArray()
m = p[0] >= 0
assert 0.05 < t < 0.95 and ((c[m] == 1) == (p[1][m] >= t)).all() and (c[~m] == 255).all(), 'the classes are not the threshold'
assert (a[m] == p[:, m].argmax(0)).all() and (c[m] != a[m]).any(), '--decision argmax is not the most probable class'
g = dp.GetGeoTransform(); want = (c == 1).sum() * abs(g[1] * g[5])
ds = ogr.Open('$T/dec/bgr.gpkg'); area = sum(f.GetGeometryRef().GetArea() for f in ds.GetLayer('building'))
assert 0.8 * want < area < 1.1 * want, (area, want)" 2>"$T/dec.py"; then
	pass "bin/map with a model that records --decision expected-iou: classes and polygons at the map's expected-IoU threshold ($t), said in the COG's metadata and the report; --decision argmax overrides it"
else
	fail "bin/map --decision expected-iou" "$(tail -n 2 "$T/dec.err" "$T/dec.py" | tr '\n' ' ')"
fi
must_fail "ensemble --decision names a rule mapping knows" 2 "^ensemble: --decision must be argmax, expected-iou or share=F \\(0 < F < 1\\), not 'best'$" \
	"$BIN/ensemble --out $T/x.model --decision best $M"
must_fail "bin/map refuses an unknown --decision" 2 "^map: --decision must be argmax, share=F or expected-iou, not 'best'$" \
	"bin/map --model $M --decision best $A/pan.tif --out $T/db"
# --precision bf16: the 3x3 convolutions in bfloat16 where the CPU has AVX-512
# BF16 (close to float, not equal), float elsewhere (equal)
if grep -qw avx512_bf16 /proc/cpuinfo; then tol=0.1 agree=0.995 differ=1; else tol=1e-6 agree=1 differ=0; fi
if bin/map --model "$M" --precision bf16 "$T/bgr.tif" --out "$T/bf" 2>"$T/bf.err" &&
	gdalinfo "$T/bf/bgr_probs.tif" | grep -q 'LANDSHIFT_PRECISION=bf16' && $PY -c "
from osgeo import gdal
import numpy as np
a = gdal.Open('$T/map/bgr_probs.tif').ReadAsArray(); b = gdal.Open('$T/bf/bgr_probs.tif').ReadAsArray()
m = a[0] >= 0
d = np.abs(a[:, m] - b[:, m]).max(); same = (a[:, m].argmax(0) == b[:, m].argmax(0)).mean()
assert d <= $tol and same >= $agree and (d > 0) == bool($differ), (d, same)
print('max difference %.3g, the same class on %.2f%% of pixels' % (d, 100 * same))" >"$T/bf.py" 2>&1; then
	pass "bin/map --precision bf16: probabilities within $tol of float's, the class map the same on a share $agree or more of pixels ($(tail -n 1 "$T/bf.py"))"
else
	fail "bin/map --precision bf16" "$(tail -n 1 "$T/bf.py") $(tail -n 1 "$T/bf.err")"
fi
must_fail "bin/map --precision f16 is refused" 2 "^map: --precision must be f32 or bf16, not 'f16'" "bin/map --model $M --precision f16 $A/pan.tif --out $T/f16"
must_fail "bin/map --round-bits 30 is refused" 2 "^map: --round-bits must be 0 to 23, not '30'" "bin/map --model $M --round-bits 30 $A/pan.tif --out $T/rb30"
must_fail "encode --precision f16 is refused" 2 "^encode: --precision must be f32 or bf16, not 'f16'" "$BIN/encode --model $M --precision f16 </dev/null"
if bin/map --model "$M" --adapt adabn --flips 2 "$A/rgb_nadir10.tif" --out "$T/ad" 2>"$T/ad.err" && grep -aq '^bn_adapted' "$T/ad/rgb_nadir10.model" &&
	gdalinfo "$T/ad/rgb_nadir10_probs.tif" | grep -q 'LANDSHIFT_ADAPTED=adabn' &&
	gdalinfo "$T/ad/rgb_nadir10_probs.tif" | grep -q 'LANDSHIFT_FLIPS=2'; then
	pass "bin/map --adapt adabn --flips 2: the model's statistics from the scene, kept beside the maps and named in them, as the flips are"
else
	fail "bin/map --adapt" "$(tail -n 2 "$T/ad.err")"
fi
must_fail "bin/map names missing bands" 2 "^map: the scene's bands \\(gray\\) hold none of the model's band sets \\(red,green,blue\\): give --bands" \
	"bin/map --model $M $A/pan.tif --out $T/pan"
# a grey scene read three times for an RGB model (--bands 1,1,1): the bands are
# the model's (renamed red, green, blue), not one name thrice, which
# normalise-bands refused; a scene whose bands are described R, G, B is
# matched by name and mapped too (encode refused r,g,b before)
gdal_translate -q -srcwin 0 0 256 256 "$A/pan.tif" "$T/grey.tif"
gdal_translate -q -srcwin 600 0 256 256 "$A/rgb_nadir10.tif" "$T/rgbdesc.tif"
$PY -c "
from osgeo import gdal
d = gdal.Open('$T/rgbdesc.tif', gdal.GA_Update)
for i, n in enumerate('RGB'): d.GetRasterBand(i + 1).SetDescription(n)"
if bin/map --threads 1 --model "$M" --bands 1,1,1 "$T/grey.tif" --out "$T/grey" 2>"$T/grey.err" &&
	grep -q 'bands 1,1,1, --gsd 0.5' "$T/grey.err" && [ "$(ogrinfo -q "$T/grey/grey.gpkg" | tr '\n' ' ')" = "1: building (Polygon) " ] &&
	bin/map --threads 1 --model "$M" "$T/rgbdesc.tif" --out "$T/rgbdesc" 2>"$T/rgbdesc.err" &&
	grep -q 'bands 1,2,3, --gsd 0.5' "$T/rgbdesc.err" && [ -s "$T/rgbdesc/rgbdesc_classes.tif" ]; then
	pass "bin/map --bands 1,1,1 maps a grey scene with an RGB model; bands described R, G, B are matched and mapped"
else
	fail "bin/map grey or R,G,B scene" "$(tail -n 2 "$T/grey.err" "$T/rgbdesc.err" | tr '\n' ' ')"
fi
# bands given by name (tile --bands red,green,blue): the quick-look found them
# by index only (a Python traceback); a scene with NaN pixels: no data in the
# class raster there, and the quick-look says nothing of them
gdal_translate -q -srcwin 600 0 256 256 "$A/rgb_nadir10.tif" "$T/named.tif"
$PY -c "
from osgeo import gdal
import numpy as np
s = gdal.Open('$T/named.tif'); a = s.ReadAsArray().astype('float32'); a[:, 40:80, 40:100] = np.nan
d = gdal.GetDriverByName('GTiff').Create('$T/nan.tif', 256, 256, 3, gdal.GDT_Float32)
d.SetGeoTransform(s.GetGeoTransform()); d.SetProjection(s.GetProjection())
for i in range(3): d.GetRasterBand(i + 1).WriteArray(a[i]); d.GetRasterBand(i + 1).SetDescription(('red', 'green', 'blue')[i])"
if bin/map --threads 1 --model "$M" --bands red,green,blue "$T/named.tif" --out "$T/named" 2>"$T/named.err" &&
	[ -s "$T/named/named.png" ] && ! grep -v '^map: ' "$T/named.err" | grep -q . &&
	bin/map --threads 1 --model "$M" "$T/nan.tif" --out "$T/nan" 2>"$T/nan.err" && ! grep -v '^map: ' "$T/nan.err" | grep -q . &&
	$PY -c "
from osgeo import gdal
c = gdal.Open('$T/nan/nan_classes.tif').ReadAsArray()
assert (c[40:80, 40:100] == 255).all() and (c[100:, 100:] != 255).all()"; then
	pass "bin/map: bands given by name, and a scene with NaN pixels (no data in the class raster there), mapped without a word on stderr but map's"
else
	fail "bin/map named bands or NaN" "$(tail -n 3 "$T/named.err" "$T/nan.err" | tr '\n' ' ')"
fi
must_fail "bin/map --bands with a count no stem takes" 2 "^map: --bands 1,1: 2 band\\(s\\), but the model takes red,green,blue$" \
	"bin/map --model $M --bands 1,1 $T/grey.tif --out $T/b2"
# a stage that fails mid-map: its own line, not the later stages' "empty
# stream"; no half-made maps, and no output folder where none was before
head -c 20000 "$M" >"$T/trunc.model"
bin/map --threads 1 --model "$T/trunc.model" "$T/rgbdesc.tif" --out "$T/tr" 2>"$T/tr.err"
rc=$?
if [ $rc = 1 ] && grep -q '^encode: .*trunc.model: .*truncated' "$T/tr.err" && ! grep -q 'empty stream' "$T/tr.err" &&
	[ "$(grep -vc '^map: ' "$T/tr.err")" = 1 ] && [ ! -e "$T/tr" ]; then
	pass "bin/map with a truncated model: one line from the stage that failed, exit 1, no output folder left"
else
	fail "bin/map truncated model" "exit $rc: $(tr '\n' ' ' <"$T/tr.err"); $(ls -a "$T/tr" 2>&1 | tr '\n' ' ')"
fi
must_fail "bin/map --flips 3 is refused" 2 "^map: --flips must be 1, 2 or 4, not '3'" "bin/map --model $M --flips 3 $A/pan.tif --out $T/f3"
must_fail "bin/map wants a model" 2 "^map: usage: map --model FILE SCENE --out DIR" "bin/map $A/pan.tif --out $T/x"
# an RGB camera's scene (a held-back NAIP chip without its near-infrared):
# the four-band trees model refuses it, trees-rgb maps it and finds the
# surveyed trees (point F1 0.64 on this chip; a model reading the wrong
# bands finds few)
N=$DATA/naip_trees
gdal_translate -q -b 1 -b 2 -b 3 "$N/images/santa_monica_2020_91.tif" "$T/rgbchip.tif"
must_fail "bin/map: the four-band trees model refuses an RGB scene, naming the shipped models that map trees from its bands" 2 \
	"^map: the scene's bands \\(red,green,blue\\) hold none of the model's band sets \\(red,green,blue,b4\\): give --bands, or map with a model for these bands: models/multiclass.model models/trees-rgb.model$" \
	"bin/map --threads 1 --model models/trees.model $T/rgbchip.tif --out $T/t4"
if [ -e "$T/t4" ]; then fail "bin/map refusal" "it made its output folder $T/t4"; else pass "bin/map refused before making its output folder"; fi
touch "$T/afile"
bin/map --threads 1 --model models/trees-rgb.model "$T/rgbchip.tif" --out "$T/afile/maps" 2>"$T/af.err"
rc=$?
if [ $rc = 2 ] && [ "$(tail -n 1 "$T/af.err")" = "map: --out: cannot make the folder $T/afile/maps" ] && ! grep -qv '^map: ' "$T/af.err"; then
	pass "bin/map: an output folder that cannot be made is one line naming it, exit 2"
else
	fail "bin/map --out under a file" "exit $rc: $(tr '\n' ' ' <"$T/af.err")"
fi
if bin/map --threads 1 --model models/trees-rgb.model "$T/rgbchip.tif" --out "$T/trgb" 2>"$T/trgb.err" &&
	f1=$(bin/evaluate --quiet --ref "$N/masks/santa_monica_2020_91.tif" --ref-map 2=1 --ref-class 1 --points "$N/json/santa_monica_2020_91.json" \
		--point-class 1 --match-distance 3 --class-names background,tree "$T/trgb/rgbchip_probs.tif" | $PY -c "import json, sys; print(json.load(sys.stdin)['point_f1'])") &&
	$PY -c "import sys; sys.exit(0 if $f1 >= 0.5 else 1)"; then
	pass "bin/map with models/trees-rgb.model on an RGB scene: tree point F1 $f1 on a held-back chip"
else
	fail "bin/map with trees-rgb" "point F1 ${f1:-none}; $(tail -n 2 "$T/trgb.err" | tr '\n' ' ')"
fi
# a road model maps roads as centrelines: a LineString layer in the scene's
# CRS with width and length, counted in the report (the shipped roads model)
V=$DATA/vegas_sn3_roads
gdal_translate -q -srcwin 867 0 433 700 "$V/pan.tif" "$T/vegas.tif"
if bin/map --threads 1 --model models/roads.model "$T/vegas.tif" --out "$T/rd" 2>"$T/rd.err" &&
	ogrinfo -so "$T/rd/vegas.gpkg" road | grep -q '^Geometry: Line String' &&
	ogrinfo -so "$T/rd/vegas.gpkg" road | grep -q 'UTM zone 11N' &&
	[ "$(ogrinfo -so "$T/rd/vegas.gpkg" road | sed -n 's/^Feature Count: //p')" -ge 1 ] &&
	ogrinfo -so "$T/rd/vegas.gpkg" road | grep -q '^length: Real' &&
	grep -q '<td>road</td><td>[1-9][0-9]*</td><td></td><td>[0-9.]*</td>' "$T/rd/vegas.html"; then
	pass "bin/map with a road model: centrelines (LineStrings in the scene's CRS, width, length), in the report"
else
	fail "bin/map with a road model" "$(tail -n 2 "$T/rd.err"; ogrinfo -so "$T/rd/vegas.gpkg" road 2>&1 | head -8 | tr '\n' ' ')"
fi
# the precision of one IoU (egs/models/local/block-bootstrap.py, on
# evaluate's error raster): evaluate's IoU on the same map; one block
# holding the whole map gives no spread; 50-pixel blocks give some, an
# interval around the IoU
BB=egs/models/local/block-bootstrap.py
if e=$(bin/evaluate --quiet --ref "$A/rgb_nadir10_buildings.geojson" --class-names background,building --object-class 1 \
		--errors "$T/bb.err.tif" "$T/map/bgr_probs.tif" | $PY -c "import json, sys; print(json.load(sys.stdin)['building_iou'])") &&
	$PY "$BB" --block 100000 "$T/bb.err.tif" >"$T/bb1.json" && $PY "$BB" --block 50 --draws 500 "$T/bb.err.tif" >"$T/bb50.json" &&
	$PY -c "
import json
one, many = json.load(open('$T/bb1.json')), json.load(open('$T/bb50.json'))
assert abs(one['iou'] - $e) < 1e-5 and abs(many['iou'] - $e) < 1e-5, (one, many, $e)
assert one['blocks'] == 1 and one['sd'] == 0 and one['ci95'][0] == one['ci95'][1] == one['iou'], one
assert many['blocks'] > 100 and 0 < many['sd'] < 0.2 and many['ci95'][0] < many['iou'] < many['ci95'][1], many"; then
	pass "block-bootstrap.py: evaluate's IoU ($e) from its error raster; no spread from one block, an interval around it from 50-pixel blocks"
else
	fail "block-bootstrap.py" "evaluate ${e:-none}; $(cat "$T/bb1.json" "$T/bb50.json" 2>&1 | tr '\n' ' ')"
fi
must_fail "block-bootstrap.py: a probability raster is not an error raster" 1 "^block-bootstrap: .*bgr_probs.tif: not an error raster of evaluate --errors" \
	"$PY $BB $T/map/bgr_probs.tif"
