#!/usr/bin/python3
"""pseudo.py LABELS OUT HI LO CODE=PROBS... - a source's labels completed for
the classes they do not speak for, from one-class teachers' probabilities
(PROBS: a one-class model's probability raster on the same grid, band 2 its
class): where the labels say 0 ("none of their classes"), a teacher at HI or
above makes the pixel its class, every teacher below LO keeps it 0 (now
"none of any class"), anything else is unknown (255). The labels' own
classes and unknown pixels are kept. Prints the share of each outcome."""
import sys

import numpy as np
from osgeo import gdal

gdal.UseExceptions()


def main():
    src, dst, hi, lo = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    teachers = [(int(a.split("=", 1)[0]), a.split("=", 1)[1]) for a in sys.argv[5:]]
    ds = gdal.Open(src)
    lab = ds.GetRasterBand(1).ReadAsArray()
    out = lab.copy()
    zero = lab == 0
    best = np.zeros(lab.shape, np.float32)
    cls = np.zeros(lab.shape, np.uint8)
    for code, path in teachers:
        pds = gdal.Open(path)  # held: a band outlives no dataset
        p = pds.GetRasterBand(2).ReadAsArray().astype(np.float32)
        pds = None
        if p.shape != lab.shape:
            sys.exit(f"pseudo: {path} is {p.shape[1]}x{p.shape[0]}, the labels {src} {lab.shape[1]}x{lab.shape[0]}")
        p = np.nan_to_num(p, nan=0.5)  # unmapped pixels: unsure
        take = p > best
        best[take], cls[take] = p[take], code
    out[zero & (best >= hi)] = cls[zero & (best >= hi)]
    out[zero & (best >= lo) & (best < hi)] = 255
    drv = gdal.GetDriverByName("GTiff")
    o = drv.Create(dst + ".tmp.tif", ds.RasterXSize, ds.RasterYSize, 1, gdal.GDT_Byte, ["COMPRESS=DEFLATE"])
    o.SetGeoTransform(ds.GetGeoTransform())
    o.SetProjection(ds.GetProjection())
    o.GetRasterBand(1).WriteArray(out)
    o = None
    import os
    os.replace(dst + ".tmp.tif", dst)
    n = max(int(zero.sum()), 1)
    print(f"{src}: of the 0s, {(zero & (best >= hi)).sum() / n:.3f} a teacher's class, "
          f"{(zero & (best < lo)).sum() / n:.3f} background of every class, "
          f"{(zero & (best >= lo) & (best < hi)).sum() / n:.3f} unknown")


if __name__ == "__main__":
    main()
