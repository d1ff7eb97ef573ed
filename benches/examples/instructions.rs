//! Fixed amounts of scheduler work for `valgrind --tool=callgrind`, whose instruction counts are
//! free of this machine's noise: the yield, spawn and wake paths of smolscale and smolscale 0.4
//! (tuning logs 18-24 and 51 in BENCHMARKS.md).
//!
//! ```sh
//! cargo build --release -p smolscale-bench --example instructions
//! SMOLSCALE_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
//!     target/release/examples/instructions smolscale yield
//! ```
//!
//! Divide the `Collected` total by the count this program prints (polls for `yield`, tasks for
//! the spawns, round trips for `ping_pong`). With `SMOLSCALE_THREADS=1` smolscale's counts are
//! repeatable to 0.1 %; smolscale 0.4 can't be given one thread from outside, so it runs its
//! two workers. That matters little for `yield` (its local queue never overflows), but in
//! `local` its second worker runs the tasks while the first still spawns them, so the spawner
//! finds them done, where one worker of ours polls the spawner once per task: compare `local`
//! only between builds of this crate.
//!
//! Arguments: executor (`smolscale` or `smolscale-0.4`) and workload:
//! - `yield`: 20 rounds of 200 tasks spawned from `block_on`, each yielding 300 times;
//! - `remote`: 10 rounds of 10 000 empty tasks spawned from `main`, then awaited;
//! - `local`: the same spawned and awaited from inside a task;
//! - `ping_pong`: 200 000 round trips between two tasks over bounded channels.

use std::future::Future;

use futures_lite::future::yield_now;

const YIELD_ROUNDS: usize = 20;
const YIELD_TASKS: usize = 200;
const YIELDS: usize = 300;
const SPAWN_ROUNDS: usize = 10;
const SPAWNS: usize = 10_000;
const ROUND_TRIPS: u32 = 200_000;

/// The two executors' entry points, so each workload is written once.
#[derive(Clone, Copy)]
enum Ex {
    Ours,
    Old,
}

impl Ex {
    fn spawn<F>(self, future: F) -> async_task::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Ex::Ours => smolscale::spawn(future),
            Ex::Old => smolscale04::spawn(future),
        }
    }

    /// (smolscale 0.4's `block_on` wants a `Send` future and output.)
    fn block_on<F>(self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Ex::Ours => smolscale::block_on(future),
            Ex::Old => smolscale04::block_on(future),
        }
    }
}

/// Spawns `SPAWNS` empty tasks and awaits them in order.
async fn spawn_and_await(ex: Ex) {
    let tasks: Vec<_> = (0..SPAWNS).map(|i| ex.spawn(async move { i })).collect();
    for task in tasks {
        task.await;
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: instructions smolscale|smolscale-0.4 yield|remote|local|ping_pong";
    let ex = match args.next().as_deref() {
        Some("smolscale") => Ex::Ours,
        Some("smolscale-0.4") => Ex::Old,
        _ => panic!("{usage}"),
    };
    let count = match args.next().as_deref() {
        Some("yield") => {
            for _ in 0..YIELD_ROUNDS {
                ex.block_on(async move {
                    let tasks: Vec<_> = (0..YIELD_TASKS)
                        .map(|_| {
                            ex.spawn(async {
                                for _ in 0..YIELDS {
                                    yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await;
                    }
                });
            }
            // Each task is polled once more than it yields.
            format!("{} polls", YIELD_ROUNDS * YIELD_TASKS * (YIELDS + 1))
        }
        Some("remote") => {
            for _ in 0..SPAWN_ROUNDS {
                let tasks: Vec<_> = (0..SPAWNS).map(|i| ex.spawn(async move { i })).collect();
                ex.block_on(async move {
                    for task in tasks {
                        task.await;
                    }
                });
            }
            format!("{} tasks", SPAWN_ROUNDS * SPAWNS)
        }
        Some("local") => {
            for _ in 0..SPAWN_ROUNDS {
                ex.block_on(ex.spawn(spawn_and_await(ex)));
            }
            format!("{} tasks", SPAWN_ROUNDS * SPAWNS)
        }
        Some("ping_pong") => {
            ex.block_on(ex.spawn(async move {
                let (ping, pinged) = async_channel::bounded::<u32>(1);
                let (pong, ponged) = async_channel::bounded::<u32>(1);
                let echo = ex.spawn(async move {
                    while let Ok(n) = pinged.recv().await {
                        if pong.send(n).await.is_err() {
                            break;
                        }
                    }
                });
                for n in 0..ROUND_TRIPS {
                    ping.send(n).await.expect("the echo task runs");
                    assert_eq!(ponged.recv().await, Ok(n));
                }
                drop(ping);
                echo.await;
            }));
            format!("{ROUND_TRIPS} round trips")
        }
        _ => panic!("{usage}"),
    };
    eprintln!("{count}");
}
