//! No lost wake-ups (design.md §3.1), proved with the balancer switched off: whatever wakes a
//! task, from whichever thread, at whatever moment, the task runs without any periodic help.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{block_on_within, install_once, on_thread_within, wait_until};

const LIMIT: Duration = Duration::from_secs(120);

fn setup() {
    install_once(|| smolscale::Builder::new().balancer(false));
}

/// Sleeps for a random moment: nothing, a spin, or long enough for every worker to park.
fn random_pause(rng: &mut fastrand::Rng) {
    match rng.u8(..8) {
        0..=3 => {}
        4 | 5 => {
            for _ in 0..rng.u32(..2000) {
                std::hint::spin_loop();
            }
        }
        6 => std::thread::yield_now(),
        _ => std::thread::sleep(Duration::from_micros(rng.u64(..300))),
    }
}

#[test]
fn hundred_thousand_wakes_from_plain_threads() {
    setup();
    const TASKS: usize = 1000;
    const WAKES_PER_TASK: usize = 100;
    const THREADS: usize = 4;

    let received = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (send, recv) = async_channel::bounded::<()>(1);
        senders.push(send);
        let received = received.clone();
        tasks.push(smolscale::spawn(async move {
            for _ in 0..WAKES_PER_TASK {
                recv.recv()
                    .await
                    .expect("a sender lives until all wakes are sent");
                received.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // Each plain thread owns a quarter of the channels and sends into them in random order,
    // pausing at random, so wakes land while workers run, search, park, and are asleep.
    let senders = Arc::new(senders);
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let senders = senders.clone();
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t as u64);
                let mine: Vec<_> = (t..TASKS).step_by(THREADS).collect();
                for _ in 0..WAKES_PER_TASK {
                    let mut order = mine.clone();
                    rng.shuffle(&mut order);
                    for i in order {
                        senders[i].send_blocking(()).unwrap();
                        random_pause(&mut rng);
                    }
                }
            })
        })
        .collect();

    block_on_within(LIMIT, "every task receives its 100 wakes", async {
        for task in tasks {
            task.await;
        }
    });
    on_thread_within(LIMIT, "producers finish", move || {
        for producer in producers {
            producer.join().unwrap();
        }
    });
    assert_eq!(received.load(Ordering::Relaxed), TASKS * WAKES_PER_TASK);
    assert_eq!(
        smolscale::stats().balancer_ticks,
        0,
        "the balancer never ran"
    );
}

#[test]
fn spawns_from_plain_threads_while_the_pool_sleeps() {
    setup();
    // Each round waits until every worker is parked (or none exists yet), then spawns from a
    // plain thread: the wake-up must come from the spawn alone.
    let done = Arc::new(AtomicUsize::new(0));
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..200 {
        wait_until(LIMIT, "workers park between rounds", || {
            let stats = smolscale::stats();
            stats.parked == stats.threads
        });
        let counter = done.clone();
        let pause = rng.u64(..200);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_micros(pause));
            smolscale::spawn(async move {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .detach();
        });
        wait_until(LIMIT, "the spawned task runs", || {
            done.load(Ordering::SeqCst) == round + 1
        });
    }
}

#[test]
fn wakes_racing_with_parking_workers() {
    setup();
    // Ping-pong between a task and a plain thread: every wake happens just as the only busy
    // worker runs out of work and goes to park, the narrowest window of the handshake.
    let (to_task, from_thread) = async_channel::bounded::<u32>(1);
    let (to_thread, from_task) = async_channel::bounded::<u32>(1);
    let echo = smolscale::spawn(async move {
        while let Ok(n) = from_thread.recv().await {
            to_thread.send(n + 1).await.unwrap();
        }
    });
    let last = on_thread_within(LIMIT, "20 000 round trips with a plain thread", move || {
        let mut n = 0;
        for _ in 0..20_000 {
            to_task.send_blocking(n).unwrap();
            n = from_task.recv_blocking().unwrap();
        }
        n
    });
    assert_eq!(last, 20_000);
    block_on_within(LIMIT, "echo task ends", echo);
}
