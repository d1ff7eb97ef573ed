//! Fixed amounts of scheduler work for `valgrind --tool=callgrind`, whose instruction counts are
//! free of this machine's noise: the yield, spawn and wake paths of smolscale and smolscale 0.4
//! (tuning logs 18-24 and 51 in BENCHMARKS.md), with the suite's own workload bodies.
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
//! only between builds of this crate. Under valgrind, threads take turns, so a thread that
//! spins (`block_on` before it sleeps) adds instructions for as long as it spins: compare
//! builds with the same spin limits.
//!
//! Arguments: executor (`smolscale` or `smolscale-0.4`) and workload:
//! - `yield`: 20 rounds of 200 tasks spawned from `block_on`, each yielding 300 times;
//! - `remote`: 10 rounds of 10 000 empty tasks spawned from `main`, then awaited;
//! - `local`: the same spawned and awaited from inside a task;
//! - `ping_pong`: 200 000 round trips between two tasks over bounded channels.

use smolscale_bench::{spawn_and_await, spawn_remote, yielders, Executor, Smolscale, Smolscale04};

const YIELD_ROUNDS: usize = 20;
const YIELD_TASKS: usize = 200;
const YIELDS: usize = 300;
const SPAWN_ROUNDS: usize = 10;
const SPAWNS: usize = 10_000;
const ROUND_TRIPS: u32 = 200_000;

/// Runs `workload` on `ex`; returns what to divide the instruction count by.
fn run<E: Executor>(ex: E, workload: &str) -> Option<String> {
    Some(match workload {
        "yield" => {
            for _ in 0..YIELD_ROUNDS {
                ex.block_on(yielders(ex, YIELD_TASKS, YIELDS));
            }
            // Each task is polled once more than it yields.
            format!("{} polls", YIELD_ROUNDS * YIELD_TASKS * (YIELDS + 1))
        }
        "remote" => {
            for _ in 0..SPAWN_ROUNDS {
                spawn_remote(ex, SPAWNS);
            }
            format!("{} tasks", SPAWN_ROUNDS * SPAWNS)
        }
        "local" => {
            for _ in 0..SPAWN_ROUNDS {
                ex.block_on(ex.spawn(spawn_and_await(ex, SPAWNS)));
            }
            format!("{} tasks", SPAWN_ROUNDS * SPAWNS)
        }
        "ping_pong" => {
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
        _ => return None,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workload = args.get(1).map(String::as_str).unwrap_or_default();
    let count = match args.first().map(String::as_str) {
        Some("smolscale") => run(Smolscale, workload),
        Some("smolscale-0.4") => run(Smolscale04, workload),
        _ => None,
    };
    match count {
        Some(count) => eprintln!("{count}"),
        None => panic!("usage: instructions smolscale|smolscale-0.4 yield|remote|local|ping_pong"),
    }
}
