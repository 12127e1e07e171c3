#!/usr/bin/python3
"""table.py OUT DEST SEED... - the multi-class models against the one-class
models: per class, IoU on its held-back part (mean and sample sd over the
seeds) and each multi-class model's IoU relative to the one-class model's
(multi: partial labels; multi-pl: labels completed by the one-class
models). Writes DEST.json and DEST.md."""
import json
import os
import re
import statistics
import sys

KINDS = (("multi", "multi-class, partial labels"), ("multi-pl", "multi-class, completed labels"))


def ious(out, kind, c, seeds):
    v = []
    for s in seeds:
        p = f"{out}/{kind}.s{s}/metrics.json"
        x = json.load(open(p)).get(f"{c}_iou") if os.path.exists(p) else None
        if x is not None:
            v.append(x)
    return v


def shape(out, seeds, models):
    """' (one-class: width 16, 8 tiles a step; ...)' from each model's first run.txt"""
    seen = {}
    for m in models:
        runs = [f"{out}/{m}.s{s}/run.txt" for s in seeds if os.path.exists(f"{out}/{m}.s{s}/run.txt")]
        hit = runs and re.search(r"^training .*width (\d+), batch (\d+)", open(runs[0]).read(), re.M)
        if hit:
            name = "one-class" if m in ("building", "tree", "road") else m
            seen.setdefault(name, f"width {hit[1]}, {hit[2]} tiles a step")
    return " (" + "; ".join(f"{k}: {v}" for k, v in seen.items()) + ")" if seen else ""


def ms(v):
    return statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0


def main():
    out, dest, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
    kinds = [k for k in KINDS if any(os.path.exists(f"{out}/{k[0]}.s{s}") for s in seeds)]
    head = "| class | one-class IoU | " + " | ".join(f"{t} IoU | relative | within 10%" for _, t in kinds) + " |"
    rows, data, n = [head, "|---|---|" + "---|---|---|" * len(kinds)], {}, 0
    for c in ("building", "tree", "road"):
        one = ious(out, c, c, seeds)
        if not one:
            continue
        om, osd = ms(one)
        n = max(n, len(one))
        data[c] = {"one_class": one}
        cells = []
        for k, _ in kinds:
            v = ious(out, k, c, seeds)
            if not v:
                cells.append("| | ")
                continue
            mm, msd = ms(v)
            rel = mm / om - 1 if om else 0
            data[c][k] = v
            data[c][k + "_relative"] = rel
            cells.append(f"{mm:.3f} ± {msd:.3f} | {100 * rel:+.1f}% | {'yes' if rel >= -0.10 else 'no'}")
        rows.append(f"| {c} | {om:.3f} ± {osd:.3f} | " + " | ".join(cells) + " |")
    rows.append(f"\nIoU on each class's held-back part, mean ± sd over {n} seed(s); "
                "egs/multiclass/run.sh, the same optimiser steps for every model"
                + shape(out, seeds, ["building", "tree", "road"] + [k for k, _ in kinds]) + ".")
    with open(dest + ".json.tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(dest + ".json.tmp", dest + ".json")
    with open(dest + ".md.tmp", "w") as f:
        f.write("\n".join(rows) + "\n")
    os.replace(dest + ".md.tmp", dest + ".md")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
