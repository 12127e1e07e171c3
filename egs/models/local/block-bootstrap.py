#!/usr/bin/python3
"""block-bootstrap.py ERRORS [--block PX] [--draws N] [--seed S]

How precise is one IoU measured on one small area? ERRORS is evaluate's
error raster of the map (`evaluate --errors`, adapt.sh's errors_NAME.tif:
1 true positive, 2 false positive, 3 false negative, 0 true negative, 255
not scored), so the decision rule, the reference and what is scored are
evaluate's own. It is cut into square blocks of PX pixels (default 50);
the blocks are drawn with replacement N times (2000) and the IoU
recomputed from their summed counts each time. Blocks keep the spatial
correlation of errors inside a building, which a pixel bootstrap would
ignore. Prints one JSON line: the IoU, the blocks, the bootstrap's
standard deviation and its 95% interval."""
import argparse
import json
import sys

import numpy as np
from osgeo import gdal

gdal.UseExceptions()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("errors")
    ap.add_argument("--block", type=int, default=50)
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.block < 1 or a.draws < 1:
        sys.exit("block-bootstrap: --block and --draws must be 1 or more")
    try:
        e = gdal.Open(a.errors).ReadAsArray()
    except RuntimeError as err:
        sys.exit("block-bootstrap: %s" % err)
    if e.ndim != 2 or not np.isin(e, (0, 1, 2, 3, 255)).all():
        sys.exit("block-bootstrap: %s: not an error raster of evaluate --errors (one band of 0-3 and 255)" % a.errors)
    h, w, b = e.shape[0], e.shape[1], a.block
    tp, union = [], []
    for y in range(0, h, b):
        for x in range(0, w, b):
            blk = e[y:y + b, x:x + b]
            tp.append(int((blk == 1).sum()))
            union.append(int(((blk >= 1) & (blk <= 3)).sum()))
    tp, union = np.array(tp), np.array(union)
    if union.sum() == 0:
        sys.exit("block-bootstrap: %s: the class is neither mapped nor labelled: no IoU" % a.errors)
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
