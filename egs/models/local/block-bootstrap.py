#!/usr/bin/python3
"""block-bootstrap.py PROBS REFERENCE [--block PX] [--draws N] [--seed S] [--class K]

How precise is one IoU measured on one small area? The map's most probable
class (PROBS: a probability GeoTIFF, stitch's output; no data -1 not scored)
against the reference (a label raster on the same grid, or vector labels,
burned at pixel centres as evaluate does), cut into square blocks of PX
pixels (default 50); the blocks are drawn with replacement N times (2000)
and the IoU of class K (1) is recomputed from their summed counts each time.
Blocks keep the spatial correlation of errors inside a building, which a
pixel bootstrap would ignore. Prints one JSON line: the IoU, the blocks, the
bootstrap's standard deviation and its 95% interval."""
import argparse
import json
import sys

import numpy as np
from osgeo import gdal, ogr

gdal.UseExceptions()
ogr.UseExceptions()


def reference(path, probs):
    """The reference on the probabilities' grid: a raster read there, or vectors burned there."""
    grid = gdal.GetDriverByName("MEM").Create("", probs.RasterXSize, probs.RasterYSize, 1, gdal.GDT_Byte)
    grid.SetGeoTransform(probs.GetGeoTransform())
    grid.SetProjection(probs.GetProjection())
    try:
        src = gdal.OpenEx(path, gdal.OF_RASTER)
    except RuntimeError:
        src = None
    if src is not None:
        gdal.Warp(grid, src, resampleAlg="near")
    else:
        gdal.Rasterize(grid, path, burnValues=[1])
    return grid.ReadAsArray()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("probs")
    ap.add_argument("reference")
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--class", dest="k", type=int, default=1)
    a = ap.parse_args()
    if a.block < 1 or a.draws < 1:
        sys.exit("block-bootstrap: --block and --draws must be 1 or more")
    try:
        probs = gdal.Open(a.probs)
        p = probs.ReadAsArray().astype(np.float32)
        ref = reference(a.reference, probs)
    except RuntimeError as e:
        sys.exit("block-bootstrap: %s" % e)
    if p.ndim != 3 or a.k >= p.shape[0]:
        sys.exit("block-bootstrap: %s: no class %d among its bands" % (a.probs, a.k))
    scored = (p >= 0).all(0) & (ref != 255)
    pred = (p.argmax(0) == a.k) & scored
    truth = (ref == a.k) & scored
    h, w = pred.shape
    b = a.block
    tp, union = [], []
    for y in range(0, h, b):
        for x in range(0, w, b):
            pb, tb = pred[y:y + b, x:x + b], truth[y:y + b, x:x + b]
            tp.append(int((pb & tb).sum()))
            union.append(int((pb | tb).sum()))
    tp, union = np.array(tp), np.array(union)
    if union.sum() == 0:
        sys.exit("block-bootstrap: class %d is neither mapped nor labelled: no IoU" % a.k)
    rng = np.random.default_rng(a.seed)
    n = len(tp)
    draws = []
    for _ in range(a.draws):
        i = rng.integers(0, n, n)
        u = union[i].sum()
        if u:
            draws.append(tp[i].sum() / u)
    draws = np.array(draws)
    lo, hi = np.percentile(draws, [2.5, 97.5])
    print(json.dumps({"iou": round(float(tp.sum() / union.sum()), 6), "blocks": n, "block_px": b,
                      "draws": len(draws), "sd": round(float(draws.std()), 6),
                      "ci95": [round(float(lo), 6), round(float(hi), 6)]}))


if __name__ == "__main__":
    main()
