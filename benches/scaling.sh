#!/bin/bash
# The scaling suite of BENCHMARKS.md, for a machine with 16 or more cores.
#
# Usage: bash benches/scaling.sh COMPARE_BINARY OUT_DIR
#   COMPARE_BINARY: the suite's binary, built with
#     cargo bench -p smolscale-bench --bench compare --no-run
#     (cargo prints its path: target/release/deps/compare-<hash>). It runs on any machine of the
#     same architecture with a compatible glibc, so it can be built elsewhere and copied over.
#   OUT_DIR: gets scaling.tgz, one archive with the printed tables (micro-N.txt, scen-N.txt)
#     and the raw results (nN/results-*.jsonl), rewritten after each thread count, so a run cut
#     short still leaves what it measured (one file: some lent machines return only a few).
# Every executor is pinned to N cores (taskset) and told to use N workers, for N = 16, 8, 4,
# 2, 1 (or the counts in $SCALING_THREADS, in that order: put first what must not be cut): the
# micro workloads, then partial load, TCP echo and timer lateness. One repetition each; about
# 8 minutes in all. Then: tar xzf scaling.tgz && python3 benches/scaling.py n*/*.jsonl
set -u
bin=$(realpath "$1")
out=$(realpath "$2")
work=$(mktemp -d)
executors=smolscale,tokio,async-executor,async-global-executor,smolscale-0.4
for n in ${SCALING_THREADS:-16 8 4 2 1}; do
    pin="taskset -c 0-$((n - 1))"
    timeout 150 $pin "$bin" --micro --reps 1 --threads $n --only $executors \
        --out "$work/n$n" >"$work/micro-$n.txt" 2>&1
    timeout 120 $pin "$bin" --reps 1 --threads $n --only $executors \
        --workloads partial_load,tcp_echo,timer_lateness --out "$work/n$n" >"$work/scen-$n.txt" 2>&1
    echo "threads $n done"
    tar czf "$out/scaling.tgz" -C "$work" .
done
