# The bad-input matrix: every filter that reads a stream, fed an empty, a
# truncated and a corrupted one; every filter that writes, given a full disk
# (/dev/full), an unwritable path and a reader that goes away. Each case: one
# line on stderr naming the input and the problem, exit 1 (2 for usage),
# nothing on stdout, no output file that looks valid.
. tests/shell/lib.sh
A=$DATA/atlanta_sn4
export OPENBLAS_NUM_THREADS=1
gdal_translate -q -srcwin 200 200 256 256 "$A/rgb_nadir10.tif" "$T/small.tif"
$BIN/tile --quiet --size 128 --labels "$A/rgb_nadir10_buildings.geojson" --domain source "$T/small.tif" >"$T/raw.frames"
$BIN/normalise-bands --fit "$T/s.stats" <"$T/raw.frames"
$BIN/normalise-bands --stats "$T/s.stats" <"$T/raw.frames" >"$T/norm.frames"
$BIN/critic-train --quiet --model "$T/m.model" --source "$T/norm.frames" --width 2 --depth 2 --epochs 1 --batch 2 --val-frac 0
$BIN/encode --quiet --model "$T/m.model" <"$T/norm.frames" >"$T/feat.frames"
$BIN/decode --quiet --model "$T/m.model" <"$T/feat.frames" >"$T/probs.frames"
$BIN/stitch --quiet "$T/probs.tif" <"$T/probs.frames"
# the probabilities' bands are named by the model's classes
$BIN/critic-train --quiet --model "$T/tr.model" --source "$T/norm.frames" --width 2 --depth 2 --epochs 1 --batch 2 --val-frac 0 \
	--class-names background,tree
$BIN/encode --quiet --decode --model "$T/tr.model" <"$T/norm.frames" | $BIN/stitch --quiet "$T/tr.tif"
d=$(gdalinfo "$T/tr.tif" | sed -n 's/^ *Description = //p' | tr '\n' ,)
[ "$d" = background,tree, ] && pass "decode names the probability bands by the model's classes (background,tree)" ||
	fail "probability bands named by the model's classes" "$d"
# bad versions of each stream: empty, cut inside its first frame, a byte of its first frame flipped
for s in raw norm feat probs; do
	: >"$T/$s.empty"
	head -c 3000 "$T/$s.frames" >"$T/$s.cut"
	$PY -c "
import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[2500] ^= 0x40; open(sys.argv[2], 'wb').write(b)" \
		"$T/$s.frames" "$T/$s.bad"
done
E='empty stream'
C='truncated|ends inside|without a trailer'
X='checksum|corrupt|not valid msgpack'
for kind in empty cut bad; do
	case $kind in empty) re=$E ;; cut) re=$C ;; bad) re=$X ;; esac
	must_fail "normalise-bands --fit, $kind stream" 1 "$re" "$BIN/normalise-bands --fit $T/x.stats < $T/raw.$kind"
	must_fail "normalise-bands --stats, $kind stream" 1 "$re" "$BIN/normalise-bands --stats $T/s.stats < $T/raw.$kind"
	must_fail "frame-info --check, $kind stream" 1 "$re" "$BIN/frame-info --check < $T/raw.$kind"
	must_fail "stitch, $kind stream (no output file)" 1 "$re" "$BIN/stitch --quiet $T/st_$kind.tif < $T/probs.$kind; rc=\$?; [ ! -e $T/st_$kind.tif ] || echo leftover $T/st_$kind.tif >&2; exit \$rc"
	must_fail "critic-train, $kind stream (no model)" 1 "$re" "$BIN/critic-train --quiet --model $T/ct_$kind.model --source $T/norm.$kind; rc=\$?; [ ! -e $T/ct_$kind.model ] || echo leftover $T/ct_$kind.model >&2; exit \$rc"
	must_fail "encode, $kind stream" 1 "$re" "$BIN/encode --quiet --model $T/m.model < $T/norm.$kind"
	must_fail "decode, $kind stream" 1 "$re" "$BIN/decode --quiet --model $T/m.model < $T/feat.$kind"
done
# the named input is in the message
must_fail "the message names a stream given as a file" 1 "$T/norm.cut" "$BIN/critic-train --quiet --model $T/y.model --source $T/norm.cut"
# outputs: a full disk, an unwritable place, a reader that goes away
must_fail "tile to a full disk" 1 'No space left|writing' "$BIN/tile --quiet --size 128 $T/small.tif > /dev/full"
must_fail "normalise-bands to a full disk" 1 'No space left|writing' "$BIN/normalise-bands --stats $T/s.stats < $T/raw.frames > /dev/full"
must_fail "encode to a full disk" 1 'No space left|writing' "$BIN/encode --quiet --model $T/m.model < $T/norm.frames > /dev/full"
must_fail "decode to a full disk" 1 'No space left|writing' "$BIN/decode --quiet --model $T/m.model < $T/feat.frames > /dev/full"
must_fail "stitch into a missing directory" 1 'cannot|No such file' "$BIN/stitch --quiet $T/nodir/x.tif < $T/probs.frames"
must_fail "critic-train into a missing directory" 1 'cannot|No such file' "$BIN/critic-train --quiet --model $T/nodir/m.model --source $T/norm.frames --width 2 --depth 2 --epochs 1 --batch 2"
must_fail "vectorise into a missing directory" 1 'cannot|No such file|failed' "$BIN/vectorise --quiet $T/probs.tif $T/nodir/b.gpkg"
must_fail "evaluate --errors into a missing directory" 1 'cannot|No such file' "$BIN/evaluate --quiet --ref $A/rgb_nadir10_buildings.geojson --errors $T/nodir/e.tif $T/probs.tif"
must_fail "export-safetensors into a missing directory" 1 'cannot|No such file' "$BIN/export-safetensors $T/m.model $T/nodir/w.safetensors"
must_fail "normalise-bands --fit into a missing directory" 1 'cannot|No such file' "$BIN/normalise-bands --fit $T/nodir/s.stats < $T/raw.frames"
for f in tile normalise-bands encode decode; do
	case $f in
	tile) cmd="$BIN/tile --quiet --size 64 $A/rgb_nadir10.tif" ;;
	normalise-bands) cmd="$BIN/normalise-bands --stats $T/s.stats < $T/raw.frames" ;;
	encode) cmd="$BIN/encode --quiet --model $T/m.model < $T/norm.frames" ;;
	decode) cmd="$BIN/decode --quiet --model $T/m.model < $T/feat.frames" ;;
	esac
	rc=$(bash -c "set -o pipefail; $cmd 2>$T/pipe.err | head -c 100 >/dev/null; echo \${PIPESTATUS[0]}")
	if { [ "$rc" = 141 ] || [ "$rc" = 0 ]; } && [ ! -s "$T/pipe.err" ]; then
		pass "$f | head -c 100: ends quietly when the reader goes away (exit $rc)"
	else
		fail "$f into a closed pipe" "exit $rc: $(head -c 200 "$T/pipe.err")"
	fi
done
# model and data that do not fit
must_fail "encode with a corrupt model" 1 'checksum|truncated|corrupt' "head -c 2000 $T/m.model > $T/cut.model; $BIN/encode --quiet --model $T/cut.model < $T/norm.frames"
must_fail "encode with a missing model" 1 'cannot open model' "$BIN/encode --quiet --model $T/none.model < $T/norm.frames"
must_fail "decode fed tiles instead of features" 1 'not a features frame' "$BIN/decode --quiet --model $T/m.model < $T/norm.frames"
must_fail "stitch fed nothing but a trailer-less cut" 1 "$C" "head -c 100 $T/probs.frames | $BIN/stitch --quiet $T/z.tif; rc=\$?; [ ! -e $T/z.tif ] || echo leftover $T/z.tif >&2; exit \$rc"
must_fail "export-safetensors of a text file" 1 'not a landshift|crc|corrupt' "echo hello > $T/t.txt; $BIN/export-safetensors $T/t.txt $T/t.safetensors; rc=\$?; [ ! -e $T/t.safetensors ] || echo leftover $T/t.safetensors >&2; exit \$rc"
