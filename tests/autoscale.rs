//! Auto-scaling (design.md §3.4–§3.5): blocked or spinning workers are replaced within
//! milliseconds, and the surplus retires once the load ends.
//!
//! The scenarios share one pool, so they run one at a time (`serial`).

mod common;

use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use common::{
    block_on_within, capture_logs, heartbeat_beside_spinners, install_once, logged, spin_for,
    wait_until,
};

const LIMIT: Duration = Duration::from_secs(60);
const RETIRE_AFTER: Duration = Duration::from_millis(500);

fn serial() -> MutexGuard<'static, ()> {
    capture_logs();
    install_once(|| smolscale::Builder::new().retire_after(RETIRE_AFTER));
    common::serial()
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Waits until the pool is back to its target with every worker parked.
fn settle() {
    wait_until(
        RETIRE_AFTER + Duration::from_secs(30),
        "threads back to the target after the load",
        || {
            let stats = smolscale::stats();
            stats.threads <= stats.target && stats.parked == stats.threads
        },
    );
}

/// Spawns a tiny task behind 2 × CPUs tasks that each hold their worker in `block`, on a pool
/// at its target, and fails if it waits anywhere near as long as a fixed-size pool would
/// (`block`'s 500 ms).
fn tiny_task_runs_promptly_behind(what: &str, block: fn()) {
    let latency = block_on_within(LIMIT, "tiny task behind blockers", async {
        let blockers: Vec<_> = (0..2 * cpus())
            .map(|_| smolscale::spawn(async move { block() }))
            .collect();
        let start = Instant::now();
        let latency = smolscale::spawn(async move { start.elapsed() }).await;
        let stats = smolscale::stats();
        for blocker in blockers {
            blocker.await;
        }
        eprintln!("tiny task behind {what} ran after {latency:?}; {stats}");
        latency
    });
    // Goal 20 ms; the bound is loose so a loaded CI machine never flakes, and still far below
    // the 500 ms a fixed-size pool needs.
    assert!(
        latency < Duration::from_millis(200),
        "tiny task behind {what} waited {latency:?}"
    );
}

#[test]
fn a_tiny_task_runs_promptly_behind_blocked_workers() {
    let _serial = serial();
    tiny_task_runs_promptly_behind("sleeping tasks", || {
        std::thread::sleep(Duration::from_millis(500))
    });
    assert!(
        !logged("started worker").is_empty() && !logged("stuck").is_empty(),
        "replacement threads are logged with their reason"
    );
    settle();
    assert!(
        !logged("retired worker").is_empty(),
        "retirements are logged"
    );
}

#[test]
fn a_tiny_task_runs_promptly_behind_spinning_workers() {
    let _serial = serial();
    // A thread in a CPU loop is runnable, like one merely waiting for a CPU: the balancer must
    // see it use the CPU before it starts a replacement (balancer.rs, rule 2).
    tiny_task_runs_promptly_behind("spinning tasks", || spin_for(Duration::from_millis(500)));
    settle();
}

#[test]
fn spinning_tasks_do_not_stop_a_timer_heartbeat() {
    let _serial = serial();
    // One task per CPU that spins for a second without yielding.
    let worst_gap = heartbeat_beside_spinners(
        LIMIT,
        Duration::from_millis(1200),
        cpus(),
        Duration::from_secs(1),
    );
    assert!(
        worst_gap < Duration::from_millis(250),
        "a 10 ms heartbeat went {worst_gap:?} without a beat"
    );
    settle();
}

#[test]
fn stuck_workers_show_in_stats() {
    let _serial = serial();
    block_on_within(LIMIT, "stuck worker in stats", async {
        let blocker = smolscale::spawn(async { std::thread::sleep(Duration::from_millis(300)) });
        // Keep work queued behind it so the stuck worker matters.
        let start = Instant::now();
        let mut seen = 0;
        while start.elapsed() < Duration::from_millis(250) {
            smolscale::spawn(async {}).await;
            seen = seen.max(smolscale::stats().stuck);
            async_io::Timer::after(Duration::from_millis(1)).await;
        }
        blocker.await;
        assert!(seen >= 1, "stats().stuck never showed the blocked worker");
    });
    settle();
}
