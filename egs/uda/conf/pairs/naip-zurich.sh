# development pair: NAIP trees (R, G, B of Santa Monica) to a Swiss RGB
# orthophoto at 0.5 m, scored on crown centres of the LiDAR tree class
# (18 crowns in the eastern part: it cannot rank methods)
source=naip-sm-rgb metric=point_f1 headline=0
label_map=1=0,2=1
split "$DATA/zurich_lidar/rgb_full.tif" zurich 1/3
L=$DATA/zurich_lidar/labels_full.tif
tgt+=(--target "$SCENES/zurich_west.vrt" --target-labels "$L")
ev+=(--eval "$SCENES/zurich_east.vrt" --eval-labels "$L")
opts+=(--eval-crowns)
