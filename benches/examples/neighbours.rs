//! Whether `tokio.yield_many`'s slow iterations are the ones whose neighbouring tasks run on
//! different threads (tuning log 28 found their cache lines shared).
//!
//! ```sh
//! SMOLSCALE_THREADS=2 cargo run --release -p smolscale-bench --example neighbours -- smolscale 300
//! taskset -c 0,1 cargo run --release -p smolscale-bench --example neighbours -- smolscale-0.4 300
//! ```
//!
//! Each of the suite's 200 tasks records which thread ran its 1st, 10th, 100th and 500th
//! poll, and where its future lies in memory. For every iteration the probe prints one line:
//! wall time (µs), then per sampled poll the number of *split* pairs (tasks adjacent in spawn
//! order, polled by different threads), then the number of *crossed lines* at the 500th
//! poll (pairs of tasks whose futures lie within one cache line's reach of each other in
//! memory and ran on different threads). Then the median wall time of the iterations with
//! fewer and with more crossed lines than the median, so a reader sees at once whether
//! neighbours on different threads are what makes an iteration slow.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use smolscale_bench::{NUM_YIELD, YIELD_TASKS};

/// The polls whose thread is recorded.
const SAMPLED: [usize; 4] = [1, 10, 100, 500];
const WARMUP: usize = 20;
/// How far apart two futures may start and still share a line (the task size is ~64 bytes).
const REACH: usize = 128;

struct Record {
    thread: [AtomicU8; SAMPLED.len()],
    address: AtomicUsize,
}

fn records() -> &'static [Record] {
    static RECORDS: OnceLock<Vec<Record>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        (0..YIELD_TASKS)
            .map(|_| Record {
                thread: Default::default(),
                address: AtomicUsize::new(0),
            })
            .collect()
    })
}

thread_local! {
    static ID: Cell<u8> = const { Cell::new(0) };
}

fn thread_id() -> u8 {
    static NEXT: AtomicU8 = AtomicU8::new(1);
    ID.with(|id| {
        if id.get() == 0 {
            id.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        id.get()
    })
}

/// The yielding loop of one task, recording its sampled polls.
struct Yielder {
    index: usize,
    polls: usize,
}

impl Future for Yielder {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls += 1;
        let record = &records()[self.index];
        if self.polls == 1 {
            record
                .address
                .store(&*self as *const Self as usize, Ordering::Relaxed);
        }
        if let Some(at) = SAMPLED.iter().position(|&p| p == self.polls) {
            record.thread[at].store(thread_id(), Ordering::Relaxed);
        }
        if self.polls > NUM_YIELD {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Splits at each sampled poll, and crossed lines at the last.
fn neighbours() -> ([usize; SAMPLED.len()], usize) {
    let records = records();
    let mut splits = [0; SAMPLED.len()];
    for (at, split) in splits.iter_mut().enumerate() {
        *split = records
            .windows(2)
            .filter(|pair| {
                pair[0].thread[at].load(Ordering::Relaxed)
                    != pair[1].thread[at].load(Ordering::Relaxed)
            })
            .count();
    }
    let last = SAMPLED.len() - 1;
    let mut by_address: Vec<(usize, u8)> = records
        .iter()
        .map(|r| {
            (
                r.address.load(Ordering::Relaxed),
                r.thread[last].load(Ordering::Relaxed),
            )
        })
        .collect();
    by_address.sort_unstable();
    let crossed = by_address
        .windows(2)
        .filter(|pair| pair[1].0 - pair[0].0 <= REACH && pair[0].1 != pair[1].1)
        .count();
    (splits, crossed)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: neighbours smolscale|smolscale-0.4 [ITERATIONS]";
    let executor = args.first().expect(usage).clone();
    let iterations: usize = args.get(1).map_or(300, |n| n.parse().expect(usage));
    // Every task signals through the channel when it is done; the spawner waits for all.
    type Spawn = Box<dyn Fn(Yielder, async_channel::Sender<()>)>;
    let spawn: Spawn = match executor.as_str() {
        "smolscale" => Box::new(|y, tx| {
            smolscale::spawn(async move {
                y.await;
                tx.try_send(()).expect("room for every task");
            })
            .detach()
        }),
        "smolscale-0.4" => Box::new(|y, tx| {
            smolscale04::spawn(async move {
                y.await;
                tx.try_send(()).expect("room for every task");
            })
            .detach()
        }),
        _ => panic!("{usage}"),
    };
    let smolscale = executor == "smolscale";
    let run = |_: ()| {
        let (done_tx, done_rx) = async_channel::bounded::<()>(YIELD_TASKS);
        let begin = Instant::now();
        for index in 0..YIELD_TASKS {
            spawn(Yielder { index, polls: 0 }, done_tx.clone());
        }
        let wait = async move {
            for _ in 0..YIELD_TASKS {
                done_rx.recv().await.expect("every task signals");
            }
        };
        if smolscale {
            smolscale::block_on(wait);
        } else {
            smolscale04::block_on(wait);
        }
        begin.elapsed()
    };
    for _ in 0..WARMUP {
        run(());
    }
    let mut rows = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let wall = run(());
        let (splits, crossed) = neighbours();
        println!(
            "{:.0} {} {}",
            wall.as_secs_f64() * 1e6,
            splits.map(|s| s.to_string()).join(" "),
            crossed
        );
        rows.push((wall, crossed));
    }
    let mut by_crossed = rows.clone();
    by_crossed.sort_by_key(|row| row.1);
    let median_crossed = by_crossed[by_crossed.len() / 2].1;
    let median = |walls: &mut Vec<Duration>| -> f64 {
        walls.sort();
        walls
            .get(walls.len() / 2)
            .map_or(f64::NAN, |w| w.as_secs_f64() * 1e6)
    };
    let mut fewer: Vec<Duration> = rows
        .iter()
        .filter(|r| r.1 < median_crossed)
        .map(|r| r.0)
        .collect();
    let mut more: Vec<Duration> = rows
        .iter()
        .filter(|r| r.1 > median_crossed)
        .map(|r| r.0)
        .collect();
    let mut all: Vec<Duration> = rows.iter().map(|r| r.0).collect();
    eprintln!(
        "{executor}: median {:.0} µs; crossed lines median {median_crossed}: below it {} iterations at {:.0} µs, above it {} at {:.0} µs",
        median(&mut all),
        fewer.len(),
        median(&mut fewer),
        more.len(),
        median(&mut more),
    );
}
