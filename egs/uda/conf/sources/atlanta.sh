# Atlanta: WorldView-2 R, G, B at 0.5 m, 186 SpaceNet 4 buildings
class=building
epochs=40
opts+=(--gsd 0.5)
src+=(--source "$DATA/atlanta_sn4/rgb_nadir10.tif" --source-labels "$DATA/atlanta_sn4/rgb_nadir10_buildings.geojson")
