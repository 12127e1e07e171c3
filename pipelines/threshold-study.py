#!/usr/bin/python3
# pipelines/threshold-study.py - how a run's target map scores when its class
# is decided by a share instead of by the largest probability.
#
# usage: threshold-study.py --ref LABELS [--code C] [--band B]
#            (--share F | --source-labels FILE ... [--source-code S] --) RUNDIR ...
#
# A run folder of adapt.sh holds one probability GeoTIFF per mapped raster
# (probs_*.tif, one band per class). For each run this prints the IoU of class
# C (reference value C in LABELS, 255 not scored) two ways:
#   argmax  the class of largest probability, as `evaluate` decides (the
#           numbers must equal the run's metrics.json);
#   share   the pixels of the run's maps ranked by band B's probability and the
#           top share F of them called class C: the threshold comes from the
#           predictions alone, never from LABELS. F is given, or is the share
#           of value S among the --source-labels rasters' pixels (the share
#           the model was trained on; end their list with --).
# Then mean +- sd a method (the run folder's parent folder), as in the table.
# A diagnostic: it reads whole rasters, for the scenes of docs/experiments.
import argparse
import os
import statistics
import sys

import numpy as np
from osgeo import gdal

gdal.UseExceptions()


def die(msg):
    print("threshold-study: " + msg, file=sys.stderr)
    sys.exit(1)


def source_share(files, code):
    n = hit = 0
    for f in files:
        a = gdal.Open(f).ReadAsArray()
        n += a.size
        hit += int((a == code).sum())
    if n == 0:
        die("the --source-labels rasters hold no pixel")
    return hit / n


def reference_window(ref, ds, name):
    """The reference labels under DS's grid (same CRS and pixel size, north up)."""
    rgt, gt = ref.GetGeoTransform(), ds.GetGeoTransform()
    rs, s = ref.GetSpatialRef(), ds.GetSpatialRef()
    if rs is None or s is None or not rs.IsSame(s):
        die("%s: its CRS is not the reference's (or one of them has none)" % name)
    if gt[2] or gt[4] or rgt[2] or rgt[4]:
        die("%s: a rotated grid (this study reads north-up rasters only)" % name)
    if abs(rgt[1] - gt[1]) > 1e-9 * abs(gt[1]) or abs(rgt[5] - gt[5]) > 1e-9 * abs(gt[5]):
        die("%s: pixel size %g differs from the reference's %g" % (name, gt[1], rgt[1]))
    x0, y0 = round((gt[0] - rgt[0]) / rgt[1]), round((gt[3] - rgt[3]) / rgt[5])
    w, h = ds.RasterXSize, ds.RasterYSize
    out = np.full((h, w), 255, np.uint8)	# outside the reference: not scored
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, ref.RasterXSize), min(y0 + h, ref.RasterYSize)
    if xa < xb and ya < yb:
        out[ya - y0:yb - y0, xa - x0:xb - x0] = ref.ReadAsArray(xa, ya, xb - xa, yb - ya)
    return out


def iou(pred, ref, code):
    ok = ref != 255
    p, r = pred & ok, (ref == code) & ok
    u = int((p | r).sum())
    return int((p & r).sum()) / u if u else float("nan")


def study(run, ref, code, band, share):
    maps = sorted(f for f in os.listdir(run) if f.startswith("probs_") and f.endswith(".tif"))
    if not maps:
        die("%s: no probs_*.tif (a run folder of adapt.sh, its maps kept)" % run)
    probs, amax, refs, keep = [], [], [], []
    for f in maps:
        ds = gdal.Open(os.path.join(run, f))
        if not 1 <= band <= ds.RasterCount:
            die("%s: no band %d (%d bands)" % (os.path.join(run, f), band, ds.RasterCount))
        a = ds.ReadAsArray().reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize)
        valid = ds.GetRasterBand(band).GetMaskBand().ReadAsArray().ravel() != 0
        r = reference_window(ref, ds, os.path.join(run, f)).ravel()
        r[~valid] = 255	# not mapped: neither counted in the share nor scored
        probs.append(a[band - 1].ravel()[valid])
        amax.append((a.argmax(axis=0) == band - 1).ravel())
        refs.append(r)
        keep.append(valid)
    r, valid = np.concatenate(refs), np.concatenate(keep)
    if not valid.any():
        die("%s: no mapped pixel" % run)
    t = np.quantile(np.concatenate(probs), 1 - share)	# over every mapped pixel: no label read
    marked = np.zeros(valid.size, bool)
    marked[valid] = np.concatenate(probs) > t
    return {"run": run, "argmax_iou": iou(np.concatenate(amax), r, code), "share_iou": iou(marked, r, code),
            "threshold": float(t), "marked": float(marked[valid].mean())}


def main():
    ap = argparse.ArgumentParser(description="score runs' maps with the class decided by a share of pixels")
    ap.add_argument("--ref", required=True, help="reference label raster (255: not scored)")
    ap.add_argument("--code", type=int, default=2, help="the class's value in --ref (default 2, tree)")
    ap.add_argument("--band", type=int, default=2, help="the class's band in probs_*.tif (default 2)")
    ap.add_argument("--share", type=float, help="share of the mapped pixels called the class")
    ap.add_argument("--source-labels", nargs="+", default=[], help="label rasters whose share of --source-code is --share")
    ap.add_argument("--source-code", type=int, default=2, help="the class's value in --source-labels (default 2)")
    ap.add_argument("runs", nargs="+", metavar="RUNDIR")
    a = ap.parse_args()
    if (a.share is None) == (not a.source_labels):
        die("give --share or --source-labels, one of them")
    share = a.share if a.share is not None else source_share(a.source_labels, a.source_code)
    if not 0 < share < 1:
        die("the share must lie between 0 and 1, not %g" % share)
    ref = gdal.Open(a.ref)
    studies = [study(run.rstrip("/"), ref, a.code, a.band, share) for run in a.runs]	# all or nothing
    print("share %.4f of the mapped pixels called class %d" % (share, a.code))
    by = {}
    for s in studies:
        by.setdefault(os.path.basename(os.path.dirname(s["run"])), []).append(s)
        print("%s: argmax IoU %.3f, share IoU %.3f (threshold %.3f, %.2f %% marked)" %
              (s["run"], s["argmax_iou"], s["share_iou"], s["threshold"], 100 * s["marked"]))
    for m, runs in by.items():
        def ms(k):
            v = [r[k] for r in runs]
            return "%.3f +- %.3f" % (statistics.mean(v), statistics.stdev(v)) if len(v) > 1 else "%.3f" % v[0]
        print("%s, %d run(s): argmax IoU %s, share IoU %s" % (m, len(runs), ms("argmax_iou"), ms("share_iou")))


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as e:	# GDAL's: a raster missing or unreadable
        die(str(e))
