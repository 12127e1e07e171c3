# pipelines/experiments_runs.py - what experiments.sh and experiments-report.sh
# both need to know about an experiments folder: which pairs it holds and the
# order methods are listed in (the five methods in the order of the table,
# a variant such as wdgrl+output after its method, unknown methods last).
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


def gap_closed(means, m):
    """(IoU of m - source-only) / (oracle - source-only) as "+40%", from
    the mean IoU per method; "" for source-only, the oracle and their
    variants, or without both ends of the gap."""
    lo, hi = means.get("source-only"), means.get("oracle")
    if m.split("+")[0] in ("source-only", "oracle") or lo is None or hi is None or hi == lo:
        return ""
    return f"{(means[m] - lo) / (hi - lo):+.0%}"
