//! async-io timers and sockets inside tasks: they work and wake tasks promptly.

mod common;

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use common::block_on_within;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn timers_fire_inside_tasks() {
    let lateness = block_on_within(LIMIT, "timers in tasks", async {
        let tasks: Vec<_> = (0..100u64)
            .map(|i| {
                smolscale::spawn(async move {
                    let delay = Duration::from_millis(5 + i % 20);
                    let start = Instant::now();
                    Timer::after(delay).await;
                    start.elapsed() - delay
                })
            })
            .collect();
        let mut worst = Duration::ZERO;
        for task in tasks {
            worst = worst.max(task.await);
        }
        worst
    });
    // "Promptly" with a bound loose enough for a loaded 2-core CI machine; a lost wake-up or a
    // poll loop would be seconds, or never.
    assert!(
        lateness < Duration::from_millis(500),
        "a timer fired {lateness:?} late"
    );
}

#[test]
fn timer_wakes_a_task_while_the_pool_is_idle() {
    // Let every worker park first, so the timer's wake-up is the only thing that can get the
    // task going again.
    block_on_within(LIMIT, "warm-up", smolscale::spawn(async {}));
    std::thread::sleep(Duration::from_millis(50));
    let elapsed = block_on_within(LIMIT, "a timer in an idle pool", async {
        smolscale::spawn(async {
            let start = Instant::now();
            Timer::after(Duration::from_millis(20)).await;
            start.elapsed()
        })
        .await
    });
    assert!(elapsed >= Duration::from_millis(20));
    assert!(elapsed < Duration::from_millis(520), "{elapsed:?}");
}

#[test]
fn tcp_echo_on_loopback() {
    const CLIENTS: usize = 32;
    const ROUNDS: usize = 200;
    block_on_within(LIMIT, "TCP echo", async {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).expect("bind");
        let addr = listener.get_ref().local_addr().unwrap();
        let server = smolscale::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.expect("accept");
                smolscale::spawn(async move {
                    let mut buf = [0u8; 64];
                    loop {
                        let n = stream.read(&mut buf).await.expect("server read");
                        if n == 0 {
                            return;
                        }
                        stream.write_all(&buf[..n]).await.expect("server write");
                    }
                })
                .detach();
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                smolscale::spawn(async move {
                    let mut stream = Async::<TcpStream>::connect(addr).await.expect("connect");
                    let mut buf = [0u8; 64];
                    for round in 0..ROUNDS {
                        let message = [(c + round) as u8; 64];
                        stream.write_all(&message).await.expect("client write");
                        stream.read_exact(&mut buf).await.expect("client read");
                        assert_eq!(buf, message);
                    }
                    ROUNDS
                })
            })
            .collect();
        let mut total = 0;
        for client in clients {
            total += client.await;
        }
        assert_eq!(total, CLIENTS * ROUNDS);
        drop(server);
    });
}
