# Santa Monica R, G, B, NIR to Palm Springs seen without near-infrared (band
# shift on top of
# the city's): the target's NIR band is empty, as from an RGB camera
# (local/pairs.sh naip_city_rgb); scored on the surveyed tree points.
source=naip-sm metric=point_f1 headline=1
naip_city_rgb palm_springs
