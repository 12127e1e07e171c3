# For the people who use it: --help on every filter, man pages built from
# it, make install PREFIX=..., the installed main pipeline.
. tests/shell/lib.sh
for src in filters/*.c; do
	f=$(basename "$src" .c)
	h=$($BIN/$f --help 2>&1)
	if echo "$h" | head -n 1 | grep -q "^$f - " && echo "$h" | grep -q '^usage: ' && echo "$h" | grep -q '^example:' &&
		echo "$h" | grep -q -- '--quiet'; then
		pass "$f --help: purpose, usage, every option, an example"
	else
		fail "$f --help" "$(echo "$h" | head -n 3)"
	fi
done
san=""; case ${BUILD:-} in *san*) san=SANITIZE=address,undefined ;; esac
if make -s install PREFIX="$T/prefix" $san >"$T/install.out" 2>&1 &&
	MANPATH="$T/prefix/share/man" man tile 2>/dev/null | grep -q 'cut rasters' &&
	[ "$(ls "$T"/prefix/share/man/man1/*.1 | wc -l)" -eq "$(ls filters/*.c | wc -l)" ] &&
	"$T/prefix/bin/tile" --help | grep -q '^usage: tile' &&
	(cd / && env -u BIN "$T/prefix/share/landshift/pipelines/adapt.sh" --method source-only --out "$T/o" --source /nonexistent.tif \
		--source-labels /n.geojson --target /n.tif 2>&1 | grep -q '^tile: /nonexistent.tif: cannot open'); then
	pass "make install PREFIX=...: binaries, a man page per filter (man tile works with MANPATH), the main pipeline runs from there"
else
	fail "make install" "$(tail -n 3 "$T/install.out")"
fi

# Progress: a line that moves, with an ETA, on a terminal; into a file whole
# lines at most one per 10 s (LANDSHIFT_PROGRESS_SECONDS shortens that); none
# with --quiet; never on stdout.
A=$DATA/atlanta_sn4
$BIN/tile --quiet --size 128 --labels "$A/rgb_nadir10_buildings.geojson" --domain source "$A/rgb_nadir10.tif" >"$T/p.frames"
$BIN/normalise-bands --fit "$T/p.stats" <"$T/p.frames"
$BIN/normalise-bands --stats "$T/p.stats" <"$T/p.frames" >"$T/pn.frames"
ptrain() { $BIN/critic-train --model "$T/$1.model" --source "$T/pn.frames" --width 8 --threads 1 --epochs "$2" "${@:3}"; }
re='^critic-train: training +[0-9]+% \([0-9]+/[0-9]+\), [0-9hms]+ left$'
s0=$(date +%s)
(ptrain p10 10 >"$T/p10.out" 2>"$T/p10.err"; echo $(( $(date +%s) - s0 )) >"$T/p10.s") &
(LANDSHIFT_PROGRESS_SECONDS=1 ptrain p1 4 >"$T/p1.out" 2>"$T/p1.err") &
script -qfec "$BIN/critic-train --model $T/pt.model --source $T/pn.frames --width 8 --threads 1 --epochs 8" /dev/null >"$T/ptty.out" 2>&1 &
(LANDSHIFT_PROGRESS_SECONDS=1 ptrain pq 3 --quiet >"$T/pq.out" 2>"$T/pq.err") &
wait
n10=$(grep -Ec "$re" "$T/p10.err"); s10=$(cat "$T/p10.s")
n1=$(grep -Ec "$re" "$T/p1.err")
if [ "$n10" -le $(( s10 / 10 + 1 )) ] && [ "$n1" -ge 2 ] && ! grep -q $'\r' "$T/p10.err" "$T/p1.err" &&
	[ ! -s "$T/p10.out" ] && [ ! -s "$T/p1.out" ] && grep -q 'wrote' "$T/p10.err"; then
	pass "progress into a file: $n10 whole lines in a $s10-s run (at most one per 10 s), $n1 with LANDSHIFT_PROGRESS_SECONDS=1, stdout empty"
else
	fail "progress into a file" "$n10 lines in $s10 s, $n1 at 1 s: $(head -c 300 "$T/p10.err")"
fi
# on the terminal: redrawn in place (\r ... erase to end of line), the percentage moving, an ETA
# (redrawn at most every 0.5 s: 8 epochs, so a fast CPU still shows several)
npct=$(tr '\r' '\n' <"$T/ptty.out" | grep -Eo '^critic-train: training +[0-9]+%' | sort -u | wc -l)
if grep -q $'\rcritic-train: training .*left\e\[K' "$T/ptty.out" && [ "$npct" -ge 3 ]; then
	pass "progress on a terminal: one line redrawn in place with an ETA ($npct distinct percentages)"
else
	fail "progress on a terminal" "$npct percentages: $(tr '\r\033' '|^' <"$T/ptty.out" | head -c 300)"
fi
if ! grep -q '%' "$T/pq.err" && [ -s "$T/pq.model" ]; then
	pass "--quiet: no progress"
else
	fail "--quiet" "$(head -c 200 "$T/pq.err")"
fi
# stitch follows a slow stream with progress as well
$PY -c '
import sys, time
d = open(sys.argv[1], "rb").read()
n = 40
for i in range(n):
    sys.stdout.buffer.write(d[i * len(d) // n:(i + 1) * len(d) // n]); sys.stdout.buffer.flush(); time.sleep(0.07)
' "$T/pn.frames" | LANDSHIFT_PROGRESS_SECONDS=1 $BIN/stitch "$T/pst.tif" 2>"$T/pst.err"
if grep -Eq '^stitch: tiles +[0-9]+% \([0-9]+/[0-9]+\), [0-9hms]+ left$' "$T/pst.err" && [ -s "$T/pst.tif" ]; then
	pass "stitch shows progress over a slow stream ($(grep -c left "$T/pst.err") lines)"
else
	fail "stitch progress" "$(head -c 300 "$T/pst.err")"
fi
