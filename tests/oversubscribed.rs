//! A long CPU-bound poll holds its worker even when the cores are shared with other busy
//! threads (balancer.rs, rule 2): the balancer must not take it for a short poll waiting for a
//! CPU and leave the tasks queued behind it to starve. Linux only: elsewhere the kernel isn't
//! asked and every stuck worker counts as blocked, which `autoscale.rs` covers.
#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{block_on_within, within};

const LIMIT: Duration = Duration::from_secs(60);
/// How long each task in the pool spins without yielding.
const SPIN_FOR: Duration = Duration::from_millis(1500);

#[test]
fn a_timer_heartbeat_survives_spinning_tasks_on_shared_cores() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());

    // Two busy threads per CPU outside the pool: with the pool's spinners, every thread gets
    // about a third of a core, less than the half that marks a poll as CPU-bound in one window.
    let stop = Arc::new(AtomicBool::new(false));
    let outside: Vec<_> = (0..2 * cpus)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();

    let worst_gap = block_on_within(LIMIT, "heartbeat beside spinners", async {
        let heartbeat = smolscale::spawn(async {
            let mut worst = Duration::ZERO;
            let end = Instant::now() + SPIN_FOR;
            let mut last = Instant::now();
            while Instant::now() < end {
                async_io::Timer::after(Duration::from_millis(10)).await;
                worst = worst.max(last.elapsed());
                last = Instant::now();
            }
            worst
        });
        // One task per CPU that spins without yielding: every worker is held by one.
        let spinners: Vec<_> = (0..cpus)
            .map(|_| {
                smolscale::spawn(async {
                    let start = Instant::now();
                    while start.elapsed() < SPIN_FOR {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let worst = within(LIMIT, "heartbeat", heartbeat).await;
        for spinner in spinners {
            spinner.await;
        }
        worst
    });
    stop.store(true, Ordering::Relaxed);
    for thread in outside {
        thread.join().unwrap();
    }

    // Before the fix the heartbeat waited for the spinners to finish: a gap of the whole
    // `SPIN_FOR`. A replacement worker comes within a few CPU windows (20 ms each).
    let stats = smolscale::stats();
    assert!(
        worst_gap < SPIN_FOR / 3,
        "a 10 ms heartbeat went {worst_gap:?} without a beat while the workers spun on shared \
         cores\n{stats}"
    );
}
