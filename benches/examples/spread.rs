//! How an executor spreads `tokio.yield_many` and `tokio.spawn_many_local` over its threads:
//! for each thread that polled a task during an iteration, how many polls it ran and when
//! (µs from the iteration's start) it ran its first and its last. Shows whether a workload's
//! time goes to a slow ramp-up (threads joining late), a long tail (one thread left with more
//! than its share) or neither.
//!
//! ```sh
//! SMOLSCALE_THREADS=16 cargo run --release -p smolscale-bench --example spread -- smolscale yield_many 16
//! cargo run --release -p smolscale-bench --example spread -- tokio yield_many 16
//! ```
//!
//! `SPREAD_SPAWNS=N` changes spawn_many_local's burst from the suite's 10 000 tasks to N: a
//! larger burst here stands in for a slower machine, whose spawning poll lasts as long
//! (tuning log 38).
//!
//! Arguments: executor (`smolscale`, `smolscale-0.4` or `tokio`), workload (`yield_many` or `spawn_many_local`),
//! threads (tokio's worker count; smolscale takes `SMOLSCALE_THREADS`, smolscale 0.4 the cores
//! it may run on: pin it with `taskset`), and optionally the
//! number of measured iterations (default 200). Prints the median iteration's wall time, the
//! median over the iterations polled by one thread, two threads and so on, and, for the
//! iteration whose wall time is the median, one line per thread. Every poll bumps a
//! counter of its thread's and every 32nd reads the clock, so times are a little longer than
//! the suite's; the shape is what counts.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use smolscale_bench::{NUM_SPAWN, NUM_YIELD, YIELD_TASKS};

/// Slots for per-thread figures: more than any pool here starts.
const SLOTS: usize = 128;
const WARMUP: usize = 20;
/// A thread reads the clock on every this many polls it records (and on its first).
const CLOCK_EVERY: u64 = 32;

/// One thread's figures for the current iteration, on its own cache lines.
#[repr(align(128))]
#[derive(Default)]
struct Slot {
    polls: AtomicU64,
    /// Nanoseconds from the iteration's start, plus one (0: none yet).
    first: AtomicU64,
    last: AtomicU64,
}

fn slots() -> &'static [Slot] {
    static SLOTS_: OnceLock<Vec<Slot>> = OnceLock::new();
    SLOTS_.get_or_init(|| (0..SLOTS).map(|_| Slot::default()).collect())
}

fn start() -> &'static Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now)
}

/// Nanoseconds (since the process's first reading) at which the current iteration began.
static ITER_START: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SLOT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Records one poll on the calling thread.
fn record() {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let slot = SLOT.with(|slot| {
        slot.get().unwrap_or_else(|| {
            let id = NEXT.fetch_add(1, Ordering::Relaxed) % SLOTS;
            slot.set(Some(id));
            id
        })
    });
    let slot = &slots()[slot];
    // One writer per slot (its thread; the reset happens between iterations): a plain load and
    // store, no locked instruction.
    let polls = slot.polls.load(Ordering::Relaxed) + 1;
    slot.polls.store(polls, Ordering::Relaxed);
    // The clock only on a thread's first poll and every `CLOCK_EVERY`th after it, so the
    // figures cost a few nanoseconds a poll and tiny tasks still look tiny to the executor;
    // "last" is then the last sampled poll, within `CLOCK_EVERY` polls of the real one.
    if polls == 1 || polls.is_multiple_of(CLOCK_EVERY) {
        let now = start().elapsed().as_nanos() as u64;
        let at = now.saturating_sub(ITER_START.load(Ordering::Relaxed)) + 1;
        if polls == 1 {
            slot.first.store(at, Ordering::Relaxed);
        }
        slot.last.store(at, Ordering::Relaxed);
    }
}

/// `yield_now` that records each poll.
struct RecordedYield(bool);

impl Future for RecordedYield {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        record();
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

trait Ex: Copy + Send + Sync + 'static {
    fn spawn_detached(self, future: impl Future<Output = ()> + Send + 'static);
    fn block_on<T: Send + 'static>(self, future: impl Future<Output = T> + Send + 'static) -> T;
}

#[derive(Clone, Copy)]
struct Smolscale;

impl Ex for Smolscale {
    fn spawn_detached(self, future: impl Future<Output = ()> + Send + 'static) {
        smolscale::spawn(future).detach();
    }
    fn block_on<T: Send + 'static>(self, future: impl Future<Output = T> + Send + 'static) -> T {
        smolscale::block_on(future)
    }
}

#[derive(Clone, Copy)]
struct Smolscale04;

impl Ex for Smolscale04 {
    fn spawn_detached(self, future: impl Future<Output = ()> + Send + 'static) {
        smolscale04::spawn(future).detach();
    }
    fn block_on<T: Send + 'static>(self, future: impl Future<Output = T> + Send + 'static) -> T {
        smolscale04::block_on(future)
    }
}

#[derive(Clone, Copy)]
struct Tokio(&'static tokio::runtime::Runtime);

impl Ex for Tokio {
    fn spawn_detached(self, future: impl Future<Output = ()> + Send + 'static) {
        drop(self.0.spawn(future));
    }
    fn block_on<T: Send + 'static>(self, future: impl Future<Output = T> + Send + 'static) -> T {
        // Like the suite: the awaiting future runs on the pool, the caller just waits.
        let handle = self.0.spawn(future);
        self.0.block_on(handle).expect("the task completes")
    }
}

fn yield_many<E: Ex>(ex: E) {
    let (done_tx, done_rx) = async_channel::bounded(YIELD_TASKS);
    for _ in 0..YIELD_TASKS {
        let done_tx = done_tx.clone();
        ex.spawn_detached(async move {
            for _ in 0..NUM_YIELD {
                RecordedYield(false).await;
            }
            done_tx.try_send(()).expect("room for every task");
        });
    }
    ex.block_on(async move {
        for _ in 0..YIELD_TASKS {
            done_rx.recv().await.expect("every task signals");
        }
    });
}

/// Like the suite's: one task on the pool spawns them all (onto its own worker's queue, for
/// the executors that have one), and the caller waits for the last to finish.
fn spawn_many_local<E: Ex>(ex: E, tasks: usize) {
    let (done_tx, done_rx) = async_channel::bounded(1);
    ex.spawn_detached(async move {
        let remaining = Arc::new(AtomicUsize::new(tasks));
        for _ in 0..tasks {
            let (remaining, done_tx) = (remaining.clone(), done_tx.clone());
            ex.spawn_detached(async move {
                record();
                if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    done_tx.try_send(()).expect("the last task signals once");
                }
            });
        }
    });
    ex.block_on(async move { done_rx.recv().await.expect("the last task signals") });
}

/// One thread's figures in one iteration: (polls, first µs, last µs).
type Row = (u64, f64, f64);

fn iteration(body: &dyn Fn()) -> (Duration, Vec<Row>) {
    for slot in slots() {
        slot.polls.store(0, Ordering::Relaxed);
        slot.first.store(0, Ordering::Relaxed);
        slot.last.store(0, Ordering::Relaxed);
    }
    let begin = Instant::now();
    ITER_START.store(
        begin.duration_since(*start()).as_nanos() as u64,
        Ordering::Relaxed,
    );
    body();
    let wall = begin.elapsed();
    let rows = slots()
        .iter()
        .filter(|slot| slot.polls.load(Ordering::Relaxed) > 0)
        .map(|slot| {
            let us = |at: &AtomicU64| (at.load(Ordering::Relaxed) - 1) as f64 / 1e3;
            (
                slot.polls.load(Ordering::Relaxed),
                us(&slot.first),
                us(&slot.last),
            )
        })
        .collect();
    (wall, rows)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: spread smolscale|smolscale-0.4|tokio yield_many|spawn_many_local THREADS [ITERATIONS]";
    let (executor, workload) = match (args.first(), args.get(1)) {
        (Some(e), Some(w)) => (e.as_str(), w.as_str()),
        _ => panic!("{usage}"),
    };
    let threads: usize = args.get(2).and_then(|n| n.parse().ok()).expect(usage);
    let iterations: usize = args.get(3).map_or(200, |n| n.parse().expect(usage));
    let spawns: usize = std::env::var("SPREAD_SPAWNS").map_or(NUM_SPAWN, |n| {
        n.parse()
            .expect("SPREAD_SPAWNS: a number of tasks, like 40000")
    });
    start();
    let body: Box<dyn Fn()> = match (executor, workload) {
        ("smolscale", "yield_many") => Box::new(|| yield_many(Smolscale)),
        ("smolscale", "spawn_many_local") => Box::new(|| spawn_many_local(Smolscale, spawns)),
        ("smolscale-0.4", "yield_many") => Box::new(|| yield_many(Smolscale04)),
        ("smolscale-0.4", "spawn_many_local") => Box::new(|| spawn_many_local(Smolscale04, spawns)),
        ("tokio", _) => {
            let runtime = Box::leak(Box::new(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .build()
                    .expect("a tokio runtime"),
            ));
            let ex = Tokio(runtime);
            match workload {
                "yield_many" => Box::new(move || yield_many(ex)),
                "spawn_many_local" => Box::new(move || spawn_many_local(ex, spawns)),
                _ => panic!("{usage}"),
            }
        }
        _ => panic!("{usage}"),
    };
    for _ in 0..WARMUP {
        iteration(&body);
    }
    let mut runs: Vec<(Duration, Vec<Row>)> = (0..iterations).map(|_| iteration(&body)).collect();
    runs.sort_by_key(|(wall, _)| *wall);
    // Iterations by how many threads polled in them, each group in wall-time order (`runs` is).
    let mut by_threads = std::collections::BTreeMap::<usize, Vec<Duration>>::new();
    for (wall, rows) in &runs {
        by_threads.entry(rows.len()).or_default().push(*wall);
    }
    let threads_used: Vec<usize> = by_threads
        .iter()
        .flat_map(|(&threads, walls)| std::iter::repeat_n(threads, walls.len()))
        .collect();
    let (wall, rows) = &runs[runs.len() / 2];
    let total: u64 = rows.iter().map(|row| row.0).sum();
    println!(
        "{executor} {workload} threads={threads}: median {:.0} µs (p10 {:.0}, p90 {:.0}); \
         threads polling: median {}, min {}",
        wall.as_secs_f64() * 1e6,
        runs[runs.len() / 10].0.as_secs_f64() * 1e6,
        runs[runs.len() * 9 / 10].0.as_secs_f64() * 1e6,
        threads_used[threads_used.len() / 2],
        threads_used[0],
    );
    for (threads, walls) in by_threads {
        println!(
            "  polled by {threads} thread(s): {} iterations, median {:.0} µs",
            walls.len(),
            walls[walls.len() / 2].as_secs_f64() * 1e6
        );
    }
    let mut rows = rows.clone();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!("  median iteration, by first poll: polls (share) first..last µs");
    for (polls, first, last) in rows {
        println!(
            "  {polls:>7} ({:>4.1} %) {first:>7.0}..{last:>7.0}",
            polls as f64 * 100.0 / total as f64
        );
    }
}
