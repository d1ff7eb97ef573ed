#!/usr/bin/env python3
"""Prints BENCHMARKS.md's load sweep: the load-shaped scenarios at several load levels.

Usage: python3 benches/sweep.py RESULTS.jsonl [RESULTS.jsonl ...]

Each file holds what `cargo bench -p smolscale-bench --bench compare -- --pairs P` or
`--clients C` wrote (`benches/sweep.sh` makes them): every record of partial_load and tcp_echo
carries its `load` (task pairs or client connections). One row per metric and load: each
executor's median over the repetitions, then smolscale's ratio to the best peer (a cost: below
1 is better for smolscale, with throughputs inverted so this holds too).
"""

import json
import statistics
import sys
from collections import defaultdict

from scaling import EXECUTORS, HIGHER_IS_BETTER, PEERS, fmt, ratio_text, short


def main(paths):
    values = defaultdict(list)  # (workload, load, executor) -> values
    units, loads = {}, defaultdict(set)
    for path in paths:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if r.get("status", "ok") != "ok" or "load" not in r:
                    continue
                values[(r["workload"], r["load"], r["executor"])].append(r["value"])
                units[r["workload"]] = r["unit"]
                loads[r["workload"]].add(r["load"])
    print("| metric | load | unit | " + " | ".join(EXECUTORS) + " | vs best peer |")
    print("|---|---:|---|" + "---:|" * (len(EXECUTORS) + 1))
    for workload in sorted(units):
        unit = units[workload]
        higher = unit in HIGHER_IS_BETTER
        for load in sorted(loads[workload]):
            medians = {
                e: statistics.median(values[(workload, load, e)])
                for e in EXECUTORS
                if values.get((workload, load, e))
            }
            cells = [fmt(medians[e]) if e in medians else "–" for e in EXECUTORS]
            peers = {p: medians[p] for p in PEERS if p in medians}
            if "smolscale" in medians and peers:
                best = (max if higher else min)(peers, key=peers.get)
                versus = f"{ratio_text(medians['smolscale'], peers[best], higher)} {short(best)}"
            else:
                versus = "–"
            print(f"| {workload} | {load} | {unit} | " + " | ".join(cells) + f" | {versus} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
