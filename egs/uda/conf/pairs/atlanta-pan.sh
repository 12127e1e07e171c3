# development pair: Atlanta RGB to Atlanta panchromatic, read as grey R, G, B
# through the source's stem (14 buildings scored: it cannot rank methods)
source=atlanta metric=iou headline=0
split "$DATA/atlanta_sn4/pan.tif" atlanta_pan 2/3
L=$DATA/atlanta_sn4/pan_buildings.geojson
tgt+=(--target "$SCENES/atlanta_pan_west.vrt" --target-labels "$L")
ev+=(--eval "$SCENES/atlanta_pan_east.vrt" --eval-labels "$L")
opts+=(--target-bands 1,1,1 --target-band-names red,green,blue)
