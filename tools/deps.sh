#!/bin/sh
# deps.sh check|install|bench - make sure the Debian packages Landshift builds
# and tests with are present (bench: and python3-torch, the peer make bench
# times against). As root, installs what is missing; otherwise prints the
# exact apt-get line and fails.
PKGS="build-essential pkg-config libgdal-dev gdal-bin python3-gdal libtiff-dev libopenblas-dev libfftw3-dev libmsgpack-dev python3-numpy python3-msgpack parallel man-db gnuplot-nox chromium libopenmpi-dev openmpi-bin valgrind"
[ "$1" = bench ] && PKGS="$PKGS python3-torch"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && [ "$1" = install -o -n "$CI" -o "$1" = check -o "$1" = bench ]; then
	echo "deps: installing:$missing" >&2
	apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2 && exit 0
	echo "deps: apt-get install failed" >&2
	exit 1
fi
echo "deps: missing Debian packages:$missing" >&2
echo "deps: run as root: apt-get update && apt-get install -y$missing" >&2
exit 1
