# the Santa Monica NAIP chips read as R, G, B (no near-infrared), at 0.5 m
. "$CONF/sources/naip-sm.sh"
opts+=(--source-bands 1,2,3 --gsd 0.5)
