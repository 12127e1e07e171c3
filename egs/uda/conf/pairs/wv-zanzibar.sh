# WorldView-2 over Rio and Atlanta to drone imagery of Zanzibar at 0.5 m: a
# satellite to drone and country shift. The chips (38 px at 0.5 m) are read
# through the city's mosaic, its northern half the unlabelled target, the
# southern half scored; tiles need a fifth of their pixels imaged
source=rio-atlanta metric=iou headline=1
min_valid=0.2
split "$DATA/drone_africa/zanzibar/images.vrt" zanzibar 1/2 ns
split "$DATA/drone_africa/zanzibar/masks.vrt" zanzibar_masks 1/2 ns
tgt+=(--target "$SCENES/zanzibar_north.vrt" --target-labels "$SCENES/zanzibar_masks_north.vrt")
ev+=(--eval "$SCENES/zanzibar_south.vrt" --eval-labels "$SCENES/zanzibar_masks_south.vrt")
