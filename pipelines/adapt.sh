#!/bin/bash
# pipelines/adapt.sh - the main job: train on labelled source imagery, map
# target imagery, and score the map when target labels are given.
#
# Inputs (any rasters GDAL reads, any label rasters or OGR vector sources):
#   --method M            source-only | adabn | wdgrl | dsn | oracle  (adabn: source-only, then
#                         batch-norm statistics re-estimated on the target tiles)
#   --source IMG --source-labels LABELS   labelled source rasters (repeatable, in pairs)
#   --target IMG          unlabelled target rasters (repeatable); adaptation learns from them
#   --target-labels L     labels of the target rasters, read by the oracle only
#   --eval IMG [--eval-labels L]   rasters to map and score (default: the target rasters)
#   --eval-points P       point labels of each --eval raster (surveyed trees): a predicted
#                         object whose centre lies within 3 m of a point finds it (point F1)
#   --eval-crowns         point F1 from crown labels instead (classified LiDAR, no survey):
#                         the crown centres of the eval labels are the points, and predicted
#                         trees are found as crown centres too (evaluate --crown-points)
#   --gsd METRES          common ground sample distance (default: each raster's own)
#   --target-bands LIST [--target-band-names LIST]   bands read from target and eval
#                         rasters (tile --bands), e.g. 1,1,1 and red,green,blue to show a
#                         panchromatic target to a source-only RGB model as grey RGB
#   --source-bands LIST [--source-band-names LIST]   bands read from source rasters, e.g.
#                         1,2,3 to train a source-only RGB model on R, G, B, NIR imagery
#   --view-bands LIST     bands of the eval rasters shown as red, green, blue in the report
#                         (default 1,2,3; e.g. 3,2,1 for B, G, R, NIR imagery)
#   --class-name NAME     what class 1 is (building): names the polygons (NAMEs_*.gpkg)
#                         and the scores (NAME_iou, NAME_f1 beside iou, f1 in metrics.json)
#   --seed N              random seed (default 1)
#   --target-bn           wdgrl, dsn: after training, re-estimate the batch-norm statistics
#                         on the target tiles (adapt-bn, as --method adabn does for the
#                         source-only model) and map with them; training keeps one set of
#                         statistics for both domains (their mixture) when they share a stem
#   --decision RULE       how a pixel's class is decided, in the polygons and the scores:
#                         argmax (default: the most probable class), share=F (the share F
#                         of the mapped pixels with the class's highest probabilities is
#                         the class: share-threshold finds the threshold over all --eval
#                         maps), or source-share (F = the class's share of the training
#                         tiles' labels). No target label chooses the threshold; for a
#                         model whose scores are calibrated to the source (trees mapped
#                         at a tenth of their extent, say)
#   --score-only          score the probs_*.tif already in --out again (other labels, or
#                         --eval-points / --eval-crowns added), without tiling, training or
#                         mapping: give the run's own arguments and this; run.txt gains a line
#   --map-only            map the --eval rasters with the model already in --out (rasters the
#                         run did not map, e.g. a larger area to score) and score them, without
#                         tiling the training rasters or training: the run's own arguments, the
#                         new --eval rasters, and this; run.txt gains a line
#   --norm per-raster|per-domain   band statistics fitted on each raster alone (default),
#                         or pooled over all rasters of a domain
#   --out DIR             outputs: model, probs_*.tif, buildings_*.gpkg, metrics.json
#   --threads N           worker threads of training and mapping (default 0: all cores;
#                         e.g. 1 for each of two runs side by side on 2 cores)
# Tuning: --epochs N (12) --epoch-steps N (steps an epoch; default one pass over the training
#         tiles: an oracle on a few target tiles can be given the source-only run's steps)
#         --tile N (128) --overlap N (32) --width N (16) --batch N (8)
#         --lr R (0.002) --class-weights W0,W1 (1,3) --label-class N (class burned for
#         vector labels, 1 = building) --label-map V=C,... (for label rasters, training
#         and scoring alike: e.g. 2=0 to take trees as background, 1=0,2=1 to map trees)
# WDGRL:  --lambda L (0.1) --lambda-schedule const|ramp (const) --n-critic N (5)
#         --critic-level pixel|tile|output (pixel: bottleneck vectors; tile: pooled per tile;
#         output: P x P patches of class probabilities) --critic-patch P (4) --adapt-warmup EPOCHS (2)
#         --critic-features LEVELS (pixel, tile: the encoder levels the critic sees, e.g. all
#         or 0,3: the decoder's skips as well as the bottleneck, each pooled onto its cells)
#         --bn-per-domain (separate batch-norm statistics per input stem, training and mapping;
#         refused where the target shares the source's stem: see --target-bn)
#         --importance-weighted (the critic's source points weighed by estimated target /
#         source class ratios, for class proportions that differ between the domains)
#         --target-prior P0,P1 (the target's class proportions, known from elsewhere:
#         the same weighting with fixed ratios)
#         --select val-iou|val-loss|target-entropy|last (val-iou: the epoch kept, chosen
#         without target labels; target-entropy for wdgrl and dsn only)
# DSN:    --alpha A (0.1, reconstruction) --beta B (0.05, difference)
#         --similarity critic|dann (critic; its weight is --lambda), and the WDGRL options
# Outputs in DIR: model, source.stats, target.stats, probs_<name>.tif (per-class
# probabilities on the eval raster's grid), buildings_<name>.gpkg, eval_<name>.json,
# metrics.json (building_iou, building_f1, object_f1, per raster and overall; with
# --class-name tree: tree_iou, tree_f1; the decision rule and its threshold), train.jsonl,
# training.share (the class's share of the training tiles' labels).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$here/bin}
[ -x "$BIN/tile" ] || BIN=$(cd "$here/../../bin" 2>/dev/null && pwd)	# installed: PREFIX/share/landshift -> PREFIX/bin
export GDAL_PAM_ENABLED=NO
method="" out="" gsd="" seed=1 epochs=12 esteps=0 tile=128 overlap=32 width=16 batch=8 lr=0.002 label_class=1 cw=1,3 norm=per-raster lambda=0.1 lsched=const sel=val-iou ncritic=5 level=pixel patch=4 awarm=2 alpha=0.1 beta=0.05 sim=critic threads=0 decision=argmax target_bn=0 crowns=0 score_only=0 map_only=0 lmap="" tb="" tbn="" sb="" sbn="" cname=building vb="" bnpd=() iw=() feats=()
src=() srcl=() tgt=() tgtl=() ev=() evl=() evp=()
cmdline=$(printf '%q ' "$0" "$@")	# for run.txt: the arguments are shifted away below
die() { echo "adapt: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--method) method=$2 ;; --out) out=$2 ;; --gsd) gsd=$2 ;; --seed) seed=$2 ;; --norm) norm=$2 ;;
	--source) src+=("$2") ;; --source-labels) srcl+=("$2") ;;
	--target) tgt+=("$2") ;; --target-labels) tgtl+=("$2") ;;
	--eval) ev+=("$2") ;; --eval-labels) evl+=("$2") ;; --eval-points) evp+=("$2") ;;
	--epochs) epochs=$2 ;; --epoch-steps) esteps=$2 ;; --tile) tile=$2 ;; --overlap) overlap=$2 ;; --width) width=$2 ;;
	--batch) batch=$2 ;; --lr) lr=$2 ;; --label-class) label_class=$2 ;; --class-weights) cw=$2 ;;
	--lambda) lambda=$2 ;; --lambda-schedule) lsched=$2 ;; --select) sel=$2 ;; --n-critic) ncritic=$2 ;; --critic-level) level=$2 ;; --critic-patch) patch=$2 ;; --adapt-warmup) awarm=$2 ;;
	--critic-features) feats=(--critic-features "$2") ;;
	--alpha) alpha=$2 ;; --beta) beta=$2 ;; --similarity) sim=$2 ;; --label-map) lmap=$2 ;;
	--target-bands) tb=$2 ;; --target-band-names) tbn=$2 ;;
	--source-bands) sb=$2 ;; --source-band-names) sbn=$2 ;; --class-name) cname=$2 ;;
	--view-bands) vb=$2 ;; --threads) threads=$2 ;; --decision) decision=$2 ;;
	--bn-per-domain) bnpd=(--bn-per-domain); shift; continue ;;
	--importance-weighted) iw=(--importance-weighted); shift; continue ;;
	--target-prior) iw=(--target-prior "$2") ;;
	--eval-crowns) crowns=1; shift; continue ;;
	--score-only) score_only=1; shift; continue ;;
	--map-only) map_only=1; shift; continue ;;
	--target-bn) target_bn=1; shift; continue ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift 2 || die "$1 needs a value"
done
[ -n "$method" ] && [ -n "$out" ] || die "--method and --out are required (see --help)"
case $method in source-only|adabn|oracle|wdgrl|dsn) ;; *) die "unknown --method $method (source-only, adabn, wdgrl, dsn or oracle)" ;; esac
[ "$target_bn" = 0 ] || [ "$method" = wdgrl ] || [ "$method" = dsn ] ||
	die "--target-bn is for wdgrl and dsn (source-only with it is --method adabn)"
[ "$method" = adabn ] && target_bn=1	# adabn: source-only, then the target's statistics
[ ${#src[@]} -gt 0 ] && [ ${#src[@]} -eq ${#srcl[@]} ] || die "give --source and --source-labels in pairs"
[ ${#tgt[@]} -gt 0 ] || die "give at least one --target raster"
[[ $threads =~ ^[0-9]+$ ]] || die "--threads must be a number of threads (0: all cores), not '$threads'"
case $norm in per-raster|per-domain) ;; *) die "--norm must be per-raster or per-domain" ;; esac
share=""
case $decision in
argmax|source-share) ;;
share=*) share=${decision#share=}
	/usr/bin/python3 -c 'import sys; f = float(sys.argv[1]); sys.exit(not 0 < f < 1)' "$share" 2>/dev/null ||
		die "--decision share=F needs a share above 0 and below 1, not '$share'" ;;
*) die "--decision must be argmax, share=F or source-share, not '$decision'" ;;
esac
[ ${#ev[@]} -gt 0 ] || ev=("${tgt[@]}")
[ ${#evl[@]} -eq 0 ] || [ ${#evl[@]} -eq ${#ev[@]} ] || die "give one --eval-labels per --eval raster"
[ ${#evp[@]} -eq 0 ] || { [ ${#evp[@]} -eq ${#ev[@]} ] && [ ${#evl[@]} -gt 0 ]; } || die "give one --eval-points per --eval raster, with --eval-labels"
[ "$crowns" = 0 ] || { [ ${#evl[@]} -gt 0 ] && [ ${#evp[@]} -eq 0 ]; } || die "--eval-crowns takes the points from --eval-labels rasters: give those, and no --eval-points"
if [ "$method" = oracle ]; then [ ${#tgtl[@]} -eq ${#tgt[@]} ] || die "oracle needs one --target-labels per --target"; fi
names=()
for i in "${!ev[@]}"; do name=$(basename "${ev[$i]}"); names+=("${name%.*}"); done
if [ "$score_only" = 1 ]; then
	[ ${#evl[@]} -gt 0 ] || die "--score-only needs --eval-labels: there is nothing else to score"
	for n in "${names[@]}"; do
		[ -f "$out/probs_$n.tif" ] || die "--score-only: $out/probs_$n.tif is missing (map it first: the same command without --score-only)"
	done
fi
if [ "$map_only" = 1 ]; then
	[ "$score_only" = 0 ] || die "give --score-only or --map-only, not both"
	[ -f "$out/model" ] || die "--map-only: $out/model is missing (train it first: the same command without --map-only)"
	[ "$norm" = per-raster ] || [ -f "$out/target.stats" ] || die "--map-only: $out/target.stats is missing (the run's per-domain statistics)"
fi
if [ "$score_only" = 1 ] || [ "$map_only" = 1 ]; then
	[ "$decision" != source-share ] || [ -f "$out/training.share" ] ||
		die "--decision source-share: $out/training.share is missing (a run from before --decision: give share=F)"
	{
		echo "$([ "$map_only" = 1 ] && echo remapped || echo rescored) $(date -u +%Y-%m-%dT%H:%M:%SZ): $cmdline"
		for i in "${!ev[@]}"; do	# rasters new to the run (the report's quick-looks)
			n=$(basename "${ev[$i]}"); grep -q "^eval ${n%.*} " "$out/run.txt" || echo "eval ${n%.*} ${ev[$i]}"
		done
		for i in "${!evp[@]}"; do echo "eval-points ${evp[$i]}"; done
		[ "$crowns" = 0 ] || echo "eval-points crown centres of the eval labels"
		echo "decision $decision"
		[ "$target_bn" = 0 ] || [ "$score_only" = 1 ] || echo "target-bn batch-norm statistics re-estimated on the target tiles before mapping"
	} >>"$out/run.txt"
fi
[ "$score_only" = 1 ] || [ "$map_only" = 1 ] || mkdir -p "$out"
[ "$score_only" = 1 ] || [ "$map_only" = 1 ] || {	# what the report shows: the command and every setting
	echo "command $cmdline"
	echo "method $method"
	for i in "${!src[@]}"; do echo "source ${src[$i]} (labels ${srcl[$i]})"; done
	for i in "${!tgt[@]}"; do echo "target ${tgt[$i]}"; done
	for i in "${!ev[@]}"; do n=$(basename "${ev[$i]}"); echo "eval ${n%.*} ${ev[$i]}"; done
	for i in "${!evl[@]}"; do echo "eval-labels ${evl[$i]}"; done
	for i in "${!evp[@]}"; do echo "eval-points ${evp[$i]}"; done
	[ "$crowns" = 0 ] || echo "eval-points crown centres of the eval labels"
	echo "gsd ${gsd:-native}"
	[ -n "$sb" ] && echo "source-bands $sb${sbn:+ ($sbn)}"
	[ -n "$tb" ] && echo "target-bands $tb${tbn:+ ($tbn)}"
	[ -n "$lmap" ] && echo "label-map $lmap"
	[ -n "$vb" ] && echo "view-bands $vb"
	echo "seed $seed"
	echo "training epochs $epochs$([ "$esteps" = 0 ] || echo " of $esteps steps"), tile $tile, overlap $overlap, width $width, batch $batch, lr $lr, class weights $cw"
	echo "normalisation $norm"
	[ "$threads" = 0 ] || echo "threads $threads"
	echo "model chosen by $sel"
	[ "$target_bn" = 0 ] || [ "$method" = adabn ] || echo "target-bn batch-norm statistics re-estimated on the target tiles after training"
	echo "decision $decision"
	[ ${#bnpd[@]} -eq 0 ] || echo "batch-norm statistics per domain"
	[ "$method" = wdgrl ] || [ "$method" = dsn ] &&
		echo "adaptation lambda $lambda ($lsched), n-critic $ncritic, critic level $level$([ "$level" = output ] && echo " ($patch x $patch patches)")$([ ${#feats[@]} -gt 0 ] && echo " (encoder levels ${feats[1]})"), warm-up $awarm epochs$([ ${#iw[@]} -gt 0 ] && echo ", importance-weighted${iw[1]:+ (target prior ${iw[1]})}")$([ "$method" = dsn ] && echo ", alpha $alpha, beta $beta, similarity $sim")"
	echo "started $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
} >"$out/run.txt"
G=(); [ -n "$gsd" ] && G=(--gsd "$gsd")
TB=(); [ -n "$tb" ] && TB=(--bands "$tb"); [ -n "$tbn" ] && TB+=(--band-names "$tbn")
SB=(); [ -n "$sb" ] && SB=(--bands "$sb"); [ -n "$sbn" ] && SB+=(--band-names "$sbn")
log() { echo "adapt: $*" >&2; }

# tile_domain DOMAIN NAME IMG [LABELS]: append IMG's tiles to NAME.frames (raw)
# and, per raster, fit its statistics and append its normalised tiles.
tile_domain() {
	local dom=$1 name=$2 img=$3 lab=${4:-} k=$5 L=() B=()
	[ "$dom" = target ] && B=("${TB[@]}")
	[ "$dom" = source ] && B=("${SB[@]}")
	[ -n "$lab" ] && L=(--labels "$lab" --class "$label_class")
	[ -n "$lab" ] && [ -n "$lmap" ] && L+=(--label-map "$lmap")
	"$BIN"/tile --quiet --size "$tile" --overlap "$overlap" "${G[@]}" --domain "$dom" --min-valid 0.5 "${B[@]}" "${L[@]}" \
		"$img" >"$out/$name.$k.frames"
	if [ "$norm" = per-raster ]; then
		"$BIN"/normalise-bands --fit "$out/$name.$k.stats" <"$out/$name.$k.frames"
		"$BIN"/normalise-bands --stats "$out/$name.$k.stats" <"$out/$name.$k.frames" >>"$out/$name.norm.frames"
	fi
	cat "$out/$name.$k.frames" >>"$out/$name.frames"
	rm -f "$out/$name.$k.frames"
}

if [ "$score_only" = 0 ] && [ "$map_only" = 0 ]; then
log "[1/5] tiling ${#src[@]} source raster(s) with labels (statistics $norm)"
: >"$out/source.frames"; : >"$out/source.norm.frames"
for i in "${!src[@]}"; do tile_domain source source "${src[$i]}" "${srcl[$i]}" "$i"; done
"$BIN"/normalise-bands --fit "$out/source.stats" <"$out/source.frames"
[ "$norm" = per-domain ] && "$BIN"/normalise-bands --stats "$out/source.stats" <"$out/source.frames" >"$out/source.norm.frames"

log "[2/5] tiling ${#tgt[@]} target raster(s)"
: >"$out/target.frames"; : >"$out/target.norm.frames"
for i in "${!tgt[@]}"; do
	lab=""; [ "$method" = oracle ] && lab=${tgtl[$i]}
	tile_domain target target "${tgt[$i]}" "$lab" "$i"
done
"$BIN"/normalise-bands --fit "$out/target.stats" <"$out/target.frames"
[ "$norm" = per-domain ] && "$BIN"/normalise-bands --stats "$out/target.stats" <"$out/target.frames" >"$out/target.norm.frames"

# the class's share of the training labels (--decision source-share): pixels
# of overlapping tiles count once per tile, unlabelled ones (255) not at all
trainf=$out/source.frames; [ "$method" = oracle ] && trainf=$out/target.frames
"$BIN"/frame-info --quiet --no-stats "$trainf" | /usr/bin/python3 -c '
import json, sys
n = hit = 0
for line in sys.stdin:
    for k, v in json.loads(line).get("label", {}).items():
        if k != "255":
            n += v
            hit += v if k == sys.argv[1] else 0
if not n:
    sys.exit("adapt: the training tiles hold no labelled pixel")
print("%.6f" % (hit / n))' "$label_class" >"$out/training.share"

log "[3/5] training ($method, $epochs epochs)"
train=(--source "$out/source.norm.frames" --method source-only)
[ "$method" = oracle ] && train=(--source "$out/target.norm.frames" --method oracle)
[ "$method" = wdgrl ] && train=(--source "$out/source.norm.frames" --target "$out/target.norm.frames" --method wdgrl
	--lambda "$lambda" --lambda-schedule "$lsched" --n-critic "$ncritic" --critic-level "$level" --critic-patch "$patch" --adapt-warmup "$awarm" "${iw[@]}" "${feats[@]}")
[ "$method" = dsn ] && train=(--source "$out/source.norm.frames" --target "$out/target.norm.frames" --method dsn
	--alpha "$alpha" --beta "$beta" --similarity "$sim"
	--lambda "$lambda" --lambda-schedule "$lsched" --n-critic "$ncritic" --critic-level "$level" --critic-patch "$patch" --adapt-warmup "$awarm" "${iw[@]}" "${feats[@]}")
"$BIN"/critic-train --model "$out/model" "${train[@]}" --epochs "$epochs" --epoch-steps "$esteps" --batch "$batch" --lr "$lr" \
	--width "$width" --seed "$seed" --class-weights "$cw" --select "$sel" "${bnpd[@]}" --metrics "$out/train.jsonl" --threads "$threads"
rm -f "$out/source.frames" "$out/target.frames" "$out"/source.*.stats "$out"/target.*.stats
fi	# map_only, score_only
if [ "$target_bn" = 1 ] && [ "$score_only" = 0 ]; then
	# the adapted model's statistics from the target tiles alone (the stem the
	# target's frames go through: its own, or the one it shares); --map-only
	# tiles the targets again, normalised as in training
	if [ "$map_only" = 1 ]; then
		: >"$out/target.frames"; : >"$out/target.norm.frames"
		for i in "${!tgt[@]}"; do tile_domain target target "${tgt[$i]}" "" "$i"; done
		[ "$norm" = per-domain ] && "$BIN"/normalise-bands --stats "$out/target.stats" <"$out/target.frames" >"$out/target.norm.frames"
	fi
	log "target-bn: batch-norm statistics re-estimated on the target tiles"
	ST=(); [ "$method" = adabn ] && ST=(--stem source)	# the source-only model's stem, whatever the frames' domain
	"$BIN"/adapt-bn --quiet --threads "$threads" --model "$out/model" --out "$out/model" "${ST[@]}" <"$out/target.norm.frames"
	[ "$map_only" = 0 ] || rm -f "$out/target.frames" "$out/target.norm.frames" "$out"/target.*.stats
fi

if [ "$score_only" = 0 ]; then
log "[4/5] mapping ${#ev[@]} raster(s)"
for i in "${!ev[@]}"; do
	name=${names[$i]}
	stats=$out/target.stats
	if [ "$norm" = per-raster ]; then	# the raster's own statistics (no labels are read)
		stats=$out/eval_$name.stats
		"$BIN"/tile --quiet --size "$tile" --overlap "$overlap" "${G[@]}" "${TB[@]}" --domain target "${ev[$i]}" |
			"$BIN"/normalise-bands --fit "$stats"
	fi
	"$BIN"/tile --quiet --size "$tile" --overlap "$overlap" "${G[@]}" "${TB[@]}" --domain target "${ev[$i]}" |
		"$BIN"/normalise-bands --stats "$stats" |
		"$BIN"/encode --threads "$threads" --model "$out/model" |
		"$BIN"/decode --threads "$threads" --model "$out/model" |
		"$BIN"/stitch --quiet "$out/probs_$name.tif"
done
fi	# score_only

# the decision: the most probable class, or a threshold on the class's
# probability that calls the given share of all the mapped pixels the class
CT=() thr=""
if [ "$decision" != argmax ]; then
	[ -n "$share" ] || share=$(cat "$out/training.share")
	probs=(); for n in "${names[@]}"; do probs+=("$out/probs_$n.tif"); done
	thr=$("$BIN"/share-threshold --quiet --share "$share" --class "$label_class" "${probs[@]}")
	CT=(--class-threshold "$label_class=$thr")
	log "decision $decision: the $share of the mapped pixels with the highest $cname probability, those >= $thr, are $cname"
	echo "decision $decision: share $share, threshold $thr" >>"$out/run.txt"
fi
for name in "${names[@]}"; do	# again after --score-only: the decision may have changed
	"$BIN"/vectorise --quiet --classes "$label_class" --class-names "background,$cname" --min-area 4 --simplify 0.25 "${CT[@]}" \
		"$out/probs_$name.tif" "$out/${cname}s_$name.gpkg"
done

log "[5/5] scoring"
if [ ${#evl[@]} -gt 0 ]; then
	for i in "${!ev[@]}"; do
		RM=(); [ -n "$lmap" ] && RM=(--ref-map "$lmap")
		[ ${#evp[@]} -gt 0 ] && RM+=(--points "${evp[$i]}" --point-class "$label_class" --match-distance 3)
		[ "$crowns" = 1 ] && RM+=(--crown-points --point-class "$label_class" --match-distance 3)
		"$BIN"/evaluate --quiet --ref "${evl[$i]}" --ref-class "$label_class" "${RM[@]}" "${CT[@]}" --class-names "background,$cname" --errors "$out/errors_${names[$i]}.tif" "$out/probs_${names[$i]}.tif" \
			>"$out/eval_${names[$i]}.json"
	done
	/usr/bin/python3 - "$out" "$method" "$cname" "$decision" "$share" "$thr" "${names[@]}" <<'PY'
import json, sys
out, method, cname, rule, share, thr, names = *sys.argv[1:7], sys.argv[7:]
runs = {n: json.load(open(f"{out}/eval_{n}.json")) for n in names}
k = max(len(r["confusion"]) for r in runs.values())
conf = [[0] * k for _ in range(k)]
for r in runs.values():
    for a, row in enumerate(r["confusion"]):
        for b, v in enumerate(row):
            conf[a][b] += v
def matched(key):   # one-to-one matches pooled over the rasters: F1, precision, recall, found, reference count
    tp, pred, ref = (sum(r[key]["match"][x] for r in runs.values()) for x in ("tp", "pred", "ref"))
    p = tp / pred if pred else 0; rc = tp / ref if ref else 0
    return 2 * p * rc / (p + rc) if p + rc else 0, p, rc, tp, ref
def scores(c):
    t = conf[c][c]; fp = sum(conf[j][c] for j in range(k)) - t; fn = sum(conf[c]) - t
    p = t / (t + fp) if t + fp else 0; r = t / (t + fn) if t + fn else 0
    return t / (t + fp + fn) if t + fp + fn else 0, 2 * p * r / (p + r) if p + r else 0
iou, f1 = scores(1)
of1, op, orc, _, _ = matched("object")
m = {"method": method, "class": cname, "iou": iou, "f1": f1, f"{cname}_iou": iou, f"{cname}_f1": f1,
     "object_f1": of1, "object_precision": op, "object_recall": orc}
if all("points" in r for r in runs.values()):   # --eval-points: objects matched to points
    pf1, pp, pr, found, ref = matched("points")
    m.update({"point_f1": pf1, "point_precision": pp, "point_recall": pr, "points": ref, "points_found": found})
    m[f"{cname}_point_f1"] = m["point_f1"]
rule = rule.split("=")[0]    # share=F: the share is given below
m["decision"] = {"rule": rule} if rule == "argmax" else {"rule": rule, "share": float(share), "threshold": float(thr)}
m["per_raster"] = runs
json.dump(m, open(f"{out}/metrics.json", "w"), indent=1)
print(f"adapt: {cname} IoU {iou:.3f}, F1 {f1:.3f}, object F1 {of1:.3f}"
      + (f", point F1 {m['point_f1']:.3f} ({m['points_found']} of {m['points']} points)" if "point_f1" in m else ""), file=sys.stderr)
PY
else
	log "no --eval-labels: nothing to score"
fi
"$(dirname "$0")/report.sh" "$out"
log "outputs in $out: model, probs_*.tif, ${cname}s_*.gpkg$( [ ${#evl[@]} -gt 0 ] && echo ', errors_*.tif, metrics.json')"
log "report: $out/report.html"
