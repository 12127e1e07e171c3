# Segmentation end to end on the sample data: critic-train, encode, decode,
# stitch, vectorise, evaluate, the adapt.sh pipeline, and --resume.
. tests/lib.sh
A=$DATA/atlanta_sn4
export OPENBLAS_NUM_THREADS=1

$BIN/tile --size 128 --labels "$A/rgb_nadir10_buildings.geojson" --domain source "$A/rgb_nadir10.tif" >"$T/t.frames"
$BIN/normalise-bands --fit "$T/s.stats" <"$T/t.frames"
$BIN/normalise-bands --stats "$T/s.stats" <"$T/t.frames" >"$T/n.frames"
train() { $BIN/critic-train --model "$1" --source "$T/n.frames" --width 4 --epochs 3 --batch 8 --seed 5 --metrics "$1.jsonl" "${@:2}"; }
# the same as a background job whose PID ($!) is critic-train's own, so that kill reaches it
train_bg() { (exec $BIN/critic-train --model "$1" --source "$T/n.frames" --width 4 --epochs 3 --batch 8 --seed 5 --metrics "$1.jsonl" "${@:2}") & }
if train "$T/m.model" 2>"$T/train.err" && [ "$(wc -l <"$T/m.model.jsonl")" -eq 3 ] && grep -q '"val_iou"' "$T/m.model.jsonl" &&
	grep -q 'epoch 3/3' "$T/train.err"; then
	pass "critic-train trains, logs each epoch on stderr and as JSON lines"
else
	fail "critic-train" "$(tail -n 3 "$T/train.err")"
fi

# --epoch-steps: that many steps each epoch whatever the tile count (an
# oracle on a few target tiles gets the source-only run's budget); the
# cosine schedule spans them (lr 0.002 -> 0.001 half-way, at step 7 of 14;
# a schedule still sized by passes, 4 steps an epoch, would be near 0 there)
if train "$T/es.model" --epochs 2 --epoch-steps 7 2>"$T/es.err" &&
	[ "$(grep -o '"step":[0-9]*' "$T/es.model.jsonl" | tr '\n' ' ')" = '"step":7 "step":14 ' ] &&
	head -n 1 "$T/es.model.jsonl" | grep -q '"lr":0.001,' &&
	grep -aq 'steps_per_epoch=7 (set)' "$T/es.model"; then
	pass "critic-train --epoch-steps 7: 7 optimiser steps an epoch (the tiles revisited), the lr schedule over all 14, recorded in the model"
else
	fail "critic-train --epoch-steps" "$(grep -o '"step":[0-9]*' "$T/es.model.jsonl" | tr '\n' ' ') $(tail -n 2 "$T/es.err")"
fi
# --select val-iou where the validation tiles hold no pixel of any class but
# background (the Zurich LiDAR scene with buildings and trees mapped to
# background): no IoU can rank the epochs, so the validation loss does, with
# one warning; an epoch whose loss falls is marked best, and the model file
# says the loss chose
$BIN/tile --quiet --size 128 --labels "$DATA/zurich_lidar/labels_full.tif" --label-map 1=0,2=0 --domain source "$DATA/zurich_lidar/rgb_full.tif" |
	$BIN/normalise-bands --stats "$T/s.stats" >"$T/bg.frames"
if $BIN/critic-train --model "$T/bg.model" --source "$T/bg.frames" --width 4 --epochs 3 --batch 8 --seed 5 --metrics "$T/bg.jsonl" 2>"$T/bg.err" &&
	[ "$(grep -c 'no labelled pixel of any class but background: epochs are chosen by validation loss' "$T/bg.err")" -eq 1 ] &&
	[ "$(grep -c '"val_iou":-1,' "$T/bg.jsonl")" -eq 3 ] && grep -aq '^selected_by val-loss$' "$T/bg.model" && $PY -c "
import json, re
v = [json.loads(l)['val_loss'] for l in open('$T/bg.jsonl')]
best = ['(best)' in l for l in open('$T/bg.err') if re.search(r'epoch [0-9]/3:', l)]
want = [i == 0 or v[i] < min(v[:i]) for i in range(3)]
assert best == want and any(want[1:]), (v, best)" 2>"$T/bg.py"; then
	pass "critic-train --select val-iou with no foreground in the validation tiles: epochs chosen by validation loss, one warning, recorded in the model"
else
	fail "critic-train, validation tiles without foreground" "$(tail -n 2 "$T/bg.err" "$T/bg.py" | tr '\n' ' ')"
fi
must_fail "critic-train refuses a negative --epoch-steps" 2 'epoch-steps must be 0 to 1000000, not -3' "$BIN/critic-train --model $T/x.model --source $T/n.frames --epoch-steps -3"

# --importance-weighted: with the target the source's held-out validation chip
# itself (the fifth of five NAIP chips), the model predicts the same class
# proportions on both, so the label-shift estimate is w = 1 for both classes;
# with another chip as the target it is not; the flag needs the critic
N=$DATA/naip_trees
for i in 0 1 2 3 4; do
	$BIN/tile --quiet --size 128 --labels "$N/masks/santa_monica_2020_$i.tif" --label-map 2=1 --domain source "$N/images/santa_monica_2020_$i.tif"
done >"$T/iw.raw"
$BIN/normalise-bands --fit "$T/iw.stats" <"$T/iw.raw"
$BIN/normalise-bands --stats "$T/iw.stats" <"$T/iw.raw" >"$T/iw.frames"
for c in 4 7; do
	$BIN/tile --quiet --size 128 --domain target "$N/images/santa_monica_2020_$c.tif" | $BIN/normalise-bands --stats "$T/iw.stats" >"$T/iwt$c.frames"
	$BIN/critic-train --threads 1 --model "$T/iw$c.model" --source "$T/iw.frames" --target "$T/iwt$c.frames" --method wdgrl \
		--importance-weighted --width 4 --epochs 3 --adapt-warmup 1 --class-weights 1,3 --seed 3 --metrics "$T/iw$c.jsonl" 2>"$T/iw$c.err"
done
if $PY -c "
import json, sys
w = {c: [e['class_weights_next'] for e in map(json.loads, open('$T/iw%d.jsonl' % c)) if 'epoch' in e] for c in (4, 7)}
assert len(w[4]) == 3 and all(abs(x - 1) < 1e-6 for e in w[4] for x in e), w[4]
assert any(abs(x - 1) > 0.01 for e in w[7][:2] for x in e) and w[7][2] == w[7][1], w[7]" 2>"$T/iw.py" &&
	! grep -q 'weights kept' "$T/iw4.err" "$T/iw7.err" && grep -q 'class weights next' "$T/iw7.err"; then
	pass "critic-train --importance-weighted: label-shift weights 1 when the target is the source's validation chip, not 1 on another"
else
	fail "critic-train --importance-weighted" "$(tail -n 2 "$T/iw.py" "$T/iw4.err" "$T/iw7.err" | tr '\n' ' ')"
fi
# --target-prior: the weights are the given proportions over the source's
# training proportions (chips 0-3: the fifth is held out), fixed all run
$BIN/critic-train --threads 1 --model "$T/tp.model" --source "$T/iw.frames" --target "$T/iwt7.frames" --method wdgrl \
	--target-prior 0.5,0.5 --width 4 --epochs 2 --adapt-warmup 1 --seed 3 --metrics "$T/tp.jsonl" 2>"$T/tp.err"
if $PY -c "
import json
from osgeo import gdal
import numpy as np
m = np.concatenate([gdal.Open('$N/masks/santa_monica_2020_%d.tif' % i).ReadAsArray().ravel() for i in range(4)])
ps = [(m != 2).mean(), (m == 2).mean()]
w = [e['class_weights_next'] for e in map(json.loads, open('$T/tp.jsonl')) if 'epoch' in e]
assert len(w) == 2 and all(abs(x[c] - 0.5 / ps[c]) < 1e-4 * x[c] for x in w for c in (0, 1)), (w, ps)" 2>"$T/tp.py" &&
	grep -q 'class proportions, target 0.5,0.5, source 0.9[0-9]*,0.0[0-9]*:' "$T/tp.err"; then
	pass "critic-train --target-prior: fixed weights, the given proportions over the source's training proportions"
else
	fail "critic-train --target-prior" "$(tail -n 2 "$T/tp.py" "$T/tp.err" | tr '\n' ' ')"
fi
must_fail "critic-train --target-prior needs one proportion per class" 1 "target-prior needs 2 values \\(one per class, none negative\\), not '0.2,0.3,0.5'" "$BIN/critic-train --quiet --model $T/x.model --source $T/iw.frames --target $T/iwt4.frames --method wdgrl --target-prior 0.2,0.3,0.5"
must_fail "critic-train --class-weights refuses a value that is not a number" 1 "class-weights needs 2 values \\(one per class, none negative\\), not '1,x'" "$BIN/critic-train --quiet --model $T/x.model --source $T/iw.frames --class-weights 1,x"
must_fail "critic-train --importance-weighted needs source validation tiles" 1 'it needs some \(--val-frac above 0\)' "$BIN/critic-train --quiet --model $T/x.model --source $T/iw.frames --target $T/iwt4.frames --method wdgrl --importance-weighted --val-frac 0"
must_fail "critic-train: --importance-weighted and --target-prior exclude each other" 2 'use one of them' "$BIN/critic-train --model $T/x.model --source $T/iw.frames --target $T/iwt4.frames --method wdgrl --target-prior 0.8,0.2 --importance-weighted"
must_fail "critic-train --importance-weighted needs an adapted method" 2 'importance-weighted needs an adapted method' "$BIN/critic-train --model $T/x.model --source $T/iw.frames --importance-weighted"
must_fail "critic-train --importance-weighted needs the critic, not dann" 2 'not with --similarity dann' "$BIN/critic-train --model $T/x.model --source $T/iw.frames --target $T/iwt4.frames --method dsn --similarity dann --importance-weighted"

# an interrupted run resumed ends with the same model as an uninterrupted one
train_bg "$T/k.model" 2>/dev/null
pid=$!
for i in $(seq 1 400); do [ -s "$T/k.model.ckpt" ] && break; sleep 0.05; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
epochs_done=$(wc -l <"$T/k.model.jsonl")
train "$T/k.model" --resume 2>"$T/resume.err"
epochs_logged=$(grep -o '"epoch":[0-9]*,"step":[0-9]*' "$T/k.model.jsonl" | tr '\n' ' ')
if [ "$epochs_done" -lt 3 ] && cmp -s "$T/k.model" "$T/m.model" && cmp -s "$T/k.model.ckpt" "$T/m.model.ckpt" &&
	[ "$epochs_logged" = "$(grep -o '"epoch":[0-9]*,"step":[0-9]*' "$T/m.model.jsonl" | tr '\n' ' ')" ]; then
	pass "killed after $epochs_done epoch(s) and resumed: identical model and checkpoint bytes, each epoch logged once"
else
	fail "--resume" "epochs before kill $epochs_done, logged $epochs_logged; $(tail -n 2 "$T/resume.err")"
fi

# killed after an epoch was logged but before its checkpoint: the resumed run
# logs that epoch again, once (the line past the checkpoint is cut)
train_bg "$T/j.model" 2>/dev/null
pid=$!
for i in $(seq 1 400); do [ -s "$T/j.model.ckpt" ] && break; sleep 0.05; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
ck_epoch=$(strings "$T/j.model.ckpt" | sed -n 's/^epoch \([0-9]*\)$/\1/p' | head -n 1)
head -n "${ck_epoch:-0}" "$T/j.model.jsonl" >"$T/j.head"
{ cat "$T/j.head"; echo '{"epoch":'$((${ck_epoch:-0} + 1))',"step":999,"loss":9'; } >"$T/j.model.jsonl"
train "$T/j.model" --resume 2>"$T/jr.err"
if [ -n "$ck_epoch" ] && [ "$(grep -o '"epoch":[0-9]*,"step":[0-9]*' "$T/j.model.jsonl" | tr '\n' ' ')" = \
	"$(grep -o '"epoch":[0-9]*,"step":[0-9]*' "$T/m.model.jsonl" | tr '\n' ' ')" ] && cmp -s "$T/j.model" "$T/m.model"; then
	pass "--resume cuts a metrics line written after the checkpoint of epoch $ck_epoch: each epoch logged once, same model"
else
	fail "--resume metrics log" "checkpoint $ck_epoch; $(tr '\n' ' ' <"$T/j.model.jsonl" | head -c 300)"
fi

# safetensors export, read back by hand (no safetensors library): names,
# shapes, values and metadata against the model file's own frames
if $BIN/export-safetensors --optimiser-state "$T/m.model.ckpt" "$T/m.safetensors" 2>"$T/st.err" &&
	$BIN/export-safetensors "$T/m.model" "$T/w.safetensors" 2>>"$T/st.err" &&
	/usr/bin/python3 - "$T/w.safetensors" "$T/m.model" "$T/m.safetensors" python >"$T/st.out" 2>&1 <<'PY'
import json, struct, sys
import numpy as np
sys.path.insert(0, sys.argv[4])
import landshift_frames as lf
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    assert (8 + n) % 8 == 0, "data not 8-byte aligned"
    head = json.loads(raw[8:8 + n])
    meta = head.pop("__metadata__")
    data = raw[8 + n:]
    spans = sorted(v["data_offsets"] for v in head.values())
    assert spans[0][0] == 0 and spans[-1][1] == len(data), "data does not cover the file"
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), "gaps or overlaps between tensors"
    out = {}
    for name, v in head.items():
        assert v["dtype"] == "F32"
        a, b = v["data_offsets"]
        arr = np.frombuffer(data[a:b], "<f4")
        assert arr.size == int(np.prod(v["shape"])), name
        out[name] = arr.reshape(v["shape"])
    return meta, out
meta, w = load(sys.argv[1])
frames = [f for f in lf.read_frames(sys.argv[2])]
params = {f["key"]: f for f in frames if f["kind"] == "param"}
assert meta["landshift.spec"].startswith("unet ") and "landshift.bands.source" in meta, meta
assert set(w) == set(params), set(w) ^ set(params)
for name, f in params.items():
    assert list(w[name].shape) == list(f["shape"]), (name, w[name].shape, f["shape"])
    assert np.array_equal(w[name], f["array"]), name
conv = [n for n in w if n.endswith("conv.weight")]
assert conv and all(w[n].ndim == 4 and w[n].shape[2:] == (3, 3) for n in conv)
_, ws = load(sys.argv[3])
assert all(n + ".m" in ws and n + ".v" in ws for n in w if not "running" in n), "optimiser state missing"
print(len(w), "tensors")
PY
then
	pass "export-safetensors: $(cat "$T/st.out") read back by hand with names, shapes (conv [out,in,3,3]) and values of the model file; optimiser state on request"
else
	fail "export-safetensors" "$(tail -n 3 "$T/st.out" "$T/st.err")"
fi

# killed (SIGKILL) at several moments of a longer run, resumed each time: the
# checkpoint on disk is always whole, and the end is the uninterrupted model
train "$T/ref8.model" --epochs 16 2>/dev/null
kills=0 bad=0
for delay in 0.6 0.9 0.5 1.1 0.7 1.0 0.8 0.6; do
	[ -e "$T/r.model" ] && cmp -s "$T/r.model.jsonl" "$T/ref8.model.jsonl" && break
	r=""; [ -e "$T/r.model.ckpt" ] && r=--resume
	train_bg "$T/r.model" --epochs 16 $r 2>/dev/null
	pid=$!
	sleep "$delay"
	kill -9 $pid 2>/dev/null && kills=$((kills + 1))
	wait $pid 2>/dev/null
	[ ! -e "$T/r.model.ckpt" ] || $BIN/frame-info --check "$T/r.model.ckpt" || bad=$((bad + 1))
done
r=""; [ -e "$T/r.model.ckpt" ] && r=--resume
train "$T/r.model" --epochs 16 $r 2>"$T/rk.err"
if [ $bad -eq 0 ] && [ $kills -ge 3 ] && cmp -s "$T/r.model" "$T/ref8.model"; then
	pass "SIGKILLed $kills times during a 16-epoch run and resumed: every checkpoint whole, final model identical"
else
	fail "repeated SIGKILL" "$kills kills, $bad broken checkpoints; $(tail -n 2 "$T/rk.err")"
fi

# AdaBN: batch-norm statistics re-estimated on target tiles, nothing else changed
$BIN/tile --quiet --size 128 --bands 1,1,1 --band-names red,green,blue --domain source "$A/pan.tif" >"$T/pan.raw"
$BIN/normalise-bands --fit "$T/pan.stats" <"$T/pan.raw"
$BIN/normalise-bands --stats "$T/pan.stats" <"$T/pan.raw" >"$T/pan.frames"
if $BIN/adapt-bn --quiet --model "$T/m.model" --out "$T/ad.model" <"$T/pan.frames" && grep -aq 'bn_adapted 64 target tiles' "$T/ad.model" &&
	$PY - "$T/m.model" "$T/ad.model" >"$T/ad.out" 2>&1 <<'PY'
import sys
import numpy as np
sys.path.insert(0, "python")
from landshift_frames import read_frames
a, b = ({f["key"]: f["array"] for f in read_frames(p) if f["kind"] == "param"} for p in sys.argv[1:3])
changed = [k for k in a if not np.array_equal(a[k], b[k])]
running = [k for k in a if "running" in k]
assert sorted(changed) == sorted(running), changed
print(len(changed))
PY
then
	pass "adapt-bn: the $(cat "$T/ad.out") batch-norm running statistics re-estimated on 64 target tiles, every weight unchanged"
else
	fail "adapt-bn" "$(tail -n 2 "$T/ad.out")"
fi
must_fail "adapt-bn needs two tiles" 1 'needs at least two' "$BIN/tile --quiet --size 128 --sample 1 --bands 1,1,1 --band-names red,green,blue --domain source $A/pan.tif | $BIN/normalise-bands --stats $T/pan.stats | $BIN/adapt-bn --quiet --model $T/m.model --out $T/one.model"

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
$BIN/encode --model "$T/m.model" --decode --class-index <"$T/n.frames" | $BIN/stitch --quiet "$T/c.tif"
gdalinfo "$T/c.tif" | grep -q 'Type=Byte' && pass "--class-index writes one u8 class band" || fail "class index" "not Byte"

# vectorise: polygons a GIS opens, in the raster's CRS, valid, seams whole
$BIN/vectorise --quiet "$A/rgb_nadir10_mask.tif" "$T/b.gpkg"
$BIN/vectorise --quiet --simplify 0.5 "$A/rgb_nadir10_mask.tif" "$T/b.geojson"
n=$(ogrinfo -so "$T/b.gpkg" polygons | awk '/Feature Count/ {print $3}')
invalid=$(ogrinfo -q -dialect sqlite -sql "SELECT COUNT(*) AS n FROM polygons WHERE NOT ST_IsValid(geometry)" "$T/b.geojson" | awk '/n \(Integer\)/ {print $NF}')
if [ "$n" -ge 180 ] && ogrinfo -so "$T/b.gpkg" polygons | grep -q 'EPSG",32616' && [ "$invalid" = 0 ]; then
	pass "vectorise: $n building polygons, EPSG:32616, GeoPackage and simplified GeoJSON, none invalid"
else
	fail "vectorise" "count $n invalid $invalid"
fi
$BIN/tile --size 128 --overlap 16 "$A/rgb_nadir10_mask.tif" | $BIN/stitch --quiet "$T/mask_tiled.tif"
n2=$($BIN/vectorise "$T/mask_tiled.tif" "$T/b2.gpkg" 2>&1 | grep -o '[0-9]* polygons')
[ "$n2" = "$n polygons" ] && pass "buildings crossing tile seams come out whole ($n2 after tile | stitch)" || fail "seams" "$n2 vs $n"
ogrinfo -q "$T/b.gpkg" polygons -fid 1 | grep -q 'score (Real) = 1' && pass "polygons carry class and score" || fail "attributes" "no score"
$BIN/vectorise --quiet --class-names background,tree "$A/rgb_nadir10_mask.tif" "$T/tr.gpkg"
ogrinfo -q "$T/tr.gpkg" polygons -fid 1 | grep -q 'class_name (String) = tree' && pass "vectorise --class-names names class 1 tree" ||
	fail "vectorise --class-names" "$(ogrinfo -q "$T/tr.gpkg" polygons -fid 1 | grep class_name)"
# a 16384 x 16384 scene: the class raster goes through a temporary file
# beside the output, so memory does not grow with the scene (the whole-scene
# class raster alone would be 268 MB)
gdal_translate -q -co TILED=YES -co COMPRESS=DEFLATE -outsize 16384 16384 -r near "$A/rgb_nadir10_mask.tif" "$T/m16k.tif"
mkdir -p "$T/v16"
/usr/bin/time -f %M -o "$T/v16.kb" $BIN/vectorise --quiet "$T/m16k.tif" "$T/v16/b.gpkg"
n16=$(ogrinfo -so "$T/v16/b.gpkg" polygons | awk '/Feature Count/ {print $3}')
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
must_fail "share-threshold refuses a pixel that is not a probability" 1 "^share-threshold: $T/ramp_bad.tif: pixel \\(7, 5\\) of class 1 is 1.5, not a probability$" \
	"$BIN/share-threshold --share 0.1 $T/ramp.tif $T/ramp_bad.tif"
must_fail "share-threshold refuses a class raster" 1 "ramp_ref.tif: not a probability raster" "$BIN/share-threshold --share 0.1 $T/ramp_ref.tif"
must_fail "share-threshold needs --share" 2 "^share-threshold: give --share F" "$BIN/share-threshold $T/ramp.tif"
must_fail "share-threshold wants a share between 0 and 1" 2 "^share-threshold: --share must lie above 0 and below 1, not 0$" "$BIN/share-threshold --share 0 $T/ramp.tif"
must_fail "share-threshold: no class 2 in a two-class map" 1 "ramp.tif: holds 2 classes, no class 2$" "$BIN/share-threshold --share 0.1 --class 2 $T/ramp.tif"
must_fail "evaluate --class-threshold needs CLASS=THRESHOLD" 2 "class-threshold: '1=2' is not CLASS=THRESHOLD" "$BIN/evaluate --ref $T/ramp_ref.tif --class-threshold 1=2 $T/ramp.tif"
must_fail "evaluate --class-threshold on a class raster" 2 "^evaluate: --class-threshold 1=0.5: .*ramp_ref.tif holds classes, not probabilities$" "$BIN/evaluate --ref $T/ramp_ref.tif --class-threshold 1=0.5 $T/ramp_ref.tif"
must_fail "vectorise --class-threshold beyond the map's classes" 1 "ramp.tif: --class-threshold 2=0.5: the raster holds 2 classes, no class 2$" "$BIN/vectorise --class-threshold 2=0.5 $T/ramp.tif $T/x.gpkg"

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

# the main job, tiny: adapt.sh source-only writes every output
gdal_translate -q -of VRT -srcwin 0 0 600 900 "$A/rgb_nadir10.tif" "$T/west.vrt"
gdal_translate -q -of VRT -srcwin 600 0 300 900 "$A/rgb_nadir10.tif" "$T/east.vrt"
if pipelines/adapt.sh --method source-only --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson" \
	--target "$T/east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" --out "$T/run" --epochs 1 --width 4 \
	2>"$T/adapt.err" && $PY -c "
import json; m = json.load(open('$T/run/metrics.json')); assert all(k in m for k in ('building_iou', 'building_f1', 'object_f1'))" &&
	[ -s "$T/run/probs_east.tif" ] && [ -s "$T/run/buildings_east.gpkg" ] && [ -s "$T/run/model" ] &&
	grep -q '^command .*adapt.sh --method source-only --source .*--epochs 1 --width 4' "$T/run/run.txt"; then
	pass "pipelines/adapt.sh writes model, probability GeoTIFF, GeoPackage, metrics.json, and run.txt with its whole command"
else
	fail "adapt.sh" "$(tail -n 3 "$T/adapt.err")"
fi
# --score-only: the same run scored again from its maps, nothing retrained;
# with --eval-crowns it gains a point score (here on building centres)
cp -r "$T/run" "$T/rs"
ad_args=(--method source-only --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson"
	--target "$T/east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" --out "$T/rs" --epochs 1 --width 4)
if pipelines/adapt.sh "${ad_args[@]}" --score-only 2>"$T/rs.err" && cmp -s "$T/rs/model" "$T/run/model" &&
	! grep -q 'training' "$T/rs.err" && $PY -c "
import json
a, b = (json.load(open(f)) for f in ('$T/rs/metrics.json', '$T/run/metrics.json'))
for m in (a, b): m.pop('per_raster')
assert a == b, (a, b)" 2>"$T/rs.py" &&
	pipelines/adapt.sh "${ad_args[@]}" --score-only --eval-crowns 2>>"$T/rs.err" && $PY -c "
import json; m = json.load(open('$T/rs/metrics.json'))
assert m['points'] > 10 and 0 <= m['point_f1'] <= 1 and m['building_point_f1'] == m['point_f1'], m" 2>>"$T/rs.py" &&
	[ "$(grep -c '^rescored .*--score-only' "$T/rs/run.txt")" -eq 2 ] && grep -q '^eval-points crown centres' "$T/rs/run.txt"; then
	pass "adapt.sh --score-only: the same metrics from the run's maps, nothing trained; --eval-crowns adds a point F1; run.txt records both"
else
	fail "adapt.sh --score-only" "$(tail -n 2 "$T/rs.err" "$T/rs.py" | tr '\n' ' ')"
fi
# --decision: the same maps decided by the source's building share (the training
# tiles' labels), then by a given share: the map calls that share of its mapped
# pixels buildings, the threshold is share-threshold's over the maps, the
# polygons follow; no target label is read to choose it
cp -r "$T/run" "$T/rd"
ad_args=(--method source-only --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson"
	--target "$T/east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" --out "$T/rd" --epochs 1 --width 4 --score-only)
if pipelines/adapt.sh "${ad_args[@]}" --decision source-share 2>"$T/rd.err" && cp "$T/rd/metrics.json" "$T/rd_src.json" &&
	t=$($BIN/share-threshold --quiet --share "$(cat "$T/rd/training.share")" "$T/rd/probs_east.tif") &&
	pipelines/adapt.sh "${ad_args[@]}" --decision share=0.3 2>>"$T/rd.err" && $PY -c "
import json
from osgeo import ogr
def marked(m):
    c = m['per_raster']['east']['confusion']; return (c[0][1] + c[1][1]) / sum(map(sum, c))
a, s, b = (json.load(open(f)) for f in ('$T/run/metrics.json', '$T/rd_src.json', '$T/rd/metrics.json'))
f = s['decision']['share']
assert a['decision'] == {'rule': 'argmax'} and s['decision']['rule'] == 'source-share' and 0.05 < f < 0.5, s['decision']
assert s['decision']['threshold'] == float('$t'), (s['decision'], '$t')
assert f <= marked(s) < f + 0.002 and 0.3 <= marked(b) < 0.302, (marked(s), marked(b))
assert b['decision'] == {'rule': 'share', 'share': 0.3, 'threshold': b['decision']['threshold']}
from osgeo import gdal
g = gdal.Open('$T/rd/probs_east.tif').GetGeoTransform(); px = abs(g[1] * g[5])
c = b['per_raster']['east']['confusion']; want = (c[0][1] + c[1][1]) * px
ds = ogr.Open('$T/rd/buildings_east.gpkg')   # held: a layer outlives no dataset
area = sum(f.GetGeometryRef().GetArea() for f in ds.GetLayer(0))
assert 0.8 * want < area < 1.1 * want, (area, want)   # the polygons follow the decision
" 2>"$T/rd.py" && grep -q '^decision share=0.3: share 0.3, threshold ' "$T/rd/run.txt"; then
	pass "adapt.sh --decision source-share / share=0.3: that share of the mapped pixels called buildings, the threshold share-threshold's, polygons and run.txt alike"
else
	fail "adapt.sh --decision" "$(tail -n 2 "$T/rd.err" "$T/rd.py" | tr '\n' ' ')"
fi
# with nothing to score, the report's quick-look shows the decided class
if pipelines/adapt.sh --method source-only --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson" \
	--target "$T/east.vrt" --out "$T/nl" --epochs 1 --width 4 --decision share=0.3 2>"$T/nl.err" && $PY -c "
from osgeo import gdal
a = gdal.Open('$T/nl/report/east.pred.png').ReadAsArray()
assert abs((a[3] > 0).mean() - 0.3) < 0.002, (a[3] > 0).mean()" 2>"$T/nl.py"; then
	pass "adapt.sh --decision share=0.3 without labels: the report's predicted buildings are 30 % of the map"
else
	fail "adapt.sh --decision, report" "$(tail -n 2 "$T/nl.err" "$T/nl.py" | tr '\n' ' ')"
fi
must_fail "adapt.sh --decision share=F needs a share below 1" 2 "^adapt: --decision share=F needs a share above 0 and below 1, not '1.5'$" \
	"pipelines/adapt.sh ${ad_args[*]} --decision share=1.5"
must_fail "adapt.sh refuses an unknown --decision" 2 "^adapt: --decision must be argmax, share=F or source-share, not 'best'$" \
	"pipelines/adapt.sh ${ad_args[*]} --decision best"
rm -f "$T/rd/training.share"
must_fail "adapt.sh --decision source-share on a run without training.share" 2 "source-share: .*/rd/training.share is missing" \
	"pipelines/adapt.sh ${ad_args[*]} --decision source-share"
must_fail "adapt.sh --score-only needs the run's maps" 2 "score-only: .*/probs_east.tif is missing" \
	"pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --eval-labels $A/rgb_nadir10_buildings.geojson --out $T/empty --score-only"

# --map-only: the trained model maps a raster the run did not (here the
# source's own west, only to have a second raster) and the run is scored over
# both; nothing is trained, the first raster's map and score are the same
cp -r "$T/run" "$T/rm"
ad_args=(--method source-only --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson"
	--target "$T/east.vrt" --out "$T/rm" --epochs 1 --width 4)
if pipelines/adapt.sh "${ad_args[@]}" --eval "$T/east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" \
	--eval "$T/west.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" --map-only 2>"$T/rm.err" &&
	cmp -s "$T/rm/model" "$T/run/model" && ! grep -q 'training' "$T/rm.err" && [ -s "$T/rm/probs_west.tif" ] && $PY -c "
import json
a, b = (json.load(open(f)) for f in ('$T/rm/metrics.json', '$T/run/metrics.json'))
assert sorted(a['per_raster']) == ['east', 'west'], a['per_raster'].keys()
assert a['per_raster']['east']['confusion'] == b['per_raster']['east']['confusion']
w = a['per_raster']['west']['confusion']; e = b['per_raster']['east']['confusion']
assert a['building_iou'] != b['building_iou'] and sum(map(sum, w)) > sum(map(sum, e))" 2>"$T/rm.py" &&
	[ "$(grep -c '^remapped .*--map-only' "$T/rm/run.txt")" -eq 1 ] && [ "$(grep -c '^eval west ' "$T/rm/run.txt")" -eq 1 ] &&
	[ "$(grep -c '^eval east ' "$T/rm/run.txt")" -eq 1 ]; then
	pass "adapt.sh --map-only: the trained model maps a raster new to the run and scores both, the first's score unchanged, nothing trained"
else
	fail "adapt.sh --map-only" "$(tail -n 2 "$T/rm.err" "$T/rm.py" | tr '\n' ' ')"
fi
# --target-bn: the adapted model's batch-norm statistics re-estimated on the
# target tiles after training; --map-only --target-bn on a finished run gives
# the same model as the flag given from the start (so finished runs can be
# mapped that way without training again)
tb_args=(--method wdgrl --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson" --target "$T/east.vrt"
	--eval-labels "$A/rgb_nadir10_buildings.geojson" --epochs 2 --adapt-warmup 1 --width 4)
if pipelines/adapt.sh "${tb_args[@]}" --out "$T/tb0" 2>"$T/tb.err" && cp -r "$T/tb0" "$T/tb1" &&
	pipelines/adapt.sh "${tb_args[@]}" --out "$T/tb1" --map-only --target-bn 2>>"$T/tb.err" &&
	pipelines/adapt.sh "${tb_args[@]}" --out "$T/tb2" --target-bn 2>>"$T/tb.err" &&
	cmp -s "$T/tb1/model" "$T/tb2/model" && ! cmp -s "$T/tb0/model" "$T/tb1/model" &&
	grep -aq 'bn_adapted [0-9]* target tiles' "$T/tb2/model" && ! grep -aq 'bn_adapted' "$T/tb0/model" &&
	grep -q '^target-bn .* after training' "$T/tb2/run.txt" && grep -q '^target-bn .* before mapping' "$T/tb1/run.txt" &&
	! ls "$T/tb1" | grep -q '^target\.\(frames\|norm\.frames\|[0-9]*\.stats\)$' && $PY -c "
import json
a, b = (json.load(open('$T/%s/metrics.json' % d)) for d in ('tb1', 'tb2'))
assert a['per_raster']['east']['confusion'] == b['per_raster']['east']['confusion']" 2>"$T/tb.py"; then
	pass "adapt.sh --target-bn: statistics from the target tiles after training; --map-only --target-bn on the finished run gives the same model and map"
else
	fail "adapt.sh --target-bn" "$(tail -n 2 "$T/tb.err" "$T/tb.py" 2>/dev/null | tr '\n' ' ')"
fi
# adabn is the same step on a source-only model: a finished source-only run
# remapped with --method adabn --map-only gives adabn's own model
cp -r "$T/run" "$T/ab1"
ab_args=(--source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson" --target "$T/east.vrt"
	--eval-labels "$A/rgb_nadir10_buildings.geojson" --epochs 1 --width 4)
if pipelines/adapt.sh --method adabn "${ab_args[@]}" --out "$T/ab1" --map-only 2>"$T/ab.err" &&
	pipelines/adapt.sh --method adabn "${ab_args[@]}" --out "$T/ab2" 2>>"$T/ab.err" && cmp -s "$T/ab1/model" "$T/ab2/model" &&
	! cmp -s "$T/run/model" "$T/ab1/model" && grep -aq 'bn_adapted [0-9]* target tiles in [0-9]* batches, stem source' "$T/ab2/model"; then
	pass "adapt.sh --method adabn: a source-only run remapped with it (--map-only) gets adabn's own model"
else
	fail "adapt.sh adabn --map-only" "$(tail -n 2 "$T/ab.err" | tr '\n' ' ')"
fi
must_fail "adapt.sh --target-bn is for wdgrl and dsn" 2 "^adapt: --target-bn is for wdgrl and dsn \\(source-only with it is --method adabn\\)$" \
	"pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --out $T/tbx --target-bn"
must_fail "adapt.sh --map-only needs the run's model" 2 "map-only: .*/model is missing" \
	"pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --out $T/empty2 --map-only"

# its report: every image present; in headless Chromium nothing broken and a page that is not blank
missing=$(grep -o 'src="[^"]*"' "$T/run/report.html" 2>/dev/null | sed 's/src="//; s/"$//' |
	while read -r f; do [ -s "$T/run/$f" ] || echo "$f"; done)
nimg=$(grep -o '<img ' "$T/run/report.html" 2>/dev/null | wc -l)
if [ -f "$T/run/report.html" ] && [ -z "$missing" ] && [ "$nimg" -ge 9 ] && grep -q 'report: .*report.html' "$T/adapt.err"; then
	pass "adapt.sh writes report.html: options, metrics, $nimg images (imagery, prediction, reference, errors, curves), all present"
else
	fail "report" "$nimg images, missing: $missing"
fi
if command -v chromium >/dev/null; then
	(cd "$T/run" && timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,1600 \
		--screenshot="$T/shot.png" "file://$T/run/report.html" >/dev/null 2>&1)
	dom=$(cd "$T/run" && timeout 120 chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 --dump-dom \
		"file://$T/run/report.html" 2>/dev/null)
	if echo "$dom" | grep -q "data-broken-images=\"0\" data-images=\"$nimg\"" && $PY - "$T/shot.png" <<'PY'
import sys
from osgeo import gdal
a = gdal.Open(sys.argv[1]).ReadAsArray()
assert a.std() > 20, "blank screenshot"
assert len({tuple(p) for p in a[:3].reshape(3, -1).T[::97]}) > 200, "too few colours"
PY
	then
		pass "the report in headless Chromium: $nimg images loaded, none broken; the screenshot is not blank"
	else
		fail "report in Chromium" "$(echo "$dom" | grep -o 'data-broken[^>]*')"
	fi
else
	fail "report in Chromium" "chromium is not installed (tools/deps.sh install)"
fi

# a new modality with no labels: the Rotterdam SAR scene (4 x float32 dB,
# 39 % NaN) as a DSN target through pipelines/rotterdam.sh, one epoch
R=$T/rot/sar/dsn
if OUT=$T/rot METHODS=dsn TARGETS=sar EPOCHS=1 pipelines/rotterdam.sh 2>"$T/rot.err" && [ -s "$R/report/sar_masked.pred.png" ] &&
	$PY -c "
from osgeo import gdal
d = gdal.Open('$R/probs_sar_masked.tif'); m = d.GetRasterBand(1).GetMaskBand().ReadAsArray()
assert d.RasterCount == 2 and 0.3 < (m == 0).mean() < 0.5, (m == 0).mean()" 2>>"$T/rot.err"; then
	pass "rotterdam.sh: DSN to the unlabelled SAR scene maps it (its NaN areas masked) and reports the predictions"
else
	fail "rotterdam SAR" "$(tail -n 3 "$T/rot.err")"
fi

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

# WDGRL: trains with an unlabelled target, logs W and GP per step, records that no target label was read
$BIN/tile --size 128 --domain target --labels "$A/rgb_nadir10_buildings.geojson" "$T/east.vrt" |
	$BIN/normalise-bands --stats "$T/s.stats" >"$T/tgt.frames"
$BIN/tile --size 128 --domain source --labels "$A/rgb_nadir10_buildings.geojson" "$T/west.vrt" |
	$BIN/normalise-bands --stats "$T/s.stats" >"$T/src.frames"
# --bn-per-domain where the target shares the source's stem would keep one set
# of statistics (they follow the stems): refused, not silently ignored
must_fail "critic-train --bn-per-domain with a shared stem" 2 "^critic-train: --bn-per-domain: the target's bands equal the source's, so it shares the source's input stem and its batch-norm statistics; give --private-stems" \
	"$BIN/critic-train --quiet --model $T/bx.model --method wdgrl --source $T/src.frames --target $T/tgt.frames --epochs 1 --width 4 --bn-per-domain"
if $BIN/critic-train --quiet --model "$T/bp.model" --method wdgrl --source "$T/src.frames" --target "$T/tgt.frames" --epochs 1 \
	--width 4 --bn-per-domain --private-stems 2>"$T/bp.err" && grep -aq 'bn_per_domain=1 stem=source:3 stem=target:3' "$T/bp.model"; then
	pass "critic-train --bn-per-domain --private-stems: a stem and batch-norm statistics per domain"
else
	fail "critic-train --bn-per-domain --private-stems" "$(tail -n 2 "$T/bp.err"; strings "$T/bp.model" | grep -m1 unet)"
fi
if $BIN/critic-train --model "$T/wd.model" --method wdgrl --source "$T/src.frames" --target "$T/tgt.frames" --epochs 2 \
	--adapt-warmup 1 --width 4 --metrics "$T/wd.jsonl" 2>"$T/wd.err" &&
	grep -q '"w":' "$T/wd.jsonl" && grep -q '"gp":' "$T/wd.jsonl" && grep -q 'W .*GP' "$T/wd.err" &&
	grep -aq 'target_labels present-and-ignored' "$T/wd.model" && grep -aq 'method wdgrl' "$T/wd.model"; then
	pass "critic-train --method wdgrl: W and GP logged per step; the model records that target labels were ignored"
else
	fail "wdgrl" "$(tail -n 2 "$T/wd.err")"
fi
# --lambda-schedule ramp: lambda rises from 0 over the adaptation epochs towards --lambda
if $BIN/critic-train --quiet --model "$T/wr.model" --method wdgrl --source "$T/src.frames" --target "$T/tgt.frames" --epochs 3 \
	--adapt-warmup 1 --width 4 --lambda 0.5 --lambda-schedule ramp --n-critic 1 --select target-entropy \
	--metrics "$T/wr.jsonl" 2>"$T/wr.err" &&
	$PY -c "
import json, math
r = [json.loads(x) for x in open('$T/wr.jsonl')]
l = [x['lambda'] for x in r if 'lambda' in x]
assert len(l) >= 4 and l[0] < 0.1 and 0.35 < l[-1] <= 0.5 and all(a <= b for a, b in zip(l, l[1:])), l
h = [x['target_entropy'] for x in r if 'epoch' in x]
assert h[0] == -1 and all(0 < v <= math.log(2) for v in h[1:]), h" 2>>"$T/wr.err" &&
	grep -aq 'lambda_schedule=ramp' "$T/wr.model" && grep -aq 'target-entropy' "$T/wr.model"; then
	pass "--lambda-schedule ramp: lambda per step rises from near 0 towards --lambda; --select target-entropy: entropy per adapted epoch in (0, ln 2]; both recorded in the model"
else
	fail "lambda ramp" "$(tail -n 2 "$T/wr.err")"
fi
# --critic-level output: the critic sees 4 x 4 patches of class probabilities, the target runs
# through the whole network (its logits get the gradient); WDGRL and DSN both
if $BIN/critic-train --quiet --model "$T/wo.model" --method wdgrl --source "$T/src.frames" --target "$T/tgt.frames" --epochs 2 \
	--adapt-warmup 1 --width 4 --critic-level output --critic-patch 4 --n-critic 2 --metrics "$T/wo.jsonl" 2>"$T/wo.err" &&
	$BIN/critic-train --quiet --model "$T/do.model" --method dsn --source "$T/src.frames" --target "$T/tgt.frames" --epochs 2 \
	--adapt-warmup 1 --width 4 --critic-level output --critic-patch 8 --n-critic 1 --metrics "$T/do.jsonl" 2>>"$T/wo.err" &&
	$PY -c "
import json, math
for f in ('$T/wo.jsonl', '$T/do.jsonl'):
    r = [json.loads(x) for x in open(f) if '\"w\"' in x]
    assert len(r) >= 2 and all(math.isfinite(x['w']) and math.isfinite(x['task_loss']) and x['gp'] >= 0 for x in r), f" 2>>"$T/wo.err" &&
	grep -aq 'level=output features=none patch=4' "$T/wo.model" && grep -aq 'level=output features=none patch=8' "$T/do.model"; then
	pass "--critic-level output: WDGRL and DSN train with a critic on class-probability patches (W, GP logged; level and patch in the model)"
else
	fail "critic level output" "$(tail -n 2 "$T/wo.err")"
fi
# --critic-features: the critic also sees the skips (encoder levels 0..2, pooled onto the
# bottleneck's cells); naming the bottleneck alone (level 3 of 4) is the default, step for step
if $BIN/critic-train --quiet --model "$T/wf.model" --method wdgrl --source "$T/src.frames" --target "$T/tgt.frames" --epochs 2 \
	--adapt-warmup 1 --width 4 --critic-features all --n-critic 2 --metrics "$T/wf.jsonl" 2>"$T/wf.err" &&
	$BIN/critic-train --quiet --model "$T/df.model" --method dsn --source "$T/src.frames" --target "$T/tgt.frames" --epochs 2 \
	--adapt-warmup 1 --width 4 --critic-features 0 --critic-level tile --n-critic 1 --metrics "$T/df.jsonl" 2>>"$T/wf.err" &&
	$BIN/critic-train --quiet --model "$T/w3.model" --method wdgrl --source "$T/src.frames" --target "$T/tgt.frames" --epochs 2 \
	--adapt-warmup 1 --width 4 --critic-features 3 --n-critic 2 --metrics "$T/w3.jsonl" 2>>"$T/wf.err" &&
	$BIN/critic-train --quiet --model "$T/wd.model" --method wdgrl --source "$T/src.frames" --target "$T/tgt.frames" --epochs 2 \
	--adapt-warmup 1 --width 4 --n-critic 2 --metrics "$T/wd.jsonl" 2>>"$T/wf.err" &&
	$PY -c "
import json, math
for f in ('$T/wf.jsonl', '$T/df.jsonl'):
    r = [json.loads(x) for x in open(f) if '\"w\"' in x]
    assert len(r) >= 2 and all(math.isfinite(x['w']) and math.isfinite(x['task_loss']) and x['gp'] >= 0 for x in r), f
a = [x for x in open('$T/w3.jsonl') if '\"w\"' in x]
b = [x for x in open('$T/wd.jsonl') if '\"w\"' in x]
assert a == b and len(a) >= 2, 'level 3 alone differs from the default'
w = [json.loads(x)['w'] for x in open('$T/wf.jsonl') if '\"w\"' in x]
assert w != [json.loads(x)['w'] for x in a], 'all levels gave the bottleneck-only W'" 2>>"$T/wf.err" &&
	grep -aq 'level=pixel features=0,1,2,3 patch' "$T/wf.model" && grep -aq 'level=tile features=0 patch' "$T/df.model" &&
	grep -aq 'level=pixel features=3 patch' "$T/wd.model"; then
	pass "--critic-features: WDGRL on all four levels' outputs, DSN on the first skip alone (W, GP logged; the levels in the model); the bottleneck named alone is the default, step for step"
else
	fail "critic features" "$(tail -n 2 "$T/wf.err")"
fi
must_fail "--critic-features beyond the network's levels" 2 'critic-features must be all or encoder levels 0 to 3 separated by commas, not 0,4' "$BIN/critic-train --quiet --model $T/wx.model --method wdgrl --source $T/src.frames --target $T/tgt.frames --epochs 1 --width 4 --critic-features 0,4"
must_fail "--depth out of range" 2 'depth must be 1 to 6, not 7' "$BIN/critic-train --quiet --model $T/wx.model --source $T/src.frames --epochs 1 --depth 7"
must_fail "--critic-features without adaptation" 2 'critic-features needs an adapted method \(wdgrl or dsn\)' "$BIN/critic-train --quiet --model $T/wx.model --method source-only --source $T/src.frames --epochs 1 --width 4 --critic-features all"
must_fail "--critic-features with the output level" 2 'critic-features picks encoder levels: not with --critic-level output' "$BIN/critic-train --quiet --model $T/wx.model --method wdgrl --source $T/src.frames --target $T/tgt.frames --epochs 1 --width 4 --critic-level output --critic-features all"
must_fail "--critic-patch must divide the tile" 1 'critic-patch 5 must divide the tile size 128x128' "$BIN/critic-train --quiet --model $T/wx.model --method wdgrl --source $T/src.frames --target $T/tgt.frames --epochs 1 --width 4 --critic-level output --critic-patch 5"
# the experiments report over a sweep's folder layout, filled from the two real runs above
E=$T/exp/tiny-pair
mkdir -p "$E/source-only/seed1" "$E/wdgrl/seed1" "$E/wdgrl+output/seed1"
cp "$T/run/metrics.json" "$T/run/train.jsonl" "$E/source-only/seed1/"
cp "$T/run/metrics.json" "$E/wdgrl/seed1/"
cp "$T/wd.jsonl" "$E/wdgrl/seed1/train.jsonl"
echo 42 >"$E/wdgrl/seed1/seconds"
cp "$T/run/metrics.json" "$E/wdgrl+output/seed1/"	# a variant (experiments.sh TAG=+output), listed after its method
cp "$T/wo.jsonl" "$E/wdgrl+output/seed1/train.jsonl"
mkdir -p "$E/source-only/seed0"	# a run in progress: no metrics.json, its log cut mid-line
head -c 100 "$T/run/train.jsonl" >"$E/source-only/seed0/train.jsonl"
if pipelines/experiments-report.sh "$T/exp" 2>"$T/er.err" && grep -q '<td>tiny-pair</td><td>wdgrl</td><td>1</td>' "$T/exp/report.html" &&
	grep -A1 '<td>wdgrl</td>' "$T/exp/report.html" | grep -q '<td>wdgrl+output</td>' &&
	grep -q '42 s each' "$T/exp/report.html" && [ "$(grep -o '<img ' "$T/exp/report.html" | wc -l)" -eq 3 ] &&
	$PY -c "
import sys
from osgeo import gdal
for f in ('loss', 'val_iou', 'w'):
    a = gdal.Open('$T/exp/report/tiny-pair.%s.png' % f).ReadAsArray()
    assert a.shape[-2:] == (360, 640) and a.std() > 10, f" 2>"$T/er.py"; then
	pass "experiments-report.sh: results table with run times (variants after their method), task-loss, validation-IoU and critic-W curves as PNG"
else
	fail "experiments-report.sh" "$(cat "$T/er.err" "$T/er.py" | tail -n 3)"
fi
# the sweep itself: two runs at a time under GNU Parallel on the real pan pair
# (1 epoch, width 4), the oracles after the source-only runs whose steps an
# epoch they are given; a second sweep finds everything done and runs nothing
xs() { PAIRS=atlanta-pan METHODS="source-only oracle" SEEDS="1 2" EPOCHS=1 JOBS=2 EXTRA="--width 4" TAG=+tiny \
	OUT=$T/xo RESULTS=$T/xr pipelines/experiments.sh; }
threads=$(( $(nproc) / 2 )); [ "$threads" -ge 1 ] || threads=1
# and in RESULTS already, two seeds of an adapted run from elsewhere, whose
# logged critic W the table sums up: seed means 0.25 and 0.20, 1 of 6 steps < 0
for s in 1 2; do mkdir -p "$T/xr/tiny-pair/wdgrl+tiny/seed$s" && cp "$T/run/metrics.json" "$T/xr/tiny-pair/wdgrl+tiny/seed$s/"; done
printf '%s\n' '{"epoch":1,"step":4,"loss":0.5,"val_loss":0.4,"val_iou":0.3,"lr":0.002,"seconds":1,"target_entropy":-1}' \
	'{"step":5,"task_loss":0.4,"w":0.5,"gp":0.1}' '{"step":6,"task_loss":0.4,"w":-0.1,"gp":0.1}' \
	'{"step":7,"task_loss":0.4,"w":0.2,"gp":0.1}' '{"step":8,"task_loss":0.4,"w":0.4,"gp":0.1}' >"$T/xr/tiny-pair/wdgrl+tiny/seed1/train.jsonl"
printf '%s\n' '{"epoch":1,"step":4,"loss":0.5,"val_loss":0.4,"val_iou":0.3,"lr":0.002,"seconds":1,"target_entropy":-1}' \
	'{"step":5,"task_loss":0.4,"w":0.1,"gp":0.1}' '{"step":6,"task_loss":0.4,"w":0.3,"gp":0.1}' >"$T/xr/tiny-pair/wdgrl+tiny/seed2/train.jsonl"
if xs >"$T/xs.out" 2>"$T/xs.err" && [ "$(ls "$T"/xr/atlanta-pan/*/seed*/metrics.json | wc -l)" -eq 4 ] &&
	grep -q '^| tiny-pair | building | wdgrl+tiny | 2 | .* | 0\.20 to 0\.25 (17% < 0) | ' "$T/xr/results.md" &&
	grep -q '^| atlanta-pan | building | source-only+tiny | 2 | .* |  | [0-9.]* |$' "$T/xr/results.md" &&
	grep -q '<td>0.20 to 0.25 (17% &lt; 0)</td>' "$T/xo/report.html" &&
	$PY -c "
import json; j = json.load(open('$T/xr/results.json')); r = [x['critic_w'] for x in j['tiny-pair']['wdgrl+tiny']]
assert [(round(x['w_mean'], 9), x['w_negative'], x['w_steps']) for x in r] == [(0.25, 0.25, 4), (0.2, 0, 2)], r
assert [x['critic_w'] for x in j['atlanta-pan']['source-only+tiny']] == [None, None]" &&
	steps=$(head -n 1 "$T/xr/atlanta-pan/source-only+tiny/seed1/train.jsonl" | grep -o '"step":[0-9]*' | cut -d: -f2) &&
	grep -q "^training epochs 1 of $steps steps" "$T/xr/atlanta-pan/oracle+tiny/seed2/run.txt" &&
	[ "$(cat "$T"/xr/atlanta-pan/*/seed*/run.txt | grep -c "^threads $threads\$")" -eq 4 ] &&
	grep -q '| atlanta-pan | building | oracle+tiny | 2 |' "$T/xr/results.md" &&
	RESCORE=1 xs >"$T/xs2.out" 2>"$T/xs2.err" && ! grep -q 'experiments: atlanta-pan' "$T/xs2.err" &&
	[ "$(grep -c '^experiments: scoring atlanta-pan .* again' "$T/xs2.err")" -eq 4 ] &&
	[ "$(grep -c '^rescored' "$T"/xr/atlanta-pan/*/seed*/run.txt | grep -c ':1$')" -eq 4 ]; then
	pass "experiments.sh JOBS=2: 4 runs under GNU Parallel on $threads thread(s) each, the oracle given source-only's $steps steps an epoch, a kept run's critic W in the table; a second sweep (RESCORE=1) scores the 4 again and trains nothing"
else
	fail "experiments.sh JOBS=2" "$(tail -n 3 "$T/xs.err" "$T/xs2.err" | tr '\n' ' ')"
fi
# RESCORE: a run whose maps and model are gone (kept from another machine) is
# skipped, one whose scoring fails (a damaged model) fails the sweep
mkdir -p "$T/xf/atlanta-pan/source-only+tiny" "$T/xfr"
cp -r "$T/xr/atlanta-pan/source-only+tiny/seed1" "$T/xf/atlanta-pan/source-only+tiny/seed1"
cp -r "$T/xr/atlanta-pan/source-only+tiny/seed1" "$T/xf/atlanta-pan/source-only+tiny/seed2"
echo damaged >"$T/xf/atlanta-pan/source-only+tiny/seed2/model"
PAIRS=atlanta-pan METHODS=source-only SEEDS="1 2" EXTRA="--width 4" TAG=+tiny RESCORE=1 OUT=$T/xf RESULTS=$T/xfr \
	pipelines/experiments.sh >"$T/xf.out" 2>"$T/xf.err"; xf=$?
if [ $xf -eq 1 ] && grep -q 'source-only+tiny seed 1 not scored again: its maps and model are not in' "$T/xf.err" &&
	grep -q "scoring $T/xf/atlanta-pan/source-only+tiny/seed2 failed" "$T/xf.err" && grep -q '^experiments: 1 run(s) failed' "$T/xf.err"; then
	pass "experiments.sh RESCORE=1: a run without maps or model is skipped, a failed scoring fails the sweep (exit 1)"
else
	fail "experiments.sh RESCORE=1 failures" "exit $xf; $(grep '^experiments' "$T/xf.err" | tr '\n' ' ')"
fi
# two sweeps in one OUT: B starts and ends while A is still working down its
# list of runs (they once shared one list file in OUT, and B's replaced the rest
# of A's: A stopped after the run it was on)
xv() { PAIRS=atlanta-pan METHODS=source-only EPOCHS=1 JOBS=1 EXTRA="--width 4" OUT=$T/xo RESULTS=$T/xr pipelines/experiments.sh; }
SEEDS="3 4 5" TAG=+a xv >"$T/xa.out" 2>"$T/xa.err" &
xa=$!
for _ in $(seq 1 600); do grep -q 'source-only+a seed 3' "$T/xa.err" 2>/dev/null && break; sleep 0.1; done
SEEDS=1 TAG=+b xv >"$T/xb.out" 2>"$T/xb.err"; xb=$?
wait $xa; xa=$?
if [ $xa -eq 0 ] && [ $xb -eq 0 ] && [ "$(ls "$T"/xr/atlanta-pan/source-only+a/seed*/metrics.json | wc -l)" -eq 3 ] &&
	[ -f "$T/xr/atlanta-pan/source-only+b/seed1/metrics.json" ] && ! ls "$T/xo" | grep -Eq '^(pending|todo)\.'; then
	pass "experiments.sh: a second sweep in the same OUT while the first runs; the first still does all 3 of its runs, no list left behind"
else
	fail "experiments.sh, two sweeps in one OUT" "exit $xa/$xb; $(ls "$T"/xr/atlanta-pan/source-only+a/ | tr '\n' ' ') $(tail -n 2 "$T/xa.err" | tr '\n' ' ')"
fi
# the tree pair on two NAIP rasters (DATA elsewhere): every method scored on the
# whole labelled Zurich scene; the oracle cross-fitted, a second model trained
# on the east's labels (the first's budget) mapping the west, both maps scored
# together; RESCORE then scores again and trains nothing
mkdir -p "$T/xd/naip_trees/images" "$T/xd/naip_trees/masks"
absN=$(cd "$N" && pwd)	# links made in $T: DATA may be relative
for i in 0 1; do
	ln -sf "$absN/images/santa_monica_2020_$i.tif" "$T/xd/naip_trees/images/"
	ln -sf "$absN/masks/santa_monica_2020_$i.tif" "$T/xd/naip_trees/masks/"
done
ln -sfn "$(cd "$Z" && pwd)" "$T/xd/zurich_lidar"
xz() { DATA=$T/xd PAIRS=naip-zurich METHODS="source-only oracle" SEEDS=1 EPOCHS=1 JOBS=1 EXTRA="--width 4" TAG=+tiny \
	OUT=$T/xzo RESULTS=$T/xzr pipelines/experiments.sh; }
if xz >"$T/xz.out" 2>"$T/xz.err" && R=$T/xzr/naip-zurich && $PY -c "
import json
so, orc, f2 = (json.load(open('$R/%s/metrics.json' % d)) for d in ('source-only+tiny/seed1', 'oracle+tiny/seed1', 'oracle+tiny/seed1/fold2'))
both = ['zurich_third_east', 'zurich_third_west']
assert sorted(so['per_raster']) == both and sorted(orc['per_raster']) == both, (so['per_raster'].keys(), orc['per_raster'].keys())
assert list(f2['per_raster']) == ['zurich_third_west'] and f2['per_raster']['zurich_third_west']['confusion'] == orc['per_raster']['zurich_third_west']['confusion']
n = sum(sum(r['confusion'][1]) for r in so['per_raster'].values()); assert n == 13293, n   # every LiDAR tree pixel scored
" 2>"$T/xz.py" && steps=$(sed -n 's/^training epochs 1 of \([0-9]*\) steps.*/\1/p' "$R/oracle+tiny/seed1/run.txt") && [ -n "$steps" ] &&
	grep -q "^training epochs 1 of $steps steps" "$R/oracle+tiny/seed1/fold2/run.txt" &&
	grep -q '^target .*zurich_third_east.vrt' "$R/oracle+tiny/seed1/fold2/run.txt" &&
	$PY -c "
import json; r = json.load(open('$T/xzr/results.json'))['naip-zurich']['oracle+tiny'][0]['seconds']
f1, f2 = (int(open('$R/oracle+tiny/seed1/%sseconds' % f).read()) for f in ('', 'fold2/'))
assert r == f1 + f2 and f2 > 0, (r, f1, f2)   # f2 > 0: a time of the first fold alone is told apart
print(r)" >"$T/xz.secs" 2>>"$T/xz.py" && grep -q "<td>oracle+tiny</td>.*<td>$(cat "$T/xz.secs") s each</td>" "$T/xzo/report.html" &&
	RESCORE=1 xz >"$T/xz2.out" 2>"$T/xz2.err" && [ "$(grep -c '^experiments: scoring naip-zurich .* again' "$T/xz2.err")" -eq 2 ] &&
	grep -q 'oracle+tiny seed 1 again, cross-fitted' "$T/xz2.err" && ! grep -q 'second fold (' "$T/xz2.err"; then
	pass "experiments.sh naip-zurich: all 13 293 LiDAR tree pixels scored; the oracle cross-fitted (second fold on the first's $steps steps an epoch, the table's and the report's time both folds'); RESCORE trains nothing"
else
	fail "experiments.sh naip-zurich, cross-fitted oracle" "$(tail -n 3 "$T/xz.err" "$T/xz2.err" "$T/xz.py" 2>/dev/null | tr '\n' ' ')"
fi
# FROM: runs made from another method's finished runs, their models mapped
# again without training (here source-only as AdaBN); each keeps the other's
# seconds in reused_seconds: its row shows both, the table's total counts them
# once (checked with the run's seconds made large, in OUT, which the table reads, and RESULTS)
R=$T/xzr/naip-zurich
tot() { sed -n 's/^Total run time of these runs: \([0-9.]*\) h.*/\1/p' "$T/xzr/results.md"; }
before=$(tot)
xf() { DATA=$T/xd PAIRS=naip-zurich EPOCHS=1 JOBS=1 EXTRA="--width 4" TAG=+tiny OUT=$T/xzo RESULTS=$T/xzr \
	FROM=source-only+tiny pipelines/experiments.sh; }
if METHODS=adabn SEEDS=1 xf >"$T/xz3.out" 2>"$T/xz3.err" && F=$R/adabn+tiny/seed1 &&
	cmp -s "$F/reused_seconds" "$R/source-only+tiny/seed1/seconds" && [ "$(cat "$F/seconds")" -ge "$(cat "$F/reused_seconds")" ] &&
	grep -aq 'bn_adapted [0-9]* target tiles' "$T/xzo/naip-zurich/adabn+tiny/seed1/model" &&
	grep -q '^remapped .*--method adabn .*--map-only' "$F/run.txt" && $PY -c "
import json
m = json.load(open('$F/metrics.json')); assert sorted(m['per_raster']) == ['zurich_third_east', 'zurich_third_west'], m['per_raster'].keys()
so = json.load(open('$R/source-only+tiny/seed1/metrics.json')); assert m['per_raster'] != so['per_raster']" 2>"$T/xz3.py" &&
	[ "$(tot)" = "$before" ] && for d in "$F" "$T/xzo/naip-zurich/adabn+tiny/seed1"; do echo 360000 >"$d/reused_seconds"; echo 360060 >"$d/seconds"; done &&
	xz >"$T/xz4.out" 2>"$T/xz4.err" &&
	[ "$(tot)" = "$before" ] && grep -q '^| naip-zurich | tree | adabn+tiny | 1 | .* | 6001.0 |$' "$T/xzr/results.md"; then
	pass "experiments.sh FROM: source-only runs remapped as AdaBN, nothing trained; the row counts the training too (6001 min), the total once ($before h)"
else
	fail "experiments.sh FROM" "total $before -> $(tot); $(tail -n 2 "$T/xz3.err" "$T/xz3.py" 2>/dev/null | tr '\n' ' ') $(grep adabn+tiny "$T/xzr/results.md")"
fi
rm -rf "$R/adabn+tiny" "$T/xzo/naip-zurich/adabn+tiny"
METHODS=source-only SEEDS=2 xf >/dev/null 2>"$T/xz5.err"; rc=$?
if [ $rc -ne 0 ] && grep -q '^experiments: FROM=source-only+tiny would remap its own runs: give a TAG or another method$' "$T/xz5.err" &&
	[ ! -d "$T/xzo/naip-zurich/source-only+tiny/seed2" ]; then
	pass "experiments.sh FROM refuses to remap its own runs (exit $rc, nothing made)"
else
	fail "experiments.sh FROM onto itself" "exit $rc; $(head -n 2 "$T/xz5.err" | tr '\n' ' ')"
fi
# threshold-study.py on those runs: its argmax column is evaluate's IoU, and
# the share rule marks the share asked for, with no label read to choose it
R=$T/xzr/naip-zurich
if pipelines/threshold-study.py --ref "$Z/labels_full.tif" --share 0.1 "$T/xzo/naip-zurich/source-only+tiny/seed1" \
	"$T/xzo/naip-zurich/oracle+tiny/seed1" >"$T/ts.out" 2>"$T/ts.err" && $PY -c "
import glob, json, re, subprocess
lines = open('$T/ts.out').read().splitlines()
for m in ('source-only+tiny', 'oracle+tiny'):
    l = next(l for l in lines if l.startswith('$T/xzo/naip-zurich/%s/seed1:' % m))
    a, s, t, marked = map(float, re.search(r'argmax IoU ([0-9.]+), share IoU ([0-9.]+) \(threshold ([0-9.]+), ([0-9.]+) % of the scored', l).groups())
    want = json.load(open('$R/%s/seed1/metrics.json' % m))['iou']
    assert abs(a - want) < 6e-4, (m, a, want)   # printed to 3 places
    run = '$T/xzo/naip-zurich/%s/seed1' % m   # the threshold: 10 % of the run's mapped pixels
    want_t = float(subprocess.check_output(['$BIN/share-threshold', '--share', '0.1'] + sorted(glob.glob(run + '/probs_*.tif'))))
    assert abs(t - want_t) < 6e-7 and 0 < marked < 100 and 0 <= s <= 1, (m, t, want_t, marked, s)
assert any(l.startswith('oracle+tiny, 1 run(s): argmax IoU ') for l in lines), lines
" 2>"$T/ts.py"; then
	pass "threshold-study.py: argmax IoU = evaluate's for a source-only and a cross-fitted run; the share rule's threshold share-threshold's for 10 % of the mapped pixels"
else
	fail "threshold-study.py" "$(tail -n 3 "$T/ts.err" "$T/ts.py" 2>/dev/null | tr '\n' ' ')"
fi
must_fail "threshold-study.py wants --share or --source-labels" 1 "^threshold-study: give --share or --source-labels, one of them$" \
	"pipelines/threshold-study.py --ref $Z/labels_full.tif $T/xzo/naip-zurich/source-only+tiny/seed1"
must_fail "threshold-study.py names a folder without maps" 1 "^threshold-study: $T/xd: no probs_\\*\\.tif" \
	"pipelines/threshold-study.py --ref $Z/labels_full.tif --share 0.1 $T/xd"
must_fail "threshold-study.py names a missing reference" 1 "^threshold-study: .*probs_zurich_third_east\\.tif: evaluate: labels $T/none\\.tif: cannot open" \
	"pipelines/threshold-study.py --ref $T/none.tif --share 0.1 $T/xzo/naip-zurich/source-only+tiny/seed1"
gdal_translate -q -a_srs EPSG:32632 "$Z/labels_full.tif" "$T/ref32632.tif"
must_fail "threshold-study.py refuses a reference in another CRS" 1 "^threshold-study: $T/xzo/naip-zurich/source-only\\+tiny/seed1/probs_zurich_third_east\\.tif: evaluate: labels .*\\(EPSG:32632\\) do not overlap" \
	"pipelines/threshold-study.py --ref $T/ref32632.tif --share 0.1 $T/xzo/naip-zurich/source-only+tiny/seed1"
must_fail "adapt.sh refuses a --threads that is not a number" 2 "adapt: --threads must be a number of threads \\(0: all cores\\), not 'two'" "pipelines/adapt.sh --method source-only --source $A/rgb_nadir10.tif --source-labels $A/rgb_nadir10_buildings.geojson --target $A/pan.tif --threads two --out $T/thr"
must_fail "experiments.sh refuses JOBS=0" 2 "JOBS must be a number of runs at a time, not '0'" "JOBS=0 OUT=$T/xo pipelines/experiments.sh"

for sim in critic dann; do
	key='"w":'; [ $sim = dann ] && key='"domain_loss":'
	if $BIN/critic-train --model "$T/dsn.model" --method dsn --similarity $sim --source "$T/src.frames" \
		--target "$T/tgt.frames" --epochs 2 --adapt-warmup 1 --width 4 --metrics "$T/dsn.jsonl" 2>"$T/dsn.err" &&
		grep -q '"recon":' "$T/dsn.jsonl" && grep -q '"diff":' "$T/dsn.jsonl" && grep -q "$key" "$T/dsn.jsonl" &&
		grep -aq "similarity=$sim" "$T/dsn.model" && grep -aq 'target_labels present-and-ignored' "$T/dsn.model" &&
		$BIN/encode --model "$T/dsn.model" <"$T/tgt.frames" | $BIN/decode --model "$T/dsn.model" | $BIN/frame-info --check >/dev/null; then
		pass "critic-train --method dsn --similarity $sim: reconstruction, difference and similarity logged per step; the model maps the target"
	else
		fail "dsn $sim" "$(tail -n 2 "$T/dsn.err")"
	fi
done
must_fail "critic-train --method dsn needs a target" 2 'needs unlabelled target tiles' "$BIN/critic-train --model $T/d.model --method dsn --source $T/src.frames --epochs 1"
must_fail "critic-train refuses an unknown --similarity" 2 'similarity must be critic or dann' "$BIN/critic-train --model $T/d.model --method dsn --similarity mmd --source $T/src.frames --target $T/tgt.frames"
