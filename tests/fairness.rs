//! Fairness (design.md §3.7), on a single worker where starvation would show: a ping-pong pair
//! running from the LIFO slot leaves the rest of the queue its turn, yielding tasks take turns,
//! and a task woken from outside the pool is not starved by busy local work.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{block_on_within, install_once, within};

const LIMIT: Duration = Duration::from_secs(60);

fn setup() {
    install_once(|| smolscale::Builder::new().threads(1));
}

#[test]
fn a_ping_pong_pair_does_not_starve_the_queue() {
    setup();
    block_on_within(LIMIT, "pair beside a counter", async {
        smolscale::spawn(async {
            let stop = Arc::new(AtomicBool::new(false));
            let counted = Arc::new(AtomicU64::new(0));
            let hops = Arc::new(AtomicU64::new(0));
            // Spawned from inside a task: all three share this worker's queue.
            let (ping_send, ping_recv) = async_channel::bounded::<()>(1);
            let (pong_send, pong_recv) = async_channel::bounded::<()>(1);
            let ponger = smolscale::spawn(async move {
                while ping_recv.recv().await.is_ok() {
                    if pong_send.send(()).await.is_err() {
                        break;
                    }
                }
            });
            let pinger = {
                let (stop, hops) = (stop.clone(), hops.clone());
                smolscale::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        ping_send.send(()).await.unwrap();
                        pong_recv.recv().await.unwrap();
                        hops.fetch_add(1, Ordering::Relaxed);
                    }
                })
            };
            let counter = {
                let (stop, counted) = (stop.clone(), counted.clone());
                smolscale::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        counted.fetch_add(1, Ordering::Relaxed);
                        futures_lite::future::yield_now().await;
                    }
                })
            };
            let start = Instant::now();
            while counted.load(Ordering::Relaxed) < 1000 {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "the yielding task ran {} times beside {} ping-pong round trips",
                    counted.load(Ordering::Relaxed),
                    hops.load(Ordering::Relaxed)
                );
                async_io::Timer::after(Duration::from_millis(1)).await;
            }
            stop.store(true, Ordering::Relaxed);
            within(LIMIT, "pinger stops", pinger).await;
            within(LIMIT, "counter stops", counter).await;
            drop(ponger);
            assert!(hops.load(Ordering::Relaxed) > 0, "the pair ran too");
        })
        .await
    });
}

#[test]
fn yielding_tasks_take_turns() {
    setup();
    let counts = block_on_within(LIMIT, "yielders", async {
        smolscale::spawn(async {
            let stop = Arc::new(AtomicBool::new(false));
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let stop = stop.clone();
                    smolscale::spawn(async move {
                        let mut n = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            n += 1;
                            futures_lite::future::yield_now().await;
                        }
                        n
                    })
                })
                .collect();
            async_io::Timer::after(Duration::from_millis(100)).await;
            stop.store(true, Ordering::Relaxed);
            let mut counts = Vec::new();
            for task in tasks {
                counts.push(within(LIMIT, "yielder stops", task).await);
            }
            counts
        })
        .await
    });
    let (least, most) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    // Round-robin gives every task the same number of turns, give or take the stragglers of the
    // last round; a starved task would be near zero.
    assert!(*least * 2 >= *most, "unfair turns: {counts:?}");
}

#[test]
fn an_outside_wake_up_is_not_starved_by_busy_tasks() {
    setup();
    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = (0..100)
        .map(|_| {
            let stop = stop.clone();
            smolscale::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    futures_lite::future::yield_now().await;
                }
            })
        })
        .collect();
    let (send, recv) = async_channel::bounded::<Instant>(1);
    let echo = smolscale::spawn(async move {
        let mut worst = Duration::ZERO;
        while let Ok(sent) = recv.recv().await {
            worst = worst.max(sent.elapsed());
        }
        worst
    });
    for _ in 0..100 {
        send.send_blocking(Instant::now()).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(send);
    let worst = block_on_within(LIMIT, "echo finishes", echo);
    stop.store(true, Ordering::Relaxed);
    block_on_within(LIMIT, "busy tasks stop", async {
        for task in busy {
            task.await;
        }
    });
    // The wake-up comes through the injector, served ahead of local work: the wait is a few
    // polls, not a round of 100 busy tasks. The bound is loose for a loaded CI machine.
    assert!(
        worst < Duration::from_millis(200),
        "a wake-up from a plain thread waited {worst:?}"
    );
}
