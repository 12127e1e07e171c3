# Kampala (Uganda) to Nairobi (Kenya): drone imagery of another country
# at 0.15 m; scored on the building masks of every other chip
source=kampala metric=iou headline=1
drone_chips nairobi
