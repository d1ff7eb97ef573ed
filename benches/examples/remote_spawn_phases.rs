//! Where `tokio.spawn_many_remote_idle`'s time goes: 10 000 empty tasks spawned from a plain
//! thread, then awaited in `block_on`. Prints, as medians over the iterations, how long the
//! spawn loop took, how long the whole iteration took, and how many tasks had already run when
//! the loop ended (a pool whose workers keep pace with the spawning thread runs nearly all of
//! them during the loop; one whose workers lag runs them in batches, later).
//!
//! ```sh
//! cargo run --release -p smolscale-bench --example remote_spawn_phases -- smolscale
//! cargo run --release -p smolscale-bench --example remote_spawn_phases -- smolscale-0.4
//! cargo run --release -p smolscale-bench --example remote_spawn_phases -- async-global-executor
//! ```
//!
//! One executor per process (their pools are global); run them alternately, several times, and
//! compare medians (BENCHMARKS.md, "where it is not yet won"). An optional second argument sets
//! the number of measured iterations (default 400; fewer for `valgrind --tool=callgrind`).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Tasks per iteration (tokio's `NUM_SPAWN`).
const TASKS: usize = 10_000;
/// Iterations measured, after [`WARMUP`] unmeasured ones.
const ITERATIONS: usize = 400;
const WARMUP: usize = 20;

/// Tasks that have run in the current iteration.
static RAN: AtomicUsize = AtomicUsize::new(0);

/// One iteration's figures.
struct Sample {
    spawn_loop: Duration,
    total: Duration,
    ran_during_loop: usize,
}

fn iteration<T: Future<Output = ()>>(
    spawn: impl Fn() -> T,
    block_on: impl FnOnce(Vec<T>),
) -> Sample {
    RAN.store(0, Ordering::Relaxed);
    let start = Instant::now();
    let tasks: Vec<T> = (0..TASKS).map(|_| spawn()).collect();
    let spawn_loop = start.elapsed();
    let ran_during_loop = RAN.load(Ordering::Relaxed);
    block_on(tasks);
    Sample {
        spawn_loop,
        total: start.elapsed(),
        ran_during_loop,
    }
}

async fn counted() {
    RAN.fetch_add(1, Ordering::Relaxed);
}

async fn await_all<T: Future<Output = ()>>(tasks: Vec<T>) {
    for task in tasks {
        task.await;
    }
}

fn run(executor: &str) -> Option<Sample> {
    match executor {
        "smolscale" => Some(iteration(
            || smolscale::spawn(counted()),
            |tasks| smolscale::block_on(await_all(tasks)),
        )),
        "smolscale-0.4" => Some(iteration(
            || smolscale04::spawn(counted()),
            |tasks| smolscale04::block_on(await_all(tasks)),
        )),
        "async-global-executor" => Some(iteration(
            || async_global_executor::spawn(counted()),
            |tasks| async_global_executor::block_on(await_all(tasks)),
        )),
        _ => None,
    }
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> T {
    values.sort_unstable();
    values[values.len() / 2]
}

fn main() {
    let executor = std::env::args().nth(1).unwrap_or_default();
    // A second argument overrides the iteration count (for runs under valgrind).
    let iterations = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(ITERATIONS);
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..WARMUP + iterations {
        let Some(sample) = run(&executor) else {
            eprintln!(
                "usage: remote_spawn_phases smolscale|smolscale-0.4|async-global-executor \
                 [ITERATIONS]"
            );
            std::process::exit(2);
        };
        if i >= WARMUP {
            samples.push(sample);
        }
    }
    let spawn_loop = median(samples.iter().map(|s| s.spawn_loop).collect());
    let total = median(samples.iter().map(|s| s.total).collect());
    let ran = median(samples.iter().map(|s| s.ran_during_loop).collect());
    println!(
        "{executor}: spawn loop {:.0} us ({:.0} ns per spawn), whole iteration {:.0} us, \
         {:.0} % of the tasks run by the end of the loop",
        spawn_loop.as_secs_f64() * 1e6,
        spawn_loop.as_secs_f64() * 1e9 / TASKS as f64,
        total.as_secs_f64() * 1e6,
        ran as f64 * 100.0 / TASKS as f64,
    );
}
