//! The child process: runs one workload on one executor, prints its metrics, exits.
//!
//! Every (executor, workload, repetition) runs in a fresh child, so only one global pool exists
//! in it and nothing left by an earlier workload disturbs the next. The child speaks to the
//! harness through stdout, one line per metric: `RESULT<TAB>name<TAB>value<TAB>unit`. A
//! watchdog thread bounds its wall-clock time: past [`WATCHDOG`] it prints `TIMEOUT` and exits
//! with [`TIMEOUT_EXIT`], whatever the executor is doing (a starved timer, a lost wake-up).

use std::io::Write;
use std::time::Duration;

use crate::executors::{Executor, Kind, Visit};
use crate::micro::Budget;
use crate::scenarios::Load;
use crate::workload::Workload;

/// Wall-clock limit of one child (the longest scenario, `idle`, needs about 6 s).
pub const WATCHDOG: Duration = Duration::from_secs(30);

/// Exit status of a child stopped by its watchdog.
pub const TIMEOUT_EXIT: i32 = 124;

/// Runs `workload` on `kind` and exits the process.
pub fn run(kind: Kind, workload: Workload, requested: Option<usize>, quick: bool, load: Load) -> ! {
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(|| {
            std::thread::sleep(WATCHDOG);
            println!("TIMEOUT");
            std::process::exit(TIMEOUT_EXIT);
        })
        .expect("spawning the watchdog");
    let job = Job {
        workload,
        quick,
        load,
        workers: kind.threads(requested),
        baseline_threads: crate::sys::thread_count(),
    };
    let profile = crate::profile::Profile::start();
    let values = kind.start(requested, job);
    profile.finish();
    let mut out = std::io::stdout().lock();
    for (metric, value) in workload.metrics().iter().zip(values) {
        writeln!(out, "RESULT\t{}\t{value}\t{}", metric.name, metric.unit).expect("stdout");
    }
    out.flush().expect("stdout");
    // Exit without tearing down: some pools (and the tasks left running) never stop by
    // themselves.
    std::process::exit(0)
}

/// The workload, handed to whichever executor the child started.
struct Job {
    workload: Workload,
    quick: bool,
    load: Load,
    /// Worker threads of the executor under test.
    workers: usize,
    /// Threads of this process before the executor started (main and watchdog).
    baseline_threads: usize,
}

impl Visit for Job {
    type Output = Vec<f64>;

    fn visit<E: Executor>(self, ex: E) -> Vec<f64> {
        match self.workload {
            Workload::Micro(micro) => {
                let budget = if self.quick {
                    Budget::QUICK
                } else {
                    Budget::NORMAL
                };
                vec![micro.run(ex, &budget, self.workers)]
            }
            Workload::Scenario(scenario) => scenario.run(
                ex,
                self.quick,
                self.load,
                self.workers,
                self.baseline_threads,
            ),
        }
    }
}
