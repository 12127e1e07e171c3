# valgrind (memcheck) over the whole pipeline on a small scene: no invalid
# read or write, no definitely-lost block, in every filter. (Valgrind 3.19
# does not know AVX-512: the AVX2 kernels run here.)
. tests/shell/lib.sh
case ${BUILD:-} in *san*) exit 0 ;; esac	# sanitizer builds do not run under valgrind; the plain build does
if ! command -v valgrind >/dev/null; then
	fail "valgrind" "not installed (tools/deps.sh install)"
	exit 0
fi
A=$DATA/atlanta_sn4
export LANDSHIFT_AVX512=0 OPENBLAS_NUM_THREADS=1
V="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite"
gdal_translate -q -srcwin 200 200 256 256 "$A/rgb_nadir10.tif" "$T/s.tif"
n=0 bad=""
vg() {	# vg NAME CMD...: one filter under valgrind
	local name=$1; shift
	n=$((n + 1))
	"$@" 2>"$T/vg.$name" || bad="$bad $name($(grep -m1 -E 'Invalid|definitely' "$T/vg.$name" | head -c 120))"
}
vg tile sh -c "$V $BIN/tile --quiet --size 128 --overlap 16 --labels $A/rgb_nadir10_buildings.geojson $T/s.tif > $T/t.frames"
vg fit sh -c "$V $BIN/normalise-bands --fit $T/s.stats < $T/t.frames"
vg normalise sh -c "$V $BIN/normalise-bands --stats $T/s.stats < $T/t.frames > $T/n.frames"
vg train sh -c "$V $BIN/critic-train --quiet --threads 1 --model $T/m.model --source $T/n.frames --width 2 --depth 2 --epochs 1 --batch 2 --val-frac 0"
vg encode sh -c "$V $BIN/encode --quiet --threads 1 --model $T/m.model < $T/n.frames > $T/f.frames"
vg decode sh -c "$V $BIN/decode --quiet --threads 1 --model $T/m.model < $T/f.frames > $T/p.frames"
vg stitch sh -c "$V $BIN/stitch --quiet $T/p.tif < $T/p.frames"
vg vectorise sh -c "$V $BIN/vectorise --quiet $T/p.tif $T/b.gpkg"
vg evaluate sh -c "$V $BIN/evaluate --quiet --ref $A/rgb_nadir10_buildings.geojson --errors $T/e.tif $T/p.tif > /dev/null"
vg share-threshold sh -c "t=\$($V $BIN/share-threshold --quiet --share 0.1 $T/p.tif) && $V $BIN/evaluate --quiet --ref $A/rgb_nadir10_buildings.geojson --class-threshold 1=\$t $T/p.tif > /dev/null"
vg frame-info sh -c "$V $BIN/frame-info $T/p.frames > /dev/null"
vg export sh -c "$V $BIN/export-safetensors $T/m.model $T/w.safetensors 2>/dev/null"
vg bad-stream sh -c "head -c 5000 $T/n.frames > $T/cut.frames; $V $BIN/encode --quiet --threads 1 --model $T/m.model < $T/cut.frames > /dev/null; [ \$? -eq 1 ]"
if [ -z "$bad" ]; then
	pass "valgrind: $n filter runs of the pipeline (and one on a truncated stream): no invalid access, nothing definitely lost"
else
	fail "valgrind" "$bad"
fi
