//! A worker with a backlog shares it with a parked worker by itself, without the balancer: the
//! balancer is switched off here, so only the worker's own shedding can move the work.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{block_on_within, install_once};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn a_backlog_spreads_to_a_parked_worker_without_the_balancer() {
    install_once(|| smolscale::Builder::new().threads(2).balancer(false));
    const TASKS: usize = 8;
    // The threads that have run one of the tasks. Each task keeps yielding (short polls, so the
    // worker can look at its queue between them) until two different threads have run tasks.
    // Spawned from inside a task, they all queue on that task's worker; only shedding can hand
    // some to the other, parked worker. Without it they would yield on one thread until the
    // deadline and fail.
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let deadline = Instant::now() + Duration::from_secs(30);
    block_on_within(LIMIT, "the tasks spread over both workers", {
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
                            if threads >= 2 {
                                return;
                            }
                            assert!(
                                Instant::now() < deadline,
                                "30 s of yielding and every task still ran on one thread"
                            );
                            let spin = Instant::now();
                            while spin.elapsed() < Duration::from_micros(20) {
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
        })
    });
    assert!(seen.lock().unwrap().len() >= 2);
}
