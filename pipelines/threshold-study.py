#!/usr/bin/python3
# pipelines/threshold-study.py - how a run's target map scores when its class
# is decided by a share instead of by the largest probability.
#
# usage: threshold-study.py --ref LABELS [--ref-map V=C,...]
#            (--share F | --source-labels FILE ... [--source-code S] --) RUNDIR ...
#
# A run folder of adapt.sh holds one probability GeoTIFF per mapped raster
# (probs_*.tif, two bands: background, the class). For each run this prints
# the class's IoU over all its maps, scored by `evaluate` (LABELS mapped to
# classes 0 and 1 by --ref-map, as adapt.sh's --label-map) two ways:
#   argmax  the class of largest probability, as adapt.sh scores it (the
#           numbers must equal the run's metrics.json);
#   share   the run's mapped pixels ranked by the class's probability and the
#           top share F of them called the class (`share-threshold` over all
#           the run's maps, then `evaluate --class-threshold`, as adapt.sh
#           --decision share=F): the threshold comes from the predictions
#           alone, never from LABELS. F is given, or is the share of value S
#           among the --source-labels rasters' pixels (the share the model was
#           trained on; end their list with --).
# Then mean +- sd a method (the run folder's parent folder), as in the table.
# It changes nothing in the run folders.
import argparse
import json
import os
import statistics
import subprocess
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


def tool(name, args, what):
    """stdout of Landshift's NAME run with ARGS; dies naming WHAT if it fails."""
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", os.environ.get("BIN", "bin"), name)
    r = subprocess.run([exe, "--quiet", "--threads", "1"] + args, capture_output=True, text=True)
    if r.returncode != 0:
        die("%s: %s" % (what, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else name + " failed"))
    return r.stdout


def evaluate(prob, ref, ref_map, extra=()):
    """The pooled-ready confusion matrix `evaluate` gives PROB against REF,
    with the options adapt.sh scores a two-class run with."""
    out = tool("evaluate", ["--ref", ref, "--ref-map", ref_map, "--class-names", "background,class", *extra, prob], prob)
    return np.array(json.loads(out)["confusion"], np.int64)


def iou(c):
    u = c[1, 1] + c[0, 1] + c[1, 0]
    return float(c[1, 1] / u) if u else float("nan")


def study(run, ref, ref_map, share):
    maps = [os.path.join(run, f) for f in sorted(os.listdir(run)) if f.startswith("probs_") and f.endswith(".tif")]
    if not maps:
        die("%s: no probs_*.tif (a run folder of adapt.sh, its maps kept)" % run)
    for f in maps:
        if gdal.Open(f).RasterCount != 2:
            die("%s: %d bands, not a two-class map" % (f, gdal.Open(f).RasterCount))
    # over every mapped pixel of the run: no label read
    t = float(tool("share-threshold", ["--share", repr(share), *maps], run))
    amax = sum(evaluate(f, ref, ref_map) for f in maps)
    byshare = sum(evaluate(f, ref, ref_map, ["--class-threshold", "1=%r" % t]) for f in maps)
    return {"run": run, "argmax_iou": iou(amax), "share_iou": iou(byshare), "threshold": t,
            "marked": float(byshare[:, 1].sum() / byshare.sum())}


def main():
    ap = argparse.ArgumentParser(description="score runs' maps with the class decided by a share of pixels")
    ap.add_argument("--ref", required=True, help="reference label raster (255: not scored)")
    ap.add_argument("--ref-map", default="1=0,2=1", help="--ref values to classes 0 and 1, as adapt.sh's --label-map (default 1=0,2=1: trees)")
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
    studies = [study(run.rstrip("/"), a.ref, a.ref_map, share) for run in a.runs]	# all or nothing
    print("share %.4f of the mapped pixels called the class" % share)
    by = {}
    for s in studies:
        by.setdefault(os.path.basename(os.path.dirname(s["run"])), []).append(s)
        print("%s: argmax IoU %.3f, share IoU %.3f (threshold %.6f, %.2f %% of the scored pixels marked)" %
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
