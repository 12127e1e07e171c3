# Hostile names, operator mistakes, signals and outputs: each check is for a
# class of input, not one example.
. tests/shell/lib.sh
A=$DATA/atlanta_sn4
export OPENBLAS_NUM_THREADS=1

$BIN/tile --quiet --size 128 --overlap 16 "$A/rgb_nadir10.tif" >"$T/rgb.frames"

# a Cloud Optimized GeoTIFF with the compression asked for, overviews, and
# metadata items; "-" is not a file stitch can write
if $BIN/stitch --quiet --cog --compress ZSTD --metadata LANDSHIFT_MODEL=test-1 "$T/cog.tif" <"$T/rgb.frames" &&
	gdalinfo "$T/cog.tif" >"$T/cog.info" && grep -q 'COMPRESSION=ZSTD' "$T/cog.info" && grep -q 'LAYOUT=COG' "$T/cog.info" &&
	grep -q 'Overviews: ' "$T/cog.info" && grep -q 'LANDSHIFT_MODEL=test-1' "$T/cog.info" &&
	$PY /usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py "$T/cog.tif" >"$T/cog.val" 2>&1; then
	pass "stitch --cog --compress ZSTD: ZSTD, overviews, a metadata item, a valid COG (GDAL's validator)"
else
	fail "stitch --cog" "$(grep -E 'COMPRESSION|LAYOUT|Overviews' "$T/cog.info" | tr '\n' ' ') $(tail -n 2 "$T/cog.val")"
fi
must_fail "stitch refuses - as its output (a GeoTIFF needs a file)" 2 "^stitch: a GeoTIFF is written to a file, not to stdout" "$BIN/stitch - <$T/rgb.frames"
must_fail "vectorise refuses - as its output" 2 "^vectorise: a GeoPackage is written to a file, not to stdout" "$BIN/vectorise $A/rgb_nadir10_mask.tif -"

# vectorise: a geographic raster's --min-area and --simplify are metres (they
# were taken in degrees, every polygon dropped); stdin as "-"; one
# GeoPackage layer per class of a probability raster, named by the class
gdalwarp -q -t_srs EPSG:4326 "$A/rgb_nadir10_mask.tif" "$T/m4326.tif"
$BIN/vectorise --quiet --min-area 4 --simplify 0.25 "$A/rgb_nadir10_mask.tif" "$T/utm.gpkg"
n_utm=$(ogrinfo -so "$T/utm.gpkg" building | awk '/Feature Count/ {print $3}')
n_geo=$($BIN/vectorise --min-area 4 --simplify 0.25 "$T/m4326.tif" "$T/geo.gpkg" 2>&1 | grep -o '[0-9]* polygons' | cut -d' ' -f1)
if [ -n "$n_geo" ] && [ "$n_geo" -ge $((n_utm * 9 / 10)) ] && [ "$n_geo" -le $((n_utm * 11 / 10)) ] &&
	ogrinfo -so "$T/geo.gpkg" building | grep -q 'EPSG",4326'; then
	pass "vectorise a geographic raster: --min-area and --simplify in metres ($n_geo polygons against $n_utm in UTM), in EPSG:4326"
else
	fail "vectorise, geographic raster" "$n_geo against $n_utm"
fi
if $BIN/vectorise --quiet - "$T/stdin.gpkg" <"$A/rgb_nadir10_mask.tif" &&
	[ "$(ogrinfo -so "$T/stdin.gpkg" building | awk '/Feature Count/ {print $3}')" = "$(ogrinfo -so "$T/utm.gpkg" building | awk '/Feature Count/ {print $3}' | head -n 1)" ] ||
	[ "$(ogrinfo -so "$T/stdin.gpkg" building | awk '/Feature Count/ {print $3}')" -ge 180 ]; then
	pass "vectorise - reads the raster from stdin"
else
	fail "vectorise -" "$(ogrinfo -so "$T/stdin.gpkg" 2>&1 | tail -n 2)"
fi
$PY -c "
from osgeo import gdal, osr
import numpy as np
y, x = np.mgrid[0:64, 0:64]
p = np.zeros((3, 64, 64), np.float32); p[0] = 1
p[:, 8:20, 8:20] = [[[0.1]], [[0.8]], [[0.1]]]; p[:, 40:56, 30:50] = [[[0.1]], [[0.1]], [[0.8]]]
d = gdal.GetDriverByName('GTiff').Create('$T/p3.tif', 64, 64, 3, gdal.GDT_Float32)
d.SetGeoTransform((500000, 1, 0, 4000000, 0, -1)); s = osr.SpatialReference(); s.ImportFromEPSG(32616); d.SetProjection(s.ExportToWkt())
for b in range(3): d.GetRasterBand(b + 1).WriteArray(p[b])"
if $BIN/vectorise --quiet --class-names background,building,tree "$T/p3.tif" "$T/p3.gpkg" && $PY -c "
from osgeo import ogr
ds = ogr.Open('$T/p3.gpkg')
n = {ds.GetLayer(i).GetName(): ds.GetLayer(i).GetFeatureCount() for i in range(ds.GetLayerCount())}
assert n == {'building': 1, 'tree': 1}, n
l = ds.GetLayerByName('tree'); f = l.GetNextFeature(); a = f.GetGeometryRef().GetArea(); assert a == 320, a" 2>"$T/p3.py"; then
	pass "vectorise: a GeoPackage layer per class (building, tree), each class's polygons in its own"
else
	fail "vectorise layers per class" "$(tail -n 2 "$T/p3.py")"
fi

# names are data: class and layer names that would make paths or break a
# file refused before any work; adapt.sh's class name likewise
for bad in '../../x' 'a b' 'a,,b' 'x;rm' ''; do
	must_fail "vectorise refuses the class names '$bad'" 2 "^vectorise: --class-names: '.*': names are letters, digits" \
		"$BIN/vectorise --class-names 'background,$bad' $A/rgb_nadir10_mask.tif $T/bad.gpkg"
done
must_fail "adapt.sh refuses a class name that would be a path" 2 "^adapt: --class-name must be letters, digits, _ or -, not '../../x'" \
	"pipelines/adapt.sh --method source-only --source $A/rgb_nadir10.tif --source-labels $A/rgb_nadir10_buildings.geojson --target $A/pan.tif --class-name ../../x --out $T/cn"
[ ! -e "$T/cn" ] && [ ! -e "$T/bad.gpkg" ] && pass "nothing written by the refused names" || fail "refused names" "$(ls "$T/cn" "$T/bad.gpkg" 2>&1)"

# numeric options are bounded: --threads beyond 8 a core and negative ones
# are usage errors, not crashes inside the OpenMP runtime
for f in encode decode adapt-bn critic-train; do
	for n in 100000 -1; do
		must_fail "$f --threads $n" 2 "^$f: --threads must be 0 \\(all cores\\) to [0-9]+, 8 a core" "$BIN/$f --threads $n --model x"
	done
done

# SIGTERM, SIGINT, SIGHUP while stitch writes: its temporary GeoTIFF is
# removed and it dies by the signal (status 128 + N)
head -c 60000 "$T/rgb.frames" >"$T/part.frames"
set -m	# job control: background jobs then keep SIGINT (a shell without it ignores SIGINT in them)
for sig in TERM INT HUP; do
	mkfifo "$T/fifo.$sig"
	mkdir -p "$T/sig$sig"
	$BIN/stitch --quiet "$T/sig$sig/out.tif" <"$T/fifo.$sig" &
	pid=$!
	{ cat "$T/part.frames"; exec sleep 60; } >"$T/fifo.$sig" &	# the stream stays open until the signal, however slow the machine
	feeder=$!
	for _ in $(seq 1 100); do ls "$T/sig$sig" | grep -q tmp && break; sleep 0.05; done
	had=$(ls "$T/sig$sig")
	kill -$sig $pid
	wait $pid; rc=$?
	kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
	want=$((128 + $(kill -l $sig)))
	if [ -n "$had" ] && [ -z "$(ls "$T/sig$sig")" ] && [ $rc -eq $want ]; then
		pass "stitch killed by SIG$sig: its temporary ($had) removed, status $rc"
	else
		fail "stitch and SIG$sig" "status $rc (want $want), before: $had, after: $(ls "$T/sig$sig")"
	fi
done
set +m

# outputs that would destroy an input or a special file are refused before
# any work: the same file under another name (a link) too
cp "$A/rgb_nadir10_mask.tif" "$T/mask.tif"; ln -sf "$T/mask.tif" "$T/mask_link.tif"
cs=$(cksum <"$T/mask.tif")
must_fail "vectorise onto its input raster" 1 "mask_link.tif is the input .*mask.tif: refusing to overwrite it" "$BIN/vectorise $T/mask.tif $T/mask_link.tif"
must_fail "evaluate --errors onto the map it scores" 1 "is the input .*mask.tif: refusing to overwrite it" \
	"$BIN/evaluate --quiet --ref $A/rgb_nadir10_buildings.geojson --errors $T/mask_link.tif $T/mask.tif"
$BIN/tile --quiet --size 128 --labels "$A/rgb_nadir10_buildings.geojson" --domain source "$A/rgb_nadir10.tif" >"$T/l.raw"
$BIN/normalise-bands --fit "$T/l.stats" <"$T/l.raw"
$BIN/normalise-bands --stats "$T/l.stats" <"$T/l.raw" >"$T/l.frames"
cp "$T/l.frames" "$T/l.keep"
must_fail "critic-train --model onto its source tiles" 2 "l.frames is the input .*l.frames: refusing to overwrite it" \
	"$BIN/critic-train --model $T/l.frames --source $T/l.frames --epochs 1 --width 4"
must_fail "critic-train --metrics onto its --model" 2 "model and --metrics are one file" \
	"$BIN/critic-train --model $T/x.model --metrics $T/x.model --source $T/l.frames --epochs 1 --width 4"
must_fail "normalise-bands --fit onto its input stream" 1 "l.frames is the input .*l.frames" "$BIN/normalise-bands --fit $T/l.frames $T/l.frames"
cp "$A/rgb_nadir10.tif" "$T/scene.tif"
must_fail "stitch onto the raster its tiles were cut from" 1 "scene.tif is the input .*scene.tif: refusing to overwrite it" \
	"$BIN/tile --quiet --size 128 $T/scene.tif | $BIN/stitch $T/scene.tif"
mkfifo "$T/out.fifo"
must_fail "vectorise refuses to replace a FIFO" 1 "out.fifo is a FIFO, not a regular file: refusing to replace it" "$BIN/vectorise $T/mask.tif $T/out.fifo"
must_fail "stitch refuses to replace a device" 1 "/dev/null is a device, not a regular file" "$BIN/stitch /dev/null <$T/rgb.frames"
if [ "$(cksum <"$T/mask.tif")" = "$cs" ] && cmp -s "$T/l.frames" "$T/l.keep" && cmp -s "$T/scene.tif" "$A/rgb_nadir10.tif" && [ -p "$T/out.fifo" ]; then
	pass "every refused output left its input and the FIFO as they were"
else
	fail "refused outputs" "an input was changed"
fi

# training: a second trainer on one model path waits for no one (refused);
# a resume with other settings or data is refused, naming the difference
ct() { $BIN/critic-train --quiet --threads 1 --model "$T/lk.model" --source "$T/l.frames" --width 4 --seed 2 "$@"; }
(exec $BIN/critic-train --quiet --threads 1 --model "$T/lk.model" --source "$T/l.frames" --width 4 --seed 2 --epochs 30) 2>/dev/null &
pid=$!
for _ in $(seq 1 200); do [ -e "$T/lk.model.lock" ] && break; sleep 0.05; done
sleep 0.3
must_fail "two trainers on one model path" 1 "another program is writing .*lk.model \\(it holds .*lk.model.lock\\)" \
	"$BIN/critic-train --quiet --model $T/lk.model --source $T/l.frames --epochs 1 --width 4"
kill $pid; wait $pid 2>/dev/null
ct --epochs 2 2>/dev/null
for change in "--lr 0.001" "--batch 4" "--seed 3"; do
	must_fail "critic-train --resume with $change" 1 "lk.model.ckpt was trained with (training|seed) '.*', this run asks '.*': resume with the same settings" \
		"$BIN/critic-train --quiet --threads 1 --model $T/lk.model --source $T/l.frames --width 4 --seed 2 --epochs 2 $change --resume"
done
must_fail "critic-train --resume on other data" 1 "was trained with (training|data) '" \
	"$BIN/tile --quiet --size 128 --labels $A/rgb_nadir10_buildings.geojson --domain source --sample 20 --seed 1 $A/rgb_nadir10.tif | $BIN/normalise-bands --stats $T/l.stats > $T/l20.frames; $BIN/critic-train --quiet --threads 1 --model $T/lk.model --source $T/l20.frames --width 4 --seed 2 --epochs 2 --resume"
if [ -f "$T/lk.model" ] && [ ! -e "$T/lk.model.lock" ]; then
	pass "critic-train removes its lock file when it ends, trained or refused"
else
	fail "lock file" "$T/lk.model.lock is left behind"
fi
# the numbers in a checkpoint's and a model's header are range-checked on load
forge() {	# forge IN OUT FIELD VALUE...: a model file with header lines (or the spec's fields) changed;
	# FIELD x2^N scales the tensor named VALUE (or every frame of kind VALUE) by 2^N
	$PY - "$@" <<'PY'
import sys, re, numpy as np
sys.path.insert(0, "python")
import landshift_frames as lf
src, dst, *pairs = sys.argv[1:]
frames = list(lf.read_frames(src))
f = frames[0]
for field, value in zip(pairs[::2], pairs[1::2]):
	if field.startswith("x2^"):
		for g in frames:
			if value in (g.get("key"), g["kind"]):
				g["array"] = (g["array"] * 2.0 ** int(field[3:])).astype(np.float32)
	elif field in ("width", "depth", "classes"):
		f["key"] = re.sub(r"\b%s=\d+" % field, "%s=%s" % (field, value), f["key"])
	else:
		text = bytes(f["array"]).decode()
		text = re.sub(r"(?m)^%s .*$" % re.escape(field), "%s %s" % (field, value), text)
		f["array"] = np.frombuffer(text.encode(), np.uint8)
with open(dst, "wb") as fp, lf.FrameWriter(fp) as w:
	for g in frames:
		w.write(g)
PY
}
cp "$T/lk.model.ckpt" "$T/lk.ckpt.good"
for bad in "step 9223372036854775807" "step -1" "epoch 99" "adapting 7"; do
	forge "$T/lk.ckpt.good" "$T/lk.model.ckpt" $bad
	must_fail "critic-train --resume from a checkpoint whose $bad" 1 "lk.model.ckpt: ${bad% *} '${bad#* }' is outside [0-9]*\\.\\.[0-9]*$" \
		"$BIN/critic-train --quiet --threads 1 --model $T/lk.model --source $T/l.frames --width 4 --seed 2 --epochs 2 --resume"
done
# training that diverges stops with exit 1 and leaves the last good
# checkpoint and model as they were: weights that overflow after a resume,
# and tiles whose values overflow from the first epoch
forge "$T/lk.ckpt.good" "$T/lk.model.ckpt" epoch 1 step 2 x2^120 stem.source.weight
before=$(cksum <"$T/lk.model.ckpt")$(cksum <"$T/lk.model")
must_fail "training whose weights overflow" 1 "training diverged at epoch 2 \\((a weight|the loss) is not finite\\): the last good checkpoint is kept" \
	"$BIN/critic-train --quiet --threads 1 --model $T/lk.model --source $T/l.frames --width 4 --seed 2 --epochs 2 --resume"
[ "$before" = "$(cksum <"$T/lk.model.ckpt")$(cksum <"$T/lk.model")" ] && pass "a diverged run keeps the checkpoint and model" ||
	fail "a diverged run keeps the checkpoint and model" "changed"
forge "$T/l.frames" "$T/huge.frames" x2^124 tile
must_fail "training on tiles whose values overflow" 1 "training diverged at epoch 1 \\((a weight|the loss) is not finite\\)" \
	"$BIN/critic-train --quiet --threads 1 --model $T/huge.model --source $T/huge.frames --width 4 --seed 2 --epochs 2"
[ ! -e "$T/huge.model" ] && [ ! -e "$T/huge.model.ckpt" ] && pass "a run diverged in its first epoch writes no model" ||
	fail "a run diverged in its first epoch writes no model" "$(ls "$T" | grep huge)"
cp "$T/lk.ckpt.good" "$T/lk.model.ckpt"
for bad in "width 100000000" "depth 40" "classes 0"; do
	forge "$T/lk.model" "$T/forged.model" $bad
	must_fail "a model whose spec says $bad" 1 "forged.model: .*${bad% *}" "$BIN/encode --quiet --model $T/forged.model <$T/l.frames"
done

# data that was accepted but wrong: each an error, or its plain meaning with a warning
gdal_translate -q -ot CFloat32 "$A/pan.tif" "$T/complex.tif"
must_fail "tile refuses a complex raster (not its real part)" 1 "complex.tif: band 1 holds complex values" "$BIN/tile $T/complex.tif"
gdal_translate -q -of VRT "$A/pan.tif" "$T/gt.vrt"
sed 's#<GeoTransform>[^<]*#<GeoTransform>737201, 0, 0, 3736839, 0, -0.5#' "$T/gt.vrt" >"$T/gt_zero.vrt"
sed 's#<GeoTransform>[^<]*#<GeoTransform>nan, 0.5, 0, 3736839, 0, -0.5#' "$T/gt.vrt" >"$T/gt_nan.vrt"
must_fail "tile refuses pixels of size zero" 1 "gt_zero.vrt: its geotransform gives pixels of size zero" "$BIN/tile $T/gt_zero.vrt"
must_fail "tile refuses a geotransform that is not a number" 1 "gt_nan.vrt: its geotransform holds a value that is not a number" "$BIN/tile $T/gt_nan.vrt"
must_fail "tile refuses a negative --gsd" 2 "^tile: --gsd must be 0 to " "$BIN/tile --gsd -0.5 $A/pan.tif"
must_fail "tile explains a ground sample distance of 1e-9 m" 1 "at 1e-09 m a pixel the raster would be [0-9]+ x [0-9]+ pixels: is the ground sample distance in metres" "$BIN/tile --gsd 1e-9 $A/pan.tif"
$PY -c "
import json
f = json.load(open('$A/rgb_nadir10_buildings.geojson'))
for x in f['features']: x['properties'] = {'kind': 'house'}
json.dump(f, open('$T/strattr.geojson', 'w'))"
must_fail "tile refuses a label attribute that holds text" 1 "attribute 'kind' holds String, not class numbers" "$BIN/tile --labels $T/strattr.geojson --label-attr kind $A/rgb_nadir10.tif"
# a label raster covering part of the image, with NaN holes: the rest is unknown, not background
$PY -c "
from osgeo import gdal
import numpy as np
s = gdal.Open('$A/rgb_nadir10_mask.tif'); a = s.ReadAsArray().astype('float32')[:400, :400]; a[:50, :50] = np.nan
g = list(s.GetGeoTransform())
d = gdal.GetDriverByName('GTiff').Create('$T/small_lab.tif', 400, 400, 1, gdal.GDT_Float32)
d.SetGeoTransform(g); d.SetProjection(s.GetProjection()); d.GetRasterBand(1).WriteArray(a); d = None"
$BIN/tile --quiet --size 900 --labels "$T/small_lab.tif" "$A/rgb_nadir10.tif" | $BIN/frame-info --quiet --no-stats >"$T/small_lab.json"
if $PY -c "
import json; l = json.loads(open('$T/small_lab.json').readline())['label']
assert l['255'] == 900 * 900 - 400 * 400 + 50 * 50 and int(l['0']) + int(l.get('1', 0)) == 400 * 400 - 2500, l" 2>"$T/sl.py"; then
	pass "labels: outside a smaller label raster and its NaN pixels unknown (255), not background"
else
	fail "labels outside the label raster" "$(tail -n 1 "$T/sl.py")"
fi
printf 'landshift-stats 1\npercentiles 2 98\nbands 2\nband red count 9 mean 1 std 1 min 0 max 2 lo 0 hi 2\nband RED count 9 mean 1 std 1 min 0 max 2 lo 0 hi 2\n' >"$T/dup.stats"
must_fail "a stats file naming a band twice" 1 "dup.stats: band 'RED' appears twice" "$BIN/tile --quiet $A/rgb_nadir10.tif | $BIN/normalise-bands --stats $T/dup.stats"
printf 'landshift-stats 1\npercentiles 2 98\nbands 1\nband gray count 9 mean 300 std 0 min 300 max 300 lo 300 hi 300\n' >"$T/flat.stats"
$BIN/tile --quiet --size 128 "$A/pan.tif" | $BIN/normalise-bands --stats "$T/flat.stats" >/dev/null 2>"$T/flat.err"
[ "$(grep -c 'flat.stats: band gray has standard deviation 0' "$T/flat.err")" = 1 ] && pass "a band of standard deviation 0: centred, with one warning" ||
	fail "std 0" "$(cat "$T/flat.err")"
must_fail "normalise-bands refuses frames normalised already" 1 "is normalised already \\(by normalise-bands\\)" "$BIN/normalise-bands --stats $T/l.stats <$T/l.frames"
$BIN/tile --quiet --size 128 --labels "$DATA/zurich_lidar/labels.tif" --domain source "$DATA/zurich_lidar/rgb.tif" >"$T/z.raw"
$BIN/normalise-bands --fit "$T/z.stats" <"$T/z.raw"
must_fail "a label class the model has no output for" 1 "holds class 2, and the model has 2 classes \\(0 to 1\\)" \
	"$BIN/normalise-bands --stats $T/z.stats <$T/z.raw >$T/z.frames; $BIN/critic-train --model $T/z.model --source $T/z.frames --epochs 1 --width 4"

# messages: one line whatever the name holds (a newline, bytes that are not
# UTF-8: escaped), the reason kept behind a long path (the path shortened),
# a full disk named as such by every filter that prints to stdout
nl=$(printf 'bad\nname.tif') bad=$(printf 'caf\xe9.tif') long=$T/$(printf 'd%.0s' $(seq 1 200))
printf 'not a raster' >"$T/$nl"
printf 'not a raster' >"$T/$bad"
must_fail "a newline in a file name is escaped: still one line" 1 'bad\\nname\.tif: cannot open as a raster$' "$BIN/tile '$T/$nl'"
must_fail "bytes that are not UTF-8 in a name are escaped" 1 'caf\\xe9\.tif: cannot open as a raster$' "$BIN/tile '$T/$bad'"
must_fail "a long path is shortened, its reason kept" 1 '^tile: [^ ]{60}\.\.\.[^ ]{80,100}: cannot open as a raster$' "$BIN/tile $long/$(basename "$long")/$(basename "$long")/$(basename "$long")/x.tif"
must_fail "evaluate to a full disk says so" 1 '^evaluate: writing stdout: No space left on device$' \
	"$BIN/evaluate --quiet --ref $A/rgb_nadir10_buildings.geojson $A/rgb_nadir10_mask.tif >/dev/full"
must_fail "frame-info to a full disk says so" 1 '^frame-info: writing stdout: No space left on device$' \
	"$BIN/frame-info --quiet <$T/rgb.frames >/dev/full"
