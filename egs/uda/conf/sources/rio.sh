# Rio de Janeiro: WorldView-2 pan-sharpened R, G, B (SpaceNet 1), 15 images at 0.5 m
class=building
epochs=20
opts+=(--gsd 0.5)
for img in "$DATA"/rio_sn1/images/*.tif; do
	src+=(--source "$img" --source-labels "$DATA/rio_sn1/masks/$(basename "$img")")
done
