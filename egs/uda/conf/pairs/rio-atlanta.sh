# Rio de Janeiro to Atlanta: the same satellite family in another country,
# where the test is to do no harm. The western two thirds of the Atlanta
# scene are the unlabelled target, the eastern third is scored
source=rio metric=iou headline=1
split "$DATA/atlanta_sn4/rgb_nadir10.tif" atlanta 2/3
L=$DATA/atlanta_sn4/rgb_nadir10_buildings.geojson
tgt+=(--target "$SCENES/atlanta_west.vrt" --target-labels "$L")
ev+=(--eval "$SCENES/atlanta_east.vrt" --eval-labels "$L")
