//! `block_on`: from main, from plain threads, nested inside tasks (many levels deep), with
//! futures that are not `Send`.

mod common;

use std::rc::Rc;
use std::time::Duration;

use common::{block_on_within, on_thread_within, within};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn from_the_test_thread() {
    assert_eq!(block_on_within(LIMIT, "plain", async { 1 + 1 }), 2);
}

#[test]
fn runs_futures_that_are_not_send() {
    let shared = Rc::new(5);
    let value = block_on_within(LIMIT, "!Send future", async move {
        let task = smolscale::spawn(async { 1 });
        *shared + task.await
    });
    assert_eq!(value, 6);
}

#[test]
fn from_many_plain_threads_at_once() {
    let handles: Vec<_> = (0..8u64)
        .map(|i| {
            std::thread::spawn(move || {
                block_on_within(LIMIT, "block_on on a plain thread", async move {
                    let tasks: Vec<_> = (0..100)
                        .map(|j| smolscale::spawn(async move { i * j }))
                        .collect();
                    let mut sum = 0;
                    for task in tasks {
                        sum += task.await;
                    }
                    sum
                })
            })
        })
        .collect();
    let total: u64 = on_thread_within(LIMIT, "joining 8 threads", move || {
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(total, (0..8u64).sum::<u64>() * (0..100u64).sum::<u64>());
}

/// A task that calls `block_on` on a future that spawns a task doing the same, `depth` times.
fn nest(depth: u32) -> u32 {
    if depth == 0 {
        return 0;
    }
    smolscale::block_on(async move {
        let inner = smolscale::spawn(async move { nest(depth - 1) });
        // Also wait on a timer and yield inside the nested call, so it really waits.
        async_io::Timer::after(Duration::from_millis(1)).await;
        futures_lite::future::yield_now().await;
        inner.await + 1
    })
}

#[test]
fn nested_ten_deep_inside_tasks() {
    let depth = block_on_within(LIMIT, "nested block_on, 10 deep", async {
        smolscale::spawn(async { nest(10) }).await
    });
    assert_eq!(depth, 10);
}

#[test]
fn nested_block_on_beside_other_work() {
    // While tasks block in nested `block_on`s, a stream of ordinary tasks keeps completing.
    block_on_within(LIMIT, "nested block_on beside other work", async {
        let blockers: Vec<_> = (0..4)
            .map(|_| {
                smolscale::spawn(async {
                    smolscale::block_on(async_io::Timer::after(Duration::from_millis(200)));
                })
            })
            .collect();
        for _ in 0..1000 {
            within(
                Duration::from_secs(30),
                "ordinary task",
                smolscale::spawn(async {}),
            )
            .await;
        }
        for blocker in blockers {
            blocker.await;
        }
    });
}

#[test]
fn tasks_woken_during_a_nested_block_on_are_not_stranded() {
    // Inside a task, spawn work (it lands on this worker's local queue), then block. The queued
    // work must run elsewhere while this worker is blocked, or the inner wait never ends.
    block_on_within(LIMIT, "local work queued before a nested block_on", async {
        smolscale::spawn(async {
            let (send, recv) = async_channel::bounded::<u32>(1);
            smolscale::spawn(async move { send.send(9).await.unwrap() }).detach();
            let got = smolscale::block_on(recv.recv()).unwrap();
            assert_eq!(got, 9);
        })
        .await
    });
}
