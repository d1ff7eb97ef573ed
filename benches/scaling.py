#!/usr/bin/env python3
"""Prints the scaling table of BENCHMARKS.md from runs made at several thread counts.

Usage: python3 benches/scaling.py RESULTS.jsonl [RESULTS.jsonl ...]

Each file holds what `cargo bench -p smolscale-bench --bench compare -- --threads N` wrote (one
JSON object per executor, metric and repetition, each with its `threads`). Runs at different N
may be spread over several files or concatenated into one. For every workload and N it prints
smolscale's median, the best peer's median and their ratio (smolscale / best, with the ratio
inverted for throughputs, so below 1 is always better for smolscale).
"""

import json
import statistics
import sys
from collections import defaultdict

# Metrics where a larger value is better; for every other unit a smaller one is.
HIGHER_IS_BETTER = {"rt/s", "req/s"}
PEERS = ["tokio", "async-executor", "async-global-executor", "smolscale-0.4"]


def main(paths):
    values = defaultdict(list)  # (workload, threads, executor) -> values
    units, order, counts = {}, [], set()
    for path in paths:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if r.get("status", "ok") != "ok":
                    continue
                key = (r["workload"], r["threads"], r["executor"])
                values[key].append(r["value"])
                units[r["workload"]] = r["unit"]
                counts.add(r["threads"])
                if r["workload"] not in order:
                    order.append(r["workload"])
    counts = sorted(counts)
    header = " | ".join(f"{n} thr" for n in counts)
    print(f"| workload | unit | {header} |")
    print("|---|---|" + "---:|" * len(counts))
    for workload in order:
        unit = units[workload]
        higher = unit in HIGHER_IS_BETTER
        cells = []
        for n in counts:
            ours = values.get((workload, n, "smolscale"))
            peers = {
                p: statistics.median(values[(workload, n, p)])
                for p in PEERS
                if values.get((workload, n, p))
            }
            if not ours or not peers:
                cells.append("–")
                continue
            ours = statistics.median(ours)
            best = (max if higher else min)(peers, key=peers.get)
            ratio = peers[best] / ours if higher else ours / peers[best]
            cells.append(f"{fmt(ours)} ({ratio:.2f}× {short(best)})")
        print(f"| {workload} | {unit} | " + " | ".join(cells) + " |")


def fmt(x):
    return f"{x:.3g}" if x < 1000 else f"{x:,.0f}"


def short(executor):
    return {
        "tokio": "tk",
        "async-executor": "ae",
        "async-global-executor": "age",
        "smolscale-0.4": "ss04",
    }[executor]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
