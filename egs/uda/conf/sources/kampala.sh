# Kampala, Uganda: drone imagery (OpenAerialMap) at 0.15 m (zoom 20), 206
# OpenStreetMap buildings. The data's z20.vrt has lost the tiles' alpha
# (its empty areas would read as black imagery): the scene is rebuilt from
# the zoom-20 tiles, alpha kept, which tile takes as the mask.
class=building
epochs=20
opts+=(--gsd 0.15)
scene "$SCENES/kampala_z20.vrt" gdalbuildvrt -q -a_srs EPSG:3857 "$SCENES/kampala_z20.vrt" "$DATA"/kampala_oam/tiles/*-20.png
src+=(--source "$SCENES/kampala_z20.vrt" --source-labels "$DATA/kampala_oam/buildings.geojson")
