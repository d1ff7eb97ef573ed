//! A worker whose thread waits for a CPU is not blocked (balancer.rs, rule 2): on an
//! oversubscribed machine, a worker preempted in the middle of a short poll looks stuck, but a
//! replacement thread would only compete for the same cores. Linux only: elsewhere the kernel
//! isn't asked and every stuck worker counts as blocked.
#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::{block_on_within, install_once, BusyThreads};

const LIMIT: Duration = Duration::from_secs(60);
/// How long the pool runs short polls on the oversubscribed machine.
const LOAD_FOR: Duration = Duration::from_secs(2);

#[test]
fn preempted_workers_get_no_replacement() {
    // A 1 ms threshold: any preemption longer than that makes a worker look stuck.
    install_once(|| {
        smolscale::Builder::new()
            .threads(2)
            .stuck_threshold(Duration::from_millis(1))
    });
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());

    // Four spinning threads per CPU: each worker gets a CPU only a fraction of the time.
    let spinners = BusyThreads::start(4 * cpus);

    // Only short polls: tasks that yield until the deadline. Meanwhile, watch for workers that
    // look stuck (the premise of the test: preemption happened).
    let max_stuck = block_on_within(LIMIT, "the yielding tasks finish", async {
        let deadline = Instant::now() + LOAD_FOR;
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                smolscale::spawn(async move {
                    while Instant::now() < deadline {
                        futures_lite::future::yield_now().await;
                    }
                })
            })
            .collect();
        let mut max_stuck = 0;
        while Instant::now() < deadline {
            max_stuck = max_stuck.max(smolscale::stats().stuck);
            async_io::Timer::after(Duration::from_micros(200)).await;
        }
        for task in tasks {
            task.await;
        }
        max_stuck
    });
    drop(spinners);

    let stats = smolscale::stats();
    assert!(
        max_stuck > 0,
        "no worker ever looked stuck, so this run tested nothing (4 spinners per CPU, 1 ms \
         threshold)\n{stats}"
    );
    assert_eq!(
        stats.threads_started, 2,
        "a replacement was started for a worker that was only waiting for a CPU\n{stats}"
    );
}
