//! Spawning: many tasks complete, detached tasks run, cancelled and dropped tasks stop, and
//! nothing is lost on the way.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{block_on_within, wait_until};

const LIMIT: Duration = Duration::from_secs(60);

/// Counts drops of a future, to tell "completed or cancelled" from "leaked".
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn hundred_thousand_tasks_all_complete() {
    common::spawn_and_sum(LIMIT, "100 000 tasks", 100_000);
}

#[test]
fn tasks_spawned_from_tasks_complete() {
    // A tree: 10 tasks each spawn 10 tasks each spawn 100, from worker threads (local queues).
    let leaves = block_on_within(LIMIT, "task tree", async {
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                smolscale::spawn(async {
                    let tasks: Vec<_> = (0..10)
                        .map(|_| {
                            smolscale::spawn(async {
                                let leaves: Vec<_> =
                                    (0..100).map(|_| smolscale::spawn(async { 1u64 })).collect();
                                let mut n = 0;
                                for leaf in leaves {
                                    n += leaf.await;
                                }
                                n
                            })
                        })
                        .collect();
                    let mut n = 0;
                    for task in tasks {
                        n += task.await;
                    }
                    n
                })
            })
            .collect();
        let mut n = 0;
        for task in tasks {
            n += task.await;
        }
        n
    });
    assert_eq!(leaves, 10 * 10 * 100);
}

#[test]
fn detached_tasks_run_to_completion() {
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..10_000 {
        let done = done.clone();
        smolscale::spawn(async move {
            futures_lite::future::yield_now().await;
            done.fetch_add(1, Ordering::SeqCst);
        })
        .detach();
    }
    wait_until(LIMIT, "10 000 detached tasks", || {
        done.load(Ordering::SeqCst) == 10_000
    });
}

#[test]
fn cancel_stops_a_pending_task_and_drops_its_future() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(dropped.clone());
    let task = smolscale::spawn(async move {
        let _guard = guard;
        futures_lite::future::pending::<()>().await;
    });
    let output = block_on_within(LIMIT, "cancel", async {
        // Let it start and park on `pending` first.
        async_io::Timer::after(Duration::from_millis(10)).await;
        task.cancel().await
    });
    assert_eq!(output, None, "a cancelled pending task has no output");
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "its future was dropped");
}

#[test]
fn cancel_of_a_finished_task_returns_its_output() {
    let output = block_on_within(LIMIT, "cancel finished", async {
        let task = smolscale::spawn(async { 7 });
        while !task.is_finished() {
            async_io::Timer::after(Duration::from_millis(1)).await;
        }
        task.cancel().await
    });
    assert_eq!(output, Some(7));
}

#[test]
fn dropping_a_task_cancels_it() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let ran_to_end = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        let guard = DropCounter(dropped.clone());
        let ran_to_end = ran_to_end.clone();
        drop(smolscale::spawn(async move {
            let _guard = guard;
            async_io::Timer::after(Duration::from_secs(3600)).await;
            ran_to_end.fetch_add(1, Ordering::SeqCst);
        }));
    }
    wait_until(LIMIT, "1000 dropped tasks' futures dropped", || {
        dropped.load(Ordering::SeqCst) == 1000
    });
    assert_eq!(ran_to_end.load(Ordering::SeqCst), 0);
}

#[test]
fn fallible_task_gives_its_output_or_none_when_cancelled() {
    let (done, cancelled) = block_on_within(LIMIT, "fallible tasks", async {
        let done: smolscale::FallibleTask<u8> = smolscale::spawn(async { 3 }).fallible();
        let never: smolscale::FallibleTask<u8> =
            smolscale::spawn(futures_lite::future::pending()).fallible();
        (done.await, never.cancel().await)
    });
    assert_eq!(done, Some(3));
    assert_eq!(cancelled, None);
}

#[test]
fn stats_account_for_every_task() {
    // Other tests in this binary run concurrently, so only check what must hold regardless.
    let before = smolscale::stats();
    block_on_within(LIMIT, "1000 tasks for stats", async {
        let tasks: Vec<_> = (0..1000).map(|_| smolscale::spawn(async {})).collect();
        for task in tasks {
            task.await;
        }
    });
    let after = smolscale::stats();
    assert!(after.spawned >= before.spawned + 1000, "{before}\n{after}");
    assert!(after.polls >= before.polls + 1000, "{before}\n{after}");
    assert!(after.threads >= 1 && after.threads <= after.target.max(1) + 256);
}

#[test]
fn alive_counts_tasks_spawned_on_and_off_the_pool() {
    // 100 pending tasks spawned from this (plain) thread and 100 from a worker: each counts as
    // alive until it is cancelled. Other tests' tasks can only add to the figure.
    let outside: Vec<_> = (0..100)
        .map(|_| smolscale::spawn(futures_lite::future::pending::<()>()))
        .collect();
    let inside = block_on_within(
        LIMIT,
        "spawning from a worker",
        smolscale::spawn(async {
            (0..100)
                .map(|_| smolscale::spawn(futures_lite::future::pending::<()>()))
                .collect::<Vec<_>>()
        }),
    );
    let stats = smolscale::stats();
    assert!(stats.alive >= 200, "200 pending tasks, but {stats}");
    drop(outside);
    drop(inside);
}

#[test]
fn worker_threads_have_readable_names() {
    block_on_within(LIMIT, "spawn", smolscale::spawn(async {}));
    let name = block_on_within(
        LIMIT,
        "thread name",
        smolscale::spawn(async { std::thread::current().name().map(str::to_string) }),
    );
    let name = name.expect("worker threads are named");
    assert!(name.starts_with("smolscale-w"), "{name}");
}
