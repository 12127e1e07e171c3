#!/bin/bash
# pipelines/adapt.sh - the main job: train on labelled source imagery, adapt
# to unlabelled target imagery, map the target, and score the map when its
# labels are given. Stages (--stage N starts at N, --stop-stage M ends at M):
#   1 tile        source rasters with labels, target rasters, band statistics
#   2 train       critic-train (the method; --init starts from a model)
#   3 statistics  batch-norm statistics from the target tiles (adabn, --target-bn)
#   4 map         each --eval raster to class probabilities (probs_NAME.tif)
#   5 decide      the class of each pixel and the polygons (CLASSs_NAME.gpkg)
#   6 score       against --eval-labels (metrics.json), and the HTML report
# A later stage of a finished run (other labels, another decision, a raster
# to map) takes the run's own arguments again and --stage N.
#
# Inputs (any rasters GDAL reads, any label rasters or OGR vector sources):
#   --method M            source-only | adabn | selftrain | wdgrl | dsn | oracle
#                         (adabn: source-only, then the target's batch-norm statistics;
#                         selftrain: a mean teacher's pseudo-labels on the target). Default:
#                         selftrain keeping the source's batch-norm statistics (--train-opts
#                         --no-target-bn) on the bands the target has (--shared-bands), the
#                         best measured on the benchmark (docs/results.md)
#   --source IMG --source-labels LABELS   labelled source rasters (repeatable, in pairs)
#   --target IMG          unlabelled target rasters (repeatable); adaptation learns from them
#   --target-labels L     labels of the target rasters, read by the oracle only
#   --eval IMG [--eval-labels L]   rasters to map and score (default: the target rasters)
#   --eval-points P       point labels of each --eval raster (surveyed trees): a predicted
#                         object whose centre lies within 3 m of a point finds it (point F1)
#   --eval-lines L        reference centrelines of each --eval raster (roads): centreline
#                         completeness, correctness, F1 within 2 m and APLS (implies --centrelines)
#   --centrelines         class 1 is a line class (roads): vectorised as centrelines
#   --eval-crowns         point F1 from crown labels instead: the crown centres of the eval
#                         labels are the points, predicted trees are crown centres too
#   --gsd METRES          common ground sample distance (default: each raster's own)
#   --source-bands LIST [--source-band-names LIST]   bands read from the source rasters
#   --target-bands LIST [--target-band-names LIST]   bands read from target and eval rasters
#                         (e.g. 1,1,1 and red,green,blue: a panchromatic target as grey RGB)
#   --shared-bands        train and map on the bands the target has: a band constant over
#                         every --target raster (an RGB camera's missing near-infrared) is read
#                         from neither source nor target (pipelines/shared-bands.py; no labels
#                         read); only where neither --source-bands nor --target-bands is given.
#                         On without --method (--no-shared-bands turns it off)
#   --view-bands LIST     bands shown as red, green, blue in the report (default 1,2,3)
#   --class-name NAME     what class 1 is (building): names the polygons and the scores
#   --classes LIST        several classes in one model instead, e.g. building,tree,road:
#                         classes 1, 2, ... in that order (label rasters hold those codes;
#                         vector labels of a source of one class are burned with its code)
#   --source-classes LIST the classes the labels of each --source speak for (one per
#                         --source, in order; default every class): their 0 is "none of
#                         these", other classes stay unknown (partial labels)
#   --eval-classes LIST   the same for each --eval raster's labels: the classes scored on it
#   --label-class N       the class burned for vector labels (1)
#   --label-map V=C,...   label rasters recoded, training and scoring alike (2=0,...)
#   --decision RULE       argmax (default), share=F (the share F of the mapped pixels with
#                         the highest class probability is the class), source-share (F =
#                         the class's share of the training labels) or expected-iou (the
#                         threshold under which the maps' own probabilities expect the
#                         highest IoU: share-threshold --expected-iou); no target label
#                         chooses it
#   --flips N             mapping (stage 4): probabilities averaged over N flips of each
#                         tile, 1 (none), 2 or 4 (encode --flips)
#   --norm per-raster|per-domain   band statistics of each raster alone (default) or pooled
#   --init MODEL          start training from this model (selftrain: adapts from epoch 1)
#   --target-bn           wdgrl, dsn: the target's batch-norm statistics after training
#   --train-opts "OPTS"   more critic-train options, e.g. "--lambda 0.3 --select last"
#   --min-valid F         training tiles need this share of their pixels imaged (0.5)
#   --seed N (1) --epochs N (12) --tile N (128) --overlap N (32) --width N (16)
#   --batch N (8) --lr R (0.002) --class-weights W0,W1 (1,3) --threads N (0: all cores)
#   --out DIR             the run's folder: new or empty, or this run's at --stage 2 or later
#                         (--overwrite empties another run's folder first)
# Outputs in DIR: model, run.txt, train.jsonl, training.share, probs_NAME.tif,
# CLASSs_NAME.gpkg, errors_NAME.tif and eval_NAME.json (with labels), metrics.json
# (CLASS_iou, CLASS_f1, object_f1, per raster and pooled; the decision), report.html.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$here/bin}
[ -x "$BIN/tile" ] || BIN=$(cd "$here/../../bin" 2>/dev/null && pwd)	# installed: PREFIX/share/landshift -> PREFIX/bin
export GDAL_PAM_ENABLED=NO
method="" out="" gsd="" seed=1 epochs=12 tile=128 overlap=32 width=16 batch=8 lr=0.002 label_class=1 cw=1,3
norm=per-raster threads=0 decision=argmax target_bn=0 crowns=0 lmap="" tb="" tbn="" sb="" sbn="" cname=building vb=""
init="" topts="" shared="" stage=1 stop=6 overwrite=0 min_valid=0.5 centrelines=0 classes="" cw_given=0 flips=1
src=() srcl=() srcc=() tgt=() tgtl=() ev=() evl=() evp=() evline=() evc=()
cmdline=$(printf '%q ' "$0" "$@")	# for run.txt: the arguments are shifted away below
die() { echo "adapt: $*" >&2; exit 2; }
moved() { die "$1 is now --train-opts '$1 ${2:-VALUE}' (critic-train's option)"; }
while [ $# -gt 0 ]; do
	case $1 in
	--method) method=$2 ;; --out) out=$2 ;; --gsd) gsd=$2 ;; --seed) seed=$2 ;; --norm) norm=$2 ;;
	--source) src+=("$2") ;; --source-labels) srcl+=("$2") ;; --source-classes) srcc+=("$2") ;;
	--classes) classes=$2 ;; --eval-classes) evc+=("$2") ;;
	--target) tgt+=("$2") ;; --target-labels) tgtl+=("$2") ;;
	--eval) ev+=("$2") ;; --eval-labels) evl+=("$2") ;; --eval-points) evp+=("$2") ;; --eval-lines) evline+=("$2") ;;
	--epochs) epochs=$2 ;; --tile) tile=$2 ;; --overlap) overlap=$2 ;; --width) width=$2 ;;
	--batch) batch=$2 ;; --lr) lr=$2 ;; --label-class) label_class=$2 ;; --class-weights) cw=$2 cw_given=1 ;;
	--label-map) lmap=$2 ;; --target-bands) tb=$2 ;; --target-band-names) tbn=$2 ;;
	--source-bands) sb=$2 ;; --source-band-names) sbn=$2 ;; --class-name) cname=$2 ;;
	--view-bands) vb=$2 ;; --threads) threads=$2 ;; --decision) decision=$2 ;;
	--flips) flips=$2 ;; --init) init=$2 ;; --train-opts) topts=$2 ;; --min-valid) min_valid=$2 ;; --stage) stage=$2 ;; --stop-stage) stop=$2 ;;
	--eval-crowns) crowns=1; shift; continue ;;
	--centrelines) centrelines=1; shift; continue ;;
	--target-bn) target_bn=1; shift; continue ;;
	--shared-bands) shared=1; shift; continue ;;
	--no-shared-bands) shared=0; shift; continue ;;
	--overwrite) overwrite=1; shift; continue ;;
	--score-only) die "--score-only is now --stage 5 (decide, vectorise and score the run's maps again)" ;;
	--map-only) die "--map-only is now --stage 3 (the run's model: target statistics, then map and score)" ;;
	--lambda|--n-critic|--critic-level|--critic-features|--adapt-warmup|--alpha|--beta|--similarity|--select|--epoch-steps) moved "$1" "$2" ;;
	--lambda-schedule|--critic-patch|--importance-weighted|--target-prior|--bn-per-domain)
		die "$1 was retired: it did not help on any pair (docs/results.md)" ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift 2 || die "$1 needs a value"
done
[ -n "$out" ] || die "--out is required (see --help)"
method_default=0
if [ -z "$method" ]; then	# the best measured on the benchmark for an unlabelled target (docs/results.md)
	method=selftrain method_default=1
	[[ " $topts " == *" --no-target-bn "* ]] || topts="--no-target-bn${topts:+ $topts}"
fi
case $method in source-only|adabn|oracle|selftrain|wdgrl|dsn) ;; *) die "unknown --method $method (source-only, adabn, selftrain, wdgrl, dsn or oracle)" ;; esac
[ "$target_bn" = 0 ] || [ "$method" = wdgrl ] || [ "$method" = dsn ] ||
	die "--target-bn is for wdgrl and dsn (source-only with it is --method adabn; selftrain's model has them)"
[ "$method" = adabn ] && target_bn=1	# adabn: source-only, then the target's statistics
[ ${#src[@]} -gt 0 ] && [ ${#src[@]} -eq ${#srcl[@]} ] || die "give --source and --source-labels in pairs"
[ ${#tgt[@]} -gt 0 ] || die "give at least one --target raster"
[[ $threads =~ ^[0-9]+$ ]] || die "--threads must be a number of threads (0: all cores), not '$threads'"
[[ $stage =~ ^[1-6]$ ]] && [[ $stop =~ ^[1-6]$ ]] && [ "$stage" -le "$stop" ] || die "--stage and --stop-stage are 1 to 6, the first not after the second"
[[ $cname =~ ^[A-Za-z0-9_-]+$ ]] || die "--class-name must be letters, digits, _ or -, not '$cname'"
case $norm in per-raster|per-domain) ;; *) die "--norm must be per-raster or per-domain" ;; esac
# several classes: class c of the model is the c-th name; codes NAME,NAME -> 1,3
code_of() {
	local n=$1 i=1 c
	IFS=, read -ra CL <<<"$classes"
	for c in "${CL[@]}"; do [ "$c" = "$n" ] && { echo "$i"; return; }; i=$((i + 1)); done
	die "class '$n' is not one of --classes $classes"
}
codes_of() { local c out=""; IFS=, read -ra CS <<<"$1"; for c in "${CS[@]}"; do out+=${out:+,}$(code_of "$c"); done; echo "$out"; }
vec=${cname}s	# the GeoPackage's name: buildings_NAME.gpkg, or map_NAME.gpkg for several classes
if [ -n "$classes" ]; then
	[[ $classes =~ ^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$ ]] || die "--classes must be names (letters, digits, _ or -) separated by commas, not '$classes'"
	IFS=, read -ra CL <<<"$classes"
	[ "$(printf '%s\n' "${CL[@]}" | sort -u | wc -l)" = ${#CL[@]} ] || die "--classes $classes names a class twice"
	[ ${#srcc[@]} -eq 0 ] || [ ${#srcc[@]} -eq ${#src[@]} ] || die "give one --source-classes per --source (or none: every class)"
	for l in "${srcc[@]}" "${evc[@]}"; do codes_of "$l" >/dev/null; done
	[ "$decision" = argmax ] || die "--classes: the decision is the most probable class (argmax)"
	[ ${#evp[@]} -eq 0 ] && [ "$crowns" = 0 ] || die "--classes: point scores (--eval-points, --eval-crowns) are for one class"
	[ "$cw_given" = 1 ] || cw=1$(printf ',3%.0s' "${CL[@]}")
	cname=$classes vec=map
elif [ ${#srcc[@]} -gt 0 ] || [ ${#evc[@]} -gt 0 ]; then
	die "--source-classes and --eval-classes name classes of --classes"
fi
[ -z "$init" ] || [ -f "$init" ] || die "--init: $init does not exist"
case $flips in 1|2|4) ;; *) die "--flips must be 1, 2 or 4, not '$flips'" ;; esac
share=""
case $decision in
argmax|source-share|expected-iou) ;;
share=*) share=${decision#share=}
	/usr/bin/python3 -c 'import sys; f = float(sys.argv[1]); sys.exit(not 0 < f < 1)' "$share" 2>/dev/null ||
		die "--decision share=F needs a share above 0 and below 1, not '$share'" ;;
*) die "--decision must be argmax, share=F, source-share or expected-iou, not '$decision'" ;;
esac
[ ${#ev[@]} -gt 0 ] || ev=("${tgt[@]}")
[ ${#evc[@]} -eq 0 ] || [ ${#evc[@]} -eq ${#ev[@]} ] || die "give one --eval-classes per --eval raster (or none: every class)"
[ ${#evl[@]} -eq 0 ] || [ ${#evl[@]} -eq ${#ev[@]} ] || die "give one --eval-labels per --eval raster"
[ ${#evp[@]} -eq 0 ] || { [ ${#evp[@]} -eq ${#ev[@]} ] && [ ${#evl[@]} -gt 0 ]; } || die "give one --eval-points per --eval raster, with --eval-labels"
[ ${#evline[@]} -eq 0 ] || { [ ${#evline[@]} -eq ${#ev[@]} ] && [ ${#evl[@]} -gt 0 ]; } || die "give one --eval-lines per --eval raster, with --eval-labels"
[ ${#evline[@]} -eq 0 ] || centrelines=1
[ "$crowns" = 0 ] || { [ ${#evl[@]} -gt 0 ] && [ ${#evp[@]} -eq 0 ]; } || die "--eval-crowns takes the points from --eval-labels rasters: give those, and no --eval-points"
if [ "$method" = oracle ]; then [ ${#tgtl[@]} -eq ${#tgt[@]} ] || die "oracle needs one --target-labels per --target"; fi
# one name per eval raster, unique: the second a.tif of another folder is a_2
names=()
for i in "${!ev[@]}"; do
	n=$(basename "${ev[$i]}"); n=${n%.*}; n=${n//[^A-Za-z0-9_.-]/_}; k=$n j=2
	while printf '%s\n' "${names[@]}" | grep -qxF -- "$k"; do k=${n}_$j; j=$((j + 1)); done
	names+=("$k")
done
read -ra TOPTS <<<"$topts"
for o in "${TOPTS[@]}"; do
	case $o in --model|--source|--target|--method|--metrics|--init|--epochs|--seed) die "--train-opts: $o is adapt.sh's own (give it to adapt.sh)" ;; esac
done
if [ "$stage" = 1 ]; then	# a fresh run: its own folder
	if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
		[ "$overwrite" = 1 ] || die "--out $out is not empty (another run's folder?): give an empty one, --stage N to go on with this run, or --overwrite"
		[ -f "$out/run.txt" ] || die "--overwrite empties only a run's folder (with run.txt): $out is not one"
		find "$out" -mindepth 1 -delete
	fi
	mkdir -p "$out"
else
	[ -f "$out/run.txt" ] || die "--stage $stage goes on with a run: $out/run.txt is missing (start at stage 1)"
fi
[ "$stage" -gt 2 ] && [ "$stop" -ge 3 ] && { [ -f "$out/model" ] || die "--stage $stage: $out/model is missing (train it first: stage 2)"; }
# the bands the target has (default on without --method): a band constant
# over every target raster is read from neither domain
[ -n "$shared" ] || shared=$method_default
if [ "$shared" = 1 ] && [ -z "$sb$tb" ]; then
	keep=$(/usr/bin/python3 "$here/pipelines/shared-bands.py" "${tgt[@]}") || exit 2	# it named the raster
	if [ -n "$keep" ]; then
		sb=$keep tb=$keep
		[ "$stage" -gt 1 ] || echo "adapt: a band of the target is constant over every --target raster: source and target read at bands $keep alone (--no-shared-bands reads every band)" >&2
	fi
fi
G=(); [ -n "$gsd" ] && G=(--gsd "$gsd")
TB=(); [ -n "$tb" ] && TB=(--bands "$tb"); [ -n "$tbn" ] && TB+=(--band-names "$tbn")
SB=(); [ -n "$sb" ] && SB=(--bands "$sb"); [ -n "$sbn" ] && SB+=(--band-names "$sbn")
log() { echo "adapt: $*" >&2; }
runs() { [ "$stage" -le "$1" ] && [ "$1" -le "$stop" ]; }
[ "$method_default" = 0 ] || [ "$stage" -gt 2 ] ||
	log "no --method: selftrain keeping the source's batch-norm statistics, the best measured on the benchmark (docs/results.md)"

if [ "$stage" = 1 ]; then	# what the report shows: the command and every setting
	{
		echo "command $cmdline"
		echo "method $method"
		for i in "${!src[@]}"; do echo "source ${src[$i]} (labels ${srcl[$i]})"; done
		for i in "${!tgt[@]}"; do echo "target ${tgt[$i]}"; done
		echo "gsd ${gsd:-native}"
		[ -n "$sb" ] && echo "source-bands $sb${sbn:+ ($sbn)}"
		[ -n "$tb" ] && echo "target-bands $tb${tbn:+ ($tbn)}"
		[ -n "$lmap" ] && echo "label-map $lmap"
		[ -n "$vb" ] && echo "view-bands $vb"
		echo "seed $seed"
		echo "training epochs $epochs, tile $tile, overlap $overlap, width $width, batch $batch, lr $lr, class weights $cw${topts:+, $topts}"
		[ -n "$init" ] && echo "init $init"
		echo "normalisation $norm"
		[ "$threads" = 0 ] || echo "threads $threads"
		[ "$target_bn" = 0 ] || [ "$method" = adabn ] || echo "target-bn batch-norm statistics re-estimated on the target tiles after training"
		echo "started $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
	} >"$out/run.txt"
else
	echo "stage $stage $(date -u +%Y-%m-%dT%H:%M:%SZ): $cmdline" >>"$out/run.txt"
fi
for i in "${!ev[@]}"; do	# rasters new to the run (the report's quick-looks)
	grep -q "^eval ${names[$i]} " "$out/run.txt" || echo "eval ${names[$i]} ${ev[$i]}" >>"$out/run.txt"
done
if runs 6; then
	for i in "${!evl[@]}"; do echo "eval-labels ${evl[$i]}"; done >>"$out/run.txt"
	for i in "${!evp[@]}"; do echo "eval-points ${evp[$i]}"; done >>"$out/run.txt"
	[ ${#evline[@]} -eq 0 ] || { [ ${#evline[@]} -eq ${#ev[@]} ] && [ ${#evl[@]} -gt 0 ]; } || die "give one --eval-lines per --eval raster, with --eval-labels"
[ ${#evline[@]} -eq 0 ] || centrelines=1
[ "$crowns" = 0 ] || echo "eval-points crown centres of the eval labels" >>"$out/run.txt"
fi

# tile_domain DOMAIN IMG [LABELS] K [CODES]: append IMG's tiles to DOMAIN.frames and,
# per raster, fit its statistics and append its normalised tiles
tile_domain() {
	local dom=$1 img=$2 lab=${3:-} k=$4 lc=${5:-} L=() B=() one=$label_class
	[ "$dom" = target ] && B=("${TB[@]}")
	[ "$dom" = source ] && B=("${SB[@]}")
	[[ $lc =~ ^[0-9]+$ ]] && one=$lc	# the labels of one class: vector labels burned with its code
	[ -n "$lab" ] && L=(--labels "$lab" --class "$one")
	[ -n "$lab" ] && [ -n "$lc" ] && L+=(--label-classes "$lc")
	[ -n "$lab" ] && [ -n "$lmap" ] && L+=(--label-map "$lmap")
	"$BIN"/tile --quiet --size "$tile" --overlap "$overlap" "${G[@]}" --domain "$dom" --min-valid "$min_valid" "${B[@]}" "${L[@]}" \
		"$img" >"$out/$dom.$k.frames"
	if [ "$norm" = per-raster ]; then
		"$BIN"/normalise-bands --fit "$out/$dom.$k.stats" <"$out/$dom.$k.frames"
		"$BIN"/normalise-bands --stats "$out/$dom.$k.stats" <"$out/$dom.$k.frames" >>"$out/$dom.norm.frames"
	fi
	cat "$out/$dom.$k.frames" >>"$out/$dom.frames"
	rm -f "$out/$dom.$k.frames" "$out/$dom.$k.stats"
}
tile_targets() {	# the target tiles (with labels for the oracle), normalised as in training
	: >"$out/target.frames"; : >"$out/target.norm.frames"
	for i in "${!tgt[@]}"; do
		lab=""; [ "$method" = oracle ] && lab=${tgtl[$i]}
		tile_domain target "${tgt[$i]}" "$lab" "$i"
	done
	[ -f "$out/target.stats" ] || "$BIN"/normalise-bands --fit "$out/target.stats" <"$out/target.frames"
	[ "$norm" = per-domain ] && "$BIN"/normalise-bands --stats "$out/target.stats" <"$out/target.frames" >"$out/target.norm.frames"
	rm -f "$out/target.frames"
}

if runs 1; then
	log "[1/6] tiling ${#src[@]} source and ${#tgt[@]} target raster(s) (statistics $norm)"
	: >"$out/source.frames"; : >"$out/source.norm.frames"
	for i in "${!src[@]}"; do
		lc=""; [ ${#srcc[@]} -gt 0 ] && lc=$(codes_of "${srcc[$i]}")
		tile_domain source "${src[$i]}" "${srcl[$i]}" "$i" "$lc"
	done
	"$BIN"/normalise-bands --fit "$out/source.stats" <"$out/source.frames"
	[ "$norm" = per-domain ] && "$BIN"/normalise-bands --stats "$out/source.stats" <"$out/source.frames" >"$out/source.norm.frames"
	rm -f "$out/target.stats"
	tile_targets
	# the class's share of the training labels (source-share): pixels of
	# overlapping tiles count once per tile, unlabelled ones not at all
	trainf=$out/source.norm.frames; [ "$method" = oracle ] && trainf=$out/target.norm.frames
	[ -n "$classes" ] || "$BIN"/frame-info --quiet --no-stats "$trainf" | /usr/bin/python3 -c '
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
	rm -f "$out/source.frames"
fi

if runs 2; then
	log "[2/6] training ($method, $epochs epochs)"
	[ -s "$out/source.norm.frames" ] || die "stage 2: $out/source.norm.frames is missing (tile first: stage 1)"
	train=(--source "$out/source.norm.frames" --method source-only)
	[ "$method" = oracle ] && train=(--source "$out/target.norm.frames" --method oracle)
	case $method in selftrain|wdgrl|dsn) train=(--source "$out/source.norm.frames" --target "$out/target.norm.frames" --method "$method") ;; esac
	[ -n "$init" ] && train+=(--init "$init" --adapt-warmup 0)
	case $method:" $topts " in source-only:*" --fda "*) train+=(--target "$out/target.norm.frames") ;; esac	# FDA's target tiles
	K=(); [ -n "$classes" ] && K=(--classes $(( ${#CL[@]} + 1 )))
	"$BIN"/critic-train --model "$out/model" "${train[@]}" "${K[@]}" --epochs "$epochs" --batch "$batch" --lr "$lr" --width "$width" \
		--seed "$seed" --class-weights "$cw" --class-names "background,$cname" --metrics "$out/train.jsonl" --threads "$threads" "${TOPTS[@]}"
	rm -f "$out/model.ckpt"
fi

if runs 3 && [ "$target_bn" = 1 ]; then
	[ -s "$out/target.norm.frames" ] || tile_targets	# a finished run: the targets again
	log "[3/6] batch-norm statistics re-estimated on the target tiles"
	ST=(); [ "$method" = adabn ] && ST=(--stem source)	# the source-only model's stem, whatever the frames' domain
	"$BIN"/adapt-bn --quiet --threads "$threads" --model "$out/model" --out "$out/model" "${ST[@]}" <"$out/target.norm.frames"
	echo "target-bn batch-norm statistics re-estimated on the target tiles" >>"$out/run.txt"
fi
[ "$stop" -lt 3 ] || rm -f "$out/source.norm.frames" "$out/target.norm.frames"

if runs 4; then
	log "[4/6] mapping ${#ev[@]} raster(s)"
	[ "$flips" = 1 ] || { log "each tile averaged over $flips flips"; echo "flips $flips" >>"$out/run.txt"; }
	for i in "${!ev[@]}"; do
		name=${names[$i]} stats=$out/target.stats
		if [ "$norm" = per-raster ]; then	# the raster's own statistics (no labels are read)
			stats=$out/eval_$name.stats
			"$BIN"/tile --quiet --size "$tile" --overlap "$overlap" "${G[@]}" "${TB[@]}" --domain target "${ev[$i]}" |
				"$BIN"/normalise-bands --fit "$stats"
		fi
		"$BIN"/tile --quiet --size "$tile" --overlap "$overlap" "${G[@]}" "${TB[@]}" --domain target "${ev[$i]}" |
			"$BIN"/normalise-bands --stats "$stats" |
			"$BIN"/encode --threads "$threads" --model "$out/model" --decode --flips "$flips" |
			"$BIN"/stitch --quiet "$out/probs_$name.tif"
	done
fi

CT=() thr=""
if runs 5 || runs 6; then
	# the decision: the most probable class, or a threshold on the class's
	# probability that calls the given share of all the mapped pixels the
	# class, or under which all the maps' probabilities expect the best IoU
	for n in "${names[@]}"; do [ -f "$out/probs_$n.tif" ] || die "stage $stage: $out/probs_$n.tif is missing (map it first: stage 4)"; done
	if [ "$decision" != argmax ]; then
		probs=(); for n in "${names[@]}"; do probs+=("$out/probs_$n.tif"); done
		if [ "$decision" = expected-iou ]; then
			thr=$("$BIN"/share-threshold --quiet --expected-iou --class "$label_class" "${probs[@]}")
		else
			[ -n "$share" ] || share=$(cat "$out/training.share" 2>/dev/null) || die "--decision source-share: $out/training.share is missing"
			thr=$("$BIN"/share-threshold --quiet --share "$share" --class "$label_class" "${probs[@]}")
		fi
		CT=(--class-threshold "$label_class=$thr")
	fi
fi
if runs 5; then
	log "[5/6] deciding ($decision${thr:+: $cname where its probability is $thr or more}) and vectorising"
	echo "decision $decision${thr:+: ${share:+share $share, }threshold $thr}" >>"$out/run.txt"
	for name in "${names[@]}"; do
		LN=() VC=$label_class
		[ -n "$classes" ] && VC=$(codes_of "$classes")
		if [ "$centrelines" = 1 ]; then	# several classes: the one named road
			LN=(--lines "$label_class")
			[ -n "$classes" ] && LN=(--lines "$(code_of road)")
		fi
		"$BIN"/vectorise --quiet --classes "$VC" --class-names "background,$cname" --min-area 4 --simplify 0.25 "${CT[@]}" \
			"${LN[@]}" "$out/probs_$name.tif" "$out/${vec}_$name.gpkg"
	done
fi

if runs 6 && [ ${#evl[@]} -gt 0 ]; then
	log "[6/6] scoring"
	for i in "${!ev[@]}"; do
		RM=(); [ -n "$lmap" ] && RM=(--ref-map "$lmap")
		rc=$label_class	# several classes: the first its labels speak for (vector labels, objects)
		if [ -n "$classes" ]; then
			ec=$classes; [ ${#evc[@]} -gt 0 ] && ec=${evc[$i]}
			codes_of "$ec" >"$out/eval_${names[$i]}.classes"
			rc=$(cut -d, -f1 "$out/eval_${names[$i]}.classes")
			RM+=(--object-class "$rc")
		fi
		[ ${#evp[@]} -gt 0 ] && RM+=(--points "${evp[$i]}" --point-class "$label_class" --match-distance 3)
		[ ${#evline[@]} -gt 0 ] && RM+=(--lines "$out/${vec}_${names[$i]}.gpkg" --ref-lines "${evline[$i]}")
		[ "$crowns" = 1 ] && RM+=(--crown-points --point-class "$label_class" --match-distance 3)
		# the objects scored are the polygons delivered (stage 5), when there
		[ "$crowns" != 1 ] && [ "$centrelines" = 0 ] && [ -f "$out/${vec}_${names[$i]}.gpkg" ] && RM+=(--objects "$out/${vec}_${names[$i]}.gpkg")
		"$BIN"/evaluate --quiet --ref "${evl[$i]}" --ref-class "$rc" "${RM[@]}" "${CT[@]}" --class-names "background,$cname" \
			--errors "$out/errors_${names[$i]}.tif" "$out/probs_${names[$i]}.tif" >"$out/eval_${names[$i]}.json"
	done
	/usr/bin/python3 "$here/pipelines/pool-metrics.py" "$out" "$method" "$cname" "$decision" "$share" "$thr" "${names[@]}"
elif runs 6; then
	log "no --eval-labels: nothing to score"
fi
if runs 6; then
	"$here/pipelines/report.sh" "$out"
	log "outputs in $out: model, probs_*.tif, ${vec}_*.gpkg$( [ ${#evl[@]} -gt 0 ] && echo ', errors_*.tif, metrics.json')"
	log "report: $out/report.html"
fi
