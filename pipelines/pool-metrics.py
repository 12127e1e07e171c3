#!/usr/bin/python3
"""pool-metrics.py OUT METHOD CLASS DECISION SHARE THRESHOLD NAME... - adapt.sh's
metrics.json: the confusion matrices and one-to-one matches of every scored
raster (OUT/eval_NAME.json, from evaluate) pooled into one score for the run,
with each raster's own kept under per_raster. With several classes (CLASS is
"building,tree,road"), each class is pooled over the rasters whose labels
speak for it (OUT/eval_NAME.classes: their codes), and iou is their mean."""
import json
import sys


def several(out, runs, method, names):
    """Per class: the confusion of the rasters whose labels speak for it
    (its IoU and F1 as the map decides, every class competing), and the
    objects of the rasters scored for it first."""
    names = names.split(",")
    m = {"method": method, "classes": names, "per_class": {}}
    for c, name in enumerate(names, 1):
        tp = fp = fn = 0
        ot = op = orf = 0
        for n, r in runs.items():
            codes = [int(x) for x in open(f"{out}/eval_{n}.classes").read().strip().split(",")]
            if c not in codes:
                continue
            conf = r["confusion"]
            if c < len(conf):
                tp += conf[c][c]
                fp += sum(row[c] for row in conf if len(row) > c) - conf[c][c]
                fn += sum(conf[c]) - conf[c][c]
            if codes[0] == c:
                ot, op, orf = ot + r["object"]["match"]["tp"], op + r["object"]["match"]["pred"], orf + r["object"]["match"]["ref"]
        if tp + fp + fn == 0 and orf == 0:
            continue  # no raster scores this class
        p = tp / (tp + fp) if tp + fp else 0
        rc = tp / (tp + fn) if tp + fn else 0
        f1 = 2 * p * rc / (p + rc) if p + rc else 0
        pp, rr = (ot / op if op else 0), (ot / orf if orf else 0)
        d = {"iou": tp / (tp + fp + fn) if tp + fp + fn else 0, "f1": f1, "object_f1": 2 * pp * rr / (pp + rr) if pp + rr else 0}
        m["per_class"][name] = d
        m[f"{name}_iou"], m[f"{name}_f1"] = d["iou"], d["f1"]
    pc = m["per_class"].values()
    for key in ("iou", "f1", "object_f1"):  # the mean over the classes scored
        m[key] = sum(d[key] for d in pc) / len(pc) if pc else 0
    m["class"] = names[0] if len(pc) == 0 else ",".join(m["per_class"])
    return m


def main():
    out, method, cname, rule, share, thr = sys.argv[1:7]
    names = sys.argv[7:]
    runs = {n: json.load(open(f"{out}/eval_{n}.json")) for n in names}
    k = max(len(r["confusion"]) for r in runs.values())
    conf = [[0] * k for _ in range(k)]
    for r in runs.values():
        for a, row in enumerate(r["confusion"]):
            for b, v in enumerate(row):
                conf[a][b] += v

    def matched(key):  # F1, precision, recall, found, reference count
        tp, pred, ref = (sum(r[key]["match"][x] for r in runs.values()) for x in ("tp", "pred", "ref"))
        p = tp / pred if pred else 0
        rc = tp / ref if ref else 0
        return 2 * p * rc / (p + rc) if p + rc else 0, p, rc, tp, ref

    def scores(c):
        t = conf[c][c]
        fp = sum(conf[j][c] for j in range(k)) - t
        fn = sum(conf[c]) - t
        p = t / (t + fp) if t + fp else 0
        r = t / (t + fn) if t + fn else 0
        return t / (t + fp + fn) if t + fp + fn else 0, 2 * p * r / (p + r) if p + r else 0

    if "," in cname:
        m = several(out, runs, method, cname)
        iou, f1, of1 = m["iou"], m["f1"], m["object_f1"]
    else:
        iou, f1 = scores(1)
        of1, op, orc, _, _ = matched("object")
        m = {"method": method, "class": cname, "iou": iou, "f1": f1, f"{cname}_iou": iou, f"{cname}_f1": f1,
             "object_f1": of1, "object_precision": op, "object_recall": orc}
    if all("points" in r for r in runs.values()):  # objects matched to points
        pf1, pp, pr, found, ref = matched("points")
        m.update({"point_f1": pf1, "point_precision": pp, "point_recall": pr, "points": ref, "points_found": found})
        m[f"{cname}_point_f1"] = pf1
    if all("roads" in r for r in runs.values()):  # centrelines: lengths pooled, APLS averaged
        rl = {x: sum(r["roads"][x] for r in runs.values()) for x in ("ref_length_m", "pred_length_m")}
        c = sum(r["roads"]["completeness"] * r["roads"]["ref_length_m"] for r in runs.values() if r["roads"]["completeness"] is not None)
        k2 = sum(r["roads"]["correctness"] * r["roads"]["pred_length_m"] for r in runs.values() if r["roads"]["correctness"] is not None)
        comp = c / rl["ref_length_m"] if rl["ref_length_m"] else 0
        corr = k2 / rl["pred_length_m"] if rl["pred_length_m"] else 0
        apls = [r["roads"]["apls"] for r in runs.values() if r["roads"]["apls"] is not None]
        m.update({"completeness": comp, "correctness": corr, "road_f1": 2 * comp * corr / (comp + corr) if comp + corr else 0,
                  "apls": sum(apls) / len(apls) if apls else None})
    rule = rule.split("=")[0]  # share=F: the share is given below
    m["decision"] = {"rule": rule}
    if share:
        m["decision"]["share"] = float(share)
    if thr:
        m["decision"]["threshold"] = float(thr)
    m["per_raster"] = runs
    tmp = f"{out}/metrics.json.tmp"
    with open(tmp, "w") as f:
        json.dump(m, f, indent=1)
    import os
    os.replace(tmp, f"{out}/metrics.json")
    if "per_class" in m:
        print("adapt: " + ", ".join(f"{n} IoU {d['iou']:.3f}" for n, d in m["per_class"].items()), file=sys.stderr)
    print(f"adapt: {cname} IoU {iou:.3f}, F1 {f1:.3f}, object F1 {of1:.3f}"
          + (f", point F1 {m['point_f1']:.3f} ({m['points_found']} of {m['points']} points)" if "point_f1" in m else "")
          + (f", centreline F1 {m['road_f1']:.3f}, APLS {m['apls']}" if "apls" in m else ""),
          file=sys.stderr)


if __name__ == "__main__":
    main()
