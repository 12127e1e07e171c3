#!/usr/bin/python3
"""table.py OUT DEST SEED... - the multi-class model against the one-class
models: per class, IoU on its held-back part (mean and sample sd over the
seeds), and the multi-class model's IoU relative to the one-class model's.
Writes DEST.json and DEST.md."""
import json
import os
import statistics
import sys


def main():
    out, dest, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
    rows, data = [], {}
    for c in ("building", "tree", "road"):
        one, multi = [], []
        for s in seeds:
            for kind, acc in ((c, one), ("multi", multi)):
                p = f"{out}/{kind}.s{s}/metrics.json"
                v = json.load(open(p)).get(f"{c}_iou") if os.path.exists(p) else None
                if v is not None:
                    acc.append(v)
        if not one or not multi:
            continue

        def ms(v):
            return statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0
        (om, osd), (mm, msd) = ms(one), ms(multi)
        rel = mm / om - 1 if om else 0
        data[c] = {"one_class": one, "multi_class": multi, "relative": rel}
        rows.append(f"| {c} | {om:.3f} ± {osd:.3f} | {mm:.3f} ± {msd:.3f} | {100 * rel:+.1f}% | "
                    f"{'yes' if rel >= -0.10 else 'no'} |")
    n = max((len(d["one_class"]) for d in data.values()), default=0)
    md = [f"| class | one-class IoU | multi-class IoU | relative | within 10% |", "|---|---|---|---|---|"] + rows
    md.append(f"\nIoU on each class's held-back part, mean ± sd over {n} seed(s); "
              "egs/multiclass/run.sh, the same optimiser steps for every model.")
    with open(dest + ".json.tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(dest + ".json.tmp", dest + ".json")
    with open(dest + ".md.tmp", "w") as f:
        f.write("\n".join(md) + "\n")
    os.replace(dest + ".md.tmp", dest + ".md")
    print("\n".join(md))


if __name__ == "__main__":
    main()
