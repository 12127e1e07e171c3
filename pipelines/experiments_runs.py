# pipelines/experiments_runs.py - what experiments.sh and experiments-report.sh
# both need to know about an experiments folder: which pairs it holds and the
# order methods are listed in (the five methods in the order of the table,
# a variant such as wdgrl+output after its method, unknown methods last),
# what each finished run scored and took, and the critic's W estimate a run
# logged.
import json
import os

ORDER = ["source-only", "adabn", "wdgrl", "dsn", "oracle"]


def pairs(out):
    """The domain pairs with runs in OUT, sorted by name."""
    return sorted(d for d in os.listdir(out)
                  if os.path.isdir(os.path.join(out, d)) and d not in ("scenes", "report"))


def sort_methods(ms):
    """Methods in table order; a variant METHOD+TAG right after METHOD."""
    def key(m):
        base = m.split("+")[0]
        return (ORDER.index(base) if base in ORDER else len(ORDER), m)
    return sorted(ms, key=key)


def methods(out, pair):
    """The methods run for PAIR in OUT, in table order."""
    d = os.path.join(out, pair)
    return sort_methods(m for m in os.listdir(d) if os.path.isdir(os.path.join(d, m)))


def runs(out, pair, method):
    """The finished runs (seedN folders with a metrics.json) of METHOD on
    PAIR in OUT, by seed folder name: {"seed", "class", "iou" (the target
    IoU of the pair's class), "object_f1", "point_f1" (None where not
    scored), "seconds" (wall clock, both folds of a cross-fitted oracle),
    "reused" (of those seconds, the ones of another run whose model this
    one maps again, from its reused_seconds file: counted once in a total),
    "critic_w" (critic_w() of the run)}."""
    d = os.path.join(out, pair, method)
    rs = []
    for seed in sorted(os.listdir(d)):
        run = os.path.join(d, seed)
        f = os.path.join(run, "metrics.json")
        if not os.path.exists(f):
            continue
        m = json.load(open(f))
        secs = [os.path.join(run, s, "seconds") for s in ("", "fold2")]
        rs.append({"seed": seed, "class": m.get("class", "building"), "iou": m.get("iou", m.get("building_iou")),
                   "object_f1": m["object_f1"], "point_f1": m.get("point_f1"),
                   "seconds": sum(int(open(s).read()) for s in secs if os.path.exists(s)),
                   "reused": int(open(os.path.join(run, "reused_seconds")).read())
                   if os.path.exists(os.path.join(run, "reused_seconds")) else 0,
                   "critic_w": critic_w(run)})
    return rs


def method_runs(out, pair):
    """{method: runs()} for the methods of PAIR in OUT with a finished run,
    in table order."""
    return {m: rs for m in methods(out, pair) for rs in [runs(out, pair, m)] if rs}


def gap_closed(means, m):
    """(IoU of m - source-only) / (oracle - source-only) as "+40%", from
    the mean IoU per method; "" for source-only, the oracle and their
    variants, or without both ends of the gap."""
    lo, hi = means.get("source-only"), means.get("oracle")
    if m.split("+")[0] in ("source-only", "oracle") or lo is None or hi is None or hi == lo:
        return ""
    return f"{(means[m] - lo) / (hi - lo):+.0%}"


def critic_w(run):
    """The critic's W estimate over the steps a finished run logged in
    RUN/train.jsonl (its step lines' "w"): {"w_mean", "w_negative" (the
    share of steps with W < 0), "w_steps"}, or None where it logged none
    (source-only, adabn, the oracle)."""
    f = os.path.join(run, "train.jsonl")
    if not os.path.exists(f):
        return None
    w = [r["w"] for r in (json.loads(line) for line in open(f) if line.strip()) if "w" in r]
    if not w:
        return None
    return {"w_mean": sum(w) / len(w), "w_negative": sum(x < 0 for x in w) / len(w), "w_steps": len(w)}


def critic_w_column(ws):
    """The table's critic W of a method from its seeds' critic_w(): the
    lowest to highest seed mean and the share of all their steps with
    W < 0, e.g. "0.27 to 0.33 (2% < 0)"; "" unless every seed logged W."""
    if not ws or any(w is None for w in ws):
        return ""
    lo, hi = min(w["w_mean"] for w in ws), max(w["w_mean"] for w in ws)
    neg = sum(w["w_negative"] * w["w_steps"] for w in ws) / sum(w["w_steps"] for w in ws)
    span = f"{lo:.2f}" if len(ws) == 1 else f"{lo:.2f} to {hi:.2f}"
    return f"{span} ({neg:.0%} < 0)"
