//! A tour of smolscale: message passing, then tasks that block, then quiet, with a line of
//! `stats()` every 200 ms so you can watch the pool work.
//!
//! ```text
//! cargo run --release --example tour
//! ```
//!
//! 1. **Message passing** (0–2 s): rings of tasks pass tokens over channels. Tiny tasks that
//!    wake each other stay on their worker's local queue; watch `polls` climb while `moved`
//!    stays near zero.
//! 2. **Blocking** (2–3.5 s): 2 × CPUs tasks call `std::thread::sleep` for 500 ms, twice over,
//!    while the rings keep going. Workers get stuck, their queues are moved, and replacement
//!    threads start: watch `threads` and `stuck`.
//! 3. **Quiet** (3.5–7 s): the load ends, the surplus threads retire one by one after the
//!    retirement period (shortened to 1 s here), and the balancer goes to sleep: `threads` falls
//!    back to the target and `balancer ticks` stops moving.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RINGS: usize = 8;
const RING_SIZE: usize = 50;

fn main() {
    smolscale::Builder::from_env()
        .unwrap_or_else(|err| {
            eprintln!("{err}");
            std::process::exit(2)
        })
        .retire_after(Duration::from_secs(1))
        .install()
        .expect("configured before the first spawn");

    let start = Instant::now();
    let stop_rings = Arc::new(AtomicBool::new(false));
    let hops = Arc::new(AtomicU64::new(0));

    // A reporter on a plain thread, so it keeps printing whatever the pool is doing.
    let reporter = {
        let hops = hops.clone();
        std::thread::spawn(move || {
            let end = Duration::from_secs(7);
            while start.elapsed() < end {
                std::thread::sleep(Duration::from_millis(200));
                println!(
                    "{:>5.1}s  hops {:>9}  {}",
                    start.elapsed().as_secs_f64(),
                    hops.load(Ordering::Relaxed),
                    smolscale::stats()
                );
            }
        })
    };

    smolscale::block_on(async {
        // Phase 1: rings of tasks, each forwarding a token to the next.
        let mut rings = Vec::new();
        for _ in 0..RINGS {
            rings.push(spawn_ring(stop_rings.clone(), hops.clone()));
        }
        async_io::Timer::after(Duration::from_secs(2)).await;

        // Phase 2: blocking tasks beside the rings.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        for _ in 0..2 {
            let blockers: Vec<_> = (0..2 * cpus)
                .map(|_| smolscale::spawn(async { std::thread::sleep(Duration::from_millis(500)) }))
                .collect();
            let tiny_start = Instant::now();
            let waited = smolscale::spawn(async move { tiny_start.elapsed() }).await;
            println!(
                "        a tiny task spawned behind {} blocking ones ran after {waited:?}",
                2 * cpus
            );
            for blocker in blockers {
                blocker.await;
            }
        }
        async_io::Timer::after(Duration::from_millis(500)).await;

        // Phase 3: quiet.
        stop_rings.store(true, Ordering::Relaxed);
        for ring in rings {
            ring.await;
        }
    });
    reporter.join().expect("reporter thread");
    let stats = smolscale::stats();
    println!(
        "done in {:.1} s: {} hops, {} threads started, {} retired, {} now (target {})",
        start.elapsed().as_secs_f64(),
        hops.load(Ordering::Relaxed),
        stats.threads_started,
        stats.threads_retired,
        stats.threads,
        stats.target
    );
}

/// A ring of `RING_SIZE` tasks linked by channels with one token circulating, until `stop`.
fn spawn_ring(stop: Arc<AtomicBool>, hops: Arc<AtomicU64>) -> smolscale::Task<()> {
    let (first_send, mut recv) = async_channel::bounded::<u64>(1);
    let mut members = Vec::new();
    for _ in 1..RING_SIZE {
        let (send, next_recv) = async_channel::bounded::<u64>(1);
        let hops = hops.clone();
        members.push(smolscale::spawn(async move {
            while let Ok(token) = recv.recv().await {
                hops.fetch_add(1, Ordering::Relaxed);
                if send.send(token + 1).await.is_err() {
                    break;
                }
            }
        }));
        recv = next_recv;
    }
    smolscale::spawn(async move {
        let mut token = 0;
        while !stop.load(Ordering::Relaxed) {
            first_send.send(token).await.expect("ring intact");
            token = recv.recv().await.expect("ring intact");
        }
        drop(first_send);
        for member in members {
            member.await;
        }
    })
}
