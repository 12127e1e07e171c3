#!/usr/bin/python3
"""table.py - the benchmark's table from the runs in OUT: per pair and method,
the mean and spread over seeds of the pair's score, the share of the gap to
the oracle each method closes (from source-only, and from AdaBN), and the
run time; a summary over the headline pairs. Writes RESULTS/NAME.md and
RESULTS/NAME.json (--name, "results"; QUICK=1's is "quick") from the runs of
the seeds asked for (--seeds).

The table is made from RESULTS/runs.jsonl, the ledger: one line a finished
run (its scores, seconds, the source model's seconds, the commit), kept in
git, so that a sweep longer than one machine's life goes on where it
stopped. A run counts only under the configuration that made it: a hash of
its pair, source and method files and of EPOCHS and EXTRA. --record adds a
run from OUT; --missing lists the runs the ledger lacks; --alias records a
run that is another method's run under another name (a shared-bands method
on a target that has every band), its time counted once.

A method is "above" another on a pair when its mean exceeds the other's by
more than the two seed spreads (standard deviations) added: the two
one-spread intervals do not overlap."""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys

CONF = "egs/uda/conf"


def source_of(pair):
    cfg = open(f"{CONF}/pairs/{pair}.sh").read()
    return next(l.split("=", 1)[1].split()[0] for l in cfg.splitlines() if l.startswith("source="))


def config(pair, method):
    """What makes a run what it is: its pair, source and method files, EPOCHS, EXTRA."""
    h = hashlib.sha256()
    for f in (f"{CONF}/pairs/{pair}.sh", f"{CONF}/sources/{source_of(pair)}.sh", f"{CONF}/methods/{method}.sh"):
        h.update(open(f, "rb").read())
    h.update(f"\0{os.environ.get('EPOCHS', '')}\0{os.environ.get('EXTRA', '')}".encode())
    return h.hexdigest()[:16]


def ledger(results):
    """The ledger's rows by (pair, method, seed, config); a later row replaces an earlier."""
    rows, path = {}, f"{results}/runs.jsonl"
    if os.path.isfile(path):
        for n, line in enumerate(open(path), 1):
            try:
                r = json.loads(line)
                rows[(r["pair"], r["method"], r["seed"], r["config"])] = r
            except (ValueError, KeyError) as e:
                sys.exit(f"table: {path}: line {n} is not a run record ({e})")
    return rows


def record(out, results, pair, method, seed):
    """Append OUT/PAIR/METHOD/seedN's scores to the ledger (one write: runs side by side may append)."""
    d = f"{out}/{pair}/{method}/seed{seed}"
    m = json.load(open(f"{d}/metrics.json"))
    secs = lambda f: int(open(f).read()) if os.path.isfile(f) else 0
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    row = {"pair": pair, "method": method, "seed": int(seed), "config": config(pair, method),
           "iou": m["iou"], "f1": m["f1"], "object_f1": m.get("object_f1"), "point_f1": m.get("point_f1"),
           "road_f1": m.get("road_f1"), "apls": m.get("apls"), "seconds": secs(f"{d}/seconds"),
           "source_seconds": secs(f"{d}/source_seconds") if os.path.isfile(f"{d}/source_seconds")
           else secs(f"{out}/sources/{source_of(pair)}/seed{seed}/seconds"), "commit": commit}
    if os.path.isfile(f"{d}/source"):	# a source model of its own (shared bands)
        row["source"] = open(f"{d}/source").read().strip()
    append(results, row)


def append(results, row):
    os.makedirs(results, exist_ok=True)
    fd = os.open(f"{results}/runs.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, (json.dumps(row) + "\n").encode())
    os.close(fd)


def alias(results, pair, method, seed, base):
    """Record BASE's run of PAIR and SEED as METHOD's; False when the ledger lacks it."""
    r = ledger(results).get((pair, base, int(seed), config(pair, base)))
    if r is None:
        return False
    append(results, dict(r, method=method, config=config(pair, method), same_as=base))
    return True


def runs(rows, pair, method, seeds=None):
    """Each seed's record of the pair and method under today's configuration, by
    seed (of SEEDS alone when given)."""
    c = config(pair, method)
    return sorted((r for (p, m, s, k), r in rows.items()
                   if p == pair and m == method and k == c and (not seeds or s in seeds)),
                  key=lambda r: r["seed"])


def stats(rows, key):
    v = [r[key] for r in rows if r.get(key) is not None]
    if not v:
        return None, None
    return statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--pairs", default="")
    ap.add_argument("--methods", default="")
    ap.add_argument("--seeds", default="")
    ap.add_argument("--headline", default="")
    ap.add_argument("--metric-of", default="")
    ap.add_argument("--record", nargs=3, metavar=("PAIR", "METHOD", "SEED"))
    ap.add_argument("--missing", action="store_true", help="print 'PAIR METHOD SEED' of each run not in the ledger")
    ap.add_argument("--alias", nargs=4, metavar=("PAIR", "METHOD", "SEED", "BASE"))
    ap.add_argument("--name", default="results", help="the table's files: RESULTS/NAME.md and NAME.json")
    a = ap.parse_args()
    if not a.name.replace("-", "").replace("_", "").isalnum():
        sys.exit(f"table: --name '{a.name}' must be letters, digits, '-' and '_' (it names a file in RESULTS)")
    if a.record:
        record(a.out, a.results, *a.record)
        return
    if a.alias:
        sys.exit(0 if alias(a.results, *a.alias) else 3)
    pairs, methods, headline = a.pairs.split(), a.methods.split(), set(a.headline.split())
    rows = ledger(a.results)
    if a.missing:
        for s in a.seeds.split():
            for p in pairs:
                for m in methods:
                    if (p, m, int(s), config(p, m)) not in rows:
                        print(p, m, s)
        return
    metric = dict(kv.split("=") for kv in a.metric_of.split(",") if kv)
    res, lines, gaps = {}, [], {}
    total, sources_seen = 0, set()
    head = ("| pair | score | method | seeds | score (mean ± sd) | IoU | object F1 | point F1 "
            "| APLS | gap closed from source-only | from AdaBN | minutes per run |")
    if a.seeds:
        want = [(p, m, int(x)) for x in a.seeds.split() for p in pairs for m in methods]
        have = sum((p, m, x, config(p, m)) in rows for p, m, x in want)
        lines += ["# Benchmark table (egs/uda)", "",
                  f"Made by `egs/uda/run.sh` from the ledger runs.jsonl: {have} of the {len(want)} runs "
                  f"({len(pairs)} pairs, {len(methods)} methods, seeds {a.seeds}) are in it"
                  + ("." if have == len(want) else "; `make experiments` runs the rest."), ""]
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for p in pairs:
        key = metric.get(p, "iou")
        res[p] = {m: runs(rows, p, m, {int(x) for x in a.seeds.split()}) for m in methods}
        mean = {m: stats(r, key) for m, r in res[p].items()}
        so, ab, orc = mean.get("source-only", (None,))[0], mean.get("adabn", (None,))[0], mean.get("oracle", (None,))[0]
        for m in methods:
            r = res[p][m]
            if not r:
                continue
            mu, sd = mean[m]
            iou, _ = stats(r, "iou")
            of1, _ = stats(r, "object_f1")
            pf1, _ = stats(r, "point_f1")
            apls, _ = stats(r, "apls")

            def gap(base):
                if base is None or orc is None or orc <= base or m in ("oracle",):
                    return ""	# no gap to close: an oracle at or below the base cannot bound it
                g = (mu - base) / (orc - base)
                gaps.setdefault((m, "source-only" if base is so else "adabn"), {})[p] = g
                return f"{100 * g:+.0f}%"
            extra = 0
            for x in r:
                total += 0 if x.get("same_as") else x["seconds"]	# an alias's time is its base's
                if (x.get("same_as") or m) in ("source-only", "adabn", "selftrain") or (x.get("source") and not x.get("same_as")):
                    s, secs = x.get("source") or source_of(p), x.get("source_seconds", 0)
                    extra += secs
                    if (s, x["seed"]) not in sources_seen:
                        sources_seen.add((s, x["seed"]))
                        total += secs
            minutes = (sum(x["seconds"] for x in r) + extra) / len(r) / 60
            fmt = lambda v: "" if v is None else f"{v:.3f}"
            g_so = gap(so) if m != "source-only" else ""
            g_ab = gap(ab) if m not in ("source-only", "adabn") else ""
            lines.append(f"| {p}{'' if p in headline else ' (dev)'} | {key} | {m} | {len(r)} | {mu:.3f} ± {sd:.3f} | "
                         f"{fmt(iou)} | {fmt(of1)} | {fmt(pf1)} | {fmt(apls)} | {g_so} | {g_ab} | {minutes:.1f} |")
    lines.append("")
    lines.append(f"Total run time: {total / 3600:.1f} h (each source model counted once).")
    lines.append("")
    # over the headline pairs: mean gap closed; pairs above source-only and AdaBN by more than the spreads
    summary = []
    for m in methods:
        if m in ("source-only", "oracle"):
            continue
        hp = [p for p in pairs if p in headline and res[p].get(m)]
        if not hp:
            continue
        above = {b: [] for b in ("source-only", "adabn")}
        for p in hp:
            key = metric.get(p, "iou")
            mu, sd = stats(res[p][m], key)
            for b in above:
                if b == m or len(res[p].get(b, [])) < 2 or len(res[p][m]) < 2:	# one seed has no spread
                    continue
                bm, bs = stats(res[p][b], key)
                if mu - bm > sd + bs:
                    above[b].append(p)
        g = [gaps.get((m, "source-only"), {}).get(p) for p in hp]
        g = [x for x in g if x is not None]
        summary.append({"method": m, "pairs": hp, "mean_gap_closed": statistics.mean(g) if g else None,
                        "above_source_only": above["source-only"], "above_adabn": above["adabn"]})
        lines.append(f"{m} on {len(hp)} headline pair(s): mean gap closed from source-only "
                     + (f"{100 * summary[-1]['mean_gap_closed']:+.0f}%" if g else "n/a")
                     + f"; above source-only by more than the spreads on {len(above['source-only'])}"
                     + (f" ({', '.join(above['source-only'])})" if above["source-only"] else "")
                     + (f", above AdaBN on {len(above['adabn'])}" + (f" ({', '.join(above['adabn'])})" if above["adabn"] else "")
                        if m != "adabn" else "") + ".")
    os.makedirs(a.results, exist_ok=True)
    for name, text in ((f"{a.name}.md", "\n".join(lines) + "\n"),
                       (f"{a.name}.json", json.dumps({"runs": res, "summary": summary}, indent=1) + "\n")):
        tmp = f"{a.results}/{name}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, f"{a.results}/{name}")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
