#!/bin/bash
# The diagnosis runs for the 16-core misses of BENCHMARKS.md ("where it is not yet won"), in
# one short script for a lent machine that has no perf (about 6 minutes).
#
# Usage: bash benches/diagnose.sh BIN_DIR OUT_DIR
#   BIN_DIR holds two binaries built here (same architecture, compatible glibc):
#     compare: cargo bench -p smolscale-bench --bench compare --features profile --no-run
#              (cargo prints its path: target/release/deps/compare-<hash>)
#     spread:  cargo build --release -p smolscale-bench --example spread
#              (target/release/examples/spread)
#   `strip --strip-debug` on both keeps the function names the profiles need (compare: 32 MB
#   down to 5; a full `strip` leaves only addresses), so they fit a lent machine's carry limit.
#   OUT_DIR gets diagnose.tgz, rewritten after each step so a run cut short keeps what it did.
# Steps, most wanted first:
#   1. spawn_many_local at 1, 2 and 16 threads, smolscale and smolscale 0.4: which thread runs
#      the burst and when (spread), since our time doubles from 1 thread to 2 on 16 cores.
#   2. TCP echo at 16 threads: requests/s, CPU and sleeps per request for every executor, then
#      a profile of smolscale's and tokio's processes (SMOLSCALE_BENCH_PROFILE), for the CPU
#      per request that is 1.45x tokio's there.
#   3. yield_many at 2 and 16 threads (spread): how a burst from outside the pool reaches every
#      worker (at 2 threads on the device ours took as long as at 1, where smolscale 0.4 took
#      0.59x: the scaling table).
#   4. Log 50's reactor slice at 16 threads: timer lateness and TCP echo with
#      SMOLSCALE_REACTOR_SLICE_US=off against the default (benches/ab.py, 3 runs each, about
#      1.5 minutes), since a short slice on the reactor thread was only measured on 2 cores.
#   5. Only if BIN_DIR also holds compare-exp (the compare build of branch exp/device-16): an
#      interleaved A/B of that branch's switches at 16 threads (benches/ab.py, 3 runs each,
#      about 6 minutes more): a tree of wake-ups from a backlog of 8, a local queue of 1024,
#      tuning logs 38, 41 and 43 undone (old38, old41, old43), against the switches off.
#      (The cheap-task threshold's switch, SMOLX_CHEAP_NS, is left out: log 38 measured the
#      tasks far under it.)
# DIAGNOSE_WIDE=N replaces 16 (a smoke test on a smaller machine), DIAGNOSE_AB_RUNS=K the
# A/B's runs per variant.
set -u
bins=$(realpath "$1")
out=$(realpath "$2")
work=$(mktemp -d)
compare="$bins/compare"
spread="$bins/spread"
wide=${DIAGNOSE_WIDE:-16}
save() { tar czf "$out/diagnose.tgz" -C "$work" .; }

pinned() { # pinned N COMMAND...: run on cores 0..N-1 with N workers for smolscale
    local n=$1
    shift
    SMOLSCALE_THREADS=$n timeout 60 taskset -c 0-$((n - 1)) "$@"
}

for n in 1 2 $wide; do
    for ex in smolscale smolscale-0.4; do
        pinned $n "$spread" $ex spawn_many_local $n >>"$work/spread-spawn_many_local.txt" 2>&1
    done
done
save
echo "step 1 done"

pinned $wide "$compare" --reps 1 --threads $wide --workloads tcp_echo --out "$work/tcp" \
    >"$work/tcp.txt" 2>&1
for ex in smolscale tokio; do
    SMOLSCALE_BENCH_PROFILE="$work/profile-tcp-$ex.txt" \
        pinned $wide "$compare" --child $ex tcp_echo --threads $wide >>"$work/tcp-profiled.txt" 2>&1
done
save
echo "step 2 done"

for n in 2 $wide; do
    for ex in smolscale tokio smolscale-0.4; do
        pinned $n "$spread" $ex yield_many $n >>"$work/spread-yield_many.txt" 2>&1
    done
done
save
echo "step 3 done"

here="THREADS:$wide,TASKSET:0-$((wide - 1))"
python3 "$(dirname "$0")/ab.py" "$compare" "${DIAGNOSE_AB_RUNS:-3}" timer_lateness,tcp_echo \
    "off=$here,SMOLSCALE_REACTOR_SLICE_US:off" "on=$here" >"$work/ab-reactor-slice.txt" 2>&1
save
echo "step 4 done"

if [ -x "$bins/compare-exp" ]; then
    python3 "$(dirname "$0")/ab.py" "$bins/compare-exp" "${DIAGNOSE_AB_RUNS:-3}" \
        tokio.spawn_many_local,tokio.yield_many,ss04.yield_now,ss04.spawn_many,tcp_echo,tokio.spawn_many_remote_busy1 \
        "off=$here" "wide8=$here,SMOLX_WIDE:8" "qcap1k=$here,SMOLX_QCAP:1024" \
        "old38=$here,SMOLX_OLD38:1" "old41=$here,SMOLX_OLD41:1" "old43=$here,SMOLX_OLD43:1" \
        >"$work/ab-exp.txt" 2>&1
    save
    echo "step 5 done"
fi
