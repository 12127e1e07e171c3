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
