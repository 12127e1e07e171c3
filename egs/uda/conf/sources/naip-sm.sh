# NAIP 2020 aerial, Santa Monica: 92 chips of 256 x 256, R, G, B, NIR at
# 0.6 m; trees as discs of 2.4 m around surveyed points (mask value 2)
class=tree label_map=2=1
epochs=12
for img in "$DATA"/naip_trees/images/*.tif; do
	src+=(--source "$img" --source-labels "$DATA/naip_trees/masks/$(basename "$img")")
done
