# tests/shell/lib.sh - helpers for the shell tests: each check prints one
# "PASS name" or "FAIL name: why" line; tests/run.sh counts them.
set -u
export GDAL_PAM_ENABLED=NO	# never write .aux.xml files beside the shared data
export LC_ALL=C
: "${DATA:=../shared/data}"
BIN=${BIN:-bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/landshift-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# check NAME CMD... : passes when CMD exits 0
check() {
	name=$1; shift
	if "$@" >"$T/out" 2>"$T/err"; then pass "$name"; else fail "$name" "$(tail -n 3 "$T/err" | tr '\n' ' ')"; fi
}

# must_fail NAME CODE REGEX CMD... : CMD (run by sh -c) must exit with CODE
# (not a signal), print exactly one stderr line matching REGEX, nothing on stdout.
must_fail() {
	name=$1 code=$2 re=$3; shift 3
	sh -c "$*" >"$T/out" 2>"$T/err"
	rc=$?
	lines=$(wc -l <"$T/err")
	if [ "$rc" -ne "$code" ]; then
		fail "$name" "exit $rc, expected $code; stderr: $(head -c 300 "$T/err")"
	elif [ "$lines" -ne 1 ]; then
		fail "$name" "$lines stderr lines: $(head -c 300 "$T/err")"
	elif ! grep -Eq "$re" "$T/err"; then
		fail "$name" "message '$(cat "$T/err")' does not match /$re/"
	elif [ -s "$T/out" ]; then
		fail "$name" "wrote to stdout"
	else
		pass "$name"
	fi
}
