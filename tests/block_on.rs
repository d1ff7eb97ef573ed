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

/// Before it lets the thread sleep, `block_on` spins briefly for a wake-up (src/caller.rs).
/// Wake-ups at every moment must be seen: during the poll, during the spin, just after the
/// spin gives up, and long after the thread went to sleep.
#[test]
fn wakes_at_every_delay_are_seen() {
    on_thread_within(LIMIT, "300 waits with wakes at random delays", || {
        let mut rng = fastrand::Rng::with_seed(7);
        for round in 0..300u32 {
            let (send, recv) = async_channel::bounded::<u32>(1);
            let delay = match rng.u8(..5) {
                0 => None,
                1 => Some(Duration::from_micros(rng.u64(..5))),
                2 => Some(Duration::from_micros(rng.u64(15..40))),
                3 => Some(Duration::from_micros(rng.u64(40..200))),
                _ => Some(Duration::from_millis(rng.u64(1..5))),
            };
            let sender = std::thread::spawn(move || {
                if let Some(delay) = delay {
                    std::thread::sleep(delay);
                }
                send.send_blocking(round).unwrap();
            });
            let got = smolscale::block_on(within(LIMIT, "the value sent", recv.recv()));
            assert_eq!(got, Ok(round));
            sender.join().unwrap();
        }
    });
}

/// A future may keep `block_on`'s waker after the call returns (here, in a slot) and wake it
/// later, during another `block_on` on the same thread: that call must neither finish early
/// nor hang.
#[test]
fn a_waker_kept_after_the_call_is_harmless() {
    on_thread_within(LIMIT, "late wakes into a later block_on", || {
        let kept = std::sync::Arc::new(std::sync::Mutex::new(None::<std::task::Waker>));
        for _ in 0..50 {
            let slot = kept.clone();
            smolscale::block_on(std::future::poll_fn(move |cx| {
                *slot.lock().unwrap() = Some(cx.waker().clone());
                std::task::Poll::Ready(())
            }));
            let stale = kept.lock().unwrap().take().unwrap();
            let waker_thread = std::thread::spawn(move || {
                for _ in 0..20 {
                    stale.wake_by_ref();
                    std::thread::sleep(Duration::from_micros(50));
                }
            });
            let start = std::time::Instant::now();
            smolscale::block_on(async_io::Timer::after(Duration::from_millis(2)));
            assert!(
                start.elapsed() >= Duration::from_millis(2),
                "a stale wake-up ended the wait early"
            );
            waker_thread.join().unwrap();
        }
    });
}

/// `block_on` inside `block_on` on one plain thread (the inner call can't reuse the outer
/// call's cached waker).
#[test]
fn nested_on_a_plain_thread() {
    let value = on_thread_within(LIMIT, "nested block_on on a plain thread", || {
        smolscale::block_on(async {
            let inner = smolscale::block_on(async { smolscale::spawn(async { 20 }).await });
            inner + smolscale::spawn(async { 22 }).await
        })
    });
    assert_eq!(value, 42);
}
