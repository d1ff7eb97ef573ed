#!/usr/bin/env python3
"""Prints the scaling table of BENCHMARKS.md from runs made at several thread counts.

Usage: python3 benches/scaling.py RESULTS.jsonl [RESULTS.jsonl ...]

Each file holds what `cargo bench -p smolscale-bench --bench compare -- --threads N` wrote (one
JSON object per executor, metric and repetition, each with its `threads`). Runs at different N
may be spread over several files or concatenated into one. For every workload and N it prints
smolscale's median, the best peer's median and their ratio (smolscale / best, with the ratio
inverted for throughputs, so below 1 is always better for smolscale).

Then, for the workloads of design.md §5's scaling goal (spawn_many and yield_many), each
executor's speed-up from the fewest to the most threads measured (time at the fewest / time at
the most; above 1 means it got faster with more threads). The goal: smolscale's speed-up at
least tokio's.
"""

import json
import statistics
import sys
from collections import defaultdict

# design.md §5: "spawn_many and yield_many speed-up from 1 -> 16 threads >= tokio's".
SPEEDUP_WORKLOADS = ["ss04.spawn_many", "tokio.yield_many"]
# Metrics where a larger value is better; for every other unit a smaller one is.
HIGHER_IS_BETTER = {"rt/s", "req/s"}
PEERS = ["tokio", "async-executor", "async-global-executor", "smolscale-0.4"]
EXECUTORS = ["smolscale"] + PEERS


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
            cells.append(f"{fmt(ours)} ({ratio_text(ours, peers[best], higher)} {short(best)})")
        print(f"| {workload} | {unit} | " + " | ".join(cells) + " |")
    speedups(values, counts)


def speedups(values, counts):
    """Prints each executor's speed-up from the fewest to the most threads measured."""
    if len(counts) < 2:
        return
    low, high = counts[0], counts[-1]
    print()
    print(f"Speed-up from {low} to {high} threads (time at {low} / time at {high}):")
    print()
    print("| workload | " + " | ".join(EXECUTORS) + " |")
    print("|---|" + "---:|" * len(EXECUTORS))
    for workload in SPEEDUP_WORKLOADS:
        cells = []
        for executor in EXECUTORS:
            at_low = values.get((workload, low, executor))
            at_high = values.get((workload, high, executor))
            if at_low and at_high:
                ratio = statistics.median(at_low) / statistics.median(at_high)
                cells.append(f"{ratio:.2f}×")
            else:
                cells.append("–")
        print(f"| {workload} | " + " | ".join(cells) + " |")


def ratio_text(ours, theirs, higher):
    """Ours over theirs as a cost (> 1: ours is worse); a zero (no wake-ups at all) has none."""
    cost, other = (theirs, ours) if higher else (ours, theirs)
    if other == 0:
        return "equal" if cost == 0 else "vs 0"
    return f"{cost / other:.2f}×"


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
