# Massachusetts roads (Mnih): aerial R, G, B at 1 m, 7 tiles of 1500 x 1500;
# roads are OSM centrelines burned at a fixed width (mask value 3). The
# georeference is synthetic (data/README.md): pixel work only
class=road label_map=3=1
epochs=8
opts+=(--gsd 1 --class-weights 1,2)
for img in "$DATA"/massachusetts_roads/images/*.tif; do
	src+=(--source "$img" --source-labels "$DATA/massachusetts_roads/masks/$(basename "$img")")
done
