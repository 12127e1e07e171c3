#!/bin/sh
# tests/run.sh - run every C unit test (tests/unit), fuzz corpus replay
# (tests/fuzz) and shell test on the sample data (tests/shell); print the
# results and end with "N passed, N failed". Exit status 1 when anything
# failed. TESTS=t_train.sh runs that shell test (and the C tests) alone,
# through make test or this script.
# The whole suite takes about 6 minutes on the project's 2-core machines
# (C tests 5 s, the shell tests 5.6 min; each file's seconds go to stderr).
cd "$(dirname "$0")/.." || exit 2
: "${BUILD:=build/rel}" "${DATA:=../shared/data}"
: "${BIN:=bin}"
export DATA BUILD BIN
if [ ! -d "$DATA" ]; then
	echo "tests: sample data not found at $DATA (set DATA=...)" >&2
	exit 2
fi
log=$(mktemp)
for t in "$BUILD"/tests/test_*; do
	case $t in *.o) continue ;; esac
	[ -x "$t" ] || continue
	echo "== $t" >&2
	"$t" >>"$log" 2>&1 || grep -q '^FAIL' "$log" || echo "FAIL $t: exited with status $?" >>"$log"
done
for t in tests/fuzz/corpus/*; do	# the fuzz corpora, replayed without libFuzzer
	name=$(basename "$t")
	if out=$("$BUILD/tests/replay_$name" "$t" 2>&1); then
		echo "PASS fuzz corpus $name: $out, no crash or sanitizer report" >>"$log"
	else
		echo "FAIL fuzz corpus $name: $(echo "$out" | tail -n 3)" >>"$log"
	fi
done
for t in ${TESTS:-tests/shell/t_*.sh}; do
	[ -f "$t" ] || t=tests/shell/$t
	t0=$(date +%s)
	bash "$t" >>"$log" 2>&1 || true
	echo "== $t: $(( $(date +%s) - t0 )) s" >&2
done
grep -E '^(PASS|FAIL)' "$log"
grep -vE '^(PASS|FAIL)' "$log" | head -n 40 >&2
p=$(grep -c '^PASS' "$log")
f=$(grep -c '^FAIL' "$log")
rm -f "$log"
echo "$p passed, $f failed"
[ "$f" -eq 0 ] && [ "$p" -gt 0 ]
