#!/bin/sh
# check-layers.sh - lib/ is built in one-way layers: a module may include
# only the modules below it, and no header or source includes its way back
# round (tsort finds any cycle among lib/'s files). Prints one line per
# breach and exits 1; silent and 0 when the layers hold.
#
#   base    errors, options, string lists, progress, random numbers, checksums, JSON
#   stream  frames: types, writer, reader, the map-a-stream driver (may exit)
#   geo     rasters, labels, mosaics, polygons, class decisions, band statistics
#   nn      tensors, layers, optimiser, UNet-S, critic, DSN parts, model files, inference
#   score   confusion, class scores, object and point matching
#   train   datasets, the training loop, checkpoints, one file per method
cd "$(dirname "$0")/.." || exit 2
allowed() {	# allowed MODULE: the modules it may include (itself included)
	case $1 in
	base) echo "base" ;;
	stream) echo "base stream" ;;
	geo) echo "base stream geo" ;;
	nn) echo "base stream nn" ;;
	score) echo "base stream geo score" ;;
	train) echo "base stream geo nn score train" ;;
	*) echo "" ;;
	esac
}
bad=0
pairs=$(mktemp)
trap 'rm -f "$pairs"' EXIT
for f in lib/*/*.[ch]; do
	mod=${f#lib/}; mod=${mod%%/*}
	ok=$(allowed "$mod")
	if [ -z "$ok" ]; then
		echo "check-layers: $f: lib/$mod is not a known layer"; bad=1; continue
	fi
	echo "$f $f" >>"$pairs"
	for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		case $inc in
		*/*) ;;
		*) echo "check-layers: $f includes \"$inc\": name its module (\"base/err.h\")"; bad=1; continue ;;
		esac
		im=${inc%%/*}
		case " $ok " in
		*" $im "*) ;;
		*) echo "check-layers: $f (layer $mod) includes $inc from layer $im, which is not below it"; bad=1 ;;
		esac
		[ -f "lib/$inc" ] || { echo "check-layers: $f includes lib/$inc, which does not exist"; bad=1; continue; }
		echo "lib/$inc $f" >>"$pairs"
		# a source depends on its own header; a header on what it includes
	done
done
if ! tsort "$pairs" >/dev/null 2>"$pairs.err"; then
	echo "check-layers: include cycle: $(grep -v 'input contains a loop' "$pairs.err" | sed 's/^tsort: //' | tr '\n' ' ')"
	bad=1
fi
rm -f "$pairs.err"
# only the stream layer may end the program (and base/err.c, which holds the
# dying helpers, and base/opt.c, which answers --help and usage errors)
for f in $(grep -lE '\b(exit|_exit|abort)\s*\(|ls_die' lib/*/*.c); do
	case $f in
	lib/stream/*|lib/base/err.c|lib/base/opt.c) ;;
	*) echo "check-layers: $f ends the program (exit or ls_die): return an error and let the caller decide"; bad=1 ;;
	esac
done
# library messages never name command-line flags: the program adds those
grep -nE '(ls_err|ls_warn|ls_info)\([^;]*"[^"]*--[a-z]' lib/*/*.c | grep -v '^lib/base/opt.c' |
	sed 's/^\([^:]*:[0-9]*\):.*/check-layers: \1: a library message names a command-line flag/' | grep . && bad=1
exit $bad
