# Rio de Janeiro and Atlanta: WorldView-2 R, G, B at 0.5 m (SpaceNet 1 and 4)
. "$CONF/sources/rio.sh"
src+=(--source "$DATA/atlanta_sn4/rgb_nadir10.tif" --source-labels "$DATA/atlanta_sn4/rgb_nadir10_buildings.geojson")
