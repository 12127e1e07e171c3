# The recipes in egs/ on the sample data: the benchmark (egs/uda) on a
# development pair, tiny; the unlabelled Rotterdam modalities.
. tests/shell/lib.sh
export OPENBLAS_NUM_THREADS=1

# the benchmark on the Atlanta RGB -> panchromatic pair, one epoch, width 4,
# two seeds: the source model trained once a seed and shared by source-only,
# AdaBN and self-training; the oracle given its steps; the table
uda() { PAIRS=atlanta-pan METHODS="source-only adabn selftrain oracle" SEEDS="1 2" EPOCHS=1 EXTRA="--width 4" \
	OUT=$T/uda RESULTS=$T/res egs/uda/run.sh; }
if uda >"$T/uda.out" 2>"$T/uda.err" && [ "$(ls "$T"/uda/atlanta-pan/*/seed*/metrics.json | wc -l)" -eq 8 ] &&
	[ "$(ls -d "$T"/uda/sources/atlanta/seed*/ | wc -l)" -eq 2 ] &&
	cmp -s "$T/uda/sources/atlanta/seed1/model" "$T/uda/atlanta-pan/source-only/seed1/model" &&
	grep -aq "^init .*sources/atlanta/seed1/model" "$T/uda/atlanta-pan/selftrain/seed1/model" &&
	grep -aq '^bn_adapted [0-9]* target tiles' "$T/uda/atlanta-pan/adabn/seed2/model" &&
	steps=$(head -n 1 "$T/uda/sources/atlanta/seed1/train.jsonl" | grep -o '"step":[0-9]*' | cut -d: -f2) &&
	grep -q "epoch-steps $steps" "$T/uda/atlanta-pan/oracle/seed1/run.txt" &&
	last_training=$(grep -n 'atlanta-pan \(selftrain\|oracle\) seed' "$T/uda.err" | tail -n 1 | cut -d: -f1) &&
	first_map=$(grep -n 'atlanta-pan \(source-only\|adabn\) seed' "$T/uda.err" | head -n 1 | cut -d: -f1) &&
	[ "$last_training" -lt "$first_map" ] &&
	grep -q '^| atlanta-pan (dev) | iou | selftrain | 2 | [0-9.]* ± [0-9.]* | .* | \([+-][0-9]*%\)\? | \([+-][0-9]*%\)\? | [0-9.]* |$' "$T/res/results.md" &&
	grep -q '^| atlanta-pan (dev) | iou | oracle | 2 |' "$T/res/results.md" && $PY -c "
import json; j = json.load(open('$T/res/results.json'))
assert sorted(j['runs']['atlanta-pan']) == ['adabn', 'oracle', 'selftrain', 'source-only']
assert [r['seed'] for r in j['runs']['atlanta-pan']['selftrain']] == [1, 2]" 2>"$T/uda.py" &&
	uda >"$T/uda2.out" 2>"$T/uda2.err" && ! grep -q 'atlanta-pan .* seed' "$T/uda2.err" &&
	[ "$(wc -l <"$T/res/runs.jsonl")" -eq 8 ] && cp "$T/res/results.md" "$T/first.md" && rm -rf "$T/uda" &&
	uda >"$T/uda3.out" 2>"$T/uda3.err" && ! grep -q 'seed' "$T/uda3.err" && cmp -s "$T/res/results.md" "$T/first.md" &&
	[ "$(PAIRS=atlanta-pan EXTRA="--width 8" $PY egs/uda/local/table.py --out "$T/uda" --results "$T/res" --missing \
		--pairs atlanta-pan --methods "source-only oracle" --seeds "1 2" | wc -l)" -eq 4 ]; then
	pass "egs/uda: a pair's four methods, two seeds, the source model shared (source-only, AdaBN, self-training from it), the oracle on its $steps steps an epoch, the trainings before the mappings; the table; a second run trains nothing, nor a third from the ledger alone (OUT deleted); other options are other runs"
else
	fail "egs/uda" "$(tail -n 3 "$T/uda.err" "$T/uda2.err" "$T/uda3.err" "$T/uda.py" 2>/dev/null | tr '\n' ' ')"
fi
# QUICK=1: seed 1 of the full table's runs, from the same ledger (nothing
# run again), its table in quick.md, the full table untouched
if QUICK=1 PAIRS=atlanta-pan METHODS="source-only adabn selftrain oracle" EPOCHS=1 EXTRA="--width 4" \
	OUT=$T/uda RESULTS=$T/res egs/uda/run.sh >"$T/q.out" 2>"$T/q.err" && ! grep -q 'seed' "$T/q.err" &&
	[ "$(wc -l <"$T/res/runs.jsonl")" -eq 8 ] && cmp -s "$T/res/results.md" "$T/first.md" &&
	grep -q '^Made by .* 4 of the 4 runs (1 pairs, 4 methods, seeds 1) are in it\.$' "$T/res/quick.md" &&
	grep -q '^| atlanta-pan (dev) | iou | selftrain | 1 | [0-9.]* ± 0.000 |' "$T/res/quick.md" &&
	$PY -c "
import json; j = json.load(open('$T/res/quick.json'))
assert [r['seed'] for r in j['runs']['atlanta-pan']['oracle']] == [1]" 2>"$T/q.py"; then
	pass "egs/uda QUICK=1: seed 1 from the full table's ledger, nothing run again, its table in quick.md, results.md untouched"
else
	fail "egs/uda QUICK=1" "$(tail -n 3 "$T/q.err" "$T/q.py" "$T/res/quick.md" 2>/dev/null | tr '\n' ' ')"
fi
# a shared-bands method on a target with every band is its base's run: the
# ledger's, recorded under its name, nothing trained or mapped again; its
# row the base's, scores and minutes, the total time unchanged
if PAIRS=atlanta-pan METHODS="source-only shared-bands" SEEDS="1 2" EPOCHS=1 EXTRA="--width 4" OUT=$T/uda RESULTS=$T/res \
	egs/uda/run.sh >"$T/sb.out" 2>"$T/sb.err" && ! grep -q 'seed' "$T/sb.err" && $PY -c "
import json
rows = [json.loads(l) for l in open('$T/res/runs.jsonl')]
so = {r['seed']: r for r in rows if r['method'] == 'source-only'}
sb = [r for r in rows if r['method'] == 'shared-bands']
assert len(sb) == 2 and all(r['same_as'] == 'source-only' and r['iou'] == so[r['seed']]['iou'] for r in sb), sb
assert all(r['config'] != so[r['seed']]['config'] for r in sb)
import os, subprocess
os.makedirs('$T/res1')	# the same ledger, its times made large enough to show in minutes
with open('$T/res1/runs.jsonl', 'w') as f:
    for r in rows:
        f.write(json.dumps(dict(r, seconds=60, source_seconds=600)) + '\\n')
tab = lambda m: subprocess.run(['$PY', 'egs/uda/local/table.py', '--out', '$T/uda', '--results', '$T/res1', '--pairs', 'atlanta-pan',
                                '--methods', m, '--seeds', '1 2'], capture_output=True, text=True, check=True,
                                env=dict(os.environ, EPOCHS='1', EXTRA='--width 4')).stdout	# the runs' configuration
t = tab('source-only shared-bands')
cells = {l.split(' | ')[2]: l.split(' | ') for l in t.splitlines() if l.startswith('| atlanta-pan')}
assert cells['shared-bands'][4:] == cells['source-only'][4:], (cells['shared-bands'], cells['source-only'])  # scores, 11.0 minutes
total = lambda t: [l for l in t.splitlines() if l.startswith('Total')]
assert total(t) == total(tab('source-only')), (total(t), total(tab('source-only')))  # counted once
" 2>"$T/sb.py" &&
	grep -q '^| atlanta-pan (dev) | iou | shared-bands | 2 |' "$T/res/results.md"; then
	pass "egs/uda: shared-bands on a target with every band records source-only's runs under its name, running nothing"
else
	fail "egs/uda shared-bands alias" "$(tail -n 3 "$T/sb.err" "$T/sb.py" 2>/dev/null | tr '\n' ' ')"
fi
# the bands a target has: an RGB camera's empty fourth band is constant
$PY -c "
from osgeo import gdal
gdal.UseExceptions()
ds = gdal.Translate('$T/nonir.vrt', gdal.Open('$DATA/naip_trees/images/santa_monica_2020_0.tif'), format='VRT', bandList=[1, 2, 3])
ds.AddBand(gdal.GDT_Byte); ds = None" 2>"$T/nonir.err"
if [ "$($PY pipelines/shared-bands.py "$T/nonir.vrt" "$DATA/naip_trees/images/santa_monica_2020_1.tif" 2>&1)" = "" ] &&
	[ "$($PY pipelines/shared-bands.py "$T/nonir.vrt" 2>&1)" = "1,2,3" ] &&
	[ "$($PY pipelines/shared-bands.py "$DATA/naip_trees/images/santa_monica_2020_1.tif" 2>&1)" = "" ]; then
	pass "pipelines/shared-bands.py: an empty fourth band is left out, a band that varies in any target raster kept"
else
	fail "shared-bands.py" "$(cat "$T/nonir.err"; $PY pipelines/shared-bands.py "$T/nonir.vrt" 2>&1)"
fi
must_fail "shared-bands.py names a raster it cannot open" 1 "^shared-bands: $T/none.tif: " "$PY pipelines/shared-bands.py $T/none.tif"
# a source training killed part-way leaves a model (critic-train writes one
# every epoch) but no seconds: the next sweep trains it again, not maps with it
mkdir -p "$T/u4/sources/atlanta/seed1" && echo "killed" >"$T/u4/sources/atlanta/seed1/model" &&
	echo "command pipelines/adapt.sh (killed)" >"$T/u4/sources/atlanta/seed1/run.txt"
if PAIRS=atlanta-pan METHODS=source-only SEEDS=1 EPOCHS=1 EXTRA="--width 4" OUT=$T/u4 RESULTS=$T/u4res \
	egs/uda/run.sh --stop-stage 1 >"$T/u4.out" 2>"$T/u4.err" && grep -q 'source atlanta seed 1' "$T/u4.err" &&
	[ -s "$T/u4/sources/atlanta/seed1/seconds" ] && $PY python/landshift_frames.py --meta "$T/u4/sources/atlanta/seed1/model" | grep -q '^spec unet'; then
	pass "egs/uda: a source model left by a killed training is trained again"
else
	fail "egs/uda killed source" "$(tail -n 3 "$T/u4.err" | tr '\n' ' ')"
fi
must_fail "egs/uda names an unknown pair" 2 "^uda: no pair nowhere" "PAIRS=nowhere OUT=$T/u2 egs/uda/run.sh"
must_fail "egs/uda refuses JOBS=0" 2 "JOBS must be a number of runs at a time, not '0'" "JOBS=0 OUT=$T/u3 egs/uda/run.sh"

# a new modality with no labels: the Rotterdam SAR scene (4 x float32 dB,
# 39 % NaN) as a DSN target through egs/rotterdam/run.sh, one epoch
R=$T/rot/sar/dsn
if OUT=$T/rot METHODS=dsn TARGETS=sar EPOCHS=1 egs/rotterdam/run.sh 2>"$T/rot.err" && [ -s "$R/report/sar_masked.pred.png" ] &&
	$PY -c "
from osgeo import gdal
d = gdal.Open('$R/probs_sar_masked.tif'); m = d.GetRasterBand(1).GetMaskBand().ReadAsArray()
assert d.RasterCount == 2 and 0.3 < (m == 0).mean() < 0.5, (m == 0).mean()" 2>>"$T/rot.err"; then
	pass "egs/rotterdam: DSN to the unlabelled SAR scene maps it (its NaN areas masked) and reports the predictions"
else
	fail "rotterdam SAR" "$(tail -n 3 "$T/rot.err")"
fi


# egs/uda's table from a ledger whose scores are known: the gap closed from
# source-only and from AdaBN, blank where the oracle does not bound it, and
# "above" only by more than both seed spreads
mkdir -p "$T/led"
if $PY - "$T/led/runs.jsonl" <<'PYEOF' 2>"$T/led.err" &&
import json, sys
sys.path.insert(0, "egs/uda/local")
import table
scores = {"atlanta-pan": {"source-only": (0.30, 0.32), "adabn": (0.34, 0.34), "selftrain": (0.40, 0.42), "oracle": (0.50, 0.50)},
          "rio-atlanta": {"source-only": (0.30, 0.30), "adabn": (0.34, 0.34), "selftrain": (0.34, 0.36), "oracle": (0.29, 0.29)}}
with open(sys.argv[1], "w") as f:
    for p, ms in scores.items():
        for m, v in ms.items():
            for seed, x in enumerate(v, 1):
                f.write(json.dumps({"pair": p, "method": m, "seed": seed, "config": table.config(p, m), "iou": x, "f1": x,
                                    "seconds": 60, "source_seconds": 0}) + "\n")
PYEOF
	$PY egs/uda/local/table.py --out "$T/led" --results "$T/led" --pairs "atlanta-pan rio-atlanta" --headline "atlanta-pan rio-atlanta" \
		--methods "source-only adabn selftrain oracle" --seeds "1 2" >/dev/null 2>>"$T/led.err" &&
	grep -q '^| atlanta-pan | iou | selftrain | 2 | 0.410 ± 0.014 | .* | +53% | +44% | 1.0 |$' "$T/led/results.md" &&
	grep -q '^| atlanta-pan | iou | adabn | 2 | 0.340 ± 0.000 | .* | +16% |  | 1.0 |$' "$T/led/results.md" &&
	grep -q '^| rio-atlanta | iou | selftrain | 2 | 0.350 ± 0.014 | .* |  |  | 1.0 |$' "$T/led/results.md" &&
	grep -q '^selftrain on 2 headline pair(s): mean gap closed from source-only +53%; above source-only by more than the spreads on 2 (atlanta-pan, rio-atlanta), above AdaBN on 1 (atlanta-pan)\.$' "$T/led/results.md" &&
	$PY egs/uda/local/table.py --out "$T/led" --results "$T/led" --pairs "atlanta-pan" --headline "atlanta-pan" \
		--methods "source-only selftrain oracle" --seeds 2 --name seed2 >/dev/null 2>>"$T/led.err" &&
	grep -q '^| atlanta-pan | iou | selftrain | 1 | 0.420 ± 0.000 | .* | +56% |  | 1.0 |$' "$T/led/seed2.md" && [ -f "$T/led/seed2.json" ] &&
	! $PY egs/uda/local/table.py --out "$T/led" --results "$T/led" --pairs atlanta-pan --methods oracle --seeds 1 --name ../x 2>"$T/led.name" &&
	grep -q "^table: --name '../x' must be letters" "$T/led.name" && [ ! -e "$T/x.md" ]; then
	pass "egs/uda table from a known ledger: gaps closed +53% from source-only and +44% from AdaBN, none where the oracle is below; above only beyond both spreads; the seeds asked for alone, under the name asked for (a path refused)"
else
	fail "egs/uda table" "$(cat "$T/led.err" "$T/led/results.md" 2>/dev/null | tr '\n' ' ')"
fi


# egs/multiclass's table: per class, the multi-class model's IoU against the
# one-class model's, mean and sd over the seeds, relative, within 10%
for s in 1 2; do
	mkdir -p "$T/mc/building.s$s" "$T/mc/multi.s$s" "$T/mc/tree.s$s"
	echo "{\"building_iou\": 0.$((4 + s))}" >"$T/mc/building.s$s/metrics.json"	# 0.5, 0.6
	echo "{\"tree_iou\": 0.40}" >"$T/mc/tree.s$s/metrics.json"
	echo "{\"building_iou\": 0.50, \"tree_iou\": 0.3$((s * 2))}" >"$T/mc/multi.s$s/metrics.json"	# trees 0.32, 0.34
done
if $PY egs/multiclass/local/table.py "$T/mc" "$T/mc_table" 1 2 >/dev/null &&
	grep -q '^| building | 0.550 ± 0.071 | 0.500 ± 0.000 | -9.1% | yes |$' "$T/mc_table.md" &&
	grep -q '^| tree | 0.400 ± 0.000 | 0.330 ± 0.014 | -17.5% | no |$' "$T/mc_table.md" && ! grep -q '^| road' "$T/mc_table.md"; then
	pass "egs/multiclass table: per class, relative IoU of the multi-class model (-9.1% within 10%, -17.5% not), classes without runs left out"
else
	fail "egs/multiclass table" "$(cat "$T/mc_table.md" 2>/dev/null | tr '\n' ' ')"
fi
