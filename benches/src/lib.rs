//! A side-by-side comparison of smolscale with the executors it is meant to replace or beat:
//! tokio's multi-thread runtime, async-executor (as smol runs it), async-global-executor and
//! smolscale 0.4, plus a single-threaded floor that bounds what any pool can do on
//! message-passing work.
//!
//! Run it with `cargo bench -p smolscale-bench --bench compare -- [--micro | --scenarios |
//! --all] [--reps K] [--threads N] [--only E,...] [--quick] [--out DIR]` (see [`cli::USAGE`]).
//!
//! - [`micro`]: smolscale 0.4's and tokio's scheduler micro-benchmarks, median time per
//!   iteration.
//! - [`scenarios`]: partial load, blocking tasks, timer lateness under load, idle cost, TCP
//!   echo, memory per idle task; throughput, CPU time, latency and memory measured from outside
//!   the tasks.
//!
//! Every (executor, workload, repetition) runs in its own child process (this same binary,
//! re-executed with `--child`), one at a time, executors interleaved across repetitions; the
//! harness prints markdown tables of medians and writes every raw result as a JSON line
//! (`benches/plot.py` draws charts from those).

mod child;
mod cli;
mod executors;
mod floor;
mod harness;
mod micro;
mod profile;
mod report;
mod scenarios;
mod stats;
mod sys;
mod workload;

use std::process::ExitCode;

/// The executors and workload bodies `examples/instructions.rs` counts instructions of.
pub use executors::{Executor, Smolscale, Smolscale04};
/// The ring of `ss04.context_switch_quiet` and the sleep counters, for `examples/ring_sleeps.rs`.
pub use micro::TASKS as RING_TASKS;
pub use micro::{spawn_and_await, spawn_remote, yielders};
/// The tokio-suite sizes that `examples/spread.rs` replays, so its diagnosis runs the same work.
pub use micro::{NUM_SPAWN, NUM_YIELD, YIELD_TASKS};
/// The `timer_lateness` load and its percentiles, which `examples/timer_wakers.rs` replays.
pub use scenarios::{busy_forever, BUSY_TASKS, TIMER};
pub use stats::percentile;
pub use sys::{thread_usage, usage, Usage};

/// The benchmark binary's `main`.
pub fn main() -> ExitCode {
    // `cargo bench` passes `--bench` to every bench binary; this one has nothing to do with it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg != "--bench")
        .collect();
    match cli::parse(&args) {
        Ok(cli::Command::Compare(options)) => harness::run(options),
        Ok(cli::Command::Child {
            kind,
            workload,
            threads,
            quick,
            load,
        }) => child::run(kind, workload, threads, quick, load),
        Ok(cli::Command::Help) => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprint!("{message}\n\n{}", cli::USAGE);
            ExitCode::from(2)
        }
    }
}
