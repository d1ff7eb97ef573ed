//! Micro workloads: two existing suites re-implemented once over [`Executor`], timed in-process.
//!
//! - `ss04.*`: smolscale 0.4's criterion suite (`benches/my_benchmark.rs` in smolscale 0.4.16),
//!   same constants and shapes. Its `async_oneshot` replies are `async_channel::bounded(1)` here.
//! - `tokio.*`: tokio's `benches/rt_multi_threaded.rs`, same constants, with N (the worker
//!   count) where tokio has `NUM_WORKERS = 4`. Where tokio's main thread waits on a std `mpsc`
//!   channel, here it waits in `block_on` on an async channel, so the single-threaded floor can
//!   run them too; "local" spawns are made from a task on the pool, "remote" ones from the main
//!   thread outside any task. Tokio's `oneshot`s are `async_channel::bounded(1)` and its
//!   `task::yield_now` is `futures_lite::future::yield_now` (wake at once, then `Pending`).
//!
//! Each iteration is timed on its own with `Instant`; after a warm-up, iterations run until a
//! time budget is spent (and at least a few ran), and the workload's result is the median
//! iteration time in µs. Long-lived helper tasks (fanout receivers, rings, busy tasks, busy
//! spawn chains) are stopped after the timed part, and the workload waits until every one of
//! them has dropped its future, so nothing outlives the workload.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future::yield_now;

use crate::executors::{Executor, Task};
use crate::workload::MetricSpec;

// smolscale 0.4.16, benches/my_benchmark.rs.
/// Tasks in `yield_now`, and in the rings/busy sets of the context-switch workloads.
pub const TASKS: usize = 300;
/// Yields per task in `yield_now`.
const STEPS: usize = 300;
/// Tasks in `spawn_many`.
const LIGHT_TASKS: usize = 25_000;
/// Receivers in `fanout` (its `NUM_TASKS`).
const FANOUT_TASKS: usize = 1_000;
/// Messages per `fanout` iteration (its `NUM_ITER`).
const FANOUT_MESSAGES: usize = 1_000;
/// Pings per `ping_pong` iteration (its `NUM_PINGS`, the same in tokio's suite).
const NUM_PINGS: usize = 1_000;
/// Capacity of `ping_pong`'s request channel.
const PING_QUEUE: usize = 10;
/// Token round trips per `context_switch_busy` iteration.
const BUSY_ROUND_TRIPS: usize = 10;

// tokio, benches/rt_multi_threaded.rs.
/// Tasks per `spawn_many_*` iteration.
pub const NUM_SPAWN: usize = 10_000;
/// Tasks per `spawn_many_remote_busy2` iteration (it overrides `NUM_SPAWN`).
const NUM_SPAWN_BUSY2: usize = 1_000;
/// CPU time each busy helper burns per poll (`STALL_DUR`).
const STALL: Duration = Duration::from_micros(10);
/// Tasks in `yield_many`.
pub const YIELD_TASKS: usize = 200;
/// Yields per task in `yield_many`.
pub const NUM_YIELD: usize = 1_000;
/// Length of the spawn chain in `chained_spawn` (its `ITER`).
const CHAIN: usize = 1_000;

/// How long to time a workload.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Untimed iterations run for at least this long (and at least once) first.
    pub warmup: Duration,
    /// Timed iterations run for at least this long...
    pub measure: Duration,
    /// ...and at least this many times.
    pub min_samples: usize,
}

impl Budget {
    /// The default: long enough for a stable median, short enough that the whole suite takes
    /// about a minute per repetition on two cores; at least 3 samples even for the slowest
    /// (seconds-long) iterations, so that they still fit under the child's watchdog.
    pub const NORMAL: Budget = Budget {
        warmup: Duration::from_millis(100),
        measure: Duration::from_millis(400),
        min_samples: 3,
    };

    /// `--quick`: a smoke test that every workload runs.
    pub const QUICK: Budget = Budget {
        warmup: Duration::ZERO,
        measure: Duration::ZERO,
        min_samples: 3,
    };

    /// Median wall time of one call of `iteration`, in µs.
    fn median_us(&self, mut iteration: impl FnMut()) -> f64 {
        let warmup_start = Instant::now();
        loop {
            iteration();
            if warmup_start.elapsed() >= self.warmup {
                break;
            }
        }
        let mut samples = Vec::new();
        let start = Instant::now();
        while samples.len() < self.min_samples || start.elapsed() < self.measure {
            let t = Instant::now();
            iteration();
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
        crate::stats::median(&mut samples)
    }
}

/// Each micro workload's metric, in the declaration order of [`Micro`].
static METRICS: [MetricSpec; 14] = [
    us("ss04.spawn_one"),
    us("ss04.spawn_many"),
    us("ss04.yield_now"),
    us("ss04.fanout"),
    us("ss04.ping_pong"),
    us("ss04.context_switch_quiet"),
    us("ss04.context_switch_busy"),
    us("tokio.spawn_many_local"),
    us("tokio.spawn_many_remote_idle"),
    us("tokio.spawn_many_remote_busy1"),
    us("tokio.spawn_many_remote_busy2"),
    us("tokio.ping_pong"),
    us("tokio.yield_many"),
    us("tokio.chained_spawn"),
];

const fn us(name: &'static str) -> MetricSpec {
    MetricSpec { name, unit: "us" }
}

/// One micro workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Micro {
    SpawnOne,
    SpawnMany,
    YieldNow,
    Fanout,
    PingPong,
    ContextSwitchQuiet,
    ContextSwitchBusy,
    SpawnManyLocal,
    SpawnManyRemoteIdle,
    SpawnManyRemoteBusy1,
    SpawnManyRemoteBusy2,
    TokioPingPong,
    YieldMany,
    ChainedSpawn,
}

impl Micro {
    pub const ALL: [Micro; 14] = [
        Micro::SpawnOne,
        Micro::SpawnMany,
        Micro::YieldNow,
        Micro::Fanout,
        Micro::PingPong,
        Micro::ContextSwitchQuiet,
        Micro::ContextSwitchBusy,
        Micro::SpawnManyLocal,
        Micro::SpawnManyRemoteIdle,
        Micro::SpawnManyRemoteBusy1,
        Micro::SpawnManyRemoteBusy2,
        Micro::TokioPingPong,
        Micro::YieldMany,
        Micro::ChainedSpawn,
    ];

    pub fn name(self) -> &'static str {
        METRICS[self as usize].name
    }

    /// The one metric it reports: the median iteration time, named like the workload.
    pub fn metrics(self) -> &'static [MetricSpec] {
        std::slice::from_ref(&METRICS[self as usize])
    }

    /// Whether the single-threaded floor runs this workload: not those with background CPU
    /// load, where one thread would also have to do all the busy work, so its time says how
    /// much busy work there is rather than what scheduling costs.
    pub fn has_floor(self) -> bool {
        !matches!(
            self,
            Micro::ContextSwitchBusy | Micro::SpawnManyRemoteBusy1 | Micro::SpawnManyRemoteBusy2
        )
    }

    /// Runs the workload on `ex`; returns the median iteration time in µs.
    pub fn run<E: Executor>(self, ex: E, budget: &Budget, workers: usize) -> f64 {
        match self {
            Micro::SpawnOne => spawn_one(ex, budget),
            Micro::SpawnMany => spawn_many(ex, budget),
            Micro::YieldNow => yield_tasks(ex, budget),
            Micro::Fanout => fanout(ex, budget),
            Micro::PingPong => ping_pong(ex, budget),
            Micro::ContextSwitchQuiet => context_switch_quiet(ex, budget),
            Micro::ContextSwitchBusy => context_switch_busy(ex, budget),
            Micro::SpawnManyLocal => spawn_many_local(ex, budget),
            Micro::SpawnManyRemoteIdle => spawn_many_remote_idle(ex, budget),
            Micro::SpawnManyRemoteBusy1 => spawn_many_remote_busy1(ex, budget, workers),
            Micro::SpawnManyRemoteBusy2 => spawn_many_remote_busy2(ex, budget, workers),
            Micro::TokioPingPong => tokio_ping_pong(ex, budget),
            Micro::YieldMany => yield_many(ex, budget),
            Micro::ChainedSpawn => chained_spawn(ex, budget),
        }
    }
}

/// Long-lived helper tasks of one workload. Each holds a [`Live`] guard in its future, so
/// [`Helpers::stop`] can wait until every future has really been dropped.
struct Helpers {
    tasks: Vec<Task<()>>,
    live: Arc<AtomicUsize>,
}

/// Counts one helper future as alive until dropped.
struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Helpers {
    fn new() -> Self {
        Helpers {
            tasks: Vec::new(),
            live: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn live(&self) -> Live {
        self.live.fetch_add(1, Ordering::AcqRel);
        Live(self.live.clone())
    }

    /// Spawns a helper that runs until [`Helpers::stop`] cancels it (if it hasn't ended).
    fn spawn<E: Executor>(&mut self, ex: E, future: impl Future + Send + 'static) {
        let live = self.live();
        self.tasks.push(ex.spawn(async move {
            let _live = live;
            future.await;
        }));
    }

    /// Cancels the helpers and waits (driving `ex` where that is needed) until all are gone.
    fn stop<E: Executor>(self, ex: E) {
        drop(self.tasks);
        let live = self.live;
        ex.block_on(async move {
            while live.load(Ordering::Acquire) != 0 {
                yield_now().await;
            }
        });
    }
}

/// tokio's `stall`: burn `STALL` of CPU, yielding the thread meanwhile.
fn stall() {
    let start = Instant::now();
    while start.elapsed() < STALL {
        std::thread::yield_now();
    }
}

/// Counts tasks down to zero; the last one sends on the done channel (tokio's `rem` counter).
fn countdown(
    tasks: usize,
) -> (
    Arc<AtomicUsize>,
    async_channel::Receiver<()>,
    async_channel::Sender<()>,
) {
    let (done_tx, done_rx) = async_channel::bounded(1);
    (Arc::new(AtomicUsize::new(tasks)), done_rx, done_tx)
}

/// Counts one task done, and signals when it was the last.
fn count_down(remaining: &AtomicUsize, done: &async_channel::Sender<()>) {
    if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
        done.try_send(())
            .expect("the done signal is sent once per iteration");
    }
}

fn spawn_one<E: Executor>(ex: E, budget: &Budget) -> f64 {
    budget.median_us(|| ex.block_on(async move { ex.spawn(async {}).await }))
}

fn spawn_many<E: Executor>(ex: E, budget: &Budget) -> f64 {
    budget.median_us(|| ex.block_on(spawn_and_await(ex, LIGHT_TASKS)))
}

/// Spawns `count` empty tasks from the current task or thread and awaits them in order
/// (`spawn_many`; `examples/instructions.rs` too).
pub async fn spawn_and_await<E: Executor>(ex: E, count: usize) {
    let tasks: Vec<_> = (0..count).map(|_| ex.spawn(async {})).collect();
    for task in tasks {
        task.await;
    }
}

fn yield_tasks<E: Executor>(ex: E, budget: &Budget) -> f64 {
    budget.median_us(|| ex.block_on(yielders(ex, TASKS, STEPS)))
}

/// Spawns `tasks` tasks that each yield `yields` times, and awaits them all (`yield_now`;
/// `examples/instructions.rs` too).
pub async fn yielders<E: Executor>(ex: E, tasks: usize, yields: usize) {
    let tasks: Vec<_> = (0..tasks)
        .map(|_| {
            ex.spawn(async move {
                for _ in 0..yields {
                    yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
}

fn fanout<E: Executor>(ex: E, budget: &Budget) -> f64 {
    let (send, recv) = async_channel::bounded::<()>(1);
    let mut helpers = Helpers::new();
    for _ in 0..FANOUT_TASKS {
        let recv = recv.clone();
        helpers.spawn(ex, async move { while recv.recv().await.is_ok() {} });
    }
    let median = budget.median_us(|| {
        let send = send.clone();
        ex.block_on(async move {
            for _ in 0..FANOUT_MESSAGES {
                send.send(()).await.expect("receivers are alive");
            }
        })
    });
    helpers.stop(ex);
    median
}

fn ping_pong<E: Executor>(ex: E, budget: &Budget) -> f64 {
    let (send, recv) = async_channel::bounded::<async_channel::Sender<u8>>(PING_QUEUE);
    let mut helpers = Helpers::new();
    helpers.spawn(ex, async move {
        while let Ok(reply) = recv.recv().await {
            if reply.send(0).await.is_err() {
                break;
            }
        }
    });
    let median = budget.median_us(|| {
        let send = send.clone();
        ex.block_on(async move {
            for _ in 0..NUM_PINGS {
                let (reply_tx, reply_rx) = async_channel::bounded(1);
                send.send(reply_tx).await.expect("the responder is alive");
                reply_rx.recv().await.expect("the responder replies");
            }
        })
    });
    helpers.stop(ex);
    median
}

/// Spawns a ring of `len` forwarding tasks; returns the sender into it and the receiver out.
fn ring<E: Executor>(
    ex: E,
    helpers: &mut Helpers,
    len: usize,
) -> (async_channel::Sender<usize>, async_channel::Receiver<usize>) {
    let (send, mut recv) = async_channel::bounded::<usize>(1);
    for _ in 0..len {
        let (next_send, next_recv) = async_channel::bounded(1);
        let prev_recv = std::mem::replace(&mut recv, next_recv);
        helpers.spawn(ex, async move {
            while let Ok(token) = prev_recv.recv().await {
                if next_send.send(token).await.is_err() {
                    break;
                }
            }
        });
    }
    (send, recv)
}

fn context_switch_quiet<E: Executor>(ex: E, budget: &Budget) -> f64 {
    let mut helpers = Helpers::new();
    let (send, recv) = ring(ex, &mut helpers, TASKS);
    let median = budget.median_us(|| {
        let (send, recv) = (send.clone(), recv.clone());
        ex.block_on(async move {
            send.send(1).await.expect("the ring is alive");
            recv.recv().await.expect("the token comes back");
        })
    });
    helpers.stop(ex);
    median
}

fn context_switch_busy<E: Executor>(ex: E, budget: &Budget) -> f64 {
    let mut helpers = Helpers::new();
    let (send, recv) = ring(ex, &mut helpers, TASKS / 10);
    for _ in 0..TASKS {
        helpers.spawn(ex, async {
            loop {
                yield_now().await;
            }
        });
    }
    let median = budget.median_us(|| {
        let (send, recv) = (send.clone(), recv.clone());
        ex.block_on(async move {
            for _ in 0..BUSY_ROUND_TRIPS {
                send.send(1).await.expect("the ring is alive");
                recv.recv().await.expect("the token comes back");
            }
        })
    });
    helpers.stop(ex);
    median
}

fn spawn_many_local<E: Executor>(ex: E, budget: &Budget) -> f64 {
    budget.median_us(|| {
        ex.block_on(ex.spawn(async move {
            let (remaining, done_rx, done_tx) = countdown(NUM_SPAWN);
            for _ in 0..NUM_SPAWN {
                let (remaining, done_tx) = (remaining.clone(), done_tx.clone());
                ex.spawn(async move { count_down(&remaining, &done_tx) })
                    .detach();
            }
            done_rx.recv().await.expect("the last task signals");
        }))
    })
}

/// Spawns `count` empty tasks from the calling thread, then awaits them all in `block_on`.
pub fn spawn_remote<E: Executor>(ex: E, count: usize) {
    let tasks: Vec<_> = (0..count).map(|_| ex.spawn(async {})).collect();
    ex.block_on(async move {
        for task in tasks {
            task.await;
        }
    });
}

fn spawn_many_remote_idle<E: Executor>(ex: E, budget: &Budget) -> f64 {
    budget.median_us(|| spawn_remote(ex, NUM_SPAWN))
}

/// Remote spawns while 2 × N tasks keep the workers busy with yields and stalls.
fn spawn_many_remote_busy1<E: Executor>(ex: E, budget: &Budget, workers: usize) -> f64 {
    let mut helpers = Helpers::new();
    for _ in 0..2 * workers {
        helpers.spawn(ex, async {
            loop {
                yield_now().await;
                stall();
            }
        });
    }
    let median = budget.median_us(|| spawn_remote(ex, NUM_SPAWN));
    helpers.stop(ex);
    median
}

/// A chain of busy spawning tasks: each link stalls, then spawns the next, until `running`
/// clears. The chain counts as one live helper until its last link is dropped.
struct BusyChain {
    running: Arc<AtomicBool>,
    _live: Live,
}

fn busy_link<E: Executor>(ex: E, chain: BusyChain) {
    ex.spawn(async move {
        if chain.running.load(Ordering::Relaxed) {
            stall();
            busy_link(ex, chain);
        }
    })
    .detach();
}

/// Remote spawns while N chains of spawning tasks keep the workers busy.
fn spawn_many_remote_busy2<E: Executor>(ex: E, budget: &Budget, workers: usize) -> f64 {
    let helpers = Helpers::new();
    let running = Arc::new(AtomicBool::new(true));
    for _ in 0..workers {
        let chain = BusyChain {
            running: running.clone(),
            _live: helpers.live(),
        };
        busy_link(ex, chain);
    }
    let median = budget.median_us(|| spawn_remote(ex, NUM_SPAWN_BUSY2));
    running.store(false, Ordering::Relaxed);
    helpers.stop(ex);
    median
}

fn tokio_ping_pong<E: Executor>(ex: E, budget: &Budget) -> f64 {
    budget.median_us(|| {
        let (remaining, done_rx, done_tx) = countdown(NUM_PINGS);
        ex.block_on(async move {
            ex.spawn(async move {
                for _ in 0..NUM_PINGS {
                    let (remaining, done_tx) = (remaining.clone(), done_tx.clone());
                    ex.spawn(async move {
                        let (ping_tx, ping_rx) = async_channel::bounded(1);
                        let (pong_tx, pong_rx) = async_channel::bounded(1);
                        ex.spawn(async move {
                            ping_rx.recv().await.expect("pinged");
                            pong_tx.try_send(()).expect("pong fits");
                        })
                        .detach();
                        ping_tx.try_send(()).expect("ping fits");
                        pong_rx.recv().await.expect("ponged");
                        count_down(&remaining, &done_tx);
                    })
                    .detach();
                }
            })
            .detach();
            done_rx.recv().await.expect("the last ping signals");
        })
    })
}

fn yield_many<E: Executor>(ex: E, budget: &Budget) -> f64 {
    let (done_tx, done_rx) = async_channel::bounded(YIELD_TASKS);
    budget.median_us(|| {
        for _ in 0..YIELD_TASKS {
            let done_tx = done_tx.clone();
            ex.spawn(async move {
                for _ in 0..NUM_YIELD {
                    yield_now().await;
                }
                done_tx.try_send(()).expect("room for every task");
            })
            .detach();
        }
        let done_rx = done_rx.clone();
        ex.block_on(async move {
            for _ in 0..YIELD_TASKS {
                done_rx.recv().await.expect("every task signals");
            }
        })
    })
}

/// Spawns a task that spawns the next one, `left` times, then signals.
fn chain<E: Executor>(ex: E, done: async_channel::Sender<()>, left: usize) {
    if left == 0 {
        done.try_send(()).expect("the chain ends once");
    } else {
        ex.spawn(async move { chain(ex, done, left - 1) }).detach();
    }
}

fn chained_spawn<E: Executor>(ex: E, budget: &Budget) -> f64 {
    budget.median_us(|| {
        let (done_tx, done_rx) = async_channel::bounded(1);
        ex.block_on(async move {
            ex.spawn(async move { chain(ex, done_tx, CHAIN) }).detach();
            done_rx.recv().await.expect("the chain ends");
        })
    })
}
