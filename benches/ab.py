#!/usr/bin/env python3
"""Interleaved A/B runs of smolscale variants: the method of every entry in BENCHMARKS.md's
tuning log.

Usage: python3 benches/ab.py COMPARE_BINARY REPS WORKLOADS VARIANT [VARIANT...]

  COMPARE_BINARY  the suite's binary (cargo bench -p smolscale-bench --bench compare --no-run
                  prints its path), used by every variant that names no other.
  REPS            runs of each variant; the variants take turns, so a phase of this noisy
                  machine slows all of them alike.
  WORKLOADS       a comma-separated list as for --workloads, or "micro" for the micro suite.
  VARIANT         NAME=KEY:VALUE,KEY:VALUE...: environment variables for that variant's runs
                  (an experiment build reads its switches from there); the key BIN picks
                  another binary, the key THREADS the worker count (--threads), PAIRS and
                  CLIENTS the scenarios' load (--pairs, --clients), TASKSET a core list to
                  pin to. NAME= alone: the binary as it is.

Only smolscale runs (--only smolscale), one repetition per process. Prints each workload's
median per variant and its ratio to the first variant's (below 1: less time or CPU, or, for a
throughput, less throughput). The raw results stay in /tmp/ab/<pid>/.

Example: python3 benches/ab.py target/release/deps/compare-<hash> 9 micro \\
             base=BIN:/tmp/compare-base new=
"""

import collections
import glob
import json
import os
import statistics
import subprocess
import sys


def parse_variant(spec):
    name, _, settings = spec.partition("=")
    env = {}
    for setting in filter(None, settings.split(",")):
        key, sep, value = setting.partition(":")
        if not sep:
            sys.exit(f"variant {name!r}: {setting!r} is not KEY:VALUE")
        env[key] = value
    return name, env


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    binary, reps, workloads = argv[0], int(argv[1]), argv[2]
    variants = [parse_variant(spec) for spec in argv[3:]]
    out = f"/tmp/ab/{os.getpid()}"
    for rep in range(reps):
        for name, settings in variants:
            env = dict(os.environ)
            env.update(settings)
            command = [env.pop("BIN", binary), "--reps", "1", "--only", "smolscale"]
            # A folder per run: the suite names its file by the second it started in.
            command += ["--out", f"{out}/{name}/{rep}"]
            if "THREADS" in env:
                command += ["--threads", env.pop("THREADS")]
            for key, flag in (("PAIRS", "--pairs"), ("CLIENTS", "--clients")):
                if key in env:
                    command += [flag, env.pop(key)]
            if "TASKSET" in env:
                command = ["taskset", "-c", env.pop("TASKSET")] + command
            if workloads != "micro":
                command += ["--workloads", workloads]
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
        print(f"run {rep + 1}/{reps} done", file=sys.stderr, flush=True)

    values = collections.defaultdict(lambda: collections.defaultdict(list))
    for name, _ in variants:
        for path in glob.glob(f"{out}/{name}/*/*.jsonl"):
            for line in open(path):
                record = json.loads(line)
                if record.get("status") == "ok":
                    values[record["workload"]][name].append(record["value"])
    base = variants[0][0]
    print(f"{'workload':42}" + "".join(f"{name:>12}" for name, _ in variants)
          + f"  ratio to {base}")
    for workload, by_variant in values.items():
        medians = {name: statistics.median(v) for name, v in by_variant.items() if v}
        cells = "".join(f"{medians.get(name, float('nan')):12.4g}" for name, _ in variants)
        ratios = " ".join(
            f"{medians[name] / medians[base]:.2f}" if medians.get(base) else "-"
            for name, _ in variants[1:] if name in medians)
        print(f"{workload:42}{cells}  {ratios}")


if __name__ == "__main__":
    main(sys.argv[1:])
