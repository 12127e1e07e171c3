# Foundation on the real sample data: tile, normalise-bands, stitch, frame-info.
. tests/shell/lib.sh
A=$DATA/atlanta_sn4

# gdalinfo lines that must match between a source raster and its stitched copy
grid() { gdalinfo -checksum "$1" | grep -E '^(Size is|Origin|Pixel Size)|Checksum=|NoData'; gdalsrsinfo -o proj4 "$1"; }

for src in "$A/rgb_nadir10.tif" "$A/pan.tif" "$DATA/kampala_oam/z19.vrt"; do
	name=$(basename "$src")
	$BIN/tile --size 256 --overlap 32 "$src" 2>"$T/err" | $BIN/stitch --quiet "$T/$name.tif" 2>>"$T/err"
	if [ -s "$T/$name.tif" ] && [ "$(grid "$src")" = "$(grid "$T/$name.tif")" ]; then
		pass "tile --overlap 32 | stitch reproduces $name (checksums, grid, CRS)"
	else
		fail "tile | stitch reproduces $name" "$(diff <(grid "$src") <(grid "$T/$name.tif") | head -5) $(cat "$T/err")"
	fi
done

# a mosaic whose alpha was dropped (the data's z19.vrt: 85 % empty, read as black) is
# tiled with one warning naming it; the same tiles with their alpha (the mask) are not
$BIN/tile --size 256 "$DATA/kampala_oam/z19.vrt" 2>"$T/z.err" >"$T/z.frames"
gdalbuildvrt -q -a_srs EPSG:3857 "$T/k19.vrt" "$DATA"/kampala_oam/tiles/*-19.png
$BIN/tile --size 256 "$T/k19.vrt" 2>"$T/k.err" >"$T/k.frames"
if [ "$(grep -c 'warning' "$T/z.err")" = 1 ] && grep -q 'z19.vrt: 8[0-9]% of its pixels are 0 in every band and it has no no-data value or mask' "$T/z.err" &&
	[ -s "$T/z.frames" ] && ! grep -q warning "$T/k.err" && [ -s "$T/k.frames" ]; then
	pass "tile warns once when most of a raster without no-data or mask is 0 in every band (an empty mosaic area), not when its alpha is kept"
else
	fail "tile empty-area warning" "$(cat "$T/z.err" "$T/k.err" | head -c 400)"
fi

# a COG with overviews, same pixels
# a gap of dropped tiles (rows of nodata) taller than stitch's window: the
# rows on both sides come back, the gap is masked (a SAR scene did this)
$PY -c "
from osgeo import gdal; import numpy as np
s = gdal.Open('$A/rgb_nadir10.tif'); a = s.ReadAsArray(0, 0, 300, 900).astype('float32'); a[:, 150:750, :] = np.nan
d = gdal.GetDriverByName('GTiff').Create('$T/gap.tif', 300, 900, 3, gdal.GDT_Float32)
d.SetGeoTransform(s.GetGeoTransform()); d.SetProjection(s.GetProjection())
for b in range(3): d.GetRasterBand(b + 1).WriteArray(a[b])
d = None"
mkdir -p "$T/gap"
$BIN/tile --quiet --size 64 --min-valid 0.5 "$T/gap.tif" | $BIN/stitch --quiet "$T/gap/st.tif" 2>"$T/gap.err"
if [ "$(ls "$T/gap")" = st.tif ] && $PY -c "
from osgeo import gdal; import numpy as np
a = gdal.Open('$T/gap.tif').ReadAsArray(); d = gdal.Open('$T/gap/st.tif'); b = d.ReadAsArray()
m = d.GetRasterBand(1).GetMaskBand().ReadAsArray()
assert np.array_equal(a[:, :128], b[:, :128]) and np.array_equal(a[:, 768:896], b[:, 768:896]), 'rows differ'
assert (m[192:704] == 0).all() and (m[:128] == 255).all() and (m[768:896] == 255).all(), 'mask'" 2>>"$T/gap.err"; then
	pass "stitch over a gap of dropped tiles taller than its window: both sides exact, the gap masked (inside the GeoTIFF)"
else
	fail "stitch over a gap" "$(tail -n 3 "$T/gap.err")"
fi
$BIN/tile --size 128 --overlap 16 "$A/pan.tif" | $BIN/stitch --quiet --cog "$T/cog.tif"
if gdalinfo "$T/cog.tif" | grep -q 'LAYOUT=COG' && gdalinfo "$T/cog.tif" | grep -q Overviews &&
	[ "$(gdalinfo -checksum "$T/cog.tif" | grep -m1 Checksum)" = "$(gdalinfo -checksum "$A/pan.tif" | grep -m1 Checksum)" ]; then
	pass "stitch --cog writes a Cloud Optimized GeoTIFF with overviews and the same pixels"
else
	fail "stitch --cog" "$(gdalinfo "$T/cog.tif" 2>&1 | grep -iE 'layout|overview|checksum')"
fi
# the COG's blocks are compressed by worker threads: the bytes must not depend on how many
$BIN/tile --size 128 --overlap 16 "$A/pan.tif" | $BIN/stitch --quiet --threads 1 --cog "$T/cog1.tif"
$BIN/tile --size 128 --overlap 16 "$A/pan.tif" | $BIN/stitch --quiet --threads 2 --cog "$T/cog2.tif"
if cmp -s "$T/cog.tif" "$T/cog1.tif" && cmp -s "$T/cog1.tif" "$T/cog2.tif"; then
	pass "stitch --cog writes the same bytes on 1, 2 and all threads"
else
	fail "stitch --cog threads" "$(ls -l "$T"/cog*.tif | tr '\n' ' ')"
fi
# --round-bits N: float values to multiples of 2^-N, each within half a step of the exact blend
$BIN/tile --size 256 --overlap 32 "$A/rgb_nadir10.tif" | $BIN/normalise-bands --fit "$T/rb.stats"
$BIN/tile --size 256 --overlap 32 "$A/rgb_nadir10.tif" | $BIN/normalise-bands --stats "$T/rb.stats" >"$T/rb.frames"
$BIN/stitch --quiet "$T/rb0.tif" <"$T/rb.frames" && $BIN/stitch --quiet --round-bits 6 "$T/rb6.tif" <"$T/rb.frames"
if $PY -c "
from osgeo import gdal
import numpy as np
a = gdal.Open('$T/rb0.tif').ReadAsArray(); b = gdal.Open('$T/rb6.tif').ReadAsArray()
assert (b * 64 == np.round(b * 64)).all(), 'not multiples of 1/64'
d = np.abs(a - b).max()
assert 1 / 256 < d <= 1 / 128 + 1e-6, d" 2>"$T/rb.err"; then
	pass "stitch --round-bits 6: every value a multiple of 1/64, within half a step of the exact blend"
else
	fail "stitch --round-bits" "$(tail -n 1 "$T/rb.err")"
fi
# --level: another DEFLATE level, the same values
$BIN/stitch --quiet --level 1 "$T/rb1.tif" <"$T/rb.frames"
if ! cmp -s "$T/rb0.tif" "$T/rb1.tif" && $PY -c "
from osgeo import gdal
import numpy as np
assert np.array_equal(gdal.Open('$T/rb0.tif').ReadAsArray(), gdal.Open('$T/rb1.tif').ReadAsArray())" 2>"$T/lv.err"; then
	pass "stitch --level 1: another file, the same values"
else
	fail "stitch --level" "$(tail -n 1 "$T/lv.err")"
fi
must_fail "stitch --level with LZW is refused" 2 "^stitch: --level is for DEFLATE or ZSTD, not --compress LZW" "$BIN/stitch --level 3 --compress LZW $T/x.tif <$T/rb.frames"
must_fail "stitch --level 12 with DEFLATE is refused" 2 "^stitch: --level for DEFLATE is 1 to 9, not 12" "$BIN/stitch --level 12 $T/x.tif <$T/rb.frames"
must_fail "stitch --round-bits 24 is refused" 2 "^stitch: --round-bits must be 0 to 23, not 24" "$BIN/stitch --round-bits 24 $T/x.tif <$T/rb.frames"

# vector labels rasterised onto the image grid match the reference mask
$BIN/tile --size 256 --overlap 32 --labels "$A/rgb_nadir10_buildings.geojson" "$A/rgb_nadir10.tif" |
	$BIN/stitch --quiet --label "$T/lab.tif"
agree=$($PY -c "
from osgeo import gdal
a = gdal.Open('$T/lab.tif').ReadAsArray(); b = gdal.Open('$A/rgb_nadir10_mask.tif').ReadAsArray()
print((a == b).mean())")
if $PY -c "import sys; sys.exit(0 if float('$agree') >= 0.999 else 1)" 2>/dev/null; then
	pass "GeoJSON building labels match rgb_nadir10_mask.tif on $agree of pixels"
else
	fail "GeoJSON labels vs mask" "agreement $agree"
fi

# road centrelines (EPSG:4326 raster) buffered by a width in metres match the reference road mask
V=$DATA/vegas_sn3_roads
$BIN/tile --size 512 --labels "$V/roads.geojson" --class 3 --line-width 4 "$V/pan.tif" | $BIN/stitch --quiet --label "$T/roads.tif"
iou=$($PY -c "
from osgeo import gdal
a = gdal.Open('$T/roads.tif').ReadAsArray() == 3; b = gdal.Open('$V/road_mask.tif').ReadAsArray() == 3
print((a & b).sum() / (a | b).sum())")
if $PY -c "import sys; sys.exit(0 if float('$iou') >= 0.99 else 1)" 2>/dev/null; then
	pass "road centrelines buffered to 4 m on a geographic raster match road_mask.tif (IoU $iou)"
else
	fail "road buffering" "IoU $iou"
fi

# label raster in its own grid, mapped: Zurich LiDAR (0,1,2,255) read as-is
$BIN/tile --size 128 --labels "$DATA/zurich_lidar/labels.tif" "$DATA/zurich_lidar/rgb.tif" | $BIN/stitch --quiet --label "$T/zl.tif"
if [ "$(gdalinfo -checksum "$T/zl.tif" | grep Checksum)" = "$(gdalinfo -checksum "$DATA/zurich_lidar/labels.tif" | grep Checksum)" ]; then
	pass "label raster on the image grid passes through (Zurich LiDAR classes, 255 unknown)"
else
	fail "zurich label raster" "checksums differ"
fi
$BIN/tile --size 256 --labels "$A/rgb_nadir10_mask.tif" --label-map 1=3 "$A/rgb_nadir10.tif" | $BIN/frame-info --no-stats >"$T/map.json"
if grep -q '"3":' "$T/map.json" && ! grep -q '"1":' "$T/map.json"; then
	pass "--label-map rewrites label raster values to classes"
else
	fail "--label-map" "$(head -c 300 "$T/map.json")"
fi

# statistics agree with gdalinfo -stats
for src in "$A/rgb_nadir10.tif" "$A/pan.tif"; do
	$BIN/tile --size 200 --overlap 24 "$src" | $BIN/normalise-bands --fit "$T/s.txt"
	gdalinfo -stats "$src" | grep -E 'STATISTICS_(MEAN|STDDEV)=' | cut -d= -f2 >"$T/g.txt"
	awk '/^band /{print $6; print $8}' "$T/s.txt" >"$T/l.txt"
	if paste "$T/g.txt" "$T/l.txt" | awk 'NF != 2 { exit 1 } { d = ($1 - $2) / $1; if (d < 0) d = -d; if (d > 1e-4) exit 1 } END { if (NR == 0) exit 1 }'; then
		pass "normalise-bands --fit agrees with gdalinfo -stats on $(basename "$src") (tiles overlapping)"
	else
		fail "stats of $(basename "$src")" "$(paste "$T/g.txt" "$T/l.txt" | tr '\n' ' ')"
	fi
done

# applying: f32, recorded normalisation, mean about 0 over the scene, band reorder by name
$BIN/tile --size 256 "$A/rgb_nadir10.tif" | $BIN/normalise-bands --fit "$T/rgb.stats"
$BIN/tile --size 256 "$A/rgb_nadir10.tif" | $BIN/normalise-bands --stats "$T/rgb.stats" --bands blue,red >"$T/n.frames"
$BIN/frame-info "$T/n.frames" >"$T/n.json"
if grep -q '"dtype":"f32","shape":\[2,256,256\]' "$T/n.json" && grep -q '"bands":\["blue","red"\]' "$T/n.json" &&
	grep -q '"norm":{"mean":\[46.9' "$T/n.json" && grep -q '"chain":\["tile","normalise-bands"\]' "$T/n.json"; then
	pass "normalise-bands --stats writes f32, records mean/std, reorders bands by name, extends the chain"
else
	fail "normalise apply" "$(head -c 400 "$T/n.json")"
fi
$BIN/stitch --quiet "$T/n.tif" <"$T/n.frames"
m=$(gdalinfo -stats "$T/n.tif" | grep -m1 STATISTICS_MEAN | cut -d= -f2)
if $PY -c "import sys; sys.exit(0 if abs(float('$m')) < 0.1 else 1)"; then
	pass "standardised band has mean $m (about 0) over the scene"
else
	fail "standardised mean" "$m"
fi

# resampling a geographic raster to a GSD in metres picks its UTM zone
rio=$(ls "$DATA"/rio_sn1/images/*.tif | head -n 1)
$BIN/tile --size 128 --gsd 0.5 "$rio" | $BIN/frame-info --no-stats | head -n 1 >"$T/rio.json"
if grep -q '"crs":"EPSG:32723"' "$T/rio.json" && grep -q '"gt":\[[0-9.]*,0.5,0,[0-9.]*,0,-0.5\]' "$T/rio.json"; then
	pass "--gsd 0.5 on an EPSG:4326 raster tiles it in UTM 23S at 0.5 m"
else
	fail "--gsd" "$(cat "$T/rio.json" | head -c 300)"
fi
# a float raster with a nodata value (-9999 over a block), in UTM at 0.5 m:
# --gsd 0.5 is its own grid, read as it is (the same frames as without
# --gsd); --gsd 0.6 warps it, and its nodata pixels stay out of the mask
# (GDAL makes no mask of a float alpha band: they came out as valid -9999s)
gdal_translate -q -ot Float32 -srcwin 0 0 300 300 -a_nodata -9999 "$A/rgb_nadir10.tif" "$T/fnd.tif"
$PY -c "
from osgeo import gdal
d = gdal.Open('$T/fnd.tif', gdal.GA_Update)
for i in range(3):
    b = d.GetRasterBand(i + 1); a = b.ReadAsArray(); a[:80, :] = -9999; b.WriteArray(a)"
$BIN/tile --quiet --size 128 --overlap 16 "$T/fnd.tif" >"$T/fnd0.frames"
$BIN/tile --quiet --size 128 --overlap 16 --gsd 0.5 "$T/fnd.tif" >"$T/fnd5.frames"
$BIN/tile --quiet --size 128 --overlap 16 --gsd 0.6 "$T/fnd.tif" >"$T/fnd6.frames"
if cmp -s "$T/fnd0.frames" "$T/fnd5.frames" && $PY -c "
import sys
sys.path.insert(0, 'python')
import numpy as np
import landshift_frames as lf
f = next(lf.read_frames('$T/fnd6.frames'))
m = np.frombuffer(f['mask'], np.uint8).reshape(128, 128) if f.get('mask') is not None else None
assert m is not None, 'no mask'
a = f['array']
assert (m[:60] == 0).all() and (m[72:] == 1).all(), 'mask rows'
assert a[:, m == 1].min() > -1000, a[:, m == 1].min()" 2>"$T/fnd.err"; then
	pass "--gsd on a float raster with nodata: its own grid read as it is; resampled, the nodata pixels stay masked"
else
	fail "--gsd and float nodata" "$(cmp "$T/fnd0.frames" "$T/fnd5.frames" 2>&1) $(tail -n 1 "$T/fnd.err")"
fi

# band selection and random sampling with a seed
n1=$($BIN/tile --size 64 --sample 5 --seed 3 "$A/pan.tif" | $BIN/frame-info --no-stats | grep -o '"key":"[^"]*"' | tr '\n' ' ')
n2=$($BIN/tile --size 64 --sample 5 --seed 3 "$A/pan.tif" | $BIN/frame-info --no-stats | grep -o '"key":"[^"]*"' | tr '\n' ' ')
n3=$($BIN/tile --size 64 --sample 5 --seed 4 "$A/pan.tif" | $BIN/frame-info --no-stats | grep -o '"key":"[^"]*"' | tr '\n' ' ')
if [ "$n1" = "$n2" ] && [ "$n1" != "$n3" ] && [ "$(echo "$n1" | wc -w)" -eq 5 ]; then
	pass "--sample 5 --seed picks the same 5 tiles for the same seed, others for another"
else
	fail "--sample" "$n1 / $n3"
fi
if $BIN/tile --size 256 --bands 3,green "$A/rgb_nadir10.tif" | $BIN/frame-info --no-stats | head -n 1 | grep -q '"bands":\["blue","green"\]'; then
	pass "--bands selects by index and by name, in the order given"
else
	fail "--bands" "wrong bands"
fi

# NaN pixels are invalid, never numbers
$PY -c "
from osgeo import gdal, osr; import numpy as np
d = gdal.GetDriverByName('GTiff').Create('$T/nan.tif', 64, 64, 1, gdal.GDT_Float32)
d.SetGeoTransform([500000, 1, 0, 4000000, 0, -1]); s = osr.SpatialReference(); s.ImportFromEPSG(32616); d.SetProjection(s.ExportToWkt())
a = np.ones((64, 64), np.float32); a[:8] = np.nan; a[8:16] = np.inf; d.GetRasterBand(1).WriteArray(a); d = None"
$BIN/tile --size 64 "$T/nan.tif" >"$T/nan.frames"
v=$($BIN/frame-info --no-stats "$T/nan.frames" | head -n 1 | grep -o '"valid":[0-9.]*')
$BIN/normalise-bands --fit "$T/nan.stats" <"$T/nan.frames"
$BIN/normalise-bands --stats "$T/nan.stats" <"$T/nan.frames" | $BIN/frame-info >"$T/nan.json"
if [ "$v" = '"valid":0.750000' ] && grep -q '"count 3072\|count 3072' "$T/nan.stats" && ! grep -q null "$T/nan.json"; then
	pass "NaN and Inf pixels are masked invalid and never reach statistics or normalised data"
else
	fail "NaN pixels" "$v $(cat "$T/nan.stats") $(head -c 300 "$T/nan.json")"
fi

# frame-info --check
$BIN/tile --size 256 "$A/pan.tif" >"$T/p.frames"
check "frame-info --check accepts a good stream" $BIN/frame-info --check "$T/p.frames"
if [ "$($BIN/frame-info "$T/p.frames" | tail -n 1 | grep -o '"frames":[0-9]*')" = '"frames":16' ]; then
	pass "frame-info ends with the frame count"
else
	fail "frame-info count" "$($BIN/frame-info "$T/p.frames" | tail -n 1)"
fi
cat "$T/p.frames" "$T/p.frames" >"$T/pp.frames"
if [ "$($BIN/frame-info --no-stats "$T/pp.frames" | tail -n 1 | grep -o '"frames":[0-9]*')" = '"frames":32' ]; then
	pass "cat a b | frame-info reads concatenated streams as one"
else
	fail "concatenated" "bad count"
fi

# bad input: one clear line, non-zero exit, no output file
head -c 300000 "$T/p.frames" >"$T/cut.frames"
must_fail "stream cut short: stitch fails, names the frame" 1 'frame [0-9]+ \(byte [0-9]+\): .*truncated' "$BIN/stitch $T/cut.tif < $T/cut.frames"
[ -e "$T/cut.tif" ] && fail "no half-written output" "$T/cut.tif exists" || pass "a failed stitch leaves no output file"
ls "$T" | grep -q 'tmp' && fail "no temporary left" "$(ls "$T")" || pass "a failed stitch leaves no temporary file"
cp "$T/p.frames" "$T/flip.frames"
printf '\377' | dd of="$T/flip.frames" bs=1 seek=150000 conv=notrunc 2>/dev/null
must_fail "a flipped byte is caught by the checksum" 1 "frame [0-9]+ .*field 'crc': checksum mismatch" "$BIN/frame-info --check $T/flip.frames"
must_fail "empty input is an error" 1 'empty stream' "$BIN/stitch $T/e.tif < /dev/null"
must_fail "missing raster" 1 'nope.tif: cannot open' "$BIN/tile $T/nope.tif"
gdal_translate -q -a_srs '' "$A/pan.tif" "$T/nocrs.tif" 2>/dev/null || $PY -c "
from osgeo import gdal
s = gdal.Open('$A/pan.tif'); d = gdal.GetDriverByName('GTiff').CreateCopy('$T/nocrs.tif', s); d.SetProjection(''); d = None"
$PY -c "
from osgeo import gdal
d = gdal.Open('$T/nocrs.tif', gdal.GA_Update); d.SetProjection(''); d = None"
must_fail "raster without CRS" 1 'nocrs.tif: raster has no CRS' "$BIN/tile $T/nocrs.tif"
cat >"$T/far.geojson" <<'JSON'
{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[2.35,48.85],[2.36,48.85],[2.36,48.86],[2.35,48.85]]]}}]}
JSON
must_fail "labels in another CRS that do not overlap" 1 'far.geojson \(EPSG:4326\) do not overlap raster .*pan.tif \(EPSG:32616\)' "$BIN/tile --labels $T/far.geojson $A/pan.tif"
must_fail "corrupt statistics file" 1 'bad.stats:2: ' "printf 'landshift-stats 1\nbands x\n' > $T/bad.stats; $BIN/normalise-bands --stats $T/bad.stats < $T/p.frames"
must_fail "statistics for other bands" 1 "no statistics for band 'gray'" "$BIN/normalise-bands --stats $T/rgb.stats < $T/p.frames"
must_fail "full disk" 1 'writing stdout: No space left' "$BIN/tile $A/pan.tif > /dev/full"
must_fail "unwritable output" 1 'cannot create' "$BIN/stitch /nonexistent/dir/o.tif < $T/p.frames"
must_fail "usage error exits 2" 2 'unknown option' "$BIN/tile --frobnicate $A/pan.tif"
sh -c "$BIN/tile --size 64 $A/pan.tif | head -c 100 > /dev/null" 2>"$T/err"
[ ! -s "$T/err" ] && pass "a closed downstream pipe ends tile quietly" || fail "closed pipe" "$(cat "$T/err")"

for f in tile normalise-bands stitch frame-info; do
	if $BIN/$f --help | grep -q "^usage: $f" && $BIN/$f --help | grep -q '^example:'; then
		pass "$f --help shows usage and an example"
	else
		fail "$f --help" "missing usage or example"
	fi
done
