#!/bin/bash
# map - a scene to maps a GIS opens, in one command, with a trained model:
#
#   map --model models/buildings.model scene.tif --out DIR
#
# The scene is resampled to the model's ground sample distance (--gsd auto;
# a geographic raster goes to its UTM zone), its bands matched to the
# model's by name (or --bands), standardised with its own statistics as the
# model's training rasters were, mapped, and written as:
#   DIR/NAME_probs.tif    Cloud Optimized GeoTIFF of class probabilities (overviews,
#                         nodata -1, a band per class named by it, the model in the metadata;
#                         rounded to multiples of 1/4096: --round-bits)
#   DIR/NAME_classes.tif  Cloud Optimized GeoTIFF of the most probable class (255: no data)
#   DIR/NAME.gpkg         GeoPackage, one layer per class (buildings, trees, ...; a class
#                         named road as centrelines: LineStrings with width and length)
#   DIR/NAME.png          quick-look: the imagery with the classes over it
#   DIR/NAME.html         a small report
# Memory is set by the tile size, not the scene. Many scenes: GNU Parallel,
#   parallel map --model M {} --out maps ::: scenes/*.tif
#
# Options:
#   --model FILE          the trained model (required)
#   --out DIR             where the outputs go (required; created)
#   --bands LIST          the scene's bands for the model's, in its order (tile --bands)
#                         named as the model's: 1,1,1 reads a grey scene as R, G, B
#   --gsd auto|native|M   resample to the model's GSD (auto, the default), keep the
#                         scene's grid (native), or M metres
#   --adapt adabn         re-estimate the model's batch-norm statistics on this scene first
#                         (no label needed; the adapted model is kept as DIR/NAME.model):
#                         for another sensor; in another place seen by the same sensor it
#                         cost 0.02-0.04 on four of six benchmark pairs (docs/results.md)
#   --decision RULE       argmax, share=F (the top share F of the mapped pixels is the
#                         first class, as adapt.sh --decision) or expected-iou (the first
#                         class where its probability passes the threshold under which the
#                         map's own probabilities expect the best IoU: share-threshold
#                         --expected-iou); default: the rule the model records, else argmax.
#                         The class raster and the polygons follow it
#   --flips N             probabilities averaged over N flips of each tile: 1 (none,
#                         the default), 2 or 4; N times the model's time (encode --flips)
#   --members N           an ensemble model (models/buildings.model holds three networks)
#                         maps with its first N members only: faster, a less exact map
#                         (default: all of them; encode --members)
#   --precision f32|bf16  the model's 3x3 convolutions in float (the default) or bfloat16 with
#                         float sums: 1.3-1.5x the model's speed where the CPU has AVX-512
#                         BF16 (elsewhere float); class maps agree on 99.9% of pixels
#   --round-bits N        probabilities rounded to multiples of 2^-N: 12 (the default, steps
#                         of 0.00024) makes the file 10x smaller and faster to write; 0 keeps
#                         every float bit. The class raster and polygons follow the rounded values
#   --min-area A (4 m²) --simplify T (0.25 m)   polygon filtering
#   --tile N (512) --threads N (0: all cores)
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BIN=${BIN:-$here/bin}
[ -x "$BIN/tile" ] || BIN=$(cd "$here/../../bin" 2>/dev/null && pwd)	# installed: PREFIX/share/landshift -> PREFIX/bin
export GDAL_PAM_ENABLED=NO
model="" out="" bands="" gsd=auto adapt="" decision="" min_area=4 simplify=0.25 tile=512 threads=0 scene="" flips=1 precision=f32 round_bits=12 members=0
die() { echo "map: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--model) model=$2 ;; --out) out=$2 ;; --bands) bands=$2 ;; --gsd) gsd=$2 ;; --adapt) adapt=$2 ;;
	--decision) decision=$2 ;; --min-area) min_area=$2 ;; --simplify) simplify=$2 ;; --tile) tile=$2 ;;
	--threads) threads=$2 ;; --flips) flips=$2 ;; --precision) precision=$2 ;; --round-bits) round_bits=$2 ;;
	--members) members=$2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option '$1' (see --help)" ;;
	*) [ -z "$scene" ] || die "one scene at a time (many: parallel map ... ::: scenes)"; scene=$1; shift; continue ;;
	esac
	shift 2 || die "$1 needs a value"
done
[ -n "$model" ] && [ -n "$out" ] && [ -n "$scene" ] || die "usage: map --model FILE SCENE --out DIR (see --help)"
[ -f "$model" ] || die "--model: $model does not exist"
[ -e "$scene" ] || [[ $scene == /vsi* ]] || die "$scene does not exist"
[[ $tile =~ ^[0-9]+$ ]] && [ "$tile" -ge 64 ] && [ "$tile" -le 2048 ] && [ $((tile % 16)) = 0 ] ||
	die "--tile must be 64 to 2048, a multiple of 16, not '$tile'"
[[ $threads =~ ^[0-9]+$ ]] || die "--threads must be a number (0: all cores), not '$threads'"
case $adapt in ""|adabn) ;; *) die "--adapt must be adabn, not '$adapt'" ;; esac
case $flips in 1|2|4) ;; *) die "--flips must be 1, 2 or 4, not '$flips'" ;; esac
[[ $members =~ ^[0-9]+$ ]] && [ "$members" -le 16 ] || die "--members must be 1 to the model's members, not '$members'"
case $precision in f32|bf16) ;; *) die "--precision must be f32 or bf16, not '$precision'" ;; esac
[[ $round_bits =~ ^[0-9]+$ ]] && [ "$round_bits" -le 23 ] || die "--round-bits must be 0 to 23, not '$round_bits'"
case $decision in ""|argmax|expected-iou) ;; share=*) ;; *) die "--decision must be argmax, share=F or expected-iou, not '$decision'" ;; esac
name=$(basename "$scene"); name=${name%.*}; name=${name//[^A-Za-z0-9_.-]/_}
log() { echo "map: $*" >&2; }

# what the model records: its stems' band names, GSD, class names, normalisation
meta=$(/usr/bin/python3 "$here/python/landshift_frames.py" --meta "$model") || die "$model: not a model Landshift can read"
get() { sed -n "s/^$1 //p" <<<"$meta" | head -n 1; }
classes=$(get classes); [ -n "$classes" ] || classes=$(/usr/bin/python3 -c 'import sys; n = int(sys.argv[1]); print(",".join(["background", "building", "tree", "road"][:n] + ["class%d" % i for i in range(4, n)]))' "$(sed -n 's/.*classes=\([0-9]*\).*/\1/p' <<<"$(get spec)")")
mgsd=$(get gsd)
if [ -z "$decision" ]; then	# the model's rule, when it records one
	decision=$(get decision); decision=${decision:-argmax}
	case $decision in argmax|expected-iou|share=*) ;; *) die "$model: records the decision '$decision', which this version does not know (give --decision)" ;; esac
fi
stems=$(sed -n 's/^bands\.\([^ ]*\) .*/\1/p' <<<"$meta") stem=$(head -n 1 <<<"$stems")

# the scene's band names, matched to a stem's (case aside; r/g/b/nir spelled out)
G=()
case $gsd in
auto)	if [ -n "$mgsd" ]; then G=(--gsd "$mgsd")
	elif [ -n "$(get gsd_range)" ]; then log "the model learned from $(get gsd_range) m: the scene keeps its own grid (--gsd M to resample)"
	else log "the model records no GSD: the scene keeps its own grid"; fi ;;
native) ;;
*) G=(--gsd "$gsd") ;;
esac
# the scene's band names as tile gives them, from one small tile; its
# warnings (of a 64-pixel sample) are the mapping pass's to give, its errors
# are said here
perr=$(mktemp)
have=$("$BIN"/tile --quiet --size 64 --sample 1 "$scene" 2>"$perr" | "$BIN"/frame-info --quiet --no-stats 2>>"$perr" |
	/usr/bin/python3 -c 'import json, sys; print(",".join(json.loads(sys.stdin.readline())["bands"]))' 2>/dev/null) ||
	{ why=$(grep -v '^tile: warning: \|empty stream' "$perr" | head -n 1); rm -f "$perr"
	  [ -z "$why" ] || { echo "$why" >&2; exit 2; }; die "$scene: cannot read its bands"; }
rm -f "$perr"
if [ -z "$bands" ]; then
	bands=$(/usr/bin/python3 - "$have" "$meta" "$model" "$here/python" <<'PY'
import glob, os, sys
have, meta, model = sys.argv[1].split(","), sys.argv[2].splitlines(), sys.argv[3]
alias = {"r": "red", "g": "green", "b": "blue", "nir": "nir", "near-infrared": "nir", "nearinfrared": "nir"}
norm = lambda s: alias.get(s.lower(), s.lower())
h = [norm(b) for b in have]
def match(lines):
    for line in lines:
        if line.startswith("bands."):
            stem, names = line[len("bands."):].split(" ", 1)
            want = names.split(",")
            if all(norm(w) in h for w in want):
                return ",".join(str(h.index(norm(w)) + 1) for w in want) + " " + stem
own = match(meta)
if own:
    print(own)
    sys.exit(0)
# none: the models beside it that map its classes from these bands, to name in the refusal
sys.path.insert(0, sys.argv[4])
from landshift_frames import model_meta
classes = lambda lines: set(next((l.split(" ", 1)[1] for l in lines if l.startswith("classes ")), "").split(",")[1:])
fits = []
for m in sorted(glob.glob(os.path.join(os.path.dirname(model) or ".", "*.model"))):
    try:
        other = ["%s %s" % kv for kv in model_meta(m)]
        if not os.path.samefile(m, model) and classes(meta) <= classes(other) and match(other):
            fits.append(m)
    except Exception:   # not a model: not named
        pass
print(" ".join(fits))
sys.exit(1)
PY
) || die "the scene's bands ($have) hold none of the model's band sets ($(grep '^bands\.' <<<"$meta" | cut -d' ' -f2 | paste -sd' ')): give --bands${bands:+, or map with a model for these bands: $bands}"
	read -r bands stem <<<"$bands"
elif [ -n "$stems" ]; then	# the bands given are the model's, in its order: the stem taking as many
	n=$(tr ',' '\n' <<<"$bands" | grep -c .)
	stem=$(awk -v n="$n" '/^bands\./ && split($2, b, ",") == n { print substr($1, 7); exit }' <<<"$meta")
	[ -n "$stem" ] || die "--bands $bands: $n band(s), but the model takes $(grep '^bands\.' <<<"$meta" | cut -d' ' -f2 | paste -sd' ')"
fi
# named as the model names them (a scene's R, G, B, or one grey band read three
# times, are the model's red, green, blue), so that encode finds its stem
B=(--bands "$bands")
[ -z "$stem" ] || B+=(--band-names "$(awk -v s="bands.$stem" '$1 == s { print $2; exit }' <<<"$meta")")
# the chosen bands by number, for the quick-look (a name is found as tile finds it)
bandno=$(awk -v want="$bands" -v have="$have" 'BEGIN { n = split(have, h, ","); k = split(want, w, ",")
	for (i = 1; i <= k; i++) { x = w[i]; if (x !~ /^[0-9]+$/) for (j = 1; j <= n; j++) if (h[j] == tolower(x)) { x = j; break }
		printf "%s%s", (i > 1 ? "," : ""), x } }')
log "$scene: bands $bands, ${G[*]:-native grid}, classes $classes"

T=(--size "$tile" --overlap 32 "${G[@]}" "${B[@]}")
made=""; [ -d "$out" ] || made=1	# a folder made here and left empty by a failure goes again
mkdir -p "$out" 2>/dev/null || die "--out: cannot make the folder $out"
tmp=$(mktemp -d "$out/.map.XXXXXX")
o=$tmp/o	# the outputs, moved into --out together once all are made
mkdir "$o"
trap 'rm -rf "$tmp"; [ -z "$made" ] || rmdir "$out" 2>/dev/null || true' EXIT
# a pipeline's messages, each once (the two passes over the scene warn alike);
# when a stage fails, the stages after it say only that their input ended:
# those lines are left out when another names the cause
said() {
	local keep
	keep=$(awk '!seen[$0]++' "$tmp/err")
	grep -qv 'empty stream (no frames; did the producer fail?)' <<<"$keep" &&
		keep=$(grep -v 'empty stream (no frames; did the producer fail?)' <<<"$keep")
	[ -z "$keep" ] || printf '%s\n' "$keep" >&2
	: >"$tmp/err"
}
: >"$tmp/err"
"$BIN"/tile --quiet "${T[@]}" "$scene" 2>>"$tmp/err" | "$BIN"/normalise-bands --quiet --fit "$tmp/scene.stats" 2>>"$tmp/err" ||
	{ rc=$?; said; exit "$rc"; }
use=$model
if [ "$adapt" = adabn ]; then
	log "adapting the model's batch-norm statistics to the scene (AdaBN)"
	{ "$BIN"/tile --quiet --size 256 --overlap 0 "${G[@]}" "${B[@]}" --min-valid 0.5 "$scene" |
		"$BIN"/normalise-bands --quiet --stats "$tmp/scene.stats" |
		"$BIN"/adapt-bn --quiet --threads "$threads" --model "$model" --stem "$stem" --out "$o/$name.model"; } 2>>"$tmp/err" ||
		{ rc=$?; said; exit "$rc"; }
	said
	use=$o/$name.model
fi
sha=$(sha256sum "$model" | cut -c1-16)
version=$(cat "$here/VERSION" 2>/dev/null || echo unknown)
MD=(--metadata "LANDSHIFT_MODEL=$(basename "$model")" --metadata "LANDSHIFT_MODEL_SHA256=$sha"
	--metadata "LANDSHIFT_VERSION=$version" --metadata "LANDSHIFT_CLASSES=$classes")
[ "$adapt" = adabn ] && MD+=(--metadata "LANDSHIFT_ADAPTED=adabn on this scene")
[ "$flips" = 1 ] || MD+=(--metadata "LANDSHIFT_FLIPS=$flips")
[ "$members" = 0 ] || MD+=(--metadata "LANDSHIFT_MEMBERS=$members")
[ "$precision" = f32 ] || MD+=(--metadata "LANDSHIFT_PRECISION=$precision")
[ "$round_bits" = 0 ] || MD+=(--metadata "LANDSHIFT_PROBABILITY_STEP=$(awk -v n="$round_bits" 'BEGIN { printf "%.12g", 2 ^ -n }')")
log "mapping"
# one model pass; with the most probable class, two rasters from it: the
# probabilities and the classes. A threshold is known only once the whole
# map is: the classes are then decided from the probability raster after.
CL=()
if [ "$decision" = argmax ]; then
	mkfifo "$tmp/probs.fifo"
	"$BIN"/stitch --quiet --threads "$threads" --round-bits "$round_bits" --cog --compress DEFLATE --class-index "${MD[@]}" "$tmp/classes.tif" <"$tmp/probs.fifo" 2>>"$tmp/err" &
	cls=$!
	CL=("$tmp/probs.fifo")
fi
{ "$BIN"/tile --quiet "${T[@]}" "$scene" | "$BIN"/normalise-bands --quiet --stats "$tmp/scene.stats" |
	"$BIN"/encode --quiet --threads "$threads" --batch 1 --decode --flips "$flips" --members "$members" --precision "$precision" --model "$use" |
	tee "${CL[@]}" | "$BIN"/stitch --quiet --threads "$threads" --round-bits "$round_bits" --cog --compress DEFLATE --nodata -1 "${MD[@]}" "$tmp/probs.tif"; } 2>>"$tmp/err" ||
	{ rc=$?; [ -z "${cls:-}" ] || wait "$cls" || true; said; exit "$rc"; }
CT=() t=""
if [ "$decision" = argmax ]; then
	wait "$cls" || { rc=$?; said; echo "map: writing the class raster failed" >&2; exit "$rc"; }
fi
said
if [ "$decision" != argmax ]; then
	if [ "$decision" = expected-iou ]; then
		t=$("$BIN"/share-threshold --quiet --expected-iou "$tmp/probs.tif")
	else
		t=$("$BIN"/share-threshold --quiet --share "${decision#share=}" "$tmp/probs.tif")
	fi
	CT=(--class-threshold "1=$t")
	log "decision $decision: class 1 where its probability is $t or more"
	"$BIN"/tile --quiet --size 512 --overlap 0 "$tmp/probs.tif" |
		"$BIN"/stitch --quiet --threads "$threads" --cog --compress DEFLATE --class-index "${CT[@]}" "${MD[@]}" \
			--metadata "LANDSHIFT_DECISION=$decision: class 1 where its probability is $t or more" "$tmp/classes.tif"
fi
mv "$tmp/probs.tif" "$o/${name}_probs.tif"
mv "$tmp/classes.tif" "$o/${name}_classes.tif"
LN=() lines="" i=0	# a class named road is a line class: its centrelines (LineStrings)
IFS=, read -ra cl <<<"$classes"
for c in "${cl[@]}"; do
	case $c in road|roads) lines=${lines:+$lines,}$i ;; esac
	i=$((i + 1))
done
[ -z "$lines" ] || LN=(--lines "$lines")
# the report names an ensemble's networks (bin/ensemble), as many as mapped
mdesc=$model nm=$(get members)
if [[ $nm =~ ^[0-9]+$ ]] && [ "$nm" -gt 1 ]; then
	if [ "$members" = 0 ] || [ "$members" = "$nm" ]; then mdesc="$model (its $nm networks, their probabilities averaged)"
	elif [ "$members" = 1 ]; then mdesc="$model (the first of its $nm networks alone)"
	else mdesc="$model (the first $members of its $nm networks, their probabilities averaged)"; fi
fi
R=("$scene" "$o" "$name" "$mdesc" "$classes" "$bands" "${G[*]:-native}" "$decision${t:+: ${cl[1]:-class 1} where its probability is $t or more}" "$adapt")
Q=("${R[@]}"); Q[5]=$bandno
/usr/bin/python3 "$here/pipelines/map-report.py" --quicklook "${Q[@]}" &	# beside vectorise, on the other core
look=$!
"$BIN"/vectorise --quiet --class-names "$classes" --min-area "$min_area" --simplify "$simplify" "${CT[@]}" "${LN[@]}" \
	"$o/${name}_probs.tif" "$o/$name.gpkg" || { rc=$?; wait "$look"; exit "$rc"; }
wait "$look"
/usr/bin/python3 "$here/pipelines/map-report.py" --page "${R[@]}"
for f in "$o"/*; do mv -f "$f" "$out/" || die "cannot move the maps into $out"; done
log "wrote $out/${name}_probs.tif, ${name}_classes.tif, $name.gpkg, $name.png, $name.html"
