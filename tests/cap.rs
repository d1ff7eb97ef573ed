//! Bounded growth (design.md §3.5): threads never exceed `max_threads`, growth stops there with
//! a single warning, and a task that blocks forever costs one thread and nothing more.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{block_on_within, capture_logs, logged, wait_until};

const LIMIT: Duration = Duration::from_secs(120);
const TARGET: usize = 2;
const MAX_THREADS: usize = 5;

#[test]
fn threads_stay_under_the_cap_and_a_forever_blocked_task_keeps_one() {
    capture_logs();
    smolscale::Builder::new()
        .threads(TARGET)
        .max_threads(MAX_THREADS)
        // 1 ms blocks count as stuck, so 10 000 of them push hard against the cap.
        .stuck_threshold(Duration::from_millis(1))
        .retire_after(Duration::from_millis(200))
        .install()
        .unwrap();

    // Sample the thread count from a plain thread for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, most) = (stop.clone(), most.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                most.fetch_max(smolscale::running_threads(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };

    // 10 000 tasks that each block for 1 ms.
    block_on_within(LIMIT, "10 000 tasks blocking 1 ms each", async {
        let tasks: Vec<_> = (0..10_000)
            .map(|_| smolscale::spawn(async { std::thread::sleep(Duration::from_millis(1)) }))
            .collect();
        for task in tasks {
            task.await;
        }
    });
    let most_during_load = most.load(Ordering::SeqCst);
    assert!(
        most_during_load <= MAX_THREADS,
        "{most_during_load} threads > cap {MAX_THREADS}"
    );

    // More long blockers than the cap allows threads: growth must stop at the cap, with one
    // warning for the whole episode rather than one per balancer tick. (Let the first load's
    // surplus retire first, so this is an episode of its own.)
    let cap_warnings = || {
        logged("max_threads")
            .into_iter()
            .filter(|(level, _)| *level == log::Level::Warn)
            .collect::<Vec<_>>()
    };
    wait_until(LIMIT, "surplus retires after the first load", || {
        smolscale::running_threads() == TARGET
    });
    let before = cap_warnings().len();
    block_on_within(LIMIT, "blockers beyond the cap", async {
        let tasks: Vec<_> = (0..MAX_THREADS + 2)
            .map(|_| smolscale::spawn(async { std::thread::sleep(Duration::from_millis(300)) }))
            .collect();
        for task in tasks {
            task.await;
        }
    });
    assert_eq!(
        most.load(Ordering::SeqCst),
        MAX_THREADS,
        "growth reached the cap, no further"
    );
    let warnings = cap_warnings();
    assert_eq!(
        warnings.len() - before,
        1,
        "one warning while growth stays blocked at the cap, not one per tick: {warnings:?}"
    );

    // A task that blocks "forever" (until the end of the test) keeps one thread...
    let release = Arc::new(AtomicBool::new(false));
    let forever = {
        let release = release.clone();
        smolscale::spawn(async move {
            while !release.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // ...while the pool keeps serving everything else.
    for _ in 0..3 {
        common::spawn_and_sum(LIMIT, "work beside a blocked task", 10_000);
    }
    // While work waits, the blocked worker gets its replacement. (The rounds above may all
    // end before it does: a surplus worker can retire just before the task blocks, and a
    // blocked thread that the balancer first finds runnable, waiting for a CPU on a loaded
    // machine, is judged over a 20 ms window. Both were seen in about one run in 40 with two
    // busy threads beside the test, the pool then left with the blocked thread and one other.
    // Work waiting is what starts a replacement, so keep it coming.)
    wait_until(LIMIT, "a replacement for the blocked worker", || {
        common::spawn_and_sum(LIMIT, "work beside a blocked task", 10_000);
        smolscale::stats().threads > TARGET
    });
    // ...and nothing more: once the surplus retires, target + the one blocked thread remain.
    wait_until(LIMIT, "surplus retires around the blocked task", || {
        let stats = smolscale::stats();
        stats.threads == TARGET + 1 && stats.parked == TARGET
    });
    assert!(most.load(Ordering::SeqCst) <= MAX_THREADS);

    release.store(true, Ordering::SeqCst);
    block_on_within(LIMIT, "the blocked task ends", forever);
    stop.store(true, Ordering::SeqCst);
    common::on_thread_within(LIMIT, "sampler stops", move || sampler.join().unwrap());
}
