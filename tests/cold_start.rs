//! The first worker of a cold pool takes its fair share of a burst from outside, not all of it:
//! the pool starts its threads one at a time, and the first used to count itself as the only
//! worker, took the whole burst into its local queue and left the next one nothing to start
//! with. With tasks that block, that queued a tiny task behind the blockers and cost it a
//! second stuck detection (BENCHMARKS.md, blocking: 13 ms instead of 6.5 in up to half of the
//! runs). With the balancer off, only the fair share can get the second worker going.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{install_once, wait_until};

const WORKERS: usize = 2;

#[test]
fn the_first_worker_of_a_cold_pool_leaves_a_burst_for_the_next() {
    install_once(|| smolscale::Builder::new().threads(WORKERS).balancer(false));
    let running = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    // Each task blocks its worker until released (or 60 s pass, so a failed run still ends).
    for _ in 0..2 * WORKERS {
        let (running, release) = (running.clone(), release.clone());
        smolscale::spawn(async move {
            running.fetch_add(1, Ordering::SeqCst);
            let start = Instant::now();
            while !release.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(1));
            }
        })
        .detach();
    }
    wait_until(
        Duration::from_secs(20),
        "every worker of a cold pool running one of a burst of blocking tasks",
        || running.load(Ordering::SeqCst) == WORKERS,
    );
    release.store(true, Ordering::SeqCst);
}
