//! smolscale 0.4's `idlejitter` example: how late does a 1 ms timer fire while 1000 tasks keep
//! every worker busy? Prints the drift (an exponential moving average of the lateness) every
//! 100 timer waits, then the median and 99th percentile.
//!
//! ```text
//! cargo run --release --example idlejitter [seconds, default 5]
//! ```
//!
//! smolscale 0.4 read its global queue only when a worker ran out of local work, so here its
//! timer task (woken from async-io's thread, into the global queue) waited behind the busy
//! tasks for hundreds of milliseconds. Workers now check the injector every 61 polls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static CONTENDER: AtomicUsize = AtomicUsize::new(0);

fn main() {
    let seconds: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().unwrap_or_else(|_| {
            eprintln!("usage: idlejitter [seconds]");
            std::process::exit(2)
        }),
        None => 5,
    };
    smolscale::block_on(async move {
        for _ in 0..1000 {
            smolscale::spawn(async {
                loop {
                    futures_lite::future::yield_now().await;
                    for _ in 0..1000 {
                        CONTENDER.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
            .detach();
        }

        let end = Instant::now() + Duration::from_secs(seconds);
        let mut drift_ms = 0.0;
        let mut late = Vec::new();
        for iteration in 0u64.. {
            if Instant::now() >= end {
                break;
            }
            let start = Instant::now();
            async_io::Timer::after(Duration::from_millis(1)).await;
            let lateness = start.elapsed().saturating_sub(Duration::from_millis(1));
            late.push(lateness);
            drift_ms = drift_ms * 0.99 + lateness.as_secs_f64() * 1000.0 * 0.01;
            if iteration % 100 == 0 {
                eprintln!("drift {:.0} µs", drift_ms * 1000.0);
            }
        }
        late.sort();
        let at = |q: f64| late[((late.len() - 1) as f64 * q) as usize];
        println!(
            "{} timer waits: lateness p50 {:?}, p99 {:?}, max {:?}",
            late.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    });
}
