#!/bin/bash
# egs/trees/run.sh - tree detection on the NAIP chips of Santa Monica.
# Inputs: DATA (../shared/data), OUT (out/trees), EPOCHS (30), SEED (1).
# Trains on the first three quarters of the chips (all four bands, labels:
# the 2.4 m discs around surveyed trees, class 2), maps the remaining
# quarter and scores detection: predicted tree objects matched one to one
# to surveyed tree points within 3 m.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data}
OUT=${OUT:-out/trees}
EPOCHS=${EPOCHS:-30}
SEED=${SEED:-1}
BIN=${BIN:-bin}
N=$DATA/naip_trees
export GDAL_PAM_ENABLED=NO
mkdir -p "$OUT"
chips=$(ls "$N"/images/*.tif | sed 's/.*_\([0-9]*\)\.tif$/\1/' | sort -n)
total=$(echo "$chips" | wc -l)
ntrain=$((total * 3 / 4))
train=$(echo "$chips" | head -n "$ntrain")
test=$(echo "$chips" | tail -n +$((ntrain + 1)))
echo "trees: training on $ntrain chips, testing on $((total - ntrain))" >&2
: >"$OUT/train.frames"
for c in $train; do
	"$BIN"/tile --quiet --size 128 --overlap 32 --domain source --labels "$N/masks/santa_monica_2020_$c.tif" \
		"$N/images/santa_monica_2020_$c.tif" >>"$OUT/train.frames"
done
"$BIN"/normalise-bands --fit "$OUT/naip.stats" <"$OUT/train.frames"
"$BIN"/normalise-bands --stats "$OUT/naip.stats" <"$OUT/train.frames" >"$OUT/train.norm.frames"
rm -f "$OUT/train.frames"
"$BIN"/critic-train --model "$OUT/model" --source "$OUT/train.norm.frames" --classes 3 --class-weights 1,1,2 \
	--epochs "$EPOCHS" --seed "$SEED" --metrics "$OUT/train.jsonl"
for c in $test; do
	"$BIN"/tile --quiet --size 128 --overlap 32 --domain source "$N/images/santa_monica_2020_$c.tif" |
		"$BIN"/normalise-bands --stats "$OUT/naip.stats" | "$BIN"/encode --model "$OUT/model" --decode |
		"$BIN"/stitch --quiet "$OUT/probs_$c.tif"
	"$BIN"/evaluate --quiet --ref "$N/masks/santa_monica_2020_$c.tif" --points "$N/json/santa_monica_2020_$c.json" \
		--point-class 2 --object-class 2 --match-distance 3 "$OUT/probs_$c.tif" >"$OUT/eval_$c.json"
done
/usr/bin/python3 - "$OUT" $test <<'PY'
import json, sys
out, chips = sys.argv[1], sys.argv[2:]
tp = pred = ref = 0; inter = union = 0
for c in chips:
    r = json.load(open(f"{out}/eval_{c}.json"))
    m = r["points"]["match"]; tp += m["tp"]; pred += m["pred"]; ref += m["ref"]
    k = r["confusion"]
    if len(k) > 2:
        t = k[2][2]; inter += t; union += sum(k[2]) + sum(row[2] for row in k) - t
p = tp / pred if pred else 0; rc = tp / ref if ref else 0
f1 = 2 * p * rc / (p + rc) if p + rc else 0
m = {"tree_point_f1": f1, "tree_point_precision": p, "tree_point_recall": rc, "matched": tp, "predicted": pred,
     "points": ref, "tree_iou": inter / union if union else 0, "chips": chips}
json.dump(m, open(f"{out}/metrics.json", "w"), indent=1)
print(f"trees: point F1 {f1:.3f} (precision {p:.3f}, recall {rc:.3f}, {tp} of {ref} trees), tree IoU {m['tree_iou']:.3f}", file=sys.stderr)
PY
