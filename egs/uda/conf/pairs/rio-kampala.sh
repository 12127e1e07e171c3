# development pair: WorldView-2 over Rio and Atlanta to Kampala drone imagery
# at 0.5 m (zoom-19 tiles, alpha kept), its western 5/6 the target, the rest scored
source=rio-atlanta metric=iou headline=0
scene "$SCENES/kampala_z19.vrt" gdalbuildvrt -q -a_srs EPSG:3857 "$SCENES/kampala_z19.vrt" "$DATA"/kampala_oam/tiles/*-19.png
split "$SCENES/kampala_z19.vrt" kampala 5/6
L=$DATA/kampala_oam/buildings.geojson
tgt+=(--target "$SCENES/kampala_west.vrt" --target-labels "$L")
ev+=(--eval "$SCENES/kampala_east.vrt" --eval-labels "$L")
