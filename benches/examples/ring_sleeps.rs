//! Who sleeps while `main` passes a token around `ss04.context_switch_quiet`'s ring of tasks:
//! per iteration, its time and whether `main` or another thread of the process went to sleep
//! (voluntary context switches, `getrusage`). Tuning log 52 found the ring's slow mode this
//! way: iterations in which `main` slept took 70-110 µs instead of 33.
//!
//! ```sh
//! cargo run --release -p smolscale-bench --example ring_sleeps -- 3000
//! ```
//!
//! Argument: iterations to measure (default 3000), after 200 of warm-up. Prints the median
//! iteration, the share of iterations in which `main` slept, in which another thread slept, and
//! that took over 60 µs, then the median iteration of each of those groups.

use std::time::Instant;

use smolscale_bench::{percentile, thread_usage, usage, RING_TASKS};

/// A slow iteration: about twice the ring's own time on the 2-core machine.
const SLOW_US: f64 = 60.0;

struct Iteration {
    us: f64,
    main_slept: bool,
    others_slept: bool,
}

/// Sends the token around the ring once, from `main`'s `block_on`.
fn round(send: &async_channel::Sender<usize>, recv: &async_channel::Receiver<usize>) {
    smolscale::block_on(async {
        send.send(1).await.expect("the ring is alive");
        recv.recv().await.expect("the token comes back");
    });
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("iterations: a number"))
        .unwrap_or(3000);
    let (send, mut recv) = async_channel::bounded::<usize>(1);
    for _ in 0..RING_TASKS {
        let (next_send, next_recv) = async_channel::bounded(1);
        let prev_recv = std::mem::replace(&mut recv, next_recv);
        smolscale::spawn(async move {
            while let Ok(token) = prev_recv.recv().await {
                if next_send.send(token).await.is_err() {
                    break;
                }
            }
        })
        .detach();
    }
    for _ in 0..200 {
        round(&send, &recv);
    }
    let mut rows = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let (main_before, all_before) = (thread_usage(), usage());
        let start = Instant::now();
        round(&send, &recv);
        let us = start.elapsed().as_secs_f64() * 1e6;
        let main_sleeps = (thread_usage() - main_before).sleeps;
        let all_sleeps = (usage() - all_before).sleeps;
        rows.push(Iteration {
            us,
            main_slept: main_sleeps > 0,
            others_slept: all_sleeps > main_sleeps,
        });
    }
    let share = |f: &dyn Fn(&Iteration) -> bool| {
        100.0 * rows.iter().filter(|r| f(r)).count() as f64 / rows.len() as f64
    };
    let median = |f: &dyn Fn(&Iteration) -> bool| {
        let mut times: Vec<f64> = rows.iter().filter(|r| f(r)).map(|r| r.us).collect();
        percentile(&mut times, 50.0)
    };
    println!(
        "median {:.1} µs; main slept in {:.1} % of iterations, another thread in {:.1} %, \
         {:.1} % over {SLOW_US} µs",
        median(&|_| true),
        share(&|r| r.main_slept),
        share(&|r| r.others_slept),
        share(&|r| r.us > SLOW_US),
    );
    println!(
        "median when main slept {:.1} µs, when it did not {:.1} µs",
        median(&|r| r.main_slept),
        median(&|r| !r.main_slept),
    );
}
