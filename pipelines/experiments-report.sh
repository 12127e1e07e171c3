#!/bin/bash
# pipelines/experiments-report.sh [OUT] - the report of make experiments:
# OUT/report.html (default OUT: out/experiments), a static page readable
# offline: the results table (target IoU mean and spread over seeds, object
# F1, gap closed, the critic W a seed), each run's time, links to every run's own report, and per
# domain pair the training curves of every method (task loss per epoch,
# source validation IoU, and the critic's W estimate per step for the
# adapted methods) drawn by gnuplot into OUT/report/*.png.
# pipelines/experiments.sh calls it at its end; it reads only what the runs
# left (OUT/PAIR/METHOD/seedN/{metrics.json,train.jsonl,seconds}).
set -euo pipefail
out=${1:-out/experiments}
[ -d "$out" ] || { echo "experiments-report: $out: no such folder (run make experiments first)" >&2; exit 2; }
R=$out/report
mkdir -p "$R"
rm -f "$R"/*.dat "$R"/*.gp "$R"/*.methods

# curves as gnuplot data: one file per pair, method and kind (seed 1, or the
# first seed run); finished runs only, as in the table: a run in progress
# (no metrics.json yet) may be writing its last line of train.jsonl
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$(dirname "$0") /usr/bin/python3 - "$out" "$R" <<'PY'
import json, os, sys
from experiments_runs import methods, pairs
out, R = sys.argv[1], sys.argv[2]
for pair in pairs(out):
    drawn = []
    for m in methods(out, pair):
        d = f"{out}/{pair}/{m}"
        seeds = sorted(s for s in os.listdir(d)
                       if os.path.exists(f"{d}/{s}/train.jsonl") and os.path.exists(f"{d}/{s}/metrics.json"))
        if not seeds:
            continue
        ep, st = [], []
        for line in open(f"{d}/{seeds[0]}/train.jsonl"):
            r = json.loads(line)
            (ep if "epoch" in r else st).append(r)
        drawn.append(m)
        with open(f"{R}/{pair}.{m}.epochs.dat", "w") as f:
            for r in ep:
                f.write(f'{r["epoch"]} {r["loss"]} {r["val_iou"] if r["val_iou"] >= 0 else "NaN"}\n')
        if any("w" in r for r in st):
            with open(f"{R}/{pair}.{m}.steps.dat", "w") as f:
                for r in st:
                    f.write(f'{r["step"]} {r.get("task_loss", "NaN")} {r.get("w", "NaN")}\n')
    if drawn:
        open(f"{R}/{pair}.methods", "w").write("\n".join(drawn) + "\n")
PY

for pair in $(ls "$R" | sed -n 's/\.methods$//p'); do
	loss="" iou="" w=""
	for m in $(cat "$R/$pair.methods"); do
		f=$R/$pair.$m.epochs.dat
		loss+="${loss:+, }\"$f\" using 1:2 with linespoints title \"$m\""
		iou+="${iou:+, }\"$f\" using 1:3 with linespoints title \"$m\""
		s=$R/$pair.$m.steps.dat
		[ -f "$s" ] && w+="${w:+, }\"$s\" using 1:3 with lines title \"$m\""
	done
	{
		echo 'set terminal png size 640,360 font ",10"'
		echo 'set grid'
		echo 'set key top right'
		echo 'set xlabel "epoch"'
		echo "set output \"$R/$pair.loss.png\""
		echo "set title \"$pair: task loss (training)\""
		echo "plot $loss"
		echo "set output \"$R/$pair.val_iou.png\""
		echo "set title \"$pair: source validation IoU (label-free model choice)\""
		echo 'set yrange [0:1]'
		echo "plot $iou"
		if [ -n "$w" ]; then
			echo 'set autoscale y'
			echo 'set xlabel "step"'
			echo "set output \"$R/$pair.w.png\""
			echo "set title \"$pair: critic W estimate (Wasserstein distance of the features)\""
			echo "plot $w"
		fi
	} >"$R/$pair.gp"
	gnuplot "$R/$pair.gp"
done

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$(dirname "$0") /usr/bin/python3 - "$out" <<'PY'
import html, os, statistics, sys
from experiments_runs import critic_w_column, gap_closed, method_runs, pairs
out = sys.argv[1]
R = os.path.join(out, "report")
e = html.escape
names = pairs(out)
p = ['<!doctype html><html><head><meta charset="utf-8"><title>Landshift experiments</title><style>',
     'body{font:14px sans-serif;margin:2em;max-width:1900px} table{border-collapse:collapse;margin:1em 0}',
     'td,th{border:1px solid #bbb;padding:3px 8px;text-align:left} .ql{display:inline-block;margin:0 1em 1em 0}',
     '</style></head><body><h1>Landshift: domain adaptation experiments</h1>',
     '<p>Target IoU (buildings; trees for naip-zurich) on the part of each target scene that no method '
     'trains on; mean &plusmn; standard deviation over seeds. Gap closed = (method &minus; source-only) / '
     '(oracle &minus; source-only).</p>',
     '<table><tr><th>pair</th><th>method</th><th>seeds</th><th>IoU</th><th>object F1</th><th>point F1</th><th>gap closed</th>'
     '<th>critic W a seed</th><th>run time</th><th>runs</th></tr>']
total = 0.0
for pair in names:
    res = method_runs(out, pair)
    total += sum(r["seconds"] for rs in res.values() for r in rs)
    mean = {m: sum(r["iou"] for r in rs) / len(rs) for m, rs in res.items()}
    for m, rs in res.items():
        v = [r["iou"] for r in rs]
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        gap = gap_closed(mean, m)
        t = f"{sum(r['seconds'] for r in rs) / len(rs):.0f} s each"
        links = " ".join(f'<a href="{e(pair)}/{e(m)}/{e(r["seed"])}/report.html">{e(r["seed"])}</a>'
                         for r in rs if os.path.exists(f"{out}/{pair}/{m}/{r['seed']}/report.html"))
        pf = [r["point_f1"] for r in rs]
        pts = f"{sum(pf) / len(pf):.3f}" if all(x is not None for x in pf) else ""
        p.append(f"<tr><td>{e(pair)}</td><td>{e(m)}</td><td>{len(v)}</td><td>{sum(v) / len(v):.3f} &plusmn; {sd:.3f}</td>"
                 f"<td>{sum(r['object_f1'] for r in rs) / len(rs):.3f}</td><td>{pts}</td><td>{gap}</td>"
                 f"<td>{e(critic_w_column([r['critic_w'] for r in rs]))}</td><td>{t}</td><td>{links}</td></tr>")
p.append(f"</table><p>Total training and mapping time of the runs: {total / 60:.0f} min.</p>")
for pair in names:
    imgs = [f for f in ("loss", "val_iou", "w") if os.path.exists(f"{R}/{pair}.{f}.png")]
    if imgs:
        p.append(f"<h2>{e(pair)}</h2>")
        p.extend(f'<div class="ql"><img src="report/{e(pair)}.{f}.png" alt="{e(pair)} {f}"></div>' for f in imgs)
p.append('<script>window.addEventListener("load",function(){var b=0;for(var i of document.images)'
         'if(!i.complete||i.naturalWidth==0)b++;document.body.setAttribute("data-broken-images",b);'
         'document.body.setAttribute("data-images",document.images.length)})</script></body></html>')
open(os.path.join(out, "report.html"), "w").write("\n".join(p))
PY
rm -f "$R"/*.dat "$R"/*.gp "$R"/*.methods
echo "experiments-report: $out/report.html" >&2
