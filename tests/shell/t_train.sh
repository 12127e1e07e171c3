# Training on the sample data: critic-train and its methods, --resume,
# safetensors export, adapt-bn.
. tests/shell/lib.sh
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

# nothing held out (--val-frac 0): each epoch's line gives the training
# loss alone, no "validation loss nan" and no "(best)" it cannot know
if train "$T/nv.model" --epochs 2 --val-frac 0 2>"$T/nv.err" &&
	[ "$(grep -c '^critic-train: epoch [12]/2: loss [0-9.]*, lr [0-9.e-]*, [0-9.]* s$' "$T/nv.err")" -eq 2 ] &&
	! grep -qi 'nan' "$T/nv.err"; then
	pass "critic-train --val-frac 0: the epoch lines give the loss, not a NaN validation"
else
	fail "critic-train --val-frac 0 epoch lines" "$(grep 'epoch' "$T/nv.err" | tail -n 2 | tr '\n' ' ')"
fi

# --weights i16: the same training, the model file about half the bytes
# (each output channel's weights as 16-bit integers and a scale), the map
# within 1e-3 of the f32 model's; an unknown storage refused
if train "$T/q.model" --weights i16 2>"$T/q.err" && grep -aq '^weights i16$' "$T/q.model" &&
	[ "$(stat -c %s "$T/q.model")" -lt $(( $(stat -c %s "$T/m.model") * 6 / 10 )) ] &&
	$BIN/encode --quiet --model "$T/m.model" --decode <"$T/n.frames" | $BIN/stitch --quiet "$T/pf.tif" &&
	$BIN/encode --quiet --model "$T/q.model" --decode <"$T/n.frames" | $BIN/stitch --quiet "$T/pq.tif" && $PY -c "
from osgeo import gdal; import numpy as np
f, q = (gdal.Open('$T/p%s.tif' % k) for k in 'fq')
d = np.abs(f.ReadAsArray() - q.ReadAsArray()).max()
assert 0 < d < 1e-3, d" 2>"$T/q.py"; then
	pass "critic-train --weights i16: $(stat -c %s "$T/q.model") bytes against $(stat -c %s "$T/m.model"), probabilities within 1e-3 of the f32 model's"
else
	fail "critic-train --weights i16" "$(tail -n 2 "$T/q.err" "$T/q.py" | tr '\n' ' ')"
fi
must_fail "critic-train --weights refuses an unknown storage" 2 '^critic-train: --weights must be f32, i16 or i8, not f16$' "$BIN/critic-train --model $T/x.model --source $T/n.frames --weights f16"

# ensemble: two seeds as one model file; mapping with it gives the mean of
# the two models' probabilities; i8 weights a quarter of the bytes; it maps
# only in one process (encode --decode); adapt-bn adapts every member;
# members of two architectures refused
if train "$T/m2.model" --seed 6 2>"$T/m2.err" &&
	$BIN/ensemble --out "$T/e.model" "$T/m.model" "$T/m2.model" 2>"$T/e.err" &&
	grep -aq '^members 2$' "$T/e.model" && grep -aq '^seeds 5,6$' "$T/e.model" &&
	$BIN/ensemble --quiet --out "$T/e8.model" --weights i8 "$T/e.model" &&
	[ "$(stat -c %s "$T/e8.model")" -lt $(( $(stat -c %s "$T/e.model") * 4 / 10 )) ] &&
	$BIN/encode --quiet --model "$T/m2.model" --decode <"$T/n.frames" | $BIN/stitch --quiet "$T/p2.tif" &&
	$BIN/encode --quiet --model "$T/e.model" --decode <"$T/n.frames" | $BIN/stitch --quiet "$T/pe.tif" &&
	$BIN/encode --quiet --model "$T/e8.model" --decode <"$T/n.frames" | $BIN/stitch --quiet "$T/pe8.tif" &&
	$BIN/encode --quiet --model "$T/e.model" --decode --members 1 <"$T/n.frames" | $BIN/stitch --quiet "$T/p1.tif" &&
	cmp -s <(gdal_translate -q -b 2 -of XYZ "$T/pf.tif" /vsistdout/) <(gdal_translate -q -b 2 -of XYZ "$T/p1.tif" /vsistdout/) &&
	$BIN/encode --quiet --model "$T/e.model" --members 1 <"$T/n.frames" | $BIN/decode --quiet --model "$T/m.model" |
	$BIN/stitch --quiet "$T/p1d.tif" &&
	cmp -s <(gdal_translate -q -b 2 -of XYZ "$T/pf.tif" /vsistdout/) <(gdal_translate -q -b 2 -of XYZ "$T/p1d.tif" /vsistdout/) &&
	$BIN/tile --quiet --size 128 --domain source "$A/rgb_nadir10.tif" | $BIN/normalise-bands --quiet --stats "$T/s.stats" |
	$BIN/adapt-bn --quiet --model "$T/e.model" --out "$T/ea.model" && grep -aq '^members 2$' "$T/ea.model" &&
	$BIN/encode --quiet --model "$T/ea.model" --decode <"$T/n.frames" | $BIN/stitch --quiet "$T/pa.tif" && $PY -c "
from osgeo import gdal; import numpy as np
f, s, e, e8, a = (gdal.Open('$T/p%s.tif' % k).ReadAsArray() for k in ('f', '2', 'e', 'e8', 'a'))
assert np.abs(f - s).max() > 0.05, 'the two seeds map alike'
d = np.abs(e - (f + s) / 2).max()
assert d < 1e-5, 'ensemble against the mean: %g' % d
d8 = np.abs(e8 - e)
assert 0 < d8.mean() < 0.01 and d8.max() < 0.25, 'i8 against f32: mean %g, largest %g' % (d8.mean(), d8.max())
assert np.abs(a - e).max() > 1e-3, 'adapt-bn left the ensemble as it was'" 2>"$T/e.py"; then
	pass "ensemble: two seeds mapped as the mean of their probabilities (within 1e-5); i8 weights (probabilities within 0.01 on average) $(stat -c %s "$T/e8.model") bytes against $(stat -c %s "$T/e.model"); --members 1 maps (and encodes) as the first alone; adapt-bn keeps both members"
else
	fail "ensemble" "$(tail -n 2 "$T/m2.err" "$T/e.err" "$T/e.py" | tr '\n' ' ')"
fi
must_fail "encode --members beyond the ensemble's is refused" 2 '^encode: --members must be 1 to 2 \(the members of .*e\.model\), not 3$' "$BIN/encode --model $T/e.model --decode --members 3 <$T/n.frames"
must_fail "encode without --decode refuses an ensemble" 2 '^encode: .*e\.model is an ensemble of 2 networks, .*: map it with --decode' "$BIN/encode --model $T/e.model <$T/n.frames"
must_fail "decode refuses an ensemble" 2 '^decode: .*e\.model is an ensemble of 2 networks: map it in one process, encode --decode' "$BIN/decode --model $T/e.model <$T/n.frames"
train "$T/w8.model" --width 8 --epochs 1 2>/dev/null
must_fail "ensemble refuses members of two architectures" 1 '^ensemble: .*w8\.model is unet width=8 .*: the members need one architecture$' "$BIN/ensemble --out $T/x.model $T/m.model $T/w8.model"
train "$T/cn.model" --epochs 1 --class-names background,house 2>/dev/null
must_fail "ensemble refuses members that map differently (class names)" 1 "^ensemble: .*m\\.model and .*cn\\.model map differently: 'classes' is \\(none\\) in .*m\\.model, background,house in .*cn\\.model$" "$BIN/ensemble --out $T/x.model $T/m.model $T/cn.model"
must_fail "ensemble refuses an unknown weight storage" 2 '^ensemble: --weights must be f32, i16 or i8, not f16$' "$BIN/ensemble --out $T/x.model --weights f16 $T/m.model"

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
# --select last: every epoch is kept, none is called "(best)"
if train "$T/sl.model" --epochs 2 --select last 2>"$T/sl.err" && [ "$(grep -c 'epoch [12]/2: .*validation IoU' "$T/sl.err")" -eq 2 ] &&
	! grep -q '(best)' "$T/sl.err"; then
	pass "critic-train --select last: the epoch lines mark no epoch best"
else
	fail "critic-train --select last epoch lines" "$(grep 'epoch' "$T/sl.err" | tr '\n' ' ')"
fi
# --scale-jitter: zoomed tiles train another model, the setting is recorded,
# and a resumed run must ask for the same
if train "$T/z.model" --epochs 1 --scale-jitter 0.25 2>"$T/z.err" && train "$T/z0.model" --epochs 1 2>/dev/null &&
	grep -aq '^scale_jitter 0.25$' "$T/z.model" && ! grep -aq '^scale_jitter' "$T/z0.model" && ! cmp -s "$T/z.model" "$T/z0.model"; then
	pass "critic-train --scale-jitter trains on zoomed tiles (another model than without) and records scale_jitter 0.25"
else
	fail "critic-train --scale-jitter" "$(tail -n 2 "$T/z.err" | tr '\n' ' ')"
fi
must_fail "critic-train --resume refuses a checkpoint trained with another --scale-jitter" 1 "z.model.ckpt was trained with scale_jitter '0.25', this run asks '\\(none\\)'" \
	"$BIN/critic-train --quiet --model $T/z.model --source $T/n.frames --width 4 --epochs 1 --batch 8 --seed 5 --resume"
must_fail "critic-train refuses a negative --epoch-steps" 2 'epoch-steps must be 0 to 1000000, not -3' "$BIN/critic-train --model $T/x.model --source $T/n.frames --epoch-steps -3"
must_fail "critic-train --class-weights refuses a value that is not a number" 1 "class weights: 2 values needed \\(one per class, none negative\\), not '1,x'" "$BIN/critic-train --quiet --model $T/x.model --source $T/n.frames --class-weights 1,x"

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

gdal_translate -q -of VRT -srcwin 0 0 600 900 "$A/rgb_nadir10.tif" "$T/west.vrt"
gdal_translate -q -of VRT -srcwin 600 0 300 900 "$A/rgb_nadir10.tif" "$T/east.vrt"
# WDGRL: trains with an unlabelled target, logs W and GP per step, records that no target label was read
$BIN/tile --size 128 --domain target --labels "$A/rgb_nadir10_buildings.geojson" "$T/east.vrt" |
	$BIN/normalise-bands --stats "$T/s.stats" >"$T/tgt.frames"
$BIN/tile --size 128 --domain source --labels "$A/rgb_nadir10_buildings.geojson" "$T/west.vrt" |
	$BIN/normalise-bands --stats "$T/s.stats" >"$T/src.frames"
if $BIN/critic-train --model "$T/wd.model" --method wdgrl --source "$T/src.frames" --target "$T/tgt.frames" --epochs 2 \
	--adapt-warmup 1 --width 4 --metrics "$T/wd.jsonl" 2>"$T/wd.err" &&
	grep -q '"w":' "$T/wd.jsonl" && grep -q '"gp":' "$T/wd.jsonl" && grep -q 'W .*GP' "$T/wd.err" &&
	grep -aq 'target_labels present-and-ignored' "$T/wd.model" && grep -aq 'method wdgrl' "$T/wd.model"; then
	pass "critic-train --method wdgrl: W and GP logged per step; the model records that target labels were ignored"
else
	fail "wdgrl" "$(tail -n 2 "$T/wd.err")"
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
	grep -aq 'level=pixel features=0,1,2,3 ' "$T/wf.model" && grep -aq 'level=tile features=0 ' "$T/df.model" &&
	grep -aq 'level=pixel features=3 ' "$T/wd.model"; then
	pass "--critic-features: WDGRL on all four levels' outputs, DSN on the first skip alone (W, GP logged; the levels in the model); the bottleneck named alone is the default, step for step"
else
	fail "critic features" "$(tail -n 2 "$T/wf.err")"
fi
must_fail "--critic-features beyond the network's levels" 2 'critic-features must be all or encoder levels 0 to 3 separated by commas, not 0,4' "$BIN/critic-train --quiet --model $T/wx.model --method wdgrl --source $T/src.frames --target $T/tgt.frames --epochs 1 --adapt-warmup 0 --width 4 --critic-features 0,4"
# retired variants (they did not help on any pair): refused with a message that says so
for f in "--importance-weighted" "--target-prior 0.5,0.5" "--lambda-schedule ramp" "--critic-patch 4" "--bn-per-domain"; do
	must_fail "critic-train ${f%% *} is retired" 2 "^critic-train: ${f%% *} was retired: it did not help on any pair \\(docs/results.md\\)" \
		"$BIN/critic-train --model $T/x.model --method wdgrl --source $T/src.frames --target $T/tgt.frames $f"
done
must_fail "critic-train --critic-level output is retired" 2 "critic-level output was retired" \
	"$BIN/critic-train --model $T/x.model --method wdgrl --source $T/src.frames --target $T/tgt.frames --critic-level output"
must_fail "critic-train: an adapting method with no epoch past its warm-up" 2 "^critic-train: --method wdgrl adapts after 2 warm-up epochs \\(--adapt-warmup\\): --epochs 2 would train source-only" \
	"$BIN/critic-train --model $T/x.model --method wdgrl --source $T/src.frames --target $T/tgt.frames --epochs 2"
must_fail "critic-train bounds --threads" 2 "^critic-train: --threads must be 0 \\(all cores\\) to [0-9]+, 8 a core" \
	"$BIN/critic-train --model $T/x.model --source $T/src.frames --threads 100000"
must_fail "critic-train bounds --lr" 2 "^critic-train: --lr must be 1e-09 to 10, not 1e30$" \
	"$BIN/critic-train --model $T/x.model --source $T/src.frames --lr 1e30"
must_fail "--depth out of range" 2 'depth must be 1 to 6, not 7' "$BIN/critic-train --quiet --model $T/wx.model --source $T/src.frames --epochs 1 --depth 7"
must_fail "--critic-features without adaptation" 2 'critic-features needs an adapted method \(wdgrl or dsn\)' "$BIN/critic-train --quiet --model $T/wx.model --method source-only --source $T/src.frames --epochs 1 --width 4 --critic-features all"
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

# self-training from a trained model: the teacher labels the target, the
# student learns source and mixed tiles; per-step pseudo-label loss and
# confident share logged; the model (the teacher) maps the target
if $BIN/critic-train --model "$T/st.model" --method selftrain --init "$T/m.model" --source "$T/src.frames" --target "$T/tgt.frames" \
	--epochs 2 --adapt-warmup 0 --pl-threshold 0.6 --metrics "$T/st.jsonl" 2>"$T/st.err" && $PY -c "
import json, math
r = [json.loads(x) for x in open('$T/st.jsonl')]
s = [x for x in r if 'pseudo_loss' in x]
assert len(s) >= 4 and all(math.isfinite(x['pseudo_loss']) and 0 <= x['confident'] <= 1 for x in s), s[:2]
assert any(x['confident'] > 0 for x in s) and [x['adapting'] for x in r if 'epoch' in x] == [1, 1]" 2>>"$T/st.err" &&
	grep -q 'batch-norm statistics from [0-9]* target tiles' "$T/st.err" && grep -aq '^selftrain ema=0.99 threshold=0.6 ' "$T/st.model" &&
	grep -aq "^init $T/m.model" "$T/st.model" && grep -aq 'target_labels present-and-ignored' "$T/st.model" &&
	$BIN/encode --model "$T/st.model" --decode <"$T/tgt.frames" | $BIN/frame-info --check >/dev/null; then
	pass "critic-train --method selftrain --init: pseudo-label loss and confident share per step, the target's statistics first; the teacher maps the target"
else
	fail "selftrain" "$(tail -n 3 "$T/st.err" | tr '\n' ' ')"
fi
# resumed exactly: killed after an epoch's checkpoint (the warm-up's or an
# adapting one's, the teacher then in the checkpoint), the same bytes at the end
for m in selftrain wdgrl; do
	st() { $BIN/critic-train --quiet --threads 1 --model "$1" --method $m --source "$T/src.frames" --target "$T/tgt.frames" --width 4 \
		--epochs 4 --adapt-warmup 1 --seed 3 --metrics "$1.jsonl" "${@:2}"; }
	st "$T/$m.ref.model" 2>/dev/null
	kills=0
	for delay in 1.2 0.8 1.5; do
		(exec $BIN/critic-train --quiet --threads 1 --model "$T/$m.k.model" --method $m --source "$T/src.frames" --target "$T/tgt.frames" \
			--width 4 --epochs 4 --adapt-warmup 1 --seed 3 --metrics "$T/$m.k.model.jsonl" $([ -e "$T/$m.k.model.ckpt" ] && echo --resume)) 2>/dev/null &
		pid=$!
		sleep $delay
		kill -9 $pid 2>/dev/null && kills=$((kills + 1))
		wait $pid 2>/dev/null
		cmp -s "$T/$m.k.model" "$T/$m.ref.model" && break
	done
	r=""; [ -e "$T/$m.k.model.ckpt" ] && r=--resume
	st "$T/$m.k.model" $r 2>"$T/$m.k.err"
	if cmp -s "$T/$m.k.model" "$T/$m.ref.model" && cmp -s "$T/$m.k.model.ckpt" "$T/$m.ref.model.ckpt"; then
		pass "critic-train --method $m killed $kills time(s) and resumed: the same model and checkpoint bytes (method state checkpointed)"
	else
		fail "$m --resume" "$kills kills; $(tail -n 2 "$T/$m.k.err" | tr '\n' ' ')"
	fi
done
must_fail "critic-train --resume refuses another method's checkpoint" 1 "other.model.ckpt was trained by selftrain, not wdgrl" \
	"cp $T/selftrain.ref.model.ckpt $T/other.model.ckpt; $BIN/critic-train --quiet --model $T/other.model --method wdgrl --source $T/src.frames --target $T/tgt.frames --width 4 --epochs 4 --adapt-warmup 1 --resume"

$BIN/tile --quiet --size 128 --labels "$A/pan_buildings.geojson" --domain source "$A/pan.tif" >"$T/panl.raw"
$BIN/normalise-bands --fit "$T/pan1.stats" <"$T/panl.raw"
$BIN/normalise-bands --stats "$T/pan1.stats" <"$T/panl.raw" >"$T/panl.frames"
$BIN/tile --quiet --size 128 --domain target "$A/pan.tif" | $BIN/normalise-bands --stats "$T/pan1.stats" >"$T/pant.frames"
# --fda: source tiles with a target tile's low frequencies, recorded in the model
if $BIN/critic-train --quiet --model "$T/fda.model" --source "$T/src.frames" --target "$T/tgt.frames" --fda 0.05 --width 4 --epochs 1 \
	--metrics "$T/fda.jsonl" 2>"$T/fda.err" && grep -aq '^fda_beta 0.05$' "$T/fda.model" &&
	$BIN/critic-train --quiet --model "$T/nofda.model" --source "$T/src.frames" --target "$T/tgt.frames" --width 4 --epochs 1 \
	--metrics "$T/nofda.jsonl" 2>>"$T/fda.err" && ! cmp -s "$T/fda.jsonl" "$T/nofda.jsonl"; then
	pass "critic-train --fda 0.05 (source-only): trains on amplitude-swapped source tiles, recorded in the model"
else
	fail "--fda" "$(tail -n 2 "$T/fda.err")"
fi
must_fail "critic-train --fda needs target tiles" 2 'fda needs unlabelled target tiles' "$BIN/critic-train --model $T/x.model --source $T/src.frames --fda 0.05"
must_fail "critic-train --fda needs the target's band count" 1 "needs the target's band count \\(1\\) on the source \\(3\\)" \
	"$BIN/critic-train --model $T/x.model --source $T/src.frames --target $T/pant.frames --fda 0.05 --width 4 --epochs 1"

# --dice: the soft Dice term added to the labelled tiles' loss, recorded in the model; a
# checkpoint of one weight is not resumed with another
if $BIN/critic-train --quiet --model "$T/dice.model" --source "$T/src.frames" --dice 1 --width 4 --epochs 1 \
	--metrics "$T/dice.jsonl" 2>"$T/dice.err" && grep -aq '^dice 1$' "$T/dice.model" &&
	$BIN/critic-train --quiet --model "$T/nodice.model" --source "$T/src.frames" --width 4 --epochs 1 \
	--metrics "$T/nodice.jsonl" 2>>"$T/dice.err" && ! grep -aq '^dice ' "$T/nodice.model" &&
	! cmp -s "$T/dice.model" "$T/nodice.model"; then
	pass "critic-train --dice 1: trains with the Dice term (another model), recorded in the model"
else
	fail "--dice" "$(tail -n 2 "$T/dice.err")"
fi
must_fail "critic-train --resume refuses another --dice" 1 "dice.model.ckpt was trained with dice '1', this run asks '0.5'" \
	"$BIN/critic-train --quiet --model $T/dice.model --source $T/src.frames --dice 0.5 --width 4 --epochs 1 --resume"
must_fail "critic-train --dice out of range" 2 "^critic-train: --dice must be 0 to 100, not -1$" "$BIN/critic-train --model $T/x.model --source $T/src.frames --dice -1"

# --init: the model's weights, stems matched by band names; a stem for other bands is new
if $BIN/critic-train --model "$T/ft.model" --init "$T/m.model" --source "$T/n.frames" --epochs 1 --lr 1e-9 --no-augment 2>"$T/ft.err" &&
	$PY - "$T/m.model" "$T/ft.model" >"$T/ft.out" 2>&1 <<'PY'
import sys
import numpy as np
sys.path.insert(0, "python")
from landshift_frames import read_frames
a, b = ({f["key"]: f["array"] for f in read_frames(p) if f["kind"] == "param"} for p in sys.argv[1:3])
assert set(a) == set(b)
worst = max(float(np.abs(a[k] - b[k]).max()) for k in a if "running" not in k)
assert worst < 1e-5, worst
PY
then
	pass "critic-train --init: starts from the model's weights (unchanged by a step of lr 1e-9), its width and depth taken"
else
	fail "--init" "$(tail -n 2 "$T/ft.err" "$T/ft.out" | tr '\n' ' ')"
fi
if $BIN/critic-train --model "$T/fp.model" --init "$T/m.model" --source "$T/panl.frames" --epochs 1 2>"$T/fp.err" &&
	grep -q 'has no stem for the bands of domain source: a new one' "$T/fp.err"; then
	pass "critic-train --init onto other bands (panchromatic from an RGB model): a new stem, the trunk from the model"
else
	fail "--init new stem" "$(tail -n 2 "$T/fp.err")"
fi
must_fail "critic-train --init with other classes" 2 "^critic-train: --init: .*m.model maps 2 classes, this run trains 3$" \
	"$BIN/critic-train --model $T/x.model --init $T/m.model --source $T/n.frames --classes 3"
