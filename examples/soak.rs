//! Soak test: a seeded random mix of everything a program may do with the pool, run for a set
//! time, with exact accounts of every task and a loud failure (exit status 1) on any hang, lost
//! task, thread-cap breach or memory growth.
//!
//! ```text
//! cargo run --release --example soak -- [--seconds N] [--seed S] [--max-threads M] [--threads T]
//! ```
//!
//! - `--seconds N`: how long the load runs (default 30, what CI runs).
//! - `--seed S`: seeds the workload (default: from the clock; always printed on the first line).
//! - `--max-threads M`: the pool's thread cap (default: target + 16).
//! - `--threads T`: the pool's target parallelism (default: the number of CPUs).
//!
//! # The 10-minute run
//! ```text
//! cargo run --release --example soak -- --seconds 600
//! ```
//! It prints a summary line every 5 s and a final report, and exits 0 only if every check held.
//!
//! # Reproducing a failure
//! A failure prints `SOAK FAILED` with the reason, `stats()`, the accounts, and a `reproduce:`
//! line with the exact command (`--seconds`, `--seed`, `--max-threads`, `--threads`); run that.
//! The seed fixes what each generator *decides* (tree shapes, which handles are dropped,
//! cancelled or detached, which tasks panic or block, and for how long), not how the threads
//! interleave, so a rare race may need a few runs with that seed, a longer `--seconds`, or a
//! smaller `--max-threads` to show again.
//!
//! # What it does
//! The pool is installed with `max_threads(M)` and a 500 ms `retire_after`, so threads started
//! for blocked tasks retire during the run. [`GENERATORS`] generator tasks, each with its own
//! seeded RNG, keep spawning:
//! - trees of tasks (each node spawns 0–4 children, up to 4 levels deep) whose handles are
//!   awaited, dropped, cancelled with `cancel().await` or detached;
//! - steps inside the tasks: `yield_now`, `async_io::Timer`s of 0–2 ms, a little arithmetic,
//!   round trips to plain threads over `async_channel` (the threads answer with
//!   `recv_blocking`/`send_blocking`), `std::thread::sleep` of 0–3 ms (rarely up to 20 ms) and
//!   nested `smolscale::block_on`;
//! - victims cancelled while they run (some in the middle of a blocking sleep);
//! - tasks that panic on purpose (the panic hook keeps quiet about those; any other panic
//!   anywhere fails the run), awaited to check the payload comes back intact, or detached.
//!
//! A plain producer thread also feeds items into a channel drained by two helper tasks. For the
//! last 2 s of every 10 s the load drops to one slow generator, so that the threads started for
//! blocked tasks retire while the run goes on (and the pool grows again after the lull).
//!
//! Every task is wrapped in a drop guard that records exactly one outcome: completed (its future
//! returned), panicked (its future panicked) or cancelled (its future was dropped before either).
//! When the load stops the helpers are stopped too, and the run must then settle within
//! [`SETTLE`]: `spawned == completed + cancelled + panicked`, `stats().alive == 0` and
//! `stats().spawned` equal to the soak's own count. Then, the pool being idle, the surplus
//! threads must retire back down to the target. No panic other than the intentional ones may
//! happen anywhere, and every caught panic must carry its original payload.
//!
//! A sampler thread checks every 100 ms that `running_threads()` never exceeds M (fails at once)
//! and records the resident set size (`/proc/self/statm`); the RSS at the end of the load must
//! not exceed the RSS after a warm-up of 20% of the run by more than 50% + 32 MiB (see `main`
//! for why). It prints a summary line every 5 s. A watchdog thread fails the run, printing
//! `stats()` and the accounts, when no task finishes and no channel message moves for [`STALL`],
//! or when the whole run takes longer than the load time plus [`OVERRUN`].

use std::any::Any;
use std::future::Future;
use std::panic::{resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_io::Timer;
use fastrand::Rng;
use futures_lite::future::yield_now;
use futures_lite::FutureExt;
use smolscale::Task;

/// Text in every intentional panic's payload: the panic hook stays quiet for these, and an
/// awaiter that catches a payload without it has lost the payload.
const MARKER: &str = "soak: intentional panic";
/// Generator tasks, each with its own RNG.
const GENERATORS: usize = 4;
/// Plain threads answering round trips from tasks.
const ECHO_THREADS: usize = 3;
/// Helper tasks draining the producer thread's channel.
const CONSUMERS: usize = 2;
/// Generators hold off while more tasks than this are alive, so memory stays bounded.
const LIVE_CAP: u64 = 20_000;
/// Handles a generator keeps before it disposes of a random one.
const HELD_HANDLES: usize = 32;
/// Retirement period of surplus threads: short, so retirement happens during the run.
const RETIRE_AFTER: Duration = Duration::from_millis(500);
/// The watchdog fails the run when nothing progresses for this long.
const STALL: Duration = Duration::from_secs(10);
/// The watchdog fails the run when it lasts longer than the load time plus this.
const OVERRUN: Duration = Duration::from_secs(60);
/// After the load and the helpers stop, the accounts must balance within this.
const SETTLE: Duration = Duration::from_secs(30);
/// How often the sampler looks at the thread count and the RSS.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How often the sampler prints a summary line.
const SUMMARY_EVERY: Duration = Duration::from_secs(5);
/// Every [`LULL_EVERY`] the load drops for [`LULL_FOR`]: only the first generator goes on, at a
/// slow pace, so the threads started for blocked tasks sit parked long enough to retire, and
/// the pool grows again afterwards. (Under steady load every thread is woken often enough that
/// none stays parked for the whole retirement period.)
const LULL_EVERY: Duration = Duration::from_secs(10);
const LULL_FOR: Duration = Duration::from_secs(2);
/// Fraction of the run before the RSS baseline is taken: by then the allocator has its arenas,
/// the pool has grown to its working size and the generators have hit [`LIVE_CAP`] if they
/// ever will.
const WARMUP_FRACTION: f64 = 0.2;

/// The accounts: every counter only goes up.
struct Accounts {
    spawned: AtomicU64,
    completed: AtomicU64,
    cancelled: AtomicU64,
    panicked: AtomicU64,
    /// Panics whose payload is not one of ours (in a task or anywhere else).
    unexpected_panics: AtomicU64,
    /// Panics caught by an awaiter (awaiting the task, or `cancel().await` on it).
    panics_observed: AtomicU64,
    /// Caught panics whose payload did not come back as one of ours.
    payloads_lost: AtomicU64,
    cancels_requested: AtomicU64,
    round_trips: AtomicU64,
    feed_items: AtomicU64,
    nested_block_ons: AtomicU64,
    blocking_sleeps: AtomicU64,
}

static ACCOUNTS: Accounts = Accounts {
    spawned: AtomicU64::new(0),
    completed: AtomicU64::new(0),
    cancelled: AtomicU64::new(0),
    panicked: AtomicU64::new(0),
    unexpected_panics: AtomicU64::new(0),
    panics_observed: AtomicU64::new(0),
    payloads_lost: AtomicU64::new(0),
    cancels_requested: AtomicU64::new(0),
    round_trips: AtomicU64::new(0),
    feed_items: AtomicU64::new(0),
    nested_block_ons: AtomicU64::new(0),
    blocking_sleeps: AtomicU64::new(0),
};

impl Accounts {
    fn finished(&self) -> u64 {
        self.completed.load(SeqCst) + self.cancelled.load(SeqCst) + self.panicked.load(SeqCst)
    }

    /// Tasks spawned and not yet settled.
    fn live(&self) -> u64 {
        // `spawned` is read last: it is bumped before the outcome, so this never underflows.
        let finished = self.finished();
        self.spawned.load(SeqCst).saturating_sub(finished)
    }

    /// Advances whenever a task finishes or a message crosses between a task and a thread.
    fn progress(&self) -> u64 {
        self.finished() + self.round_trips.load(SeqCst) + self.feed_items.load(SeqCst)
    }

    fn describe(&self) -> String {
        let get = |counter: &AtomicU64| counter.load(SeqCst);
        format!(
            "tasks spawned {} = completed {} + cancelled {} + panicked {} (+ {} unsettled); \
             panics observed {}, payloads lost {}, unexpected panics {}; cancels requested {}; \
             round trips {}, feed items {}; nested block_ons {}, blocking sleeps {}",
            get(&self.spawned),
            get(&self.completed),
            get(&self.cancelled),
            get(&self.panicked),
            self.live(),
            get(&self.panics_observed),
            get(&self.payloads_lost),
            get(&self.unexpected_panics),
            get(&self.cancels_requested),
            get(&self.round_trips),
            get(&self.feed_items),
            get(&self.nested_block_ons),
            get(&self.blocking_sleeps),
        )
    }
}

/// Set when the load time is over: generators and the producer thread stop.
static STOP: AtomicBool = AtomicBool::new(false);
/// Set when the run has settled: the watchdog and the sampler stop.
static DONE: AtomicBool = AtomicBool::new(false);
/// Set by the first failure, so only one report is printed.
static FAILING: AtomicBool = AtomicBool::new(false);
/// Round-trip requests to the echo threads.
static REQUESTS: OnceLock<async_channel::Sender<Request>> = OnceLock::new();
/// Nested `block_on`s that wait for other tasks running now, and the most allowed (see
/// [`BlockOnSlot`]).
static BLOCK_ONS_WAITING: AtomicUsize = AtomicUsize::new(0);
static BLOCK_ON_SLOTS: AtomicUsize = AtomicUsize::new(0);
/// The run's settings, for failure reports.
static SETTINGS: OnceLock<Settings> = OnceLock::new();
/// When the run started.
static START: OnceLock<Instant> = OnceLock::new();

struct Settings {
    seconds: u64,
    seed: u64,
    target: usize,
    max_threads: usize,
}

/// A round trip: the echo thread answers `value + 1` on `reply`.
struct Request {
    value: u64,
    reply: async_channel::Sender<u64>,
}

type BoxFuture = Pin<Box<dyn Future<Output = u64> + Send + 'static>>;

fn elapsed() -> Duration {
    START.get().map_or(Duration::ZERO, Instant::elapsed)
}

/// Whether the load is in one of its lulls (the last [`LULL_FOR`] of every [`LULL_EVERY`]).
fn in_lull() -> bool {
    elapsed().as_millis() % LULL_EVERY.as_millis() >= (LULL_EVERY - LULL_FOR).as_millis()
}

/// Prints why the run failed, the pool's stats and the accounts, and exits with status 1.
fn fail(reason: &str) -> ! {
    if FAILING.swap(true, SeqCst) {
        // Another thread is already reporting; let it finish and exit.
        loop {
            std::thread::park();
        }
    }
    eprintln!(
        "\n!!!!!!!! SOAK FAILED after {:.1} s: {reason}",
        elapsed().as_secs_f64()
    );
    eprintln!("stats: {}", smolscale::stats());
    eprintln!("running threads: {}", smolscale::running_threads());
    eprintln!("accounts: {}", ACCOUNTS.describe());
    eprintln!("RSS: {:.1} MiB", mib(rss_bytes()));
    if let Some(s) = SETTINGS.get() {
        eprintln!(
            "reproduce: cargo run --release --example soak -- --seconds {} --seed {} \
             --max-threads {} --threads {}",
            s.seconds, s.seed, s.max_threads, s.target
        );
    }
    std::process::exit(1)
}

// ---------------------------------------------------------------------------------------------
// Exact accounts: the drop guard.

/// Records exactly one outcome for one task: [`Guard::settle`] when its future returns or
/// panics, or cancelled when the future is dropped without either.
struct Guard {
    settled: bool,
}

impl Guard {
    fn new() -> Self {
        ACCOUNTS.spawned.fetch_add(1, SeqCst);
        Guard { settled: false }
    }

    fn settle(&mut self, outcome: &AtomicU64) {
        assert!(!self.settled, "a task settled twice");
        self.settled = true;
        outcome.fetch_add(1, SeqCst);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.settled {
            ACCOUNTS.cancelled.fetch_add(1, SeqCst);
        }
    }
}

/// Spawns `future` as a counted task. The guard lives inside the task's future, so it sees the
/// future complete, panic, or be dropped unfinished (cancelled).
fn spawn<F>(future: F) -> Task<u64>
where
    F: Future<Output = u64> + Send + 'static,
{
    let guard = Guard::new();
    smolscale::spawn(async move {
        let mut guard = guard;
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(value) => {
                guard.settle(&ACCOUNTS.completed);
                value
            }
            Err(payload) => {
                guard.settle(&ACCOUNTS.panicked);
                resume_unwind(payload)
            }
        }
    })
}

fn is_intentional(payload: &(dyn Any + Send)) -> bool {
    let text = if let Some(text) = payload.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.as_str()
    } else {
        return false;
    };
    text.contains(MARKER)
}

/// Panics on purpose, with a `String` or a `&'static str` payload.
fn intentional_panic(rng: &mut Rng) -> ! {
    if rng.bool() {
        panic!("{MARKER} #{}", rng.u32(..))
    } else {
        std::panic::panic_any(MARKER)
    }
}

fn observed_panic(payload: Box<dyn Any + Send>) {
    ACCOUNTS.panics_observed.fetch_add(1, SeqCst);
    if !is_intentional(&*payload) {
        ACCOUNTS.payloads_lost.fetch_add(1, SeqCst);
    }
}

/// Awaits a task; a panic it re-raises is caught, checked and counted.
async fn join(task: Task<u64>) -> u64 {
    match AssertUnwindSafe(task).catch_unwind().await {
        Ok(value) => value,
        Err(payload) => {
            observed_panic(payload);
            0
        }
    }
}

/// Cancels a task and waits for it to stop (it may have finished, or panicked, first).
async fn cancel(task: Task<u64>) -> u64 {
    ACCOUNTS.cancels_requested.fetch_add(1, SeqCst);
    match AssertUnwindSafe(task.cancel()).catch_unwind().await {
        Ok(value) => value.unwrap_or(0),
        Err(payload) => {
            observed_panic(payload);
            0
        }
    }
}

/// Does one of the things a holder may do with a handle: await it (most often), drop it
/// (cancels), cancel it and wait, or detach it.
async fn dispose(task: Task<u64>, rng: &mut Rng) -> u64 {
    match rng.u32(0..16) {
        0..=9 => join(task).await,
        10 | 11 => {
            ACCOUNTS.cancels_requested.fetch_add(1, SeqCst);
            drop(task);
            0
        }
        12 | 13 => cancel(task).await,
        _ => {
            task.detach();
            0
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The workload.

/// Holds one of the nested-`block_on` slots. A task blocked in `block_on` waiting for another
/// task holds a thread until that task runs; with at most `BLOCK_ON_SLOTS` of them (well below
/// `max_threads - target`) there are always threads left to run the tasks they wait for. (A
/// capped pool can't avoid that deadlock in general: it is the program's to avoid.)
struct BlockOnSlot;

impl BlockOnSlot {
    fn take() -> Option<Self> {
        let max = BLOCK_ON_SLOTS.load(SeqCst);
        BLOCK_ONS_WAITING
            .fetch_update(SeqCst, SeqCst, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| BlockOnSlot)
    }
}

impl Drop for BlockOnSlot {
    fn drop(&mut self) {
        BLOCK_ONS_WAITING.fetch_sub(1, SeqCst);
    }
}

/// A round trip to an echo thread: `value` out, `value + 1` back.
async fn round_trip(value: u64) -> u64 {
    let Some(requests) = REQUESTS.get() else {
        return 0;
    };
    let (reply, replies) = async_channel::bounded(1);
    if requests.send(Request { value, reply }).await.is_err() {
        return 0; // closed at the end of the run
    }
    match replies.recv().await {
        Ok(answer) => {
            assert_eq!(answer, value.wrapping_add(1), "echo thread answered wrong");
            ACCOUNTS.round_trips.fetch_add(1, SeqCst);
            1
        }
        Err(_) => 0,
    }
}

fn blocking_sleep(rng: &mut Rng) {
    let micros = if rng.u32(0..20) == 0 {
        rng.u64(3_000..=20_000)
    } else {
        rng.u64(0..=3_000)
    };
    ACCOUNTS.blocking_sleeps.fetch_add(1, SeqCst);
    std::thread::sleep(Duration::from_micros(micros));
}

/// One random piece of work inside a task.
async fn step(rng: &mut Rng) -> u64 {
    match rng.u32(0..100) {
        0..=29 => {
            for _ in 0..rng.u32(1..8) {
                yield_now().await;
            }
        }
        30..=49 => {
            Timer::after(Duration::from_micros(rng.u64(0..=2_000))).await;
        }
        50..=64 => {
            let rounds = rng.u64(100..5_000);
            let mut x = rng.u64(..);
            for _ in 0..rounds {
                x = x.rotate_left(7) ^ x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            }
            std::hint::black_box(x);
        }
        65..=83 => return round_trip(rng.u64(..)).await,
        84..=91 => blocking_sleep(rng),
        _ => return nested_block_on(rng),
    }
    1
}

/// A nested `smolscale::block_on` inside a task: on a timer, on a round trip to a plain thread,
/// or (holding a slot) on a small tree of other tasks.
fn nested_block_on(rng: &mut Rng) -> u64 {
    ACCOUNTS.nested_block_ons.fetch_add(1, SeqCst);
    match rng.u32(0..3) {
        0 => {
            let delay = Duration::from_micros(rng.u64(0..=1_000));
            smolscale::block_on(Timer::after(delay));
            1
        }
        1 => smolscale::block_on(round_trip(rng.u64(..))),
        _ => match BlockOnSlot::take() {
            Some(_slot) => {
                let tree = spawn(node(rng.fork(), rng.u32(0..=2)));
                smolscale::block_on(join(tree))
            }
            None => 0,
        },
    }
}

/// A node of a tree: a few steps, then 0–4 children (while `depth` allows), each disposed of at
/// random, and a rare intentional panic. Returns the nodes that completed under it.
fn node(mut rng: Rng, depth: u32) -> BoxFuture {
    Box::pin(async move {
        let mut total = 1;
        for _ in 0..rng.u32(0..3) {
            total += step(&mut rng).await;
        }
        if depth > 0 {
            let children: Vec<_> = (0..rng.u32(0..=4))
                .map(|_| spawn(node(rng.fork(), depth - 1)))
                .collect();
            for child in children {
                total += dispose(child, &mut rng).await;
            }
        }
        if rng.u32(0..500) == 0 {
            intentional_panic(&mut rng);
        }
        total
    })
}

/// Spawns a victim that keeps working (yields, timers, blocking sleeps), waits until it has
/// started, then cancels it at a random moment: by dropping its handle or with `cancel().await`.
async fn cancel_while_running(mut rng: Rng) -> u64 {
    let started = Arc::new(AtomicBool::new(false));
    let mut victim_rng = rng.fork();
    let victim = {
        let started = started.clone();
        spawn(async move {
            started.store(true, SeqCst);
            let rounds = victim_rng.u32(1..200);
            for _ in 0..rounds {
                match victim_rng.u32(0..4) {
                    0 => std::thread::sleep(Duration::from_micros(victim_rng.u64(0..1_000))),
                    1 => {
                        Timer::after(Duration::from_micros(victim_rng.u64(0..500))).await;
                    }
                    _ => yield_now().await,
                }
            }
            u64::from(rounds)
        })
    };
    let mut spins = 0;
    while !started.load(SeqCst) && spins < 1_000 {
        yield_now().await;
        spins += 1;
    }
    match rng.u32(0..4) {
        0 => {}
        1 => {
            for _ in 0..rng.u32(0..20) {
                yield_now().await;
            }
        }
        2 => {
            Timer::after(Duration::from_micros(rng.u64(0..2_000))).await;
        }
        _ => std::thread::sleep(Duration::from_micros(rng.u64(0..500))),
    }
    if rng.bool() {
        ACCOUNTS.cancels_requested.fetch_add(1, SeqCst);
        drop(victim);
        0
    } else {
        cancel(victim).await
    }
}

/// A task that does a few steps and panics; awaited (the payload must come back) or detached
/// (its panic is only logged).
async fn panicker(mut rng: Rng) -> u64 {
    let mut child_rng = rng.fork();
    let child = spawn(async move {
        for _ in 0..child_rng.u32(0..3) {
            step(&mut child_rng).await;
        }
        intentional_panic(&mut child_rng)
    });
    if rng.u32(0..4) == 0 {
        child.detach();
        0
    } else {
        join(child).await
    }
}

/// One generator action, as the future of a task.
fn action(rng: &mut Rng) -> BoxFuture {
    let mut own = rng.fork();
    match rng.u32(0..100) {
        0..=44 => {
            let depth = if rng.u32(0..10) == 0 {
                4
            } else {
                rng.u32(0..=3)
            };
            node(own, depth)
        }
        45..=59 => Box::pin(async move {
            let mut total = 0;
            for _ in 0..own.u32(1..8) {
                total += step(&mut own).await;
            }
            total
        }),
        60..=74 => Box::pin(cancel_while_running(own)),
        75..=84 => Box::pin(panicker(own)),
        85..=94 => Box::pin(async move {
            let mut total = 0;
            for _ in 0..own.u32(1..16) {
                total += round_trip(own.u64(..)).await;
            }
            total
        }),
        _ => Box::pin(async move {
            if own.u32(0..50) == 0 {
                intentional_panic(&mut own);
            }
            nested_block_on(&mut own)
        }),
    }
}

/// Spawns actions until [`STOP`], keeping some handles to dispose of later, then disposes of
/// the rest. In a lull, the first generator slows down and the others pause.
async fn generator(index: usize, mut rng: Rng) -> u64 {
    let mut held: Vec<Task<u64>> = Vec::new();
    let mut total = 0;
    while !STOP.load(SeqCst) {
        while ACCOUNTS.live() > LIVE_CAP && !STOP.load(SeqCst) {
            Timer::after(Duration::from_millis(1)).await;
        }
        if in_lull() {
            let pause = if index == 0 { 2 } else { 20 };
            Timer::after(Duration::from_millis(pause)).await;
            if index > 0 {
                continue;
            }
        }
        let task = spawn(action(&mut rng));
        match rng.u32(0..4) {
            0 => total += join(task).await,
            1 => task.detach(),
            _ => held.push(task),
        }
        if held.len() >= HELD_HANDLES {
            let task = held.swap_remove(rng.usize(..held.len()));
            total += dispose(task, &mut rng).await;
        }
        if rng.u32(0..8) == 0 {
            yield_now().await;
        }
    }
    for task in held {
        total += dispose(task, &mut rng).await;
    }
    total
}

/// Drains the producer thread's channel; every 64th item spawns a small detached task.
async fn consumer(items: async_channel::Receiver<u64>, mut rng: Rng) -> u64 {
    let mut total = 0;
    while let Ok(item) = items.recv().await {
        ACCOUNTS.feed_items.fetch_add(1, SeqCst);
        total += item & 1;
        if item % 64 == 0 {
            spawn(node(rng.fork(), 1)).detach();
        }
    }
    total
}

// ---------------------------------------------------------------------------------------------
// Plain threads.

fn echo_thread(requests: async_channel::Receiver<Request>, mut rng: Rng) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("soak-echo".into())
        .spawn(move || {
            while let Ok(request) = requests.recv_blocking() {
                if rng.u32(0..100) == 0 {
                    std::thread::sleep(Duration::from_micros(rng.u64(0..1_000)));
                }
                // The asker may have been cancelled meanwhile: then nobody listens.
                let _ = request.reply.send_blocking(request.value.wrapping_add(1));
            }
        })
        .expect("spawning an echo thread")
}

fn producer_thread(items: async_channel::Sender<u64>, mut rng: Rng) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("soak-producer".into())
        .spawn(move || {
            let mut item = 0u64;
            while !STOP.load(SeqCst) {
                for _ in 0..rng.u32(0..32) {
                    item += 1;
                    if items.send_blocking(item).is_err() {
                        return;
                    }
                }
                std::thread::sleep(Duration::from_micros(rng.u64(0..2_000)));
            }
            // Dropping the sender closes the channel: the consumers drain it and end.
        })
        .expect("spawning the producer thread")
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// What the sampler saw.
#[derive(Default)]
struct Samples {
    peak_threads: usize,
    /// RSS at the first sample after the warm-up.
    baseline_rss: Option<u64>,
    /// RSS at the last sample before the load stopped.
    end_rss: u64,
    peak_rss: u64,
}

/// Every [`SAMPLE_EVERY`]: the thread cap (fails at once on a breach) and the RSS; a summary
/// line every [`SUMMARY_EVERY`].
fn sampler_thread(max_threads: usize, warmup: Duration) -> JoinHandle<Samples> {
    std::thread::Builder::new()
        .name("soak-sampler".into())
        .spawn(move || {
            let mut samples = Samples::default();
            let mut next_summary = SUMMARY_EVERY;
            while !DONE.load(SeqCst) {
                std::thread::sleep(SAMPLE_EVERY);
                let threads = smolscale::running_threads();
                samples.peak_threads = samples.peak_threads.max(threads);
                if threads > max_threads {
                    fail(&format!(
                        "{threads} threads running, above max_threads {max_threads}"
                    ));
                }
                let rss = rss_bytes();
                samples.peak_rss = samples.peak_rss.max(rss);
                let now = elapsed();
                if now >= warmup && samples.baseline_rss.is_none() {
                    samples.baseline_rss = Some(rss);
                }
                if !STOP.load(SeqCst) {
                    samples.end_rss = rss;
                }
                if now >= next_summary {
                    next_summary += SUMMARY_EVERY;
                    summary_line(threads, rss);
                }
            }
            samples
        })
        .expect("spawning the sampler")
}

fn summary_line(threads: usize, rss: u64) {
    let get = |counter: &AtomicU64| counter.load(SeqCst);
    let stats = smolscale::stats();
    println!(
        "[{:>6.1}s] tasks spawned {:>10} completed {:>10} cancelled {:>9} panicked {:>6} \
         (live {:>5}) | threads {:>2} (started {}, retired {}) | RSS {:>6.1} MiB",
        elapsed().as_secs_f64(),
        get(&ACCOUNTS.spawned),
        get(&ACCOUNTS.completed),
        get(&ACCOUNTS.cancelled),
        get(&ACCOUNTS.panicked),
        ACCOUNTS.live(),
        threads,
        stats.threads_started,
        stats.threads_retired,
        mib(rss),
    );
}

/// Fails the run when [`Accounts::progress`] stands still for [`STALL`], or when the run
/// outlasts `limit`.
fn watchdog_thread(limit: Duration) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("soak-watchdog".into())
        .spawn(move || {
            let mut last = ACCOUNTS.progress();
            let mut last_change = Instant::now();
            while !DONE.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(250));
                let progress = ACCOUNTS.progress();
                if progress != last {
                    last = progress;
                    last_change = Instant::now();
                } else if last_change.elapsed() > STALL {
                    fail(&format!(
                        "no task finished and no message moved for {} s (hang?)",
                        STALL.as_secs()
                    ));
                }
                if elapsed() > limit {
                    fail(&format!("the run took longer than {} s", limit.as_secs()));
                }
            }
        })
        .expect("spawning the watchdog")
}

// ---------------------------------------------------------------------------------------------

fn usage(message: &str) -> ! {
    eprintln!(
        "{message}\nusage: soak [--seconds N (default 30)] [--seed S (default: from the clock)] \
         [--max-threads M (default: target + 16)] [--threads T (default: CPUs)]"
    );
    std::process::exit(2)
}

fn parse_args() -> (u64, u64, Option<usize>, Option<usize>) {
    let mut seconds = 30;
    let mut seed = None;
    let mut max_threads = None;
    let mut threads = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        let number = |text: String| -> u64 {
            text.parse()
                .unwrap_or_else(|_| usage(&format!("{arg}: not a number: {text:?}")))
        };
        match arg.as_str() {
            "--seconds" => seconds = number(value()),
            "--seed" => seed = Some(number(value())),
            "--max-threads" => max_threads = Some(number(value()) as usize),
            "--threads" => threads = Some(number(value()) as usize),
            "--help" | "-h" => usage("soak: a randomised long run of smolscale"),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    let seed = seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| t.as_nanos() as u64)
    });
    (seconds, seed, max_threads, threads)
}

/// Keeps the default panic message for every panic but ours; counts the others as unexpected.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_intentional(info.payload()) {
            ACCOUNTS.unexpected_panics.fetch_add(1, SeqCst);
            default(info);
        }
    }));
}

fn main() {
    let (seconds, seed, max_threads, threads) = parse_args();
    let target =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let max_threads = max_threads.unwrap_or(target + 16);
    let duration = Duration::from_secs(seconds);
    install_panic_hook();
    if let Err(err) = smolscale::Builder::new()
        .threads(target)
        .max_threads(max_threads)
        .retire_after(RETIRE_AFTER)
        .install()
    {
        usage(&format!("bad pool configuration: {err}"));
    }
    // Nested block_ons that wait for other tasks: at most half the spare threads, at most 4.
    BLOCK_ON_SLOTS.store(((max_threads - target) / 2).min(4), SeqCst);
    let settings = Settings {
        seconds,
        seed,
        target,
        max_threads,
    };
    let settings = SETTINGS.get_or_init(|| settings);
    println!(
        "soak: {seconds} s, seed {seed}, target {target} threads, max_threads {max_threads}, \
         retire_after {} ms (repeat with: --seconds {seconds} --seed {seed} --max-threads \
         {max_threads} --threads {target})",
        RETIRE_AFTER.as_millis()
    );
    let start = *START.get_or_init(Instant::now);

    let mut master = Rng::with_seed(seed);
    let (requests_tx, requests_rx) = async_channel::bounded(64);
    if REQUESTS.set(requests_tx).is_err() {
        unreachable!("REQUESTS is set once");
    }
    let echoes: Vec<_> = (0..ECHO_THREADS)
        .map(|_| echo_thread(requests_rx.clone(), master.fork()))
        .collect();
    drop(requests_rx);
    let (items_tx, items_rx) = async_channel::bounded(128);
    let producer = producer_thread(items_tx, master.fork());
    let warmup = duration.mul_f64(WARMUP_FRACTION);
    let sampler = sampler_thread(max_threads, warmup);
    let watchdog = watchdog_thread(duration + OVERRUN);

    let generator_rngs: Vec<Rng> = (0..GENERATORS).map(|_| master.fork()).collect();
    let consumer_rngs: Vec<Rng> = (0..CONSUMERS).map(|_| master.fork()).collect();
    smolscale::block_on(async move {
        let consumers: Vec<_> = consumer_rngs
            .into_iter()
            .map(|rng| spawn(consumer(items_rx.clone(), rng)))
            .collect();
        drop(items_rx);
        let generators: Vec<_> = generator_rngs
            .into_iter()
            .enumerate()
            .map(|(index, rng)| spawn(generator(index, rng)))
            .collect();
        Timer::at(start + duration).await;
        STOP.store(true, SeqCst);
        for generator in generators {
            join(generator).await;
        }
        // The producer thread sees STOP and drops its sender; the consumers drain and end.
        for consumer in consumers {
            join(consumer).await;
        }
    });
    let load_end = elapsed();
    let retired_under_load = smolscale::stats().threads_retired;
    producer.join().expect("the producer thread");
    // Tasks that ask for round trips after this get an error, and the echo threads end once
    // they have answered what is queued.
    REQUESTS.get().expect("set above").close();
    for echo in echoes {
        echo.join().expect("an echo thread");
    }

    // Settle: detached and cancelled tasks finish or get dropped by the workers.
    let settle_start = Instant::now();
    loop {
        let stats = smolscale::stats();
        let balanced = ACCOUNTS.live() == 0;
        if balanced && stats.alive == 0 && stats.spawned == ACCOUNTS.spawned.load(SeqCst) {
            break;
        }
        if settle_start.elapsed() > SETTLE {
            fail(&format!(
                "not settled {} s after the load stopped: {} tasks unaccounted for by the \
                 soak, stats().alive = {}, stats().spawned = {} vs {} spawned by the soak",
                SETTLE.as_secs(),
                ACCOUNTS.live(),
                stats.alive,
                stats.spawned,
                ACCOUNTS.spawned.load(SeqCst)
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let settled_in = settle_start.elapsed();

    // Idle now: the surplus threads must retire (one per balancer tick, each once it has been
    // parked for RETIRE_AFTER), back down to the target.
    let surplus = smolscale::running_threads().saturating_sub(target);
    let retire_deadline = RETIRE_AFTER * (surplus as u32 + 1) + Duration::from_secs(10);
    let retire_start = Instant::now();
    while smolscale::running_threads() > target {
        if retire_start.elapsed() > retire_deadline {
            fail(&format!(
                "{} threads still running {} ms after the pool went idle; the surplus over the \
                 target ({target}) should retire after {} ms",
                smolscale::running_threads(),
                retire_deadline.as_millis(),
                RETIRE_AFTER.as_millis()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let retired_in = retire_start.elapsed();
    DONE.store(true, SeqCst);
    let samples = sampler.join().expect("the sampler");
    watchdog.join().expect("the watchdog");

    let get = |counter: &AtomicU64| counter.load(SeqCst);
    if get(&ACCOUNTS.unexpected_panics) > 0 {
        fail("unexpected panics (printed above)");
    }
    if get(&ACCOUNTS.payloads_lost) > 0 {
        fail("a caught panic's payload was not the one the task panicked with");
    }
    if get(&ACCOUNTS.panics_observed) > get(&ACCOUNTS.panicked) {
        fail("more panics observed by awaiters than tasks panicked");
    }
    // Memory. The baseline is taken after the warm-up, while the load runs, so it includes the
    // working set: up to LIVE_CAP live tasks, the channels, the allocator's per-thread arenas,
    // the stacks of the threads the pool has grown to. The end sample is also under load. What
    // legitimately differs between the two is noise: how many tasks happen to be alive (0 to
    // LIVE_CAP, a few MiB), which threads (with their arenas and stacks, up to a few MiB each)
    // exist at that moment, and allocator fragmentation. Hence a margin of 50% of the baseline
    // plus 32 MiB. A leak of even 8 bytes per task is caught at the 10-minute scale (tens of
    // millions of tasks make hundreds of MiB); a short run only catches a gross leak.
    let baseline = samples.baseline_rss.unwrap_or(samples.end_rss);
    let limit = baseline + baseline / 2 + (32 << 20);
    let end_rss = samples.end_rss;
    let stats = smolscale::stats();
    let total = load_end.as_secs_f64();
    println!("---- soak final report (seed {seed}) ----");
    println!(
        "load {:.1} s, settled {:.0} ms after, surplus threads ({surplus}) retired {:.0} ms \
         after that; {:.0} tasks/s",
        total,
        settled_in.as_secs_f64() * 1e3,
        retired_in.as_secs_f64() * 1e3,
        get(&ACCOUNTS.spawned) as f64 / total
    );
    println!("accounts: {}", ACCOUNTS.describe());
    println!(
        "threads: peak {} (max_threads {}), started {}, retired {} ({} of them while the load \
         ran)",
        samples.peak_threads,
        settings.max_threads,
        stats.threads_started,
        stats.threads_retired,
        retired_under_load
    );
    println!(
        "RSS: post-warm-up {:.1} MiB, end of load {:.1} MiB (limit {:.1} MiB), peak {:.1} MiB, \
         now {:.1} MiB",
        mib(baseline),
        mib(end_rss),
        mib(limit),
        mib(samples.peak_rss),
        mib(rss_bytes())
    );
    println!("stats: {stats}");
    if end_rss > limit {
        fail(&format!(
            "RSS grew from {:.1} MiB after the warm-up to {:.1} MiB at the end (limit {:.1} MiB)",
            mib(baseline),
            mib(end_rss),
            mib(limit)
        ));
    }
    println!(
        "SOAK PASSED: {} tasks, all accounted for, in {:.1} s",
        get(&ACCOUNTS.spawned),
        start.elapsed().as_secs_f64()
    );
}
