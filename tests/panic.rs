//! Panics are contained: they surface where the task is awaited, a detached task's panic is
//! logged, and no worker (or other task) is lost.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{block_on_within, capture_logs, logged, wait_until};

const LIMIT: Duration = Duration::from_secs(60);

fn quiet_panics() {
    // The default hook prints every panic; these are on purpose.
    std::panic::set_hook(Box::new(|_| {}));
}

#[test]
fn panics_are_contained() {
    quiet_panics();
    capture_logs();

    // Warm the pool up to its target so we can tell if a worker dies.
    block_on_within(LIMIT, "warm-up", async {
        let tasks: Vec<_> = (0..1000).map(|_| smolscale::spawn(async {})).collect();
        for task in tasks {
            task.await;
        }
    });

    // 1. The panic surfaces where the task is awaited, with its original payload.
    let awaited = std::panic::catch_unwind(|| {
        block_on_within(LIMIT, "awaiting a panicking task", async {
            smolscale::spawn(async {
                futures_lite::future::yield_now().await;
                panic!("boom in an awaited task");
            })
            .await
        })
    });
    let payload = awaited.expect_err("the panic reaches the awaiter");
    assert_eq!(
        payload.downcast_ref::<&str>().copied(),
        Some("boom in an awaited task")
    );

    // 2. A detached task's panic is logged at error level.
    smolscale::spawn(async { panic!("boom in a detached task") }).detach();
    wait_until(LIMIT, "the detached panic is logged", || {
        logged("boom in a detached task")
            .iter()
            .any(|(level, _)| *level == log::Level::Error)
    });

    // 3. 10 000 panics, interleaved with 10 000 tasks that must all still run.
    let survivors = Arc::new(AtomicUsize::new(0));
    for i in 0..20_000 {
        if i % 2 == 0 {
            smolscale::spawn(async { panic!("one of many") }).detach();
        } else {
            let survivors = survivors.clone();
            smolscale::spawn(async move {
                survivors.fetch_add(1, Ordering::SeqCst);
            })
            .detach();
        }
    }
    wait_until(LIMIT, "10 000 tasks beside 10 000 panicking ones", || {
        survivors.load(Ordering::SeqCst) == 10_000
    });

    // 4. Afterwards: no worker was lost or replaced, and 10 000 more tasks run.
    // (A worker that died would be missing from `threads` without counting as retired.)
    let stats = smolscale::stats();
    assert!(stats.threads >= 1, "{stats}");
    assert_eq!(
        stats.threads as u64,
        stats.threads_started - stats.threads_retired,
        "{stats}"
    );
    assert!(
        logged("died").is_empty(),
        "no worker died: {:?}",
        logged("died")
    );
    common::spawn_and_sum(LIMIT, "10 000 tasks after the panics", 10_000);
    wait_until(LIMIT, "every task accounted for", || {
        smolscale::stats().alive == 0
    });
}
