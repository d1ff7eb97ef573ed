//! A long CPU-bound poll holds its worker even when the cores are shared with other busy
//! threads (balancer.rs, rule 2): the balancer must not take it for a short poll waiting for a
//! CPU and leave the tasks queued behind it to starve. Linux only: elsewhere the kernel isn't
//! asked and every stuck worker counts as blocked, which `autoscale.rs` covers.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::{heartbeat_beside_spinners, BusyThreads};

const LIMIT: Duration = Duration::from_secs(60);
/// How long each task in the pool spins without yielding.
const SPIN_FOR: Duration = Duration::from_millis(1500);

#[test]
fn a_timer_heartbeat_survives_spinning_tasks_on_shared_cores() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());

    // Two busy threads per CPU outside the pool: with the pool's spinners, every thread gets
    // about a third of a core, less than the half that marks a poll as CPU-bound in one window.
    let outside = BusyThreads::start(2 * cpus);
    // One task per CPU that spins without yielding: every worker is held by one.
    let worst_gap = heartbeat_beside_spinners(LIMIT, SPIN_FOR, cpus, SPIN_FOR);
    drop(outside);

    // Before the fix the heartbeat waited for the spinners to finish: a gap of the whole
    // `SPIN_FOR`. A replacement worker comes within a few CPU windows (20 ms each).
    let stats = smolscale::stats();
    assert!(
        worst_gap < SPIN_FOR / 3,
        "a 10 ms heartbeat went {worst_gap:?} without a beat while the workers spun on shared \
         cores\n{stats}"
    );
}
