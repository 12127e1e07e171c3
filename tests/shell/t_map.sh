# Mapping on the sample data: encode, decode, stitch, vectorise,
# share-threshold and evaluate.
. tests/shell/lib.sh
A=$DATA/atlanta_sn4
export OPENBLAS_NUM_THREADS=1

$BIN/tile --size 128 --labels "$A/rgb_nadir10_buildings.geojson" --domain source "$A/rgb_nadir10.tif" >"$T/t.frames"
$BIN/normalise-bands --fit "$T/s.stats" <"$T/t.frames"
$BIN/normalise-bands --stats "$T/s.stats" <"$T/t.frames" >"$T/n.frames"
$BIN/critic-train --quiet --model "$T/m.model" --source "$T/n.frames" --width 4 --epochs 2 --batch 8 --seed 5 2>/dev/null
# encode | decode is exactly the one-process prediction
$BIN/encode --model "$T/m.model" <"$T/n.frames" | $BIN/decode --model "$T/m.model" | $BIN/stitch --quiet "$T/p1.tif"
$BIN/encode --model "$T/m.model" --decode <"$T/n.frames" | $BIN/stitch --quiet "$T/p2.tif"
cmp -s "$T/p1.tif" "$T/p2.tif" && pass "encode | decode gives exactly encode --decode" || fail "encode | decode" "outputs differ"
# batches of tiles through one forward pass: the same bytes whatever --batch (64 tiles: 21 batches of 3 and one of 1)
$BIN/encode --quiet --model "$T/m.model" --batch 1 <"$T/n.frames" | $BIN/decode --quiet --batch 1 --model "$T/m.model" >"$T/b1.frames"
$BIN/encode --quiet --model "$T/m.model" --batch 3 <"$T/n.frames" | $BIN/decode --quiet --batch 5 --model "$T/m.model" >"$T/b3.frames"
$BIN/encode --quiet --model "$T/m.model" --batch 64 --decode <"$T/n.frames" | $BIN/stitch --quiet "$T/p3.tif"
if cmp -s "$T/b1.frames" "$T/b3.frames" && cmp -s "$T/p2.tif" "$T/p3.tif" && [ "$($BIN/frame-info <"$T/b3.frames" | grep -c '"kind":"probs"')" -eq 64 ]; then
	pass "encode/decode --batch 1, 3, 5, 64: identical outputs, every tile in order"
else
	fail "encode/decode --batch" "outputs differ"
fi
g1=$(gdalinfo "$T/p1.tif" | grep -E '^(Size is|Origin|Pixel Size)'; gdalsrsinfo -o proj4 "$T/p1.tif")
g0=$(gdalinfo "$A/rgb_nadir10.tif" | grep -E '^(Size is|Origin|Pixel Size)'; gdalsrsinfo -o proj4 "$A/rgb_nadir10.tif")
[ "$g1" = "$g0" ] && gdalinfo "$T/p1.tif" | grep -q 'Band 2' && pass "probability GeoTIFF on the image grid and CRS, one band per class" ||
	fail "probability raster grid" "$g1"
# test-time flips: the mean over a tile and its mirror images, so mapping
# a mirrored scene gives the mirrored map (exactly with 2: a + b = b + a)
gdal_translate -q -srcwin 100 100 256 256 "$A/rgb_nadir10.tif" "$T/w.tif"
$PY -c "
from osgeo import gdal; import sys
s = gdal.Open(sys.argv[1]); a = s.ReadAsArray()
for name, b in (('lr', a[:, :, ::-1]), ('ud', a[:, ::-1, :])):
    d = gdal.GetDriverByName('GTiff').CreateCopy(sys.argv[2] + name + '.tif', s)
    d.WriteRaster(0, 0, 256, 256, b.tobytes()); d = None" "$T/w.tif" "$T/w_"
fl() { $BIN/tile --quiet --size 256 --overlap 0 "$1" | $BIN/normalise-bands --quiet --stats "$T/s.stats" |
	$BIN/encode --quiet --model "$T/m.model" --decode --flips "$2" | $BIN/stitch --quiet "$3"; }
fl "$T/w.tif" 2 "$T/f2.tif"; fl "$T/w_lr.tif" 2 "$T/f2lr.tif"; fl "$T/w.tif" 1 "$T/f1.tif"
fl "$T/w.tif" 4 "$T/f4.tif"; fl "$T/w_ud.tif" 4 "$T/f4ud.tif"
$BIN/encode --quiet --model "$T/m.model" --decode --flips 4 --batch 1 <"$T/n.frames" >"$T/fb1.frames"
$BIN/encode --quiet --model "$T/m.model" --decode --flips 4 --batch 3 <"$T/n.frames" >"$T/fb3.frames"
if $PY -c "
from osgeo import gdal; import numpy as np, sys
r = lambda n: gdal.Open(sys.argv[1] + n + '.tif').ReadAsArray()
f1, f2, f2lr, f4, f4ud = (r(n) for n in ('f1', 'f2', 'f2lr', 'f4', 'f4ud'))
assert np.array_equal(f2, f2lr[:, :, ::-1]), 'flips 2 of the mirrored tile is not the mirrored map'
assert np.allclose(f4, f4ud[:, ::-1, :], atol=1e-6), 'flips 4 of the upside-down tile is not the upside-down map'
assert np.abs(f2 - f1).max() > 1e-3, 'flips 2 changed nothing'
assert np.allclose(f2.sum(0), 1, atol=1e-5), 'averaged probabilities do not sum to 1'" "$T/" && cmp -s "$T/fb1.frames" "$T/fb3.frames"; then
	pass "encode --flips 2, 4: a mirrored tile gives the mirrored map; probabilities still sum to 1; --batch gives the same bytes"
else
	fail "encode --flips" "see above"
fi
must_fail "encode --flips needs --decode" 2 "flips averages probabilities: it needs --decode" "$BIN/encode --model $T/m.model --flips 2 <$T/n.frames"
must_fail "encode --flips 3 is refused" 2 "flips must be 1, 2 or 4, not 3" "$BIN/encode --model $T/m.model --decode --flips 3 <$T/n.frames"
$BIN/encode --model "$T/m.model" --decode --class-index <"$T/n.frames" | $BIN/stitch --quiet "$T/c.tif"
gdalinfo "$T/c.tif" | grep -q 'Type=Byte' && pass "--class-index writes one u8 class band" || fail "class index" "not Byte"

# vectorise: polygons a GIS opens, in the raster's CRS, valid, seams whole
$BIN/vectorise --quiet "$A/rgb_nadir10_mask.tif" "$T/b.gpkg"
$BIN/vectorise --quiet --simplify 0.5 "$A/rgb_nadir10_mask.tif" "$T/b.geojson"
n=$(ogrinfo -so "$T/b.gpkg" building | awk '/Feature Count/ {print $3}')
invalid=$(ogrinfo -q -dialect sqlite -sql "SELECT COUNT(*) AS n FROM polygons WHERE NOT ST_IsValid(geometry)" "$T/b.geojson" | awk '/n \(Integer\)/ {print $NF}')
if [ "$n" -ge 180 ] && ogrinfo -so "$T/b.gpkg" building | grep -q 'EPSG",32616' && [ "$invalid" = 0 ]; then
	pass "vectorise: $n building polygons, EPSG:32616, GeoPackage and simplified GeoJSON, none invalid"
else
	fail "vectorise" "count $n invalid $invalid"
fi
$BIN/tile --size 128 --overlap 16 "$A/rgb_nadir10_mask.tif" | $BIN/stitch --quiet "$T/mask_tiled.tif"
n2=$($BIN/vectorise "$T/mask_tiled.tif" "$T/b2.gpkg" 2>&1 | grep -o '[0-9]* polygons')
[ "$n2" = "$n polygons" ] && pass "buildings crossing tile seams come out whole ($n2 after tile | stitch)" || fail "seams" "$n2 vs $n"
ogrinfo -q "$T/b.gpkg" building -fid 1 | grep -q 'score (Real) = 1' && pass "polygons carry class and score" || fail "attributes" "no score"
$BIN/vectorise --quiet --class-names background,tree "$A/rgb_nadir10_mask.tif" "$T/tr.gpkg"
ogrinfo -q "$T/tr.gpkg" tree -fid 1 | grep -q 'class_name (String) = tree' && pass "vectorise --class-names names class 1 tree, its layer too" ||
	fail "vectorise --class-names" "$(ogrinfo -q "$T/tr.gpkg" tree -fid 1 | grep class_name)"
# a 16384 x 16384 scene: the class raster goes through a temporary file
# beside the output, so memory does not grow with the scene (the whole-scene
# class raster alone would be 268 MB)
gdal_translate -q -co TILED=YES -co COMPRESS=DEFLATE -outsize 16384 16384 -r near "$A/rgb_nadir10_mask.tif" "$T/m16k.tif"
mkdir -p "$T/v16"
/usr/bin/time -f %M -o "$T/v16.kb" $BIN/vectorise --quiet "$T/m16k.tif" "$T/v16/b.gpkg"
n16=$(ogrinfo -so "$T/v16/b.gpkg" building | awk '/Feature Count/ {print $3}')
kb=$(tail -n 1 "$T/v16.kb") lim=300000
case ${BUILD:-} in *san*) lim=1000000 ;; esac	# sanitizer shadow memory
if [ "$n16" = "$n" ] && [ "$kb" -lt $lim ] && [ "$(ls "$T/v16")" = b.gpkg ]; then
	pass "vectorise a 16384 x 16384 scene in $((kb / 1024)) MB (455 MB when the class raster was held whole), $n16 polygons, no temporary left"
else
	fail "vectorise memory" "$n16 polygons, peak $kb KB, files: $(ls "$T/v16" | tr '\n' ' ')"
fi
rm -f "$T/m16k.tif"

# share-threshold and --class-threshold: on a ramp of probabilities (i / 10000,
# the first row NaN) the top 10 % are exactly the 990 highest of the 9900
# mapped pixels; evaluate and vectorise then call exactly those the class;
# two rasters pool
$PY -c "
from osgeo import gdal, osr
import numpy as np
p = (np.arange(10000, dtype=np.float32) / 10000).reshape(100, 100); p[0] = np.nan
def write(path, band2, nb=2, dt=gdal.GDT_Float32):
    d = gdal.GetDriverByName('GTiff').Create(path, 100, 100, nb, dt)
    d.SetGeoTransform((500000, 0.5, 0, 4000000, 0, -0.5)); s = osr.SpatialReference(); s.ImportFromEPSG(32616)
    d.SetProjection(s.ExportToWkt())
    if nb == 2: d.GetRasterBand(1).WriteArray(1 - band2)
    d.GetRasterBand(nb).WriteArray(band2)
write('$T/ramp.tif', p)
q = p.copy(); q[5, 7] = 1.5; write('$T/ramp_bad.tif', q)
write('$T/ramp0.tif', np.zeros((100, 100), np.float32))
write('$T/ramp_ref.tif', np.zeros((100, 100)), 1, gdal.GDT_Byte)
"
t=$($BIN/share-threshold --share 0.1 "$T/ramp.tif" 2>"$T/st.err")
t2=$($BIN/share-threshold --quiet --share 0.1 "$T/ramp.tif" "$T/ramp0.tif")
$BIN/evaluate --quiet --ref "$T/ramp_ref.tif" --class-threshold "1=$t" "$T/ramp.tif" >"$T/st_e.json"
$BIN/evaluate --quiet --ref "$T/ramp_ref.tif" "$T/ramp.tif" >"$T/st_a.json"
$BIN/vectorise --quiet --min-area 0 --class-threshold "1=$t" "$T/ramp.tif" "$T/st.gpkg"
if grep -q '^share-threshold: 990 of 9900 mapped pixels (10.0000 %' "$T/st.err" && $PY -c "
import json
from osgeo import ogr
t = float('$t'); assert 0.9009 < t < 0.9011 and t * 2**20 == int(t * 2**20), t   # a bin edge
t2 = float('$t2'); assert 0.8009 < t2 < 0.8011, t2   # with 10 000 zeros: the top 1990 of 19 900
e, a = (json.load(open('$T/st_%s.json' % k))['confusion'] for k in 'ea')
assert e == [[9900 - 990, 990], [0, 0]], e   # 9010 .. 9999 / 10000, nothing else
assert a == [[9900 - 4999, 4999], [0, 0]], a   # the most probable class: above 0.5
ds = ogr.Open('$T/st.gpkg'); l = ds.GetLayer(0)
f = l.GetNextFeature()   # held: a geometry outlives no feature
assert l.GetFeatureCount() == 1 and abs(f.GetGeometryRef().GetArea() - 990 * 0.25) < 1e-6, f.GetGeometryRef().GetArea()
" 2>"$T/st.py"; then
	pass "share-threshold: the top 10 % of a probability ramp (990 of 9900 mapped pixels, NaN left out), and over two rasters pooled; evaluate and vectorise --class-threshold call exactly those the class"
else
	fail "share-threshold" "t=$t t2=$t2 $(cat "$T/st.err" "$T/st.py" | tail -n 3 | tr '\n' ' ')"
fi
# share-threshold --expected-iou: on the same ramp, the threshold is the
# bin edge just under the pixel value that a brute-force search over every
# pixel value finds best for the IoU the probabilities expect (sum of p
# called over pixels called plus sum of p not called); stitch
# --class-threshold then calls exactly the pixels at or above it
te=$($BIN/share-threshold --expected-iou "$T/ramp.tif" 2>"$T/te.err")
te0=$($BIN/share-threshold --expected-iou "$T/ramp0.tif" 2>"$T/te0.err")
$BIN/tile --quiet --size 64 --overlap 0 "$T/ramp.tif" >"$T/ramp.frames"
$BIN/stitch --quiet --class-index --class-threshold "1=$te" "$T/te_cls.tif" "$T/ramp.frames"
$BIN/stitch --quiet --class-index "$T/am_cls.tif" "$T/ramp.frames"
if [ "$te0" = 1 ] && grep -q 'no mapped pixel has any probability of class 1' "$T/te0.err" && $PY -c "
import re
import numpy as np
from osgeo import gdal
p = np.arange(100, 10000) / 10000   # the 9900 mapped pixels, ascending
tp = np.cumsum(p[::-1])[::-1]   # tp[i]: the sum of p[i:], the pixels called the class
iou = tp / (len(p) - np.arange(len(p)) + p.sum() - tp)
best, bt = iou.max(), p[iou.argmax()]   # 0.618 at 0.382 (the golden ratio, for a uniform ramp)
t = float('$te'); assert bt - 2**-20 < t <= bt and t * 2**20 == int(t * 2**20), (t, bt)
m = re.search(r'an expected IoU of ([0-9.]+)', open('$T/te.err').read()); assert abs(float(m.group(1)) - best) < 1e-4, (m.group(1), best)
ds = gdal.Open('$T/te_cls.tif'); c = ds.ReadAsArray(); dq = gdal.Open('$T/ramp.tif'); q = dq.GetRasterBand(2).ReadAsArray()
assert (c[0] == 255).all() and ((c[1:] == 1) == (q[1:] >= t)).all() and set(np.unique(c[1:])) == {0, 1}, np.unique(c)
a = gdal.Open('$T/am_cls.tif').ReadAsArray(); q0 = dq.GetRasterBand(1).ReadAsArray()
assert (a[0] == 255).all() and ((a[1:] == 1) == (q[1:] > q0[1:])).all(), 'without a threshold: not the most probable class'
" 2>"$T/te.py"; then
	pass "share-threshold --expected-iou: the threshold a brute-force search over a probability ramp finds best for the IoU the probabilities expect ($te), none for an all-zero map; stitch --class-threshold calls exactly the pixels at or above it, and without it the most probable class"
else
	fail "share-threshold --expected-iou" "te=$te te0=$te0 $(cat "$T/te.err" "$T/te0.err" "$T/te.py" | tail -n 3 | tr '\n' ' ')"
fi
must_fail "share-threshold: --share and --expected-iou are one rule or the other" 2 "^share-threshold: give --share F or --expected-iou, not both$" \
	"$BIN/share-threshold --share 0.1 --expected-iou $T/ramp.tif"
must_fail "stitch --class-threshold decides --class-index's classes" 2 "^stitch: --class-threshold decides the class of --class-index: give both$" \
	"$BIN/stitch --class-threshold 1=0.5 $T/x.tif $T/ramp.frames"
must_fail "stitch --class-threshold beyond the frames' classes" 1 "class threshold 2=0.5: frame .* holds 2 classes, no class 2$" \
	"$BIN/stitch --class-index --class-threshold 2=0.5 $T/x.tif $T/ramp.frames"
must_fail "share-threshold refuses a pixel that is not a probability" 1 "^share-threshold: $T/ramp_bad.tif: pixel \\(7, 5\\) of class 1 is 1.5, not a probability$" \
	"$BIN/share-threshold --share 0.1 $T/ramp.tif $T/ramp_bad.tif"
must_fail "share-threshold refuses a class raster" 1 "ramp_ref.tif: not a probability raster" "$BIN/share-threshold --share 0.1 $T/ramp_ref.tif"
must_fail "share-threshold needs --share" 2 "^share-threshold: give --share F" "$BIN/share-threshold $T/ramp.tif"
must_fail "share-threshold wants a share between 0 and 1" 2 "^share-threshold: --share must lie above 0 and below 1, not 0$" "$BIN/share-threshold --share 0 $T/ramp.tif"
must_fail "share-threshold: no class 2 in a two-class map" 1 "ramp.tif: holds 2 classes, no class 2$" "$BIN/share-threshold --share 0.1 --class 2 $T/ramp.tif"
must_fail "evaluate --class-threshold needs CLASS=THRESHOLD" 2 "class-threshold: '1=2' is not CLASS=THRESHOLD" "$BIN/evaluate --ref $T/ramp_ref.tif --class-threshold 1=2 $T/ramp.tif"
must_fail "evaluate --class-threshold on a class raster" 2 "^evaluate: --class-threshold 1=0.5: .*ramp_ref.tif holds classes, not probabilities$" "$BIN/evaluate --ref $T/ramp_ref.tif --class-threshold 1=0.5 $T/ramp_ref.tif"
must_fail "vectorise --class-threshold beyond the map's classes" 1 "ramp.tif: class threshold 2=0.5: the raster holds 2 classes, no class 2$" "$BIN/vectorise --class-threshold 2=0.5 $T/ramp.tif $T/x.gpkg"

# evaluate
$BIN/evaluate --quiet --ref "$A/rgb_nadir10_buildings.geojson" "$A/rgb_nadir10_mask.tif" >"$T/e.json"
if grep -q '"building_iou":1.000000' "$T/e.json" && grep -q '"object_f1":1.000000' "$T/e.json"; then
	pass "evaluate: the reference mask scores IoU 1 and object F1 1 against the GeoJSON"
else
	fail "evaluate perfect" "$(head -c 300 "$T/e.json")"
fi
$BIN/evaluate --quiet --ref "$A/rgb_nadir10_buildings.geojson" "$T/p1.tif" >"$T/e2.json"
$PY -c "
import json; r = json.load(open('$T/e2.json')); b = r['classes']['building']; c = r['confusion']
assert abs(b['iou'] - c[1][1] / (c[1][1] + c[0][1] + c[1][0])) < 1e-5 and 0 <= r['object_f1'] <= 1
" && pass "evaluate on a probability raster: IoU consistent with its confusion matrix" || fail "evaluate probs" "$(head -c 200 "$T/e2.json")"
# --objects: the objects scored are the delivered polygons. The reference
# mask vectorised without small buildings: every polygon counts (as many as
# the GeoPackage holds), the dropped buildings are misses, and a layer of
# points is refused
$BIN/vectorise --quiet --classes 1 --min-area 40 "$A/rgb_nadir10_mask.tif" "$T/big.gpkg"
$BIN/evaluate --quiet --ref "$A/rgb_nadir10_buildings.geojson" --objects "$T/big.gpkg" "$A/rgb_nadir10_mask.tif" >"$T/eo.json"
n=$($PY -c "
import json; from osgeo import ogr
r = json.load(open('$T/e.json'))['object']['match']; o = json.load(open('$T/eo.json'))['object']
ds = ogr.Open('$T/big.gpkg'); n = ds.GetLayerByName('building').GetFeatureCount()
m = o['match']
assert o['objects'].endswith('big.gpkg') and m['pred'] == n == m['tp'], (n, m)
assert m['ref'] == r['ref'] and n < r['pred'] and abs(m['recall'] - n / r['ref']) < 1e-6, (n, m, r)
print(n)
") && pass "evaluate --objects scores the delivered polygons: all $n polygons matched, the buildings under 40 m2 counted as misses" || fail "evaluate --objects" "$(head -c 400 "$T/eo.json")"
must_fail "evaluate --objects refuses a layer of points" 1 "holds Point geometries, not polygons" \
	"$BIN/evaluate --ref $A/rgb_nadir10_buildings.geojson --objects $DATA/naip_trees/json/santa_monica_2020_0.json $A/rgb_nadir10_mask.tif"
# a tree raster scored as class 1 under its own name (--ref-map, --class-names)
$PY -c "
from osgeo import gdal
s = gdal.Open('$DATA/zurich_lidar/labels.tif'); a = s.ReadAsArray()
d = gdal.GetDriverByName('GTiff').CreateCopy('$T/ztree.tif', s); d.GetRasterBand(1).WriteArray((a == 2).astype('uint8')); d = None"
$BIN/evaluate --quiet --ref "$DATA/zurich_lidar/labels.tif" --ref-map 1=0,2=1 --class-names background,tree \
	"$T/ztree.tif" >"$T/z.json" 2>"$T/z.err"
if $PY -c "
import json; r = json.load(open('$T/z.json')); t = r['classes']['tree']
assert set(r['classes']) == {'background', 'tree'} and t['ref_pixels'] > 1000 and r['tree_iou'] == 1, r['classes']" 2>/dev/null; then
	pass "evaluate --ref-map 1=0,2=1 --class-names background,tree: class 1 scored and named tree"
else
	fail "class names" "$(head -c 300 "$T/z.err") $(head -c 300 "$T/z.json")"
fi
must_fail "evaluate refuses class names that would break its JSON" 2 'names are letters' \
	"$BIN/evaluate --ref $A/rgb_nadir10_buildings.geojson --class-names 'a\"b' $A/rgb_nadir10_mask.tif"
N=$DATA/naip_trees
$BIN/evaluate --quiet --points "$N/json/santa_monica_2020_0.json" --ref "$N/masks/santa_monica_2020_0.tif" "$N/masks/santa_monica_2020_0.tif" >"$T/pt.json" 2>"$T/pt.err" || true
if $PY -c "
import json; r = json.load(open('$T/pt.json')); m = r['points']['match']
assert m['ref'] > 0 and m['recall'] > 0.8, m" 2>/dev/null; then
	pass "tree points matched to tree discs within 3 m (recall > 0.8 when the prediction is the disc mask)"
else
	fail "points" "$(cat "$T/pt.err" | head -c 300) $(head -c 300 "$T/pt.json")"
fi
# crown labels (LiDAR) as points: the tree mask itself finds every crown
# centre, the same mask flipped north to south (its trees elsewhere) next to
# none, and the mask in alternate strips 20 m wide about half of them
Z=$DATA/zurich_lidar
$PY -c "
from osgeo import gdal
import numpy as np
s = gdal.Open('$Z/labels_full.tif'); a = (s.ReadAsArray() == 2).astype('uint8')
for name, b in (('same', a), ('moved', a[::-1]), ('west', np.where(np.arange(a.shape[1]) // 40 % 2 == 0, a, 0))):
    d = gdal.GetDriverByName('GTiff').CreateCopy('$T/zc_%s.tif' % name, s); d.GetRasterBand(1).WriteArray(b.astype('uint8')); d = None"
for v in same moved west; do
	$BIN/evaluate --quiet --ref "$Z/labels_full.tif" --ref-map 1=0,2=1 --class-names background,tree --crown-points --point-class 1 \
		"$T/zc_$v.tif" >"$T/zc_$v.json" 2>"$T/zc.err"
done
if $PY -c "
import json
m = {v: json.load(open('$T/zc_%s.json' % v))['points'] for v in ('same', 'moved', 'west')}
s, mv, w = (m[v]['match'] for v in ('same', 'moved', 'west'))
assert m['same']['centres'] == 'crowns' and s['ref'] > 30 and s['f1'] == 1, s
assert mv['tp'] <= 0.1 * s['ref'], mv
assert 0.2 < w['recall'] < 0.8 and w['precision'] > 0.7, w
print(s['ref'], round(w['recall'], 2))" >"$T/zc.out" 2>&1; then
	pass "evaluate --crown-points on the Zurich LiDAR: the tree mask finds all $(cut -d' ' -f1 "$T/zc.out") crown centres, flipped north to south next to none, in alternate 20-m strips $(cut -d' ' -f2 "$T/zc.out") of them"
else
	fail "evaluate --crown-points" "$(tail -n 2 "$T/zc.out" "$T/zc.err" | tr '\n' ' ')"
fi
must_fail "evaluate --crown-points needs a reference raster, not --points" 2 'crown-points takes the points from the --ref raster' \
	"$BIN/evaluate --crown-points --points $N/json/santa_monica_2020_0.json --ref $Z/labels_full.tif $T/zc_same.tif"

# bad input
must_fail "encode refuses tiles with the wrong band count" 1 'bands; .* takes 3' "$BIN/tile --size 128 $A/pan.tif | $BIN/normalise-bands --stats $T/p.stats 2>/dev/null; $BIN/tile --size 128 $A/pan.tif | $BIN/normalise-bands --fit $T/p.stats; $BIN/tile --size 128 --domain source $A/pan.tif | $BIN/normalise-bands --stats $T/p.stats | $BIN/encode --model $T/m.model"
must_fail "encode refuses raw (not normalised) tiles" 1 'normalise-bands first' "$BIN/tile --size 128 $A/rgb_nadir10.tif | $BIN/encode --model $T/m.model"
must_fail "decode refuses tiles that are not features" 1 'not a features frame' "$BIN/decode --model $T/m.model < $T/n.frames"
must_fail "a corrupt model is refused" 1 'checksum mismatch|truncated' "head -c 20000 $T/m.model > $T/bad.model; printf x >> $T/bad.model; $BIN/encode --model $T/bad.model < $T/n.frames"
must_fail "training needs labels" 1 'has no labels' "$BIN/tile --size 128 $A/rgb_nadir10.tif | $BIN/normalise-bands --stats $T/s.stats > $T/nl.frames; $BIN/critic-train --model $T/x.model --source $T/nl.frames"
must_fail "vectorise wants .gpkg or .geojson" 1 'must end in .gpkg or .geojson' "$BIN/vectorise $A/rgb_nadir10_mask.tif $T/out.txt"
for f in critic-train encode decode vectorise evaluate; do
	$BIN/$f --help | grep -q "^usage: $f" && pass "$f --help shows usage" || fail "$f --help" "no usage"
done


# road centrelines (vectorise --lines): a straight synthetic road 200 m long
# and 6 m wide gives one LineString of about its length and width, in the
# raster's CRS; the Vegas road mask's centrelines are as long as the
# surveyed ones (within 10 %), LineStrings in EPSG:4326
$PY -c "
from osgeo import gdal, osr
import numpy as np
d = gdal.GetDriverByName('GTiff').Create('$T/road.tif', 500, 100, 1, gdal.GDT_Byte)
d.SetGeoTransform([300000, 0.5, 0, 4000000, 0, -0.5]); s = osr.SpatialReference(); s.ImportFromEPSG(32611)
d.SetProjection(s.ExportToWkt()); a = np.zeros((100, 500), 'uint8'); a[44:56, 50:450] = 3; d.GetRasterBand(1).WriteArray(a)
"
$BIN/vectorise --quiet --lines 3 --classes 3 --spur 5 "$T/road.tif" "$T/road.gpkg"
if out=$($PY -c "
from osgeo import ogr
ds = ogr.Open('$T/road.gpkg'); l = ds.GetLayerByName('road'); f = [x for x in l]
assert len(f) == 1 and l.GetGeomType() == ogr.wkbLineString, (len(f), l.GetGeomType())
assert l.GetSpatialRef().GetAuthorityCode(None) == '32611'
g = f[0].GetGeometryRef(); n = g.GetPointCount(); y = {round(g.GetY(i), 2) for i in range(n)}
assert 190 <= g.Length() <= 200 and abs(f[0]['length'] - g.Length()) < 1e-6 and 5.4 <= f[0]['width'] <= 6.6, (g.Length(), f[0]['width'])
assert max(abs(v - 3999975) for v in y) <= 0.3, y   # the axis, within the half pixel an even width leaves
print('%.1f m long, %.2f m wide' % (g.Length(), f[0]['width']))
"); then pass "vectorise --lines: a straight road 200 x 6 m is one LineString on its axis, $out, in EPSG:32611"
else fail "vectorise --lines straight road" "$out"; fi
$BIN/vectorise --quiet --lines 3 --classes 3 --simplify 0.5 "$DATA/vegas_sn3_roads/road_mask.tif" "$T/vegas.gpkg"
if out=$($PY -c "
from osgeo import ogr
ds = ogr.Open('$T/vegas.gpkg'); l = ds.GetLayerByName('road'); rd = ogr.Open('$DATA/vegas_sn3_roads/roads.geojson'); r = rd.GetLayer(0)
a = sum(f.GetGeometryRef().Length() for f in l); b = sum(f.GetGeometryRef().Length() for f in r)
assert l.GetGeomType() == ogr.wkbLineString and l.GetSpatialRef().GetAuthorityCode(None) == '4326' and 0.9 < a / b < 1.1, (a, b)
print('%d lines, %.0f %% of the surveyed length' % (l.GetFeatureCount(), 100 * a / b))
"); then pass "vectorise --lines on the Vegas road mask: $out, LineStrings in EPSG:4326"
else fail "vectorise --lines Vegas" "$out"; fi
# road scores: the mask's own centrelines against the surveyed ones (the
# figures a perfect road map can reach: docs/methods.md "Road scores")
V=$DATA/vegas_sn3_roads
if out=$($BIN/evaluate --quiet --ref "$V/road_mask.tif" --ref-lines "$V/roads.geojson" --lines "$T/vegas.gpkg" "$V/road_mask.tif" | $PY -c "
import json, sys
j = json.load(sys.stdin); s = j['roads']
assert j['road_iou'] == 1 and s['completeness'] > 0.95 and s['correctness'] > 0.95 and 0.7 < s['apls'] <= 1 and 900 < s['ref_length_m'] < 1100, s
print('completeness %.3f, correctness %.3f, APLS %.3f over %.0f m' % (s['completeness'], s['correctness'], s['apls'], s['ref_length_m']))
"); then pass "evaluate --lines on the Vegas mask's centrelines: $out"
else fail "evaluate --lines Vegas" "$out"; fi
must_fail "evaluate --lines given polygons" 1 "holds Polygon geometries, not lines" "$BIN/evaluate --ref $V/roads.geojson --ref-class 3 --lines $DATA/drone_africa/zanzibar/buildings.geojson $V/road_mask.tif"
must_fail "evaluate --lines without reference centrelines" 2 "give them as --ref-lines or --ref" "$BIN/evaluate --points $V/roads.geojson --lines $T/vegas.gpkg $V/road_mask.tif"
must_fail "vectorise --lines of a class not vectorised" 1 "line class 3: not one of the classes vectorised" "$BIN/vectorise --lines 3 --classes 1 $T/road.tif $T/x.gpkg"
must_fail "vectorise --lines with one --layer for all" 2 "centrelines go to a layer of their own" "$BIN/vectorise --lines 3 --layer all $T/road.tif $T/x.gpkg"
