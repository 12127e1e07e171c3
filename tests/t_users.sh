# For the people who use it: --help on every filter, man pages built from
# it, make install PREFIX=..., the installed main pipeline.
. tests/lib.sh
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
