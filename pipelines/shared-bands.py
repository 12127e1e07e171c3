#!/usr/bin/python3
"""shared-bands.py RASTER... - the bands that are not constant over all the
given rasters (a target's), as 1,2,3; nothing when every band varies
somewhere. A band an RGB camera lacks (an empty near-infrared) is constant.
Reads pixels only, never labels."""
import sys
from osgeo import gdal

gdal.UseExceptions()
lo, hi = {}, {}
for path in sys.argv[1:]:
    try:
        ds = gdal.Open(path)
    except RuntimeError as e:
        sys.exit(f"shared-bands: {e}" if path in str(e) else f"shared-bands: {path}: {e}")
    for b in range(1, ds.RasterCount + 1):
        try:
            mn, mx = ds.GetRasterBand(b).ComputeRasterMinMax(False)
        except RuntimeError:	# no valid pixel in this raster
            continue
        lo[b], hi[b] = min(lo.get(b, mn), mn), max(hi.get(b, mx), mx)
keep = [b for b in sorted(lo) if hi[b] > lo[b]]
if len(keep) < len(lo):
    print(",".join(map(str, keep)))
