#!/bin/bash
# egs/uda/run.sh - the domain-adaptation benchmark (make experiments): each
# pair's target mapped by each method, three seeds, one table.
#
# A pair (conf/pairs/NAME.sh) is a source (conf/sources/NAME.sh: labelled
# rasters) and a target split in two: the part the adapting methods learn
# from without labels (and the oracle with them), and the part scored, which
# no method sees in training. A method (conf/methods/NAME.sh) is one of
#   map     the source model (trained once per source and seed) maps the target
#   adabn   the same with batch-norm statistics from the target tiles
#   init    training that starts from the source model (selftrain)
#   train   training from scratch on source and target (wdgrl, dsn)
#   oracle  training on the target part's labels, the source model's steps
# A method with bands=shared (shared-bands, shared-bands-selftrain) starts
# instead from a source model trained on the bands the target has: a band
# constant over every target raster (an RGB camera's missing near-infrared)
# is not trained on, the source read at the other bands' positions. Where
# the target has every band, its run is its base method's (base=), recorded
# under its name and not run twice.
# Every run keeps its last epoch (one label-free rule for all methods).
#
# Stages (--stage N starts there, --stop-stage M ends after M):
#   0  scenes: the VRTs pairs cut their scenes into (OUT/scenes)
#   1  source models: source-only, per source and seed (OUT/sources/SOURCE/seedN)
#   2  the runs: per pair, method and seed (OUT/PAIR/METHOD/seedN), JOBS at a time
#   3  the table: RESULTS/results.md and results.json (local/table.py)
# A run in the ledger, RESULTS/runs.jsonl (one line a finished run, kept in
# git: local/table.py), is not run again under the same configuration, nor
# its source model trained: a sweep goes on where it stopped, in another
# session on another machine too.
#
# Environment: DATA (../shared/data), OUT (out/uda), RESULTS (docs/experiments),
# PAIRS (the headline pairs; the others in conf/pairs, e.g. mass-vegas,
# run when named), METHODS ("source-only adabn selftrain-srcbn shared-bands
# shared-bands-selftrain oracle"; the others in conf/methods, e.g. selftrain,
# run when named), SEEDS ("1 2 3"), QUICK=1 (seed 1 of one pair for each kind
# of shift, the table in RESULTS/quick.md: runs of the full table, kept in
# the same ledger), JOBS (1; more run side by side under GNU Parallel,
# THREADS threads each), EPOCHS (every run's, instead of the source's),
# EXTRA (more adapt.sh options for every run, e.g. "--width 4").
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/run.sh
cd "$(dirname "$0")/../.."
here=egs/uda CONF=egs/uda/conf
. "$here/local/pairs.sh"
DATA=$(cd "${DATA:-../shared/data}" && pwd)	# absolute: the scene VRTs name their source
OUT=${OUT:-out/uda}
RESULTS=${RESULTS:-docs/experiments}
SCENES=$OUT/scenes
HEADLINE="naip-chico naip-palmsprings naip-riverside naip-chico-rgb naip-palmsprings-rgb naip-riverside-rgb kampala-zanzibar kampala-nairobi wv-zanzibar wv-nairobi rio-atlanta"
# QUICK=1: bands and city (trees), country (drone), sensor and country,
# the same satellite
QUICK_PAIRS="naip-chico-rgb kampala-zanzibar wv-zanzibar rio-atlanta"
NAME=results
if [ "${QUICK:-0}" = 1 ]; then
	SEEDS=1 PAIRS=${PAIRS:-$QUICK_PAIRS} NAME=quick
fi
PAIRS=${PAIRS:-$HEADLINE}
METHODS=${METHODS:-source-only adabn selftrain-srcbn shared-bands shared-bands-selftrain oracle}
SEEDS=${SEEDS:-1 2 3}
JOBS=${JOBS:-1} EPOCHS=${EPOCHS:-} EXTRA=${EXTRA:-}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "uda: JOBS must be a number of runs at a time, not '$JOBS'" >&2; exit 2; }
THREADS=${THREADS:-$(( $(nproc) / JOBS > 0 ? $(nproc) / JOBS : 1 ))}
stage=0 stop=3
while [ $# -gt 0 ]; do
	case $1 in
	--stage) stage=$2 ;; --stop-stage) stop=$2 ;;
	--one|--source) break ;;
	*) echo "uda: unknown argument '$1' (--stage N, --stop-stage N)" >&2; exit 2 ;;
	esac
	shift 2
done
export GDAL_PAM_ENABLED=NO DATA OUT SCENES RESULTS THREADS EPOCHS EXTRA
table() { /usr/bin/python3 "$here/local/table.py" --out "$OUT" --results "$RESULTS" "$@"; }
mkdir -p "$SCENES"
log() { echo "uda: $*" >&2; }

# load_pair NAME: its source's and its own settings (the arrays src, tgt,
# ev, opts; class, label_map, epochs, source, metric, headline, min_valid)
load_pair() {
	src=() tgt=() ev=() opts=() class=building label_map="" epochs=20 min_valid=0.5 metric=iou headline=0 source=""
	[ -f "$CONF/pairs/$1.sh" ] || { echo "uda: no pair $1 ($CONF/pairs)" >&2; exit 2; }
	source=$(sed -n 's/^source=\([^ ]*\).*/\1/p' "$CONF/pairs/$1.sh")
	load_source "$source"
	. "$CONF/pairs/$1.sh"
	[ -z "$EPOCHS" ] || epochs=$EPOCHS
}
load_source() {
	[ -f "$CONF/sources/$1.sh" ] || { echo "uda: no source $1 ($CONF/sources)" >&2; exit 2; }
	. "$CONF/sources/$1.sh"
}
common() {	# the adapt.sh options every run of the loaded pair shares
	args=(--class-name "$class" --min-valid "$min_valid" --threads "$THREADS" "${opts[@]}")
	[ -z "$label_map" ] || args+=(--label-map "$label_map")
	# shellcheck disable=SC2206 # EXTRA is a list of options
	args+=($EXTRA)
}

# adapt DIR LOG ARGS...: one adapt.sh run, its wall-clock seconds kept in DIR
adapt() {
	local dir=$1 lg=$2 t0; shift 2
	t0=$(date +%s)
	pipelines/adapt.sh "$@" --out "$dir" 2>"$lg" || { log "failed, see $lg"; return 1; }
	echo $(( $(date +%s) - t0 )) >"$dir/seconds"
}

# trained DIR: DIR holds a finished training (adapt writes DIR/seconds last;
# critic-train writes DIR/model every epoch, so a killed run leaves one too)
trained() { [ -f "$1/model" ] && [ -f "$1/seconds" ]; }

# shared_bands: of the loaded pair's target rasters, the bands that are not
# constant over all of them (1,2,3), or nothing when every band varies
# somewhere (no labels are read)
shared_bands() {
	local a prev="" r=()
	for a in "${tgt[@]}"; do [ "$prev" = --target ] && r+=("$a"); prev=$a; done
	/usr/bin/python3 pipelines/shared-bands.py "${r[@]}"
}

# method_field METHOD KEY: the KEY=value setting of a method file (kind,
# bands, base), without sourcing it
method_field() { sed -n "s/^[^#]*\<$2=\([^ ]*\).*/\1/p" "$CONF/methods/$1.sh"; }

# shared_method METHOD: METHOD starts from the bands the target has
shared_method() { [ "$(method_field "$1" bands)" = shared ]; }

# keep_of PAIR: loads PAIR and sets keep to its shared bands (shared_bands),
# read once a pair
declare -A kept=()
keep_of() {
	load_pair "$1"
	[ -n "${kept[$1]+x}" ] || kept[$1]=$(shared_bands)
	keep=${kept[$1]}
}

# read_at BANDS: the loaded pair read at BANDS alone, from its source's model
# of those bands (OUT/sources/SOURCE-bBANDS); nothing when BANDS is empty
read_at() {
	[ -n "$1" ] || return 0
	source=$source-b${1//,/}
	opts+=(--source-bands "$1" --target-bands "$1")
}

# source_model PAIR SEED [BANDS]: the source model of the pair's source (read
# at BANDS alone)
source_model() {
	load_pair "$1"
	local first
	read_at "${3:-}"
	local dir=$OUT/sources/$source/seed$2
	trained "$dir" && return 0
	common
	first=$(printf '%s\n' "${src[@]}" | sed -n 2p)	# a target is required: the source's first raster (unused)
	log "source $source seed $2 ($epochs epochs, $THREADS threads)"
	mkdir -p "$OUT/sources/$source"
	adapt "$dir" "$OUT/sources/$source/seed$2.log" --method source-only "${src[@]}" --target "$first" "${args[@]}" \
		--seed "$2" --epochs "$epochs" --train-opts "--select last" --stop-stage 2 --overwrite
}

# one PAIR METHOD SEED: one run of the table
one() {
	local p=$1 m=$2 s=$3 dir=$OUT/$1/$2/seed$3 kind method train_opts="" me bands="" base="" keep=""
	[ -f "$dir/metrics.json" ] && { table --record "$p" "$m" "$s"; return 0; }
	load_pair "$p"
	[ -f "$CONF/methods/$m.sh" ] || { echo "uda: no method $m ($CONF/methods)" >&2; return 2; }
	me=$epochs
	. "$CONF/methods/$m.sh"
	if [ "$bands" = shared ]; then
		keep=$(shared_bands)
		if [ -z "$keep" ]; then	# every band: the base method's run
			table --alias "$p" "$m" "$s" "$base" && return 0
			"$self" --one "$p" "$base" "$s" && table --alias "$p" "$m" "$s" "$base"
			return
		fi
		read_at "$keep"
	fi
	local from=$OUT/sources/$source/seed$s
	[ -z "$EPOCHS" ] || epochs=$EPOCHS
	common
	mkdir -p "$OUT/$p/$m"
	trained "$from" || { log "$p $m seed $s: the source model $from/model is missing or unfinished (stage 1)"; return 1; }
	log "$p $m seed $s ($kind, $THREADS threads)"
	local all=("${src[@]}" "${tgt[@]}" "${ev[@]}" "${args[@]}" --seed "$s") lg=$OUT/$p/$m/seed$s.log
	case $kind in
	map|adabn)	# the source model, copied into the run and taken on at the stage it needs
		rm -rf "$dir" && mkdir -p "$dir" && cp "$from/model" "$from/run.txt" "$from/train.jsonl" "$dir/"
		[ -f "$from/training.share" ] && cp "$from/training.share" "$dir/"
		adapt "$dir" "$lg" --method "$method" "${all[@]}" --epochs "$me" --stage $([ "$kind" = map ] && echo 4 || echo 3) ;;
	init)
		adapt "$dir" "$lg" --method "$method" "${all[@]}" --init "$from/model" --epochs "${epochs:-$me}" --train-opts "$train_opts" --overwrite ;;
	train)
		adapt "$dir" "$lg" --method "$method" "${all[@]}" --epochs "$me" --train-opts "$train_opts" --overwrite ;;
	oracle)	# the source model's steps: its steps an epoch, its epochs
		local steps
		steps=$(head -n 1 "$from/train.jsonl" | grep -o '"step":[0-9]*' | cut -d: -f2)
		adapt "$dir" "$lg" --method oracle "${all[@]}" --epochs "$me" --train-opts "$train_opts --epoch-steps $steps" --overwrite ;;
	*) echo "uda: $m: unknown kind $kind" >&2; return 2 ;;
	esac
	rm -f "$dir"/*.frames
	[ -z "$keep" ] || { echo "$source" >"$dir/source"; cp "$from/seconds" "$dir/source_seconds"; }
	table --record "$p" "$m" "$s"
}
[ "${1:-}" = --one ] && { one "$2" "$3" "$4"; exit; }
[ "${1:-}" = --source ] && { source_model "$2" "$3" "${4:-}"; exit; }

# each LINE of stdin ("ARGS...") as "$self MODE ARGS", JOBS at a time
jobs_of() {
	local mode=$1 failed=0
	if [ "$JOBS" -gt 1 ]; then
		parallel --colsep ' ' -j "$JOBS" --halt never "$self" "$mode" {1} {2} {3} || failed=1
	else
		while read -r a b c; do "$self" "$mode" "$a" "$b" $c </dev/null || failed=$((failed + 1)); done
	fi
	[ "$failed" = 0 ] || { log "run(s) failed"; return 1; }
}

for p in $PAIRS; do [ -f "$CONF/pairs/$p.sh" ] || { echo "uda: no pair $p ($CONF/pairs)" >&2; exit 2; }; done
for m in $METHODS; do [ -f "$CONF/methods/$m.sh" ] || { echo "uda: no method $m ($CONF/methods)" >&2; exit 2; }; done
if [ "$stage" -le 0 ] && [ "$stop" -ge 0 ]; then
	log "stage 0: scenes"
	for p in $PAIRS; do load_pair "$p"; done
fi
if [ "$stage" -le 1 ] && [ "$stop" -ge 1 ]; then
	log "stage 1: source models (${JOBS} at a time)"
	done_src=" "
	missing=$(table --missing --pairs "$PAIRS" --methods "$METHODS" --seeds "$SEEDS")
	while read -r p m s; do	# one pair of each source and seed stands for it
		[ -n "$p" ] || continue
		load_pair "$p"
		keep=""
		if shared_method "$m"; then
			keep_of "$p"
			if [ -n "$keep" ]; then
				read_at "$keep"
			else	# its base's run: a source model only if the ledger lacks that run
				b=$(method_field "$m" base)
				[ -n "$(table --missing --pairs "$p" --methods "$b" --seeds "$s")" ] || continue
			fi
		fi
		case $done_src in *" $source/$s "*) continue ;; esac
		done_src="$done_src$source/$s "
		echo "$p $s $keep"
	done <<<"$missing" | jobs_of --source
fi
if [ "$stage" -le 2 ] && [ "$stop" -ge 2 ]; then
	log "stage 2: runs (${JOBS} at a time)"
	# the trainings first and the mappings after them, so that the last
	# minutes are not one long run alone; a shared-bands method where the
	# target has every band last: its run is another method's, which must be
	# in the ledger first
	first="" later=""
	missing=$(table --missing --pairs "$PAIRS" --methods "$METHODS" --seeds "$SEEDS")
	while read -r p m s; do
		[ -n "$p" ] || continue
		if shared_method "$m"; then
			keep_of "$p"
			[ -n "$keep" ] || { later+="$p $m $s"$'\n'; continue; }
		fi
		case $(method_field "$m" kind) in
		map|adabn) first+="1 $p $m $s"$'\n' ;;
		*) first+="0 $p $m $s"$'\n' ;;
		esac
	done <<<"$missing"
	[ -z "$first" ] || sort -s -k1,1n <<<"${first%$'\n'}" | cut -d' ' -f2- | jobs_of --one
	[ -z "$later" ] || jobs_of --one <<<"${later%$'\n'}"
fi
if [ "$stage" -le 3 ] && [ "$stop" -ge 3 ]; then
	log "stage 3: the table"
	hl=""; for p in $PAIRS; do load_pair "$p"; [ "$headline" = 1 ] && hl="$hl $p"; done
	table --name "$NAME" --headline "${hl# }" --pairs "$PAIRS" --methods "$METHODS" --seeds "$SEEDS" --metric-of "$(for p in $PAIRS; do load_pair "$p"; printf '%s=%s,' "$p" "$metric"; done)"
fi
