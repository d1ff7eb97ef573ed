#!/bin/bash
# BENCHMARKS.md's load sweep: partial load and TCP echo at several load levels, on all five
# executors, so a claim made at one load is checked at the others.
#
# Usage: bash benches/sweep.sh COMPARE_BINARY OUT_DIR [REPS]
#   COMPARE_BINARY: the suite's binary (cargo bench -p smolscale-bench --bench compare --no-run
#     prints its path: target/release/deps/compare-<hash>).
#   OUT_DIR: gets one results-*.jsonl per load level; then
#     python3 benches/sweep.py OUT_DIR/*.jsonl prints the table.
#   REPS: repetitions of every (load, executor) cell (default 3).
# Loads: task pairs in $SWEEP_PAIRS (default 50 200 800 2000: 200 is the tables' level; each
# pair makes at most ~1000 round trips a second, and 2 cores served 1.5-1.8M at 2000) and client
# connections in $SWEEP_CLIENTS (default 1 2 4 8 16 64: 64 is the tables' level). About 4 s a
# cell: 5 executors x 10 loads x 3 repetitions is 10 minutes.
set -eu
bin=$(realpath "$1")
out=$2
reps=${3:-3}
mkdir -p "$out"
for pairs in ${SWEEP_PAIRS:-50 200 800 2000}; do
    "$bin" --reps "$reps" --workloads partial_load --pairs "$pairs" --out "$out" >/dev/null 2>&1
    echo "pairs $pairs done"
    sleep 1 # the suite names its results file by the second it started in
done
for clients in ${SWEEP_CLIENTS:-1 2 4 8 16 64}; do
    "$bin" --reps "$reps" --workloads tcp_echo --clients "$clients" --out "$out" >/dev/null 2>&1
    echo "clients $clients done"
    sleep 1
done
python3 "$(dirname "$0")/sweep.py" "$out"/*.jsonl
