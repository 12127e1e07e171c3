#!/bin/bash
# pipelines/experiments.sh - the adaptation experiments (make experiments):
# every domain pair x method x seed through pipelines/adapt.sh, then one
# table of the target IoU of the pair's class (buildings; trees for
# naip-zurich), mean and spread over seeds, the share
# of the source-only-to-oracle gap each adapted method closes, and the
# critic's W estimate (each seed's mean over its steps, the share of steps
# below zero) that the adapted methods logged in train.jsonl.
#
# Each target scene is split: the western part is the target the adapted
# methods learn from without labels (and the oracle learns from with
# labels); the eastern part is mapped and scored, and no method ever sees
# its tiles in training. The tree scene is too small for that: there every
# method is scored on the whole labelled scene and the oracle is
# cross-fitted (see naip-zurich below).
#
# Environment:
#   PAIRS    "rio-atlanta atlanta-pan rio-kampala naip-zurich" (the default: the four
#            pairs of issue 5); atlanta-zurich (buildings) is a fifth on request
#   METHODS  "source-only adabn wdgrl dsn oracle"
#   SEEDS    seeds of every run; unset, each pair's own: 1 2 3, and 1 to 6 for
#            atlanta-pan (14 scored houses: three seeds could not tell its methods apart)
#            and naip-zurich (source-only's three seeds spread as wide as every
#            adapted method's gain)
#   EPOCHS   training epochs of every run; unset, each pair's own: 40 for the
#            building pairs, 20 for naip-zurich (the lengths of the README table)
#   OUT      out/experiments; a run whose metrics.json exists is not run again,
#            so an interrupted sweep continues where it stopped
#   RESULTS  docs/experiments: each finished run's small files (metrics.json,
#            train.jsonl, run.txt, seconds) are kept here, in the repository,
#            and a run found here is not run again (its files are copied into
#            OUT), so a sweep spread over several machines and days adds up;
#            results.md, results.json and the curve PNGs are copied here too
#   DATA     ../shared/data
#   JOBS     runs at a time (1); with more, GNU Parallel runs them side by side,
#            e.g. JOBS=2 on 2 cores; each run gets THREADS threads
#   THREADS  threads of each run (default: the cores divided by JOBS)
#   EXTRA    more adapt.sh options for every run of this sweep (a variant), e.g.
#            "--critic-level output --lambda 1"; give it a TAG
#   RESCORE  1: score the finished runs still in OUT again with the pairs' current
#            evaluation (e.g. a point score added, a larger area mapped, the
#            oracle cross-fitted), JOBS at a time, before running the rest
#   TAG      appended to each method's name in OUT, RESULTS and the table (e.g.
#            TAG=+output stores runs as wdgrl+output), so variants stand side by side
#   FROM     a method folder of OUT (e.g. dsn+skips-a001): each run is not trained but
#            made from FROM's run of its pair and seed, whose model it maps again
#            (adapt.sh --map-only with EXTRA): EXTRA=--target-bn re-estimates the
#            batch-norm statistics on the target, METHODS=adabn FROM=source-only
#            makes AdaBN from source-only runs. Its seconds are FROM's plus its own;
#            FROM's are kept in reused_seconds, so the table's total counts them once
# Budget: every method of a pair trains the same epochs; an epoch is one pass over the
# source tiles, and for the oracle (whose target tiles are few) as many
# steps as the pair's source-only run takes in one, so source-only runs
# before the oracle (METHODS lists it first).
# Outputs: OUT/PAIR/METHOD/seedN/ (adapt.sh's outputs and the run's seconds),
# OUT/results.json, OUT/results.md (the table README quotes) and
# OUT/report.html (pipelines/experiments-report.sh: the table, training
# curves of every method per pair, links to each run's report).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$(cd "${DATA:-../shared/data}" && pwd)	# absolute: the scene VRTs name their source
OUT=${OUT:-out/experiments}
RESULTS=${RESULTS:-docs/experiments}
PAIRS=${PAIRS:-rio-atlanta atlanta-pan rio-kampala naip-zurich}
METHODS=${METHODS:-source-only adabn wdgrl dsn oracle}
SEEDS=${SEEDS:-}
EPOCHS=${EPOCHS:-}
EXTRA=${EXTRA:-} TAG=${TAG:-} FROM=${FROM:-}
JOBS=${JOBS:-1}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "experiments: JOBS must be a number of runs at a time, not '$JOBS'" >&2; exit 2; }
THREADS=${THREADS:-$(( $(nproc) / JOBS > 0 ? $(nproc) / JOBS : 1 ))}
[[ $TAG =~ ^[A-Za-z0-9+=_-]*$ ]] || { echo "experiments: TAG may hold letters, digits and + = _ - only, not '$TAG'" >&2; exit 2; }
[ -z "$EXTRA" ] || [ -n "$TAG" ] || { echo "experiments: EXTRA needs a TAG, so the variant's runs do not mix with the defaults'" >&2; exit 2; }
export GDAL_PAM_ENABLED=NO
mkdir -p "$OUT/scenes"
S=$OUT/scenes
A=$DATA/atlanta_sn4 K=$DATA/kampala_oam Z=$DATA/zurich_lidar N=$DATA/naip_trees

# west/east split of a raster as two VRTs, the western part the fraction
# N/D of its width (2/3 unless given): split IMG NAME [N/D]
split() {
	local w h f=${3:-2/3}
	read -r w h < <(gdalinfo "$1" | awk '/^Size is/ {gsub(",", ""); print $3, $4}')
	local cut=$((w * ${f%/*} / ${f#*/}))
	[ -f "$S/$2_west.vrt" ] || gdal_translate -q -of VRT -srcwin 0 0 "$cut" "$h" "$1" "$S/$2_west.vrt"
	[ -f "$S/$2_east.vrt" ] || gdal_translate -q -of VRT -srcwin "$cut" 0 $((w - cut)) "$h" "$1" "$S/$2_east.vrt"
}

# seeds PAIR: its seeds, SEEDS when set
seeds() {
	if [ -n "$SEEDS" ]; then echo "$SEEDS"; return; fi
	case $1 in atlanta-pan | naip-zurich) echo 1 2 3 4 5 6 ;; *) echo 1 2 3 ;; esac
}

# epochs PAIR: its training length, EPOCHS when set
epochs() {
	if [ -n "$EPOCHS" ]; then echo "$EPOCHS"; return; fi
	case $1 in naip-zurich) echo 20 ;; *) echo 40 ;; esac
}

# keep DIR RES: a finished run's small files into RESULTS
keep() {
	[ -f "$2/metrics.json" ] && return 0
	mkdir -p "$2"
	local f
	for f in fold2/train.jsonl fold2/run.txt fold2/seconds fold2/metrics.json train.jsonl run.txt seconds reused_seconds metrics.json; do	# metrics.json last: it marks the run done
		[ ! -f "$1/$f" ] || { mkdir -p "$(dirname "$2/$f")" && cp "$1/$f" "$2/$f"; }
	done
}

# source_steps PAIR: optimiser steps in an epoch of the pair's source-only
# run. The oracle trains on the target's few labelled tiles; an epoch over
# them is a handful of steps (one on Kampala against 34), so it is given the
# source-only run's steps an epoch: the same budget in steps, not in passes.
source_steps() {
	local f
	for f in "$OUT/$1/source-only$TAG"/seed*/train.jsonl "$RESULTS/$1/source-only$TAG"/seed*/train.jsonl \
		"$OUT/$1/source-only"/seed*/train.jsonl "$RESULTS/$1/source-only"/seed*/train.jsonl; do	# the variant's own first
		[ -f "$f" ] || continue
		head -n 1 "$f" | grep -o '"step":[0-9]*' | cut -d: -f2
		return 0
	done
	echo "experiments: $1: the oracle's budget is the source-only run's steps an epoch; run source-only on $1 first" >&2
	return 1
}

rio=()
for img in "$DATA"/rio_sn1/images/*.tif; do
	rio+=(--source "$img" --source-labels "$DATA/rio_sn1/masks/$(basename "$img")")
done
naip=()
for img in "$N"/images/*.tif; do
	naip+=(--source "$img" --source-labels "$N/masks/$(basename "$img")")
done

# pair NAME METHOD: sets args (source, target, eval, options) for adapt.sh.
# A pair whose oracle is cross-fitted also sets fold2 (the second model: the
# target's other part trained on, the first part mapped) and scoring (the
# run's maps of both parts, scored together).
pair() {
	fold2=() scoring=()
	case $1 in
	rio-atlanta)	# same satellite family, another country
		split "$A/rgb_nadir10.tif" atl_rgb
		args=("${rio[@]}" --target "$S/atl_rgb_west.vrt" --target-labels "$A/rgb_nadir10_buildings.geojson"
			--eval "$S/atl_rgb_east.vrt" --eval-labels "$A/rgb_nadir10_buildings.geojson" --gsd 0.5) ;;
	atlanta-pan)	# modality: 3 x 8-bit RGB to 1 x 16-bit panchromatic. Every
		# method reads the pan band as grey R, G, B through the stem it shares
		# with the source (each raster normalised with its own statistics), so
		# that the methods differ in training alone. TAG=+own-stem gives the
		# adapted methods and the oracle a 1-band target stem of their own
		# instead (critic-train's per-domain stems), the design of stop 12.
		split "$A/pan.tif" atl_pan
		args=(--source "$A/rgb_nadir10.tif" --source-labels "$A/rgb_nadir10_buildings.geojson"
			--target "$S/atl_pan_west.vrt" --target-labels "$A/pan_buildings.geojson"
			--eval "$S/atl_pan_east.vrt" --eval-labels "$A/pan_buildings.geojson" --gsd 0.5)
		case $TAG:$2 in +own-stem:wdgrl|+own-stem:dsn|+own-stem:oracle) ;;
		*) args+=(--target-bands 1,1,1 --target-band-names red,green,blue) ;; esac
		true ;;
	rio-kampala)	# satellite to drone, Brazil and the USA to Uganda: Rio + Atlanta RGB (0.5 m) to
		# Kampala drone imagery (0.3 m, resampled to 0.5 m). The data's z19.vrt
		# has R, G, B only: the PNG tiles' alpha is lost, so its empty areas
		# (85 % of the extent) would read as black imagery and be trained on
		# and scored. The scene is rebuilt from the zoom-19 tiles with their
		# alpha, which tile takes as the mask. Its imagery is a 3 x 2 block of
		# tiles in the north-east and one tile in the south-west; the cut at
		# 5/6 of the width leaves 261 000 imaged pixels west, 195 000 east.
		[ -f "$S/kampala_z19.vrt" ] || gdalbuildvrt -q -a_srs EPSG:3857 "$S/kampala_z19.vrt" "$K"/tiles/*-19.png	# the CRS is in the tiles' .aux.xml, which PAM off does not read
		split "$S/kampala_z19.vrt" kampala 5/6
		args=("${rio[@]}" --source "$A/rgb_nadir10.tif" --source-labels "$A/rgb_nadir10_buildings.geojson"
			--target "$S/kampala_west.vrt" --target-labels "$K/buildings.geojson"
			--eval "$S/kampala_east.vrt" --eval-labels "$K/buildings.geojson" --gsd 0.5) ;;
	naip-zurich)	# trees: NAIP aerial R, G, B, NIR at 0.6 m over California to a Swiss
		# RGB orthophoto at 0.5 m, scored on the LiDAR tree class (no LiDAR: not
		# scored). The NAIP labels are discs of 2.4 m around surveyed trees,
		# LiDAR's are whole crowns. The target has no near-infrared band, so
		# every method trains on NAIP's R, G, B and source and target share
		# one input stem (a target stem of its own, trained by the adversarial
		# term alone, found no tree at all: 0.000 IoU with WDGRL, stop 12).
		# The scene is small and its trees lie in its south-west (13 293 tree
		# pixels, 2/3 of them in the western third; the east is mostly lake),
		# so every method is scored on the whole labelled scene: the western
		# third is the adapted methods' unlabelled target, mapped as a mapper
		# would map the imagery adapted to; the oracle is cross-fitted, one
		# model trained on each part's labels mapping the other (fold2 below).
		split "$Z/rgb_full.tif" zurich_third 1/3
		local zw=$S/zurich_third_west.vrt ze=$S/zurich_third_east.vrt zl=$Z/labels_full.tif
		local opts=(--label-map "1=0,2=1" --class-name tree --norm per-domain --gsd 0.5 --source-bands 1,2,3 --eval-crowns)
		args=("${naip[@]}" --target "$zw" --target-labels "$zl" --eval "$zw" --eval-labels "$zl" --eval "$ze" --eval-labels "$zl" "${opts[@]}")
		if [ "$2" = oracle ]; then
			args=("${naip[@]}" --target "$zw" --target-labels "$zl" --eval "$ze" --eval-labels "$zl" "${opts[@]}")
			# the second fold's validation area, the eastern fifth of its raster, is
			# open lake holding 13 tree pixels: its IoU is 0 at every epoch and
			# cannot choose one, its loss can
			fold2=("${naip[@]}" --target "$ze" --target-labels "$zl" --eval "$zw" --eval-labels "$zl" "${opts[@]}" --select val-loss)
			scoring=("${naip[@]}" --target "$zw" --target-labels "$zl" --eval "$zw" --eval-labels "$zl" --eval "$ze" --eval-labels "$zl" "${opts[@]}")
		fi ;;
	atlanta-zurich)	# WorldView-2 over the USA to an aerial orthophoto of Switzerland
		split "$Z/rgb_full.tif" zurich_third 1/3
		args=(--source "$A/rgb_nadir10.tif" --source-labels "$A/rgb_nadir10_buildings.geojson"
			--target "$S/zurich_third_west.vrt" --target-labels "$Z/labels_full.tif"
			--eval "$S/zurich_third_east.vrt" --eval-labels "$Z/labels_full.tif" --label-map 2=0 --gsd 0.5) ;;
	*) echo "experiments: unknown pair $1" >&2; exit 2 ;;
	esac
}

# train DIR LOG WHAT ADAPT-ARGS...: one adapt.sh run into a fresh DIR on
# THREADS threads, stderr in LOG, its wall-clock seconds in DIR/seconds
train() {
	local dir=$1 log=$2 what=$3 t0; shift 3
	rm -rf "$dir"
	t0=$(date +%s)
	pipelines/adapt.sh "$@" --threads "$THREADS" --out "$dir" 2>"$log" ||
		{ echo "experiments: $what failed, see $log" >&2; return 1; }
	echo $(( $(date +%s) - t0 )) >"$dir/seconds"
	rm -f "$dir"/*.frames
}

# remap_one PAIR METHOD SEED: the run made from FROM's (see FROM above)
remap_one() {
	local p=$1 m=$2 s=$3 dir res from=$OUT/$1/$FROM/seed$3 f t0
	pair "$p" "$m"
	dir=$OUT/$p/$m$TAG/seed$s res=$RESULTS/$p/$m$TAG/seed$s
	[ "$m$TAG" != "$FROM" ] || { echo "experiments: FROM=$FROM would remap its own runs: give a TAG or another method" >&2; return 1; }
	[ ${#fold2[@]} -eq 0 ] || { echo "experiments: FROM does not remap a cross-fitted oracle" >&2; return 1; }
	[ -f "$from/model" ] && [ -f "$from/seconds" ] ||
		{ echo "experiments: $p $m$TAG seed $s: $from holds no finished run with its model" >&2; return 1; }
	echo "experiments: $p $m$TAG seed $s from $FROM's model ($THREADS thread(s))" >&2
	rm -rf "$dir" && mkdir -p "$dir"
	for f in model run.txt train.jsonl seconds source.stats target.stats training.share; do
		[ ! -f "$from/$f" ] || cp "$from/$f" "$dir/"
	done
	t0=$(date +%s)
	# shellcheck disable=SC2086 # EXTRA is a list of options
	pipelines/adapt.sh --method "$m" "${args[@]}" $EXTRA --seed "$s" --epochs "$(epochs "$p")" --threads "$THREADS" \
		--out "$dir" --map-only 2>"$OUT/$p.$m$TAG.seed$s.log" ||
		{ echo "experiments: $p $m$TAG seed $s failed, see $OUT/$p.$m$TAG.seed$s.log" >&2; return 1; }
	cp "$from/seconds" "$dir/reused_seconds"
	echo $(( $(cat "$from/seconds") + $(date +%s) - t0 )) >"$dir/seconds"
	rm -f "$dir"/*.frames
	keep "$dir" "$res"
}

# run_one PAIR METHOD SEED: one run through adapt.sh, its small files kept
run_one() {
	local p=$1 m=$2 s=$3 dir res budget=()
	[ -z "$FROM" ] || { remap_one "$@"; return; }
	pair "$p" "$m"
	dir=$OUT/$p/$m$TAG/seed$s res=$RESULTS/$p/$m$TAG/seed$s
	if [ "$m" = oracle ]; then
		budget=(--epoch-steps "$(source_steps "$p")") || return 1
	fi
	echo "experiments: $p $m$TAG seed $s ($THREADS thread(s))" >&2
	# shellcheck disable=SC2086 # EXTRA is a list of options
	train "$dir" "$OUT/$p.$m$TAG.seed$s.log" "$p $m$TAG seed $s" \
		--method "$m" "${args[@]}" "${budget[@]}" $EXTRA --seed "$s" --epochs "$(epochs "$p")" || return 1
	[ ${#fold2[@]} -eq 0 ] || cross_fit "$p" "$m" "$s" "$dir" || return 1
	keep "$dir" "$res"
}

# cross_fit PAIR METHOD SEED DIR: the second fold of a cross-fitted oracle
# (pair sets fold2 and scoring), trained in DIR/fold2 on the budget of the
# first (DIR's run.txt); its map joins the first's in DIR and both are scored
# together into DIR/metrics.json. Each fold keeps its own seconds; the
# table adds them.
cross_fit() {
	local p=$1 m=$2 s=$3 dir=$4 budget=() steps
	steps=$(sed -n 's/^training epochs [0-9]* of \([0-9]*\) steps.*/\1/p' "$dir/run.txt")
	[ -z "$steps" ] || budget=(--epoch-steps "$steps")
	if [ ! -f "$dir/fold2/metrics.json" ]; then
		echo "experiments: $p $m$TAG seed $s, second fold ($THREADS thread(s))" >&2
		# shellcheck disable=SC2086 # EXTRA is a list of options
		train "$dir/fold2" "$OUT/$p.$m$TAG.seed$s.fold2.log" "$p $m$TAG seed $s, second fold," \
			--method "$m" "${fold2[@]}" "${budget[@]}" $EXTRA --seed "$s" --epochs "$(epochs "$p")" || return 1
	fi
	cp "$dir"/fold2/probs_*.tif "$dir"/
	# shellcheck disable=SC2086 # EXTRA is a list of options
	pipelines/adapt.sh --method "$m" "${scoring[@]}" $EXTRA --seed "$s" --epochs "$(epochs "$p")" --out "$dir" --score-only \
		2>>"$OUT/$p.$m$TAG.seed$s.log" || { echo "experiments: scoring the two folds of $dir failed" >&2; return 1; }
}
# rescore_one PAIR METHOD SEED: a finished run in OUT scored again (RESCORE=1)
rescore_one() {
	local p=$1 m=$2 s=$3 dir res mode=--score-only i
	pair "$p" "$m"
	dir=$OUT/$p/$m$TAG/seed$s res=$RESULTS/$p/$m$TAG/seed$s
	for i in "${!args[@]}"; do	# an eval raster without its map in the run: map it
		[ "${args[$i]}" = --eval ] || continue
		local n; n=$(basename "${args[$((i + 1))]}")
		[ -f "$dir/probs_${n%.*}.tif" ] || mode=--map-only
	done
	if [ "$mode" = --map-only ] && [ ! -f "$dir/model" ]; then
		echo "experiments: $p $m$TAG seed $s not scored again: its maps and model are not in $OUT (run it again)" >&2
		return 0	# a run kept from another machine: skipped, not failed
	fi
	echo "experiments: scoring $p $m$TAG seed $s again$([ ${#fold2[@]} -gt 0 ] && echo ", cross-fitted")$([ "$mode" = --map-only ] && echo ", its model mapping new rasters")" >&2
	if [ ${#fold2[@]} -gt 0 ]; then
		cross_fit "$p" "$m" "$s" "$dir" || return 1
	else
		# shellcheck disable=SC2086 # EXTRA is a list of options
		pipelines/adapt.sh --method "$m" "${args[@]}" $EXTRA --seed "$s" --epochs "$(epochs "$p")" --threads "$THREADS" \
			--out "$dir" "$mode" 2>>"$OUT/$p.$m$TAG.seed$s.log" || { echo "experiments: scoring $dir failed" >&2; return 1; }
	fi
	rm -rf "$res" && keep "$dir" "$res"
}

if [ "${1:-}" = --one ]; then	# a job of the parallel sweep below
	run_one "$2" "$3" "$4"
	exit
fi
if [ "${1:-}" = --rescore ]; then	# a job of RESCORE=1 below
	rescore_one "$2" "$3" "$4"
	exit
fi

# todo PHASE: the "PAIR METHOD SEED" lines not yet done (phase 1: every
# method but the oracle; phase 2: the oracle, whose step budget is that of
# the pair's source-only run); runs found in RESULTS are copied into OUT
todo() {
	local p m s dir res
	for p in $PAIRS; do
		for m in $METHODS; do
			{ [ "$m" = oracle ] && [ "$1" = 2 ]; } || { [ "$m" != oracle ] && [ "$1" = 1 ]; } || continue
			for s in $(seeds "$p"); do
				dir=$OUT/$p/$m$TAG/seed$s res=$RESULTS/$p/$m$TAG/seed$s
				if [ ! -f "$dir/metrics.json" ] && [ -f "$res/metrics.json" ]; then
					mkdir -p "$dir" && cp -r "$res"/* "$dir"/
				fi
				if [ -f "$dir/metrics.json" ]; then
					keep "$dir" "$res"
				else
					echo "$p $m $s"
				fi
			done
		done
	done
}

for p in $PAIRS; do pair "$p" source-only; done	# the scenes, before any job reads them

# RESCORE=1: the finished runs whose maps or model are still in OUT scored
# again with the pair's current evaluation (adapt.sh --score-only; --map-only
# where an eval raster is new to the run; a cross-fitted oracle's second fold
# trained), their kept metrics.json and run.txt replaced
# dispatch FLAG LIST: "$0 FLAG PAIR METHOD SEED" for each line of LIST, JOBS
# at a time (GNU Parallel) each on THREADS threads; the failures add to failed
dispatch() {
	local p m s
	if [ "$JOBS" -le 1 ]; then
		while read -r p m s; do "$0" "$1" "$p" "$m" "$s" || failed=$((failed + 1)); done <"$2"
	else
		parallel --will-cite --line-buffer -j "$JOBS" --colsep ' ' "$0" "$1" {1} {2} {3} <"$2" || failed=$((failed + $?))
	fi
}
export DATA OUT RESULTS EPOCHS EXTRA TAG THREADS PAIRS METHODS SEEDS FROM
failed=0
list=$OUT/pending.$$	# this sweep's own lists of runs: two sweeps may share OUT
if [ "${RESCORE:-0}" = 1 ]; then
	for p in $PAIRS; do
		for m in $METHODS; do
			for s in $(seeds "$p"); do
				[ ! -f "$OUT/$p/$m$TAG/seed$s/metrics.json" ] || echo "$p $m $s"
			done
		done
	done >"$list.0"
	dispatch --rescore "$list.0"
fi
for phase in 1 2; do
	todo "$phase" >"$list.$phase"
	[ -s "$list.$phase" ] || continue
	dispatch --one "$list.$phase"
done
rm -f "$list".[012]
[ "$failed" -eq 0 ] || echo "experiments: $failed run(s) failed; the table below has the others" >&2

# the table covers every run kept in RESULTS, not only this sweep's
for res in "$RESULTS"/*/*/seed*/metrics.json; do
	[ -f "$res" ] || continue
	res=${res%/metrics.json} dir=$OUT/${res#"$RESULTS"/}
	[ -f "$dir/metrics.json" ] || { mkdir -p "$dir" && cp -r "$res"/* "$dir"/; }
done

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=pipelines /usr/bin/python3 - "$OUT" <<'PY'
import json, statistics, sys
from experiments_runs import critic_w_column, gap_closed, method_runs, pairs
out = sys.argv[1]
res = {}
for pair in pairs(out):
    res[pair] = method_runs(out, pair)
def mean(v): return sum(v) / len(v)
def sd(v): return statistics.stdev(v) if len(v) > 1 else 0.0
lines = ["| pair | class | method | seeds | target IoU (mean ± sd) | object F1 | point F1 | gap closed | critic W a seed | minutes per run |",
         "|---|---|---|---|---|---|---|---|---|---|"]
def points(rs):   # tree-point F1 (mean ± sd) where every seed has one
    v = [r["point_f1"] for r in rs]
    return f"{mean(v):.3f} ± {sd(v):.3f}" if all(x is not None for x in v) else ""
total = 0
for pair, ms in res.items():
    iou = {m: mean([r["iou"] for r in rs]) for m, rs in ms.items()}
    for m in ms:   # in table order: methods() lists them so
        v = [r["iou"] for r in ms[m]]
        secs = [r["seconds"] for r in ms[m]]
        total += sum(secs) - sum(r["reused"] for r in ms[m])
        gap = gap_closed(iou, m)
        lines.append(f"| {pair} | {ms[m][0]['class']} | {m} | {len(v)} | {mean(v):.3f} ± {sd(v):.3f} | "
                     f"{mean([r['object_f1'] for r in ms[m]]):.3f} | {points(ms[m])} | {gap} | "
                     f"{critic_w_column([r['critic_w'] for r in ms[m]])} | {mean(secs) / 60:.1f} |")
lines.append(f"\nTotal run time of these runs: {total / 3600:.1f} h (the sum of each run's wall-clock time, a run "
             "that maps another's model again counting its own minutes only; runs' run.txt give their threads, "
             "and some shared the machine with other work).")
json.dump(res, open(f"{out}/results.json", "w"), indent=1)
open(f"{out}/results.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
pipelines/experiments-report.sh "$OUT"
cp "$OUT"/results.md "$OUT"/results.json "$RESULTS"/
cp "$OUT"/report/*.png "$RESULTS"/ 2>/dev/null || true
exit $(( failed > 0 ))
