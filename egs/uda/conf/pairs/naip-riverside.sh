# Santa Monica to Riverside (inland): NAIP trees, another city and
# climate, the same sensor and year; scored on the surveyed tree points
source=naip-sm metric=point_f1 headline=1
naip_city riverside
