#!/bin/bash
# pipelines/map-scenes.sh - map many target scenes with one trained model,
# one GNU Parallel job per scene (or per strip of a very large scene).
#
#   pipelines/map-scenes.sh --model M --out DIR [options] SCENE... (or --list FILE)
#
# Each scene gets its own band statistics (fitted on the scene, as adapt.sh
# does for targets) and becomes DIR/probs_NAME.tif (per-class probabilities,
# on the scene's grid) and DIR/buildings_NAME.gpkg. Every job logs to
# DIR/logs/; GNU Parallel's joblog (DIR/joblog.*) records what finished, so
# running the same command again redoes only the jobs that failed or never
# ran (--resume-failed), and each failed job is retried (--retries).
#
# Options:
#   --jobs N          jobs at a time (default: GNU Parallel's, one per core)
#   --parts N         cut every scene into N strips of tile rows, one job each,
#                     stitched back into exactly the raster one stream gives
#   --gsd M --tile N (128) --overlap N (32) --class N (1: what vectorise keeps)
#   --retries N       attempts per job (default 2)
#   --sshlogin LIST | --slf FILE   run jobs on other hosts too (GNU Parallel's
#                     options; every host needs Landshift and the same paths, e.g.
#                     a shared file system; ':' is this machine)
# Environment: BIN (the filters; default bin/ beside this script, or PREFIX/bin
# when installed).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$here/bin}
[ -x "$BIN/tile" ] || BIN=$(cd "$here/../../bin" 2>/dev/null && pwd)
export GDAL_PAM_ENABLED=NO
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
die() { echo "map-scenes: $*" >&2; exit 2; }

# ---- one job (run by GNU Parallel): map-scenes.sh --job KIND ARGS ----
if [ "${1:-}" = --job ]; then
	kind=$2 model=$3 out=$4 tile=$5 overlap=$6 gsd=$7 cls=$8 scene=$9 k=${10:-1} n=${11:-1}
	name=$(basename "$scene"); name=${name%.*}
	G=(); [ "$gsd" != - ] && G=(--gsd "$gsd")
	T=(--quiet --size "$tile" --overlap "$overlap" "${G[@]}" --domain target)
	case $kind in
	stats)	# the scene's own band statistics
		"$BIN"/tile "${T[@]}" "$scene" | "$BIN"/normalise-bands --fit "$out/stats/$name.stats" ;;
	part)	# probabilities of strip k of n, as frames
		"$BIN"/tile "${T[@]}" --part "$k/$n" "$scene" | "$BIN"/normalise-bands --stats "$out/stats/$name.stats" |
			"$BIN"/encode --quiet --model "$model" | "$BIN"/decode --quiet --model "$model" \
			>"$out/parts/$name.$k.frames.tmp"
		mv "$out/parts/$name.$k.frames.tmp" "$out/parts/$name.$k.frames" ;;
	merge)	# the strips, in order, are the scene's stream
		parts=()
		for ((i = 1; i <= n; i++)); do parts+=("$out/parts/$name.$i.frames"); done
		cat "${parts[@]}" | "$BIN"/stitch --quiet "$out/probs_$name.tif"
		"$BIN"/vectorise --quiet --classes "$cls" --min-area 4 --simplify 0.25 "$out/probs_$name.tif" \
			"$out/buildings_$name.gpkg.tmp.gpkg"
		mv "$out/buildings_$name.gpkg.tmp.gpkg" "$out/buildings_$name.gpkg"
		rm -f "${parts[@]}" ;;
	*) die "unknown job kind $kind" ;;
	esac
	exit 0
fi

model="" out="" jobs="" parts=1 gsd=- tile=128 overlap=32 cls=1 retries=2 list="" remote=()
scenes=()
while [ $# -gt 0 ]; do
	case $1 in
	--model) model=$2; shift ;; --out) out=$2; shift ;; --jobs) jobs=$2; shift ;; --parts) parts=$2; shift ;;
	--gsd) gsd=$2; shift ;; --tile) tile=$2; shift ;; --overlap) overlap=$2; shift ;; --class) cls=$2; shift ;;
	--retries) retries=$2; shift ;; --list) list=$2; shift ;;
	--sshlogin) remote+=(--sshlogin "$2"); shift ;; --slf) remote+=(--slf "$2"); shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) scenes+=("$1") ;;
	esac
	shift
done
[ -n "$list" ] && mapfile -t -O "${#scenes[@]}" scenes < <(grep -v '^[[:space:]]*$' "$list")
[ -n "$model" ] && [ -n "$out" ] && [ ${#scenes[@]} -gt 0 ] || die "need --model, --out and at least one scene (see --help)"
[ -r "$model" ] || die "cannot read model $model"
command -v parallel >/dev/null || die "GNU Parallel is not installed (Debian: apt-get install parallel)"
[[ $parts =~ ^[1-9][0-9]*$ ]] || die "--parts must be a positive number"
for s in "${scenes[@]}"; do [ -r "$s" ] || die "cannot read scene $s"; done
mkdir -p "$out/logs" "$out/stats" "$out/parts"
out=$(cd "$out" && pwd)
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
P=(--halt never --retries "$retries" --resume-failed "${remote[@]}")
[ -n "$jobs" ] && P+=(--jobs "$jobs")
common=("$model" "$out" "$tile" "$overlap" "$gsd" "$cls")
abs=()
for s in "${scenes[@]}"; do abs+=("$(cd "$(dirname "$s")" && pwd)/$(basename "$s")"); done

run() {	# run PHASE ARGS...: one parallel phase with its own joblog
	local phase=$1; shift
	parallel "${P[@]}" --joblog "$out/joblog.$phase" "$@"
}
echo "map-scenes: ${#abs[@]} scene(s), $parts part(s) each, logs in $out/logs" >&2
rc=0
run stats "$self" --job stats "${common[@]}" {} '>' "$out/logs/{/.}.stats.log" '2>&1' ::: "${abs[@]}" || rc=1
run parts "$self" --job part "${common[@]}" {1} {2} "$parts" '>' "$out/logs/{1/.}.part{2}.log" '2>&1' \
	::: "${abs[@]}" ::: $(seq 1 "$parts") || rc=1
run merge "$self" --job merge "${common[@]}" {} 1 "$parts" '>' "$out/logs/{/.}.merge.log" '2>&1' ::: "${abs[@]}" || rc=1
# a job failed when its latest joblog entry did (a re-run appends to the log)
failed=$(awk 'FNR > 1 { last[FILENAME ":" $1] = $7 } END { n = 0; for (k in last) if (last[k] != 0) n++; print n }' "$out"/joblog.*)
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
	echo "map-scenes: $failed job(s) failed (see $out/joblog.* and $out/logs/); run the same command again to redo only those" >&2
	exit 1
fi
echo "map-scenes: done: $out/probs_*.tif, $out/buildings_*.gpkg" >&2
