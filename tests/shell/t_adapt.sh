# The main job on the sample data: pipelines/adapt.sh, its stages and
# decision rules, and its report.
. tests/shell/lib.sh
A=$DATA/atlanta_sn4
export OPENBLAS_NUM_THREADS=1
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
# no --method: the best measured on the benchmark, self-training that keeps
# the source's batch-norm statistics (from the model above: adapting at once)
if pipelines/adapt.sh --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson" --target "$T/east.vrt" \
	--init "$T/run/model" --out "$T/dm" --epochs 1 --width 4 --stop-stage 2 2>"$T/dm.err" &&
	grep -q "^adapt: no --method: selftrain keeping the source's batch-norm statistics" "$T/dm.err" &&
	grep -q '^method selftrain$' "$T/dm/run.txt" && grep -q '^training .*, --no-target-bn$' "$T/dm/run.txt" &&
	grep -aq '^selftrain .* target_bn=0 ' "$T/dm/model" && grep -q '"pseudo_loss"' "$T/dm/train.jsonl"; then
	pass "adapt.sh without --method: selftrain with the source's batch-norm statistics, said on stderr and in run.txt"
else
	fail "adapt.sh default method" "$(tail -n 3 "$T/dm.err" | tr '\n' ' ')"
fi
# a target without the source's fourth band (an RGB camera; the band empty):
# without --method the source and target are read at the bands the target
# has, said on stderr and in run.txt; an explicit method reads every band
N=$DATA/naip_trees
$PY -c "
from osgeo import gdal
gdal.UseExceptions()
for c in (80, 81):
    ds = gdal.Translate('$T/nonir%d.vrt' % c, gdal.Open('$N/images/santa_monica_2020_%d.tif' % c), format='VRT', bandList=[1, 2, 3])
    ds.AddBand(gdal.GDT_Byte); ds = None" 2>"$T/nonir.err"
nonir() { pipelines/adapt.sh --source "$N/images/santa_monica_2020_0.tif" --source-labels "$N/masks/santa_monica_2020_0.tif" \
	--label-map 2=1 --target "$T/nonir80.vrt" --target "$T/nonir81.vrt" --stop-stage 1 "$@"; }
if nonir --out "$T/sb1" 2>"$T/sb1.err" &&
	grep -q '^adapt: a band of the target is constant over every --target raster: source and target read at bands 1,2,3 alone' "$T/sb1.err" &&
	grep -q '^source-bands 1,2,3$' "$T/sb1/run.txt" && grep -q '^target-bands 1,2,3$' "$T/sb1/run.txt" &&
	nonir --method source-only --out "$T/sb2" 2>"$T/sb2.err" && ! grep -q '^adapt: a band of the target' "$T/sb2.err" && ! grep -q '^source-bands\|^target-bands' "$T/sb2/run.txt" &&
	nonir --no-shared-bands --out "$T/sb3" 2>"$T/sb3.err" && ! grep -q '^source-bands\|^target-bands' "$T/sb3/run.txt" &&
	nonir --method source-only --shared-bands --out "$T/sb6" 2>"$T/sb6.err" && grep -q '^source-bands 1,2,3$' "$T/sb6/run.txt" &&
	nonir --method source-only --shared-bands --target-bands 1,2,3,4 --out "$T/sb4" 2>"$T/sb4.err" &&
	grep -q '^target-bands 1,2,3,4$' "$T/sb4/run.txt" && ! grep -q '^source-bands' "$T/sb4/run.txt"; then
	pass "adapt.sh: a target band constant over the target is read from neither domain without --method or with --shared-bands; given bands win"
else
	fail "adapt.sh shared bands" "$(cat "$T/nonir.err"; tail -n 2 "$T"/sb?.err | tr '\n' ' ')"
fi
must_fail "adapt.sh names a target raster it cannot read for its bands" 2 "^shared-bands: $T/none.tif: " \
	"pipelines/adapt.sh --source $N/images/santa_monica_2020_0.tif --source-labels $N/masks/santa_monica_2020_0.tif --target $T/none.tif --out $T/sb5"
# --stage 5: the same run decided and scored again from its maps, nothing retrained;
# with --eval-crowns it gains a point score (here on building centres)
cp -r "$T/run" "$T/rs"
ad_args=(--method source-only --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson"
	--target "$T/east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" --out "$T/rs" --epochs 1 --width 4)
if pipelines/adapt.sh "${ad_args[@]}" --stage 5 2>"$T/rs.err" && cmp -s "$T/rs/model" "$T/run/model" &&
	! grep -q 'training' "$T/rs.err" && $PY -c "
import json
a, b = (json.load(open(f)) for f in ('$T/rs/metrics.json', '$T/run/metrics.json'))
for m in (a, b): m.pop('per_raster')
assert a == b, (a, b)" 2>"$T/rs.py" &&
	pipelines/adapt.sh "${ad_args[@]}" --stage 6 --eval-crowns 2>>"$T/rs.err" && $PY -c "
import json; m = json.load(open('$T/rs/metrics.json'))
assert m['points'] > 10 and 0 <= m['point_f1'] <= 1 and m['building_point_f1'] == m['point_f1'], m" 2>>"$T/rs.py" &&
	[ "$(grep -c '^stage [56] .*--stage [56]' "$T/rs/run.txt")" -eq 2 ] && grep -q '^eval-points crown centres' "$T/rs/run.txt"; then
	pass "adapt.sh --stage 5 and 6: the same metrics from the run's maps, nothing trained; --eval-crowns adds a point F1; run.txt records both"
else
	fail "adapt.sh --stage 5" "$(tail -n 2 "$T/rs.err" "$T/rs.py" | tr '\n' ' ')"
fi
# --decision: the same maps decided by the source's building share (the training
# tiles' labels), then by a given share: the map calls that share of its mapped
# pixels buildings, the threshold is share-threshold's over the maps, the
# polygons follow; no target label is read to choose it
cp -r "$T/run" "$T/rd"
ad_args=(--method source-only --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson"
	--target "$T/east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" --out "$T/rd" --epochs 1 --width 4 --stage 5)
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
# --decision expected-iou: the threshold share-threshold --expected-iou finds
# on the maps, every pixel at or above it a building in the score
if pipelines/adapt.sh "${ad_args[@]}" --decision expected-iou 2>"$T/re.err" &&
	t=$($BIN/share-threshold --quiet --expected-iou "$T/rd/probs_east.tif") && $PY -c "
import json
import numpy as np
from osgeo import gdal
m = json.load(open('$T/rd/metrics.json')); t = float('$t')
assert m['decision'] == {'rule': 'expected-iou', 'threshold': t}, (m['decision'], t)
ds = gdal.Open('$T/rd/probs_east.tif'); p = ds.GetRasterBand(2).ReadAsArray(); ok = ds.GetRasterBand(2).GetMaskBand().ReadAsArray() > 0
c = m['per_raster']['east']['confusion']
assert c[0][1] + c[1][1] == int(((p >= t) & ok).sum()), (c, int(((p >= t) & ok).sum()))
" 2>"$T/re.py" && grep -q "^decision expected-iou: threshold $t\$" "$T/rd/run.txt"; then
	pass "adapt.sh --decision expected-iou: the maps' own expected-IoU threshold ($t), the pixels at or above it scored as buildings, recorded in metrics.json and run.txt"
else
	fail "adapt.sh --decision expected-iou" "$(tail -n 2 "$T/re.err" "$T/re.py" | tr '\n' ' ')"
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
must_fail "adapt.sh refuses an unknown --decision" 2 "^adapt: --decision must be argmax, share=F, source-share or expected-iou, not 'best'$" \
	"pipelines/adapt.sh ${ad_args[*]} --decision best"
must_fail "adapt.sh refuses --flips 8" 2 "^adapt: --flips must be 1, 2 or 4, not '8'$" \
	"pipelines/adapt.sh ${ad_args[*]} --flips 8"
rm -f "$T/rd/training.share"
must_fail "adapt.sh --decision source-share on a run without training.share" 2 "source-share: .*/rd/training.share is missing" \
	"pipelines/adapt.sh ${ad_args[*]} --decision source-share"
must_fail "adapt.sh --stage 5 needs the run's maps" 2 "stage 5: .*/probs_east.tif is missing \\(map it first: stage 4\\)" \
	"mkdir -p $T/empty && cp $T/run/run.txt $T/run/model $T/empty/ && pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --eval-labels $A/rgb_nadir10_buildings.geojson --out $T/empty --stage 5"
must_fail "adapt.sh --score-only names its new form" 2 "^adapt: --score-only is now --stage 5" \
	"pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --out $T/rs --score-only"
must_fail "adapt.sh --lambda is critic-train's now" 2 "^adapt: --lambda is now --train-opts '--lambda 0.3'" \
	"pipelines/adapt.sh --method wdgrl --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --out $T/rs --lambda 0.3"
must_fail "adapt.sh refuses another run's folder" 2 "^adapt: --out .*/rs is not empty \\(another run's folder\\?\\)" \
	"pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --out $T/rs --epochs 1"
must_fail "adapt.sh --overwrite empties only a run's folder" 2 "^adapt: --overwrite empties only a run's folder \\(with run.txt\\)" \
	"mkdir -p $T/notrun && touch $T/notrun/keep && pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --out $T/notrun --overwrite"
must_fail "adapt.sh --train-opts may not set adapt.sh's own options" 2 "^adapt: --train-opts: --epochs is adapt.sh's own" \
	"pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --out $T/to --train-opts '--epochs 3'"

# --stage 4: the trained model maps a raster the run did not (here the
# source's own west, only to have a second raster) and the run is scored over
# both; nothing is trained, the first raster's map and score are the same
cp -r "$T/run" "$T/rm"
ad_args=(--method source-only --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson"
	--target "$T/east.vrt" --out "$T/rm" --epochs 1 --width 4)
if pipelines/adapt.sh "${ad_args[@]}" --eval "$T/east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" \
	--eval "$T/west.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" --stage 4 2>"$T/rm.err" &&
	cmp -s "$T/rm/model" "$T/run/model" && ! grep -q 'training' "$T/rm.err" && [ -s "$T/rm/probs_west.tif" ] && $PY -c "
import json
a, b = (json.load(open(f)) for f in ('$T/rm/metrics.json', '$T/run/metrics.json'))
assert sorted(a['per_raster']) == ['east', 'west'], a['per_raster'].keys()
assert a['per_raster']['east']['confusion'] == b['per_raster']['east']['confusion']
w = a['per_raster']['west']['confusion']; e = b['per_raster']['east']['confusion']
assert a['building_iou'] != b['building_iou'] and sum(map(sum, w)) > sum(map(sum, e))" 2>"$T/rm.py" &&
	[ "$(grep -c '^stage 4 .*--stage 4' "$T/rm/run.txt")" -eq 1 ] && [ "$(grep -c '^eval west ' "$T/rm/run.txt")" -eq 1 ] &&
	[ "$(grep -c '^eval east ' "$T/rm/run.txt")" -eq 1 ]; then
	pass "adapt.sh --stage 4: the trained model maps a raster new to the run and scores both, the first's score unchanged, nothing trained"
else
	fail "adapt.sh --stage 4" "$(tail -n 2 "$T/rm.err" "$T/rm.py" | tr '\n' ' ')"
fi
# --target-bn: the adapted model's batch-norm statistics re-estimated on the
# target tiles after training; --stage 3 --target-bn on a finished run gives
# the same model as the flag given from the start (so finished runs can be
# mapped that way without training again)
tb_args=(--method wdgrl --source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson" --target "$T/east.vrt"
	--eval-labels "$A/rgb_nadir10_buildings.geojson" --epochs 2 --train-opts "--adapt-warmup 1" --width 4)
if pipelines/adapt.sh "${tb_args[@]}" --out "$T/tb0" 2>"$T/tb.err" && cp -r "$T/tb0" "$T/tb1" &&
	pipelines/adapt.sh "${tb_args[@]}" --out "$T/tb1" --stage 3 --target-bn 2>>"$T/tb.err" &&
	pipelines/adapt.sh "${tb_args[@]}" --out "$T/tb2" --target-bn 2>>"$T/tb.err" &&
	cmp -s "$T/tb1/model" "$T/tb2/model" && ! cmp -s "$T/tb0/model" "$T/tb1/model" &&
	grep -aq 'bn_adapted [0-9]* target tiles' "$T/tb2/model" && ! grep -aq 'bn_adapted' "$T/tb0/model" &&
	grep -q '^target-bn .* after training' "$T/tb2/run.txt" && grep -q '^target-bn .* on the target tiles$' "$T/tb1/run.txt" &&
	! ls "$T/tb1" | grep -q '^target\.\(frames\|norm\.frames\|[0-9]*\.stats\)$' && $PY -c "
import json
a, b = (json.load(open('$T/%s/metrics.json' % d)) for d in ('tb1', 'tb2'))
assert a['per_raster']['east']['confusion'] == b['per_raster']['east']['confusion']" 2>"$T/tb.py"; then
	pass "adapt.sh --target-bn: statistics from the target tiles after training; --stage 3 --target-bn on the finished run gives the same model and map"
else
	fail "adapt.sh --target-bn" "$(tail -n 2 "$T/tb.err" "$T/tb.py" 2>/dev/null | tr '\n' ' ')"
fi
# adabn is the same step on a source-only model: a finished source-only run
# taken on at --stage 3 with --method adabn gives adabn's own model
cp -r "$T/run" "$T/ab1"
ab_args=(--source "$T/west.vrt" --source-labels "$A/rgb_nadir10_buildings.geojson" --target "$T/east.vrt"
	--eval-labels "$A/rgb_nadir10_buildings.geojson" --epochs 1 --width 4)
if pipelines/adapt.sh --method adabn "${ab_args[@]}" --out "$T/ab1" --stage 3 2>"$T/ab.err" &&
	pipelines/adapt.sh --method adabn "${ab_args[@]}" --out "$T/ab2" 2>>"$T/ab.err" && cmp -s "$T/ab1/model" "$T/ab2/model" &&
	! cmp -s "$T/run/model" "$T/ab1/model" && grep -aq 'bn_adapted [0-9]* target tiles in [0-9]* batches, stem source' "$T/ab2/model"; then
	pass "adapt.sh --method adabn: a source-only run taken on at --stage 3 gets adabn's own model"
else
	fail "adapt.sh adabn --stage 3" "$(tail -n 2 "$T/ab.err" | tr '\n' ' ')"
fi
must_fail "adapt.sh --target-bn is for wdgrl and dsn" 2 "^adapt: --target-bn is for wdgrl and dsn \\(source-only with it is --method adabn" \
	"pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --out $T/tbx --target-bn"
must_fail "adapt.sh --stage 3 needs the run's model" 2 "stage 3: .*/model is missing" \
	"mkdir -p $T/empty2 && cp $T/run/run.txt $T/empty2/ && pipelines/adapt.sh --method source-only --source $T/west.vrt --source-labels $A/rgb_nadir10_buildings.geojson --target $T/east.vrt --out $T/empty2 --stage 3"

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

# names are data in the report: a run folder holding a backtick command, quotes
# and a gnuplot system() call, and a raster name that would close an HTML
# attribute, stay text (nothing run, every quote escaped)
H="$T/h\`touch PWNED1\`'\"; system(\"touch PWNED2\")
set output 'x'" n='q"onerror="alert(1)'
cp -r "$T/run" "$H" && cp "$T/run/probs_east.tif" "$H/probs_$n.tif" && echo "eval $n $T/east.vrt" >>"$H/run.txt"
(cd "$H" && "$OLDPWD/pipelines/report.sh" "$H") >"$T/hr.out" 2>&1
pw=$(find "$T" -name 'PWNED*')
if [ -z "$pw" ] && grep -q 'src="report/q&quot;onerror=&quot;alert(1).pred.png"' "$H/report.html" &&
	! grep -q 'onerror="' "$H/report.html" && [ -s "$H/report/loss.png" ]; then
	pass "report.sh: a folder name with a backtick command and a gnuplot system() call, a raster name with quotes: nothing run, the names escaped"
else
	fail "report.sh with hostile names" "ran: $pw; $(grep -o '.\{20\}onerror.\{20\}' "$H/report.html" 2>/dev/null | head -n 2) $(tail -n 2 "$T/hr.out")"
fi

# a mapped raster whose imagery is gone: one line naming it, no report
cp -r "$T/run" "$T/gone" && rm -f "$T/gone/report.html" && sed -i "s|^eval east .*|eval east $T/nowhere.tif|" "$T/gone/run.txt"
must_fail "report.sh names a mapped raster whose imagery is gone" 1 "^report: east \\(.*/nowhere.tif\\): .*nowhere.tif" "pipelines/report.sh $T/gone"
[ ! -e "$T/gone/report.html" ] && pass "report.sh writes no report when a quick-look fails" || fail "report.sh after a failed quick-look" "report.html written"

must_fail "adapt.sh refuses a --threads that is not a number" 2 "adapt: --threads must be a number of threads \\(0: all cores\\), not 'two'" "pipelines/adapt.sh --method source-only --source $A/rgb_nadir10.tif --source-labels $A/rgb_nadir10_buildings.geojson --target $A/pan.tif --threads two --out $T/thr"
