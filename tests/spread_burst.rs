//! A burst of long-running tasks spawned on one worker reaches every worker of the pool with the
//! balancer switched off: only the workers' own shedding, steals and the wake-up chain between
//! them can move the work (tuning log 30 made that chain follow steals, not only the global
//! lanes).

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{block_on_within, install_once};

const LIMIT: Duration = Duration::from_secs(60);
const WORKERS: usize = 6;
const TASKS: usize = 48;

#[test]
fn a_burst_on_one_worker_reaches_every_worker_without_the_balancer() {
    install_once(|| smolscale::Builder::new().threads(WORKERS).balancer(false));
    // Each task keeps polling in short slices (20 µs, then a yield) until every worker has run
    // one of the tasks, or a deadline passes. Spawned from inside a task, they all queue on
    // that task's worker.
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let workers = block_on_within(LIMIT, "the burst reaches every worker", {
        let seen = seen.clone();
        smolscale::spawn(async move {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let seen = seen.clone();
                    smolscale::spawn(async move {
                        loop {
                            let threads = {
                                let mut seen = seen.lock().unwrap();
                                seen.insert(std::thread::current().id());
                                seen.len()
                            };
                            if threads >= WORKERS || Instant::now() > deadline {
                                return;
                            }
                            let slice = Instant::now();
                            while slice.elapsed() < Duration::from_micros(20) {
                                std::hint::spin_loop();
                            }
                            futures_lite::future::yield_now().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
            seen.lock().unwrap().len()
        })
    });
    assert_eq!(
        workers,
        WORKERS,
        "a burst on one worker reached only {workers} of {WORKERS} workers in 30 s: {}",
        smolscale::stats()
    );
}
