# egs/uda/local/pairs.sh - what the pair and source files call: scenes cut
# into the part adapted to and the part scored, and lists of chips. Each
# appends to the arrays the files fill: src (--source/--source-labels),
# tgt (--target/--target-labels), ev (--eval/--eval-labels/--eval-points).

# scene FILE CMD...: make FILE by CMD once (a VRT of a scene, say), under a
# temporary name renamed when whole, as runs side by side may need it at once
scene() {
	local f=$1 a args=() tmp
	shift
	[ -f "$f" ] && return 0
	tmp=$(dirname "$f")/.$$.$RANDOM.$(basename "$f")
	for a in "$@"; do [ "$a" = "$f" ] && args+=("$tmp") || args+=("$a"); done
	"${args[@]}" && mv -f "$tmp" "$f"
}

# split IMG NAME N/D west|east|north|south...: IMG cut at N/D of its width
# (west, east) or height (north, south) into $SCENES/NAME_west.vrt, ... as VRTs
split() {
	local img=$1 name=$2 f=$3 w h cut
	read -r w h < <(gdalinfo "$img" | awk '/^Size is/ {gsub(",", ""); print $3, $4}')
	if [ "${4:-}" = ns ]; then
		cut=$((h * ${f%/*} / ${f#*/}))
		scene "$SCENES/${name}_north.vrt" gdal_translate -q -of VRT -srcwin 0 0 "$w" "$cut" "$img" "$SCENES/${name}_north.vrt"
		scene "$SCENES/${name}_south.vrt" gdal_translate -q -of VRT -srcwin 0 "$cut" "$w" $((h - cut)) "$img" "$SCENES/${name}_south.vrt"
	else
		cut=$((w * ${f%/*} / ${f#*/}))
		scene "$SCENES/${name}_west.vrt" gdal_translate -q -of VRT -srcwin 0 0 "$cut" "$h" "$img" "$SCENES/${name}_west.vrt"
		scene "$SCENES/${name}_east.vrt" gdal_translate -q -of VRT -srcwin "$cut" 0 $((w - cut)) "$h" "$img" "$SCENES/${name}_east.vrt"
	fi
}

# chips DIR: DIR/images/*.tif by the number ending their name, one per line
chips() {
	ls "$1"/images/*.tif | awk -F'[_.-]' '{print $(NF-1), $0}' | sort -n | cut -d' ' -f2-
}

# naip_city CITY: the chips of naip_trees_cities/CITY, every other one
# (even places) the unlabelled target, the rest scored against their tree
# points (a chip without a tree file is not scored)
naip_city() {
	local d=$DATA/naip_trees_cities/$1 i=0 img base
	while read -r img; do
		base=$(basename "$img" .tif)
		if [ $((i % 2)) = 0 ]; then
			tgt+=(--target "$img" --target-labels "$d/masks/$base.tif")
		elif [ -f "$d/json/$base.json" ]; then
			ev+=(--eval "$img" --eval-labels "$d/masks/$base.tif" --eval-points "$d/json/$base.json")
		fi
		i=$((i + 1))
	done < <(chips "$d")
}

# drone_chips CITY: the building chips of drone_africa/CITY, every other one
# the unlabelled target, the rest scored against their masks
drone_chips() {
	local d=$DATA/drone_africa/$1 i=0 img base
	while read -r img; do
		base=$(basename "$img")
		if [ $((i % 2)) = 0 ]; then
			tgt+=(--target "$img" --target-labels "$d/masks/$base")
		else
			ev+=(--eval "$img" --eval-labels "$d/masks/$base")
		fi
		i=$((i + 1))
	done < <(ls "$d"/images/*.tif)
}

# naip_city_rgb CITY: naip_city's chips as a camera without near-infrared
# sees them: each chip a VRT of its red, green and blue bands and an empty
# fourth (zeros, so constant: normalised to 0, the source's mean, as a
# model trained on R, G, B, NIR reads a scene with no NIR; named as the
# source's fourth band, b4, so the model's stem takes it)
naip_city_rgb() {
	local i
	naip_city "$1"
	mkdir -p "$SCENES/rgb_$1"
	rgb_chips tgt "$1"
	rgb_chips ev "$1"
}

# rgb_chips ARRAY CITY: each image after --target or --eval in ARRAY
# replaced by its VRT without near-infrared
rgb_chips() {
	local -n a=$1
	local k v
	for k in "${!a[@]}"; do
		[ "${a[$k]}" = --target ] || [ "${a[$k]}" = --eval ] || continue
		v=$SCENES/rgb_$2/$(basename "${a[$((k + 1))]}" .tif).vrt
		scene "$v" /usr/bin/python3 -c '
import sys
from osgeo import gdal
gdal.UseExceptions()
src = gdal.Open(sys.argv[1])
ds = gdal.Translate(sys.argv[2], src, format="VRT", bandList=[1, 2, 3])
ds.AddBand(gdal.GDT_Byte)	# no source: reads as zeros
ds.GetRasterBand(4).SetColorInterpretation(gdal.GCI_Undefined)
ds = None' "${a[$((k + 1))]}" "$v"
		a[$((k + 1))]=$v
	done
}
