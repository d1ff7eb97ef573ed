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

use smolscale_bench::{Executor, Smolscale, Smolscale04, NUM_YIELD, YIELD_TASKS};

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

/// One iteration of the suite's `yield_many` with recorded tasks; returns its wall time.
fn iteration<E: Executor>(ex: E) -> Duration {
    let (done_tx, done_rx) = async_channel::bounded::<()>(YIELD_TASKS);
    let begin = Instant::now();
    for index in 0..YIELD_TASKS {
        let done_tx = done_tx.clone();
        ex.spawn(async move {
            Yielder { index, polls: 0 }.await;
            done_tx.try_send(()).expect("room for every task");
        })
        .detach();
    }
    ex.block_on(async move {
        for _ in 0..YIELD_TASKS {
            done_rx.recv().await.expect("every task signals");
        }
    });
    begin.elapsed()
}

/// Prints one line per iteration and the summary (see the module docs).
fn probe<E: Executor>(ex: E, name: &str, iterations: usize) {
    for _ in 0..WARMUP {
        iteration(ex);
    }
    let mut rows = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let wall = iteration(ex);
        let (splits, crossed) = neighbours();
        println!(
            "{:.0} {} {}",
            wall.as_secs_f64() * 1e6,
            splits.map(|s| s.to_string()).join(" "),
            crossed
        );
        rows.push((wall, crossed));
    }
    let mut crossings: Vec<usize> = rows.iter().map(|row| row.1).collect();
    crossings.sort_unstable();
    let median_crossed = crossings[crossings.len() / 2];
    // Median wall time (µs) of the iterations whose crossed lines pass `keep`.
    let median = |keep: &dyn Fn(usize) -> bool| -> (usize, f64) {
        let mut walls: Vec<Duration> = rows
            .iter()
            .filter(|row| keep(row.1))
            .map(|row| row.0)
            .collect();
        walls.sort();
        let median = walls
            .get(walls.len() / 2)
            .map_or(f64::NAN, |w| w.as_secs_f64() * 1e6);
        (walls.len(), median)
    };
    let (_, all) = median(&|_| true);
    let (fewer, below) = median(&|crossed| crossed < median_crossed);
    let (more, above) = median(&|crossed| crossed > median_crossed);
    eprintln!(
        "{name}: median {all:.0} µs; crossed lines median {median_crossed}: below it {fewer} \
         iterations at {below:.0} µs, above it {more} at {above:.0} µs"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: neighbours smolscale|smolscale-0.4 [ITERATIONS]";
    let iterations: usize = args.get(1).map_or(300, |n| n.parse().expect(usage));
    match args.first().map(String::as_str) {
        Some(name @ "smolscale") => probe(Smolscale, name, iterations),
        Some(name @ "smolscale-0.4") => probe(Smolscale04, name, iterations),
        _ => panic!("{usage}"),
    }
}
