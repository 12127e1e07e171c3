# WorldView-2 over Rio and Atlanta to drone imagery of Nairobi at 0.5 m: a
# satellite to drone and country shift. The chips (38 px at 0.5 m) are read
# through a mosaic of the city's chips, its northern half the unlabelled target, the
# southern half scored; tiles need a fifth of their pixels imaged
source=rio-atlanta metric=iou headline=1
min_valid=0.2
# the data's images.vrt and masks.vrt read the gaps between chips as black
# imagery and background: mosaics rebuilt with an alpha band (images) and
# 255, unknown, between the chips (masks)
scene "$SCENES/nairobi_img.vrt" gdalbuildvrt -q -addalpha "$SCENES/nairobi_img.vrt" "$DATA"/drone_africa/nairobi/images/*.tif
scene "$SCENES/nairobi_lab.vrt" gdalbuildvrt -q -vrtnodata 255 "$SCENES/nairobi_lab.vrt" "$DATA"/drone_africa/nairobi/masks/*.tif
split "$SCENES/nairobi_img.vrt" nairobi 1/2 ns
split "$SCENES/nairobi_lab.vrt" nairobi_masks 1/2 ns
tgt+=(--target "$SCENES/nairobi_north.vrt" --target-labels "$SCENES/nairobi_masks_north.vrt")
ev+=(--eval "$SCENES/nairobi_south.vrt" --eval-labels "$SCENES/nairobi_masks_south.vrt")
