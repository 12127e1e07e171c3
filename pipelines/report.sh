#!/bin/bash
# pipelines/report.sh DIR - a static HTML report of a pipelines/adapt.sh run,
# readable offline in any browser: DIR/report.html with its images in
# DIR/report/. It shows the run's inputs and options, the metrics table,
# quick-looks of every mapped raster (the imagery, the predicted objects
# and the reference over it, errors coloured as false positives and false
# negatives) and the training curves (losses, validation IoU, and the
# critic's W estimate or the DSN terms when the run adapted).
# Rasters are rendered through GDAL's Python API (warp, translate, color-relief), curves by
# gnuplot; adapt.sh calls this at its end.
set -euo pipefail
out=${1:?usage: report.sh DIR}
[ -f "$out/run.txt" ] || { echo "report: $out/run.txt missing: not an adapt.sh output folder" >&2; exit 2; }
export GDAL_PAM_ENABLED=NO
R=$out/report
mkdir -p "$R"
W=900	# quick-look width in pixels at most

# colour files for gdaldem color-relief: value R G B A (A = 0: transparent)
printf '0 0 0 0 0\n1 230 40 40 190\n2 230 40 40 190\n3 0 0 0 0\n255 0 0 0 0\n' >"$R/pred.col"
printf '0 0 0 0 0\n1 40 120 255 190\n2 0 0 0 0\n3 40 120 255 190\n255 0 0 0 0\n' >"$R/ref.col"
printf '0 0 0 0 0\n1 40 190 70 200\n2 230 40 40 220\n3 40 120 255 220\n255 0 0 0 0\n' >"$R/err.col"
# unscored maps: the class where its probability passes the run's decision
# (the last "decision" line of run.txt: a share's threshold, else 0.5)
thr=$(awk '$1 == "decision" {t = /threshold/ ? $NF : 0.5} END {print t ? t : 0.5}' "$out/run.txt")
/usr/bin/python3 -c 'import sys; t = float(sys.argv[1]); print("0 0 0 0 0\n%.9f 0 0 0 0\n%.9f 230 40 40 190\n1 230 40 40 190" % (max(t - 1e-6, 0), t))' "$thr" >"$R/prob.col"

# the quick-looks of every mapped raster, in one process (GDAL's Python
# API: a dozen GDAL commands a raster cost 2 s of start-up each time, two
# minutes for a run scored on 75 chips)
/usr/bin/python3 - "$out" "$R" "$W" <<'PY'
import os, sys
from osgeo import gdal
gdal.UseExceptions()
out, R, W = sys.argv[1], sys.argv[2], int(sys.argv[3])
run = [l.rstrip("\n").split(" ") for l in open(os.path.join(out, "run.txt"))]
vb = [l[1] for l in run if l[0] == "view-bands" and len(l) > 1]
for l in run:
    if l[0] != "eval" or len(l) < 3:
        continue
    name, img = l[1], " ".join(l[2:])
    probs = f"{out}/probs_{name}.tif"
    if not os.path.isfile(probs):
        continue
    try:
        p = gdal.Open(probs)
        pw, ph = p.RasterXSize, p.RasterYSize
        ow = min(pw, W)
        oh = ph * ow // pw
        gt = p.GetGeoTransform()
        # the imagery on the prediction's grid (same CRS, extent and pixel size)
        view = gdal.Warp("/vsimem/report_view.vrt", img, format="VRT", dstSRS=p.GetProjection(),
                         outputBounds=(gt[0], gt[3] + ph * gt[5], gt[0] + pw * gt[1], gt[3]),
                         width=pw, height=ph, resampleAlg="bilinear")
        bands = [1, 2, 3] if view.RasterCount >= 3 else [1]
        if vb:
            bands = [int(b) for b in vb[-1].split(",")]
        gdal.Translate(f"{R}/{name}.image.png", view, format="PNG", outputType=gdal.GDT_Byte,
                       scaleParams=[[]], bandList=bands, width=ow, height=oh)
        view = None
        gdal.Unlink("/vsimem/report_view.vrt")
        # each layer: (its PNG, the raster and band coloured, the colours, their selection)
        errors = f"{out}/errors_{name}.tif"
        if os.path.isfile(errors):	# scored: predicted, reference and errors from the error raster
            layers = [(k, errors, 1, f"{R}/{k}.col", "nearest_color_entry") for k in ("pred", "ref", "err")]
        else:	# unscored: the class where its probability passes the decision
            layers = [("pred", probs, 2, f"{R}/prob.col", None)]
        for k, src, band, col, pick in layers:
            full = gdal.DEMProcessing("/vsimem/report_full.tif", src, "color-relief", format="GTiff",
                                      colorFilename=col, addAlpha=True, band=band, colorSelection=pick)
            gdal.Translate(f"{R}/{name}.{k}.png", full, format="PNG", width=ow, height=oh, resampleAlg="nearest")
            full = None
            gdal.Unlink("/vsimem/report_full.tif")
    except RuntimeError as e:
        sys.exit(f"report: {name} ({img}): {e}")
PY
rm -f "$R"/*.aux.xml

# training curves: the data and the gnuplot script go into the report
# folder under fixed names, and gnuplot runs there, so no path or name
# from the run ever becomes gnuplot code; a series without data is left
# out, and the page says why a plot is missing
rm -f "$R/loss.png" "$R/val_iou.png" "$R/adapt.png"
if [ -f "$out/train.jsonl" ]; then
	/usr/bin/python3 - "$out/train.jsonl" "$R" <<'PY'
import json, math, sys
src, R = sys.argv[1], sys.argv[2]
ep, st = [], []
for line in open(src):
    try:
        r = json.loads(line)
    except ValueError:
        continue    # a line cut by a run still writing
    (ep if "epoch" in r else st).append(r)
num = lambda v: v if isinstance(v, (int, float)) and v >= 0 and math.isfinite(v) else None
cols = {"loss": "training (task)", "val_loss": "source validation"}
gp = ['set terminal png size 640,360 font ",10"', "set grid", "set key top right"]
if ep:
    with open(f"{R}/epochs.dat", "w") as f:
        for r in ep:
            f.write(" ".join(str(num(r.get(k)) if num(r.get(k)) is not None else "NaN")
                             for k in ("epoch", "loss", "val_loss", "val_iou")) + "\n")
    has = {k: any(num(r.get(k)) is not None for r in ep) for k in ("loss", "val_loss", "val_iou")}
    series = [f'"epochs.dat" using 1:{i} with linespoints title "{cols[k]}"' for i, k in ((2, "loss"), (3, "val_loss")) if has[k]]
    if series:
        gp += ['set xlabel "epoch"', 'set output "loss.png"', 'set title "loss"', "plot " + ", ".join(series)]
    if has["val_iou"]:
        gp += ['set output "val_iou.png"', 'set title "source validation IoU"', "set yrange [0:1]",
               'plot "epochs.dat" using 1:4 with linespoints title "validation IoU"', "set yrange [*:*]"]
terms = (("task_loss", "task loss"), ("w", "critic W"), ("recon", "reconstruction"), ("domain_loss", "domain loss"),
         ("pseudo_loss", "pseudo-label loss"), ("confident", "confident share"))
have = [(k, t) for k, t in terms if any(isinstance(r.get(k), (int, float)) for r in st)]
if st and have:
    with open(f"{R}/steps.dat", "w") as f:
        for r in st:
            f.write(" ".join(str(r.get(k, "NaN")) for k in ["step"] + [k for k, _ in have]) + "\n")
    gp += ['set xlabel "step"', 'set output "adapt.png"', 'set title "adaptation terms per step"',
           "plot " + ", ".join(f'"steps.dat" using 1:{i + 2} with lines title "{t}"' for i, (_, t) in enumerate(have))]
open(f"{R}/curves.gp", "w").write("\n".join(gp) + "\n")
PY
	(cd "$R" && gnuplot curves.gp)
fi
# the page
/usr/bin/python3 - "$out" <<'PY'
import html, json, os, sys
out = sys.argv[1]
R = os.path.join(out, "report")
run = [l.rstrip("\n").split(" ", 1) for l in open(os.path.join(out, "run.txt")) if " " in l]
m = json.load(open(os.path.join(out, "metrics.json"))) if os.path.exists(os.path.join(out, "metrics.json")) else None
e = html.escape
p = ['<!doctype html><html><head><meta charset="utf-8"><title>Landshift report</title><style>',
     'body{font:14px sans-serif;margin:2em;max-width:1900px} table{border-collapse:collapse;margin:1em 0}',
     'td,th{border:1px solid #bbb;padding:3px 8px;text-align:left} .ql{display:inline-block;margin:0 1em 1em 0;vertical-align:top}',
     '.stack{position:relative} .stack img{display:block} .stack img+img{position:absolute;left:0;top:0}',
     'code{background:#f3f3f3;padding:1px 3px}</style></head><body>',
     f'<h1>Landshift: {e(dict(run).get("method", "run"))}</h1>']
p.append("<h2>Inputs and options</h2><table>")
for k, v in run:
    p.append(f"<tr><th>{e(k)}</th><td><code>{e(v)}</code></td></tr>")
p.append("</table>")
c = m.get("class", "building") if m else "building"
if m and "per_class" in m:  # several classes: each scored where its labels are
    p.append("<h2>Metrics (target, never seen in training)</h2><table><tr><th>class</th><th>IoU</th>"
             "<th>F1</th><th>object F1 (IoU &ge; 0.5)</th></tr>")
    for name, b in m["per_class"].items():
        p.append(f'<tr><td>{e(name)}</td><td>{b["iou"]:.3f}</td><td>{b["f1"]:.3f}</td><td>{b["object_f1"]:.3f}</td></tr>')
    p.append("</table>")
elif m:
    p.append(f"<h2>Metrics (target, never seen in training)</h2><table><tr><th>raster</th><th>{c} IoU</th>"
             f"<th>{c} F1</th><th>precision</th><th>recall</th><th>object F1 (IoU &ge; 0.5)</th></tr>")
    for name, r in m["per_raster"].items():
        b = r["classes"][c]
        p.append(f'<tr><td>{e(name)}</td><td>{b["iou"]:.3f}</td><td>{b["f1"]:.3f}</td><td>{b["precision"]:.3f}</td>'
                 f'<td>{b["recall"]:.3f}</td><td>{r["object"]["match"]["f1"]:.3f}</td></tr>')
    p.append(f'<tr><th>all</th><th>{m[c + "_iou"]:.3f}</th><th>{m[c + "_f1"]:.3f}</th><th></th><th></th>'
             f'<th>{m["object_f1"]:.3f}</th></tr></table>')
p.append("<h2>Quick-looks</h2>")
for k, v in run:
    if k != "eval":
        continue
    name = v.split(" ", 1)[0]
    if not os.path.exists(f"{R}/{name}.image.png"):
        continue
    p.append(f"<h3>{e(name)}</h3>")
    def ql(title, layers):
        imgs = "".join(f'<img src="report/{e(name)}.{l}.png" alt="{e(title)}">' for l in layers)
        p.append(f'<div class="ql"><div class="stack">{imgs}</div><div>{e(title)}</div></div>')
    ql("imagery", ["image"])
    ql(f"predicted {c}s (red)", ["image", "pred"])
    if os.path.exists(f"{R}/{name}.ref.png"):
        ql(f"reference {c}s (blue)", ["image", "ref"])
        ql("errors: true positive green, false positive red, false negative blue", ["image", "err"])
p.append("<h2>Training</h2>")
if not os.path.exists(os.path.join(out, "train.jsonl")):
    p.append("<p>No training log in this folder: the model was trained in another run (see <code>init</code> "
             "or the model file's own record).</p>")
elif not os.path.exists(f"{R}/val_iou.png"):
    p.append("<p>No source validation curve: the run held no labelled area out for validation (or its "
             "validation tiles held no pixel of the class), so the epoch kept was chosen without it.</p>")
for f, t in (("loss", "loss"), ("val_iou", "validation IoU"), ("adapt", "adaptation terms")):
    if os.path.exists(f"{R}/{f}.png"):
        p.append(f'<div class="ql"><img src="report/{f}.png" alt="{t}"></div>')
p.append('<script>window.addEventListener("load",function(){var b=0;for(var i of document.images)'
         'if(!i.complete||i.naturalWidth==0)b++;document.body.setAttribute("data-broken-images",b);'
         'document.body.setAttribute("data-images",document.images.length)})</script></body></html>')
open(os.path.join(out, "report.html"), "w").write("\n".join(p))
PY
rm -f "$R"/*.col "$R"/*.dat "$R/curves.gp"
echo "report: $out/report.html" >&2
