# Massachusetts aerial R, G, B (1 m) to Las Vegas WorldView-3 panchromatic
# (0.3 m, read at 1 m as grey R, G, B): sensor, band and city shift. The
# scene's western two thirds are the target; the eastern third is scored,
# its centrelines too (F1 within 2 m, APLS). Not a headline pair: the scored
# third holds 215 m of road (846 pixels at 1 m; the whole scene 1031 m, 9
# roads), too little to rank methods, and the source model reaches road IoU
# 0.10 on its own validation tiles (8 epochs; 0.14 with 16 and weights 1,5)
source=massachusetts metric=road_f1 headline=0
split "$DATA/vegas_sn3_roads/pan.tif" vegas_pan 2/3
split "$DATA/vegas_sn3_roads/road_mask.tif" vegas_mask 2/3
tgt+=(--target "$SCENES/vegas_pan_west.vrt" --target-labels "$SCENES/vegas_mask_west.vrt")
ev+=(--eval "$SCENES/vegas_pan_east.vrt" --eval-labels "$SCENES/vegas_mask_east.vrt"
	--eval-lines "$DATA/vegas_sn3_roads/roads.geojson")
opts+=(--target-bands 1,1,1 --target-band-names red,green,blue)
