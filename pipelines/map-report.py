#!/usr/bin/python3
"""map-report.py SCENE OUT NAME MODEL CLASSES BANDS GSD DECISION ADAPT - the quick-look
(OUT/NAME.png: the scene with each class coloured over it, at most 1024 pixels
wide) and the small report (OUT/NAME.html) of a map made by pipelines/map.sh.
Every name from the run is escaped; nothing from it becomes code."""
import html
import os
import sys

import numpy as np
from osgeo import gdal, ogr

gdal.UseExceptions()
COLOURS = {"building": (230, 40, 40), "tree": (40, 190, 70), "road": (250, 200, 30)}
OTHER = [(40, 120, 255), (200, 60, 200), (0, 200, 200)]


def quicklook(scene, classes_tif, bands, png, names):
    cl = gdal.Open(classes_tif)
    w, h = cl.RasterXSize, cl.RasterYSize
    ow = min(1024, w)
    oh = max(1, round(h * ow / w))
    gt = cl.GetGeoTransform()
    box = (gt[0], gt[3] + h * gt[5], gt[0] + w * gt[1], gt[3])
    img = gdal.Warp("", scene, format="MEM", dstSRS=cl.GetProjection(), outputBounds=box, width=ow, height=oh,
                    resampleAlg="average")
    idx = [int(b) for b in bands.split(",")][:3]  # band numbers: map.sh resolves names as tile does
    a = np.stack([img.GetRasterBand(i).ReadAsArray().astype(np.float64) for i in idx])
    if a.shape[0] < 3:
        a = np.repeat(a[:1], 3, axis=0)
    lo, hi = np.nanpercentile(a, 2), np.nanpercentile(a, 98)
    rgb = np.nan_to_num(np.clip((a - lo) / (hi - lo + 1e-9) * 255, 0, 255))  # no-data (NaN) black
    c = gdal.Warp("", classes_tif, format="MEM", width=ow, height=oh, resampleAlg="near").ReadAsArray()
    for k, name in enumerate(names):
        if k == 0:
            continue
        col = COLOURS.get(name, OTHER[k % len(OTHER)])
        m = c == k
        for b in range(3):
            rgb[b][m] = 0.45 * rgb[b][m] + 0.55 * col[b]
    mem = gdal.GetDriverByName("MEM").Create("", ow, oh, 3, gdal.GDT_Byte)
    for b in range(3):
        mem.GetRasterBand(b + 1).WriteArray(rgb[b].astype(np.uint8))
    gdal.GetDriverByName("PNG").CreateCopy(png, mem, options=["ZLEVEL=1"])  # 5x faster than 6, 4% larger
    for f in (png + ".aux.xml",):
        if os.path.exists(f):
            os.remove(f)


def layers(gpkg):
    ds = ogr.Open(gpkg)
    out = []
    for i in range(ds.GetLayerCount()):
        l = ds.GetLayer(i)
        d = l.GetLayerDefn()
        # polygon layers carry an area, centreline layers a length (None: not this layer's)
        sums = {k: 0.0 if d.GetFieldIndex(k) >= 0 else None for k in ("area", "length")}
        for f in l:
            for k in sums:
                if sums[k] is not None:
                    sums[k] += f.GetField(k) or 0
        out.append((l.GetName(), l.GetFeatureCount(), sums["area"], sums["length"]))
    return out


def main():
    # --quicklook: the PNG alone (it needs only the class raster: map.sh draws
    # it while vectorise runs); --page: the HTML alone; neither: both
    mode = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in ("--quicklook", "--page") else ""
    scene, out, name, model, classes, bands, gsd, decision, adapt = sys.argv[1:10]
    names = classes.split(",")
    png = f"{out}/{name}.png"
    if mode != "--page":
        quicklook(scene, f"{out}/{name}_classes.tif", bands, png, names)
    if mode == "--quicklook":
        return
    e = lambda s: html.escape(str(s), quote=True)
    num = lambda v, scale: "" if v is None else f"{v / scale:.2f}"
    rows = "".join(f"<tr><td>{e(n)}</td><td>{c}</td><td>{num(a, 1e4)}</td><td>{num(l, 1e3)}</td></tr>"
                   for n, c, a, l in layers(f"{out}/{name}.gpkg"))
    info = [("scene", scene), ("model", model), ("bands used", bands), ("resampling", gsd), ("decision", decision),
            ("adapted to the scene", adapt or "no")]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Landshift map: {e(name)}</title>
<style>body{{font:14px sans-serif;margin:2em;max-width:1100px}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #bbb;padding:3px 8px;text-align:left}}</style></head><body>
<h1>Landshift map: {e(name)}</h1>
<table>{"".join(f"<tr><th>{e(k)}</th><td><code>{e(v)}</code></td></tr>" for k, v in info)}</table>
<h2>Objects</h2><table><tr><th>layer</th><th>objects</th><th>area (ha)</th><th>centreline length (km)</th></tr>{rows}</table>
<p>Files: <a href="{e(name)}_probs.tif">probabilities</a> (Cloud Optimized GeoTIFF),
<a href="{e(name)}_classes.tif">classes</a>, <a href="{e(name)}.gpkg">GeoPackage</a>; open them in QGIS.</p>
<img src="{e(name)}.png" alt="the scene with the mapped classes over it" style="max-width:100%">
</body></html>
"""
    tmp = f"{out}/{name}.html.tmp"
    with open(tmp, "w") as f:
        f.write(page)
    os.replace(tmp, f"{out}/{name}.html")


if __name__ == "__main__":
    main()
