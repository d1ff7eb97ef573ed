//! Scenarios: longer, application-shaped runs, each in a fresh process, measured from outside
//! the tasks (wall clock, process CPU time and sleeps from `getrusage`, thread count from
//! `/proc`). A *sleep* is a voluntary context switch of any thread of the process: a worker
//! parking, a thread blocking in `epoll_wait`, a timed sleep. Each one ends in a wake-up, by a
//! timer or by another thread, so sleeps per operation count the wake-ups a scheduler spends on
//! the work, the cost work-balancing sets out to cut.
//!
//! - `partial_load`: [`PAIRS`] pairs of tasks; A sends to B over a channel, B replies, then A
//!   sleeps 1 ms on an `async_io::Timer` (on every executor, tokio included, so all do the same
//!   work). Throughput (round trips/s), process CPU time and sleeps per round trip over a fixed
//!   window.
//!   The pool is partly loaded: most of the time every task sleeps on its timer.
//! - `blocking`: 2 × N tasks that each block their thread in `std::thread::sleep(500 ms)`, then
//!   one tiny task spawned right after; how long until the tiny task runs.
//! - `blocking_cpu`: the same with tasks that hold their thread in a CPU loop for 500 ms
//!   instead (a long computation in a poll): a thread that sleeps in the kernel and one that
//!   keeps a core busy look different to an executor that asks the kernel, as smolscale does.
//! - `timer_lateness`: smolscale 0.4's `examples/idlejitter.rs`: 1000 tasks looping on
//!   `yield_now` plus 1000 atomic adds, and a task measuring how late 1 ms `async_io::Timer`s
//!   fire; p50 and p99 lateness. The measuring loop runs twice over the same load: first as a
//!   task, so the timer's wake-up has to get through the loaded scheduler, then in the
//!   executor's `block_on` on the calling thread, as idlejitter has it (`main_p50`,
//!   `main_p99`), so the thread that waits has to get a core the busy workers hold.
//! - `idle`: a burst of 100k spawned tasks, then 5 s with nothing to do; the process CPU time
//!   over those 5 s, the threads left at the end, less the harness's own, and the sleeps over
//!   those 5 s, less the measuring thread's own one (workers parking right after the burst
//!   count too; a pool that wakes up periodically counts every tick).
//! - `tcp_echo`: an echo server and [`CLIENTS`] clients on 127.0.0.1, all tasks on the
//!   executor under test (tokio with its own `net` types, the others with `async_io::Async`),
//!   each client doing 64-byte request/response in a loop; requests/s, CPU time and sleeps per request over a
//!   window.
//! - `memory`: [`IDLE_TASKS`] idle tasks, each counting its first poll and then waiting forever
//!   on `future::pending` (the same small future on every executor), spawned from a plain thread
//!   in batches of [`IDLE_BATCH`], each batch polled before the next (so the run queues stay
//!   short and what they hold while spawning is not counted); the growth of the resident set
//!   size (`/proc/self/statm`) from before the spawns to when every task has been polled once,
//!   divided by the count: what one idle task costs (its future, the task's header, the
//!   scheduler's bookkeeping, allocator overhead), its handle excluded. The tasks are then
//!   cancelled.
//!
//! Tasks still running when the scenario is measured are simply left behind: the child process
//! exits right after printing its results.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future::yield_now;

use crate::executors::Task;
use crate::executors::{Executor, Kind};
use crate::sys::{resident_bytes, thread_count, usage, Usage};
use crate::workload::MetricSpec;

/// Task pairs in `partial_load` (unless `--pairs` says otherwise): tuned so that smolscale
/// makes 100-200k round trips/s on two cores (each pair makes at most ~1000/s because of its
/// 1 ms sleep).
const PAIRS: usize = 200;
/// The sleep between two round trips of a pair in `partial_load`, and the timer measured in
/// `timer_lateness` (smolscale 0.4's idlejitter uses 1 ms).
pub const TIMER: Duration = Duration::from_millis(1);
/// How long each blocking task blocks its thread.
const BLOCK_FOR: Duration = Duration::from_millis(500);
/// Busy tasks in `timer_lateness` (idlejitter's 1000).
pub const BUSY_TASKS: usize = 1_000;
/// Atomic adds per busy task per poll (idlejitter's 1000).
const BUSY_ADDS: usize = 1_000;
/// Tasks in the burst before the idle period (spawned all at once, then awaited).
const BURST_TASKS: usize = 100_000;
/// Client connections in `tcp_echo` (unless `--clients` says otherwise).
const CLIENTS: usize = 64;
/// Bytes per request and per response in `tcp_echo`.
const MESSAGE: usize = 64;
/// Idle tasks in `memory`: enough that the per-task cost dwarfs the noise of the resident set
/// size (a few hundred kB of page-granular allocator and stack growth).
const IDLE_TASKS: usize = 1_000_000;
/// Idle tasks spawned at once in `memory` before waiting for their first polls.
const IDLE_BATCH: usize = 10_000;
/// How long `memory` waits for every idle task's first poll (the child's watchdog is 30 s).
const FIRST_POLLS_WITHIN: Duration = Duration::from_secs(20);

/// How long the phases of the scenarios last.
struct Durations {
    /// Load runs this long before the measured window opens.
    warmup: Duration,
    /// The measured window of `partial_load` and `tcp_echo`.
    window: Duration,
    /// How long `timer_lateness` samples timers.
    sampling: Duration,
    /// The idle period of `idle`.
    idle: Duration,
    /// Tasks in the burst of `idle`.
    burst: usize,
    /// Idle tasks in `memory`.
    idle_tasks: usize,
}

const NORMAL: Durations = Durations {
    warmup: Duration::from_millis(500),
    window: Duration::from_secs(3),
    sampling: Duration::from_secs(2),
    idle: Duration::from_secs(5),
    burst: BURST_TASKS,
    idle_tasks: IDLE_TASKS,
};

/// `--quick`: just enough to see every scenario produce numbers.
const QUICK: Durations = Durations {
    warmup: Duration::from_millis(100),
    window: Duration::from_millis(300),
    sampling: Duration::from_millis(300),
    idle: Duration::from_millis(500),
    burst: 10_000,
    idle_tasks: 10_000,
};

/// How much load the two load-shaped scenarios put on the executor: `--pairs` and `--clients`,
/// for sweeping a claim across load levels (a pool that wins at one load may lose at another).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    /// Task pairs in `partial_load`.
    pub pairs: usize,
    /// Client connections in `tcp_echo`.
    pub clients: usize,
}

impl Default for Load {
    fn default() -> Self {
        Load {
            pairs: PAIRS,
            clients: CLIENTS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    PartialLoad,
    Blocking,
    BlockingCpu,
    TimerLateness,
    Idle,
    TcpEcho,
    Memory,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::PartialLoad,
        Scenario::Blocking,
        Scenario::BlockingCpu,
        Scenario::TimerLateness,
        Scenario::Idle,
        Scenario::TcpEcho,
        Scenario::Memory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::PartialLoad => "partial_load",
            Scenario::Blocking => "blocking",
            Scenario::BlockingCpu => "blocking_cpu",
            Scenario::TimerLateness => "timer_lateness",
            Scenario::Idle => "idle",
            Scenario::TcpEcho => "tcp_echo",
            Scenario::Memory => "memory",
        }
    }

    /// What the scenario reports, in the order [`Scenario::run`] returns it.
    pub fn metrics(self) -> &'static [MetricSpec] {
        match self {
            Scenario::PartialLoad => &[
                MetricSpec {
                    name: "partial_load.round_trips_per_s",
                    unit: "rt/s",
                },
                MetricSpec {
                    name: "partial_load.cpu_per_round_trip",
                    unit: "us",
                },
                MetricSpec {
                    name: "partial_load.sleeps_per_round_trip",
                    unit: "sleeps",
                },
            ],
            Scenario::Blocking => &[MetricSpec {
                name: "blocking.latency",
                unit: "ms",
            }],
            Scenario::BlockingCpu => &[MetricSpec {
                name: "blocking_cpu.latency",
                unit: "ms",
            }],
            Scenario::TimerLateness => &[
                MetricSpec {
                    name: "timer_lateness.p50",
                    unit: "ms",
                },
                MetricSpec {
                    name: "timer_lateness.p99",
                    unit: "ms",
                },
                MetricSpec {
                    name: "timer_lateness.main_p50",
                    unit: "ms",
                },
                MetricSpec {
                    name: "timer_lateness.main_p99",
                    unit: "ms",
                },
            ],
            Scenario::Idle => &[
                MetricSpec {
                    name: "idle.cpu",
                    unit: "ms",
                },
                MetricSpec {
                    name: "idle.threads",
                    unit: "threads",
                },
                MetricSpec {
                    name: "idle.wakeups",
                    unit: "sleeps",
                },
            ],
            Scenario::TcpEcho => &[
                MetricSpec {
                    name: "tcp_echo.requests_per_s",
                    unit: "req/s",
                },
                MetricSpec {
                    name: "tcp_echo.cpu_per_request",
                    unit: "us",
                },
                MetricSpec {
                    name: "tcp_echo.sleeps_per_request",
                    unit: "sleeps",
                },
            ],
            Scenario::Memory => &[MetricSpec {
                name: "memory.bytes_per_task",
                unit: "B",
            }],
        }
    }

    /// The size of the load this scenario runs under `load` (pairs or clients), if it has one.
    pub fn load(self, load: Load) -> Option<usize> {
        match self {
            Scenario::PartialLoad => Some(load.pairs),
            Scenario::TcpEcho => Some(load.clients),
            _ => None,
        }
    }

    /// Runs the scenario on `ex` (with `workers` worker threads; the process had
    /// `baseline_threads` threads before the executor started) and returns its metrics.
    pub fn run<E: Executor>(
        self,
        ex: E,
        quick: bool,
        load: Load,
        workers: usize,
        baseline_threads: usize,
    ) -> Vec<f64> {
        let durations = if quick { &QUICK } else { &NORMAL };
        match self {
            Scenario::PartialLoad => partial_load(ex, durations, load.pairs),
            Scenario::Blocking => blocking(ex, workers, || std::thread::sleep(BLOCK_FOR)),
            Scenario::BlockingCpu => blocking(ex, workers, || spin_for(BLOCK_FOR)),
            Scenario::TimerLateness => timer_lateness(ex, durations),
            Scenario::Idle => idle(ex, durations, baseline_threads),
            Scenario::TcpEcho => tcp_echo(ex, durations, load.clients),
            Scenario::Memory => memory(ex, durations),
        }
    }
}

/// Counts operations, and the CPU time and sleeps of the process, over a window while load runs.
struct Window {
    start: Instant,
    usage: Usage,
    operations: u64,
}

impl Window {
    fn open(counter: &AtomicU64) -> Self {
        Window {
            start: Instant::now(),
            usage: usage(),
            operations: counter.load(Ordering::Relaxed),
        }
    }

    /// Closes the window; returns operations per second, CPU µs per operation and sleeps per
    /// operation.
    fn close(self, counter: &AtomicU64) -> Vec<f64> {
        let operations = (counter.load(Ordering::Relaxed) - self.operations) as f64;
        let used = usage() - self.usage;
        let elapsed = self.start.elapsed().as_secs_f64();
        vec![
            operations / elapsed,
            used.cpu.as_secs_f64() * 1e6 / operations,
            used.sleeps as f64 / operations,
        ]
    }
}

/// Lets load run through the warm-up, then measures one window of it.
fn measure_window(counter: &AtomicU64, durations: &Durations) -> Vec<f64> {
    std::thread::sleep(durations.warmup);
    let window = Window::open(counter);
    std::thread::sleep(durations.window);
    window.close(counter)
}

fn partial_load<E: Executor>(ex: E, durations: &Durations, pairs: usize) -> Vec<f64> {
    let round_trips = Arc::new(AtomicU64::new(0));
    for _ in 0..pairs {
        let (request_tx, request_rx) = async_channel::bounded::<()>(1);
        let (reply_tx, reply_rx) = async_channel::bounded::<()>(1);
        ex.spawn(async move {
            while request_rx.recv().await.is_ok() {
                if reply_tx.send(()).await.is_err() {
                    break;
                }
            }
        })
        .detach();
        let round_trips = round_trips.clone();
        ex.spawn(async move {
            loop {
                request_tx.send(()).await.expect("B is alive");
                reply_rx.recv().await.expect("B replies");
                round_trips.fetch_add(1, Ordering::Relaxed);
                Timer::after(TIMER).await;
            }
        })
        .detach();
    }
    measure_window(&round_trips, durations)
}

/// 2 × `workers` tasks each running `block` in one poll, then a tiny task: how long until it
/// runs (ms).
fn blocking<E: Executor>(ex: E, workers: usize, block: fn()) -> Vec<f64> {
    for _ in 0..2 * workers {
        ex.spawn(async move { block() }).detach();
    }
    let spawned = Instant::now();
    let ran = ex.block_on(ex.spawn(async { Instant::now() }));
    vec![ran.duration_since(spawned).as_secs_f64() * 1e3]
}

/// Keeps the calling thread on a CPU for `duration`, as a long computation would.
fn spin_for(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

fn timer_lateness<E: Executor>(ex: E, durations: &Durations) -> Vec<f64> {
    let contended = Arc::new(AtomicU64::new(0));
    for _ in 0..BUSY_TASKS {
        ex.spawn(busy_forever(contended.clone())).detach();
    }
    let sampling = durations.sampling;
    let mut in_task = ex.block_on(ex.spawn(sample_timers(sampling)));
    let mut in_block_on = ex.block_on(sample_timers(sampling));
    vec![
        crate::stats::percentile(&mut in_task, 50.0),
        crate::stats::percentile(&mut in_task, 99.0),
        crate::stats::percentile(&mut in_block_on, 50.0),
        crate::stats::percentile(&mut in_block_on, 99.0),
    ]
}

/// One of `timer_lateness`'s busy tasks (idlejitter's): yields, then adds [`BUSY_ADDS`] times
/// to a counter every task shares, forever.
pub async fn busy_forever(contended: Arc<AtomicU64>) {
    loop {
        yield_now().await;
        for _ in 0..BUSY_ADDS {
            contended.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Awaits [`TIMER`] after [`TIMER`] for `sampling`; returns how late each fired, in ms.
async fn sample_timers(sampling: Duration) -> Vec<f64> {
    let mut lateness_ms = Vec::new();
    let start = Instant::now();
    while start.elapsed() < sampling {
        let armed = Instant::now();
        Timer::after(TIMER).await;
        lateness_ms.push(armed.elapsed().saturating_sub(TIMER).as_secs_f64() * 1e3);
    }
    lateness_ms
}

fn idle<E: Executor>(ex: E, durations: &Durations, baseline_threads: usize) -> Vec<f64> {
    let burst = durations.burst;
    ex.block_on(async move {
        let tasks: Vec<_> = (0..burst).map(|i| ex.spawn(async move { i })).collect();
        for task in tasks {
            task.await;
        }
    });
    let before = usage();
    std::thread::sleep(durations.idle);
    let idle = usage() - before;
    let threads = thread_count().saturating_sub(baseline_threads);
    // The measuring thread's own sleep is one of the sleeps counted; it is not the executor's.
    let wakeups = idle.sleeps.saturating_sub(1);
    vec![idle.cpu.as_secs_f64() * 1e3, threads as f64, wakeups as f64]
}

/// Idle tasks of `memory` polled at least once.
static FIRST_POLLS: AtomicUsize = AtomicUsize::new(0);

fn memory<E: Executor>(ex: E, durations: &Durations) -> Vec<f64> {
    let count = durations.idle_tasks;
    // Start the pool's threads (and touch their stacks) before the first measurement.
    ex.block_on(ex.spawn(async {}));
    // The handles are not the tasks' cost: reserve and touch their memory up front.
    let mut handles: Vec<Task<()>> = Vec::with_capacity(count);
    for slot in handles.spare_capacity_mut() {
        *slot = MaybeUninit::zeroed();
    }
    std::hint::black_box(&mut handles);
    let before = resident_bytes();
    let start = Instant::now();
    while handles.len() < count {
        let batch = IDLE_BATCH.min(count - handles.len());
        for _ in 0..batch {
            handles.push(ex.spawn(async {
                FIRST_POLLS.fetch_add(1, Ordering::Relaxed);
                futures_lite::future::pending::<()>().await
            }));
        }
        while FIRST_POLLS.load(Ordering::Relaxed) < handles.len() {
            assert!(
                start.elapsed() < FIRST_POLLS_WITHIN,
                "only {} of {} idle tasks polled {FIRST_POLLS_WITHIN:?} after the first spawn",
                FIRST_POLLS.load(Ordering::Relaxed),
                handles.len()
            );
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    let after = resident_bytes();
    drop(handles);
    vec![after.saturating_sub(before) as f64 / count as f64]
}

fn tcp_echo<E: Executor>(ex: E, durations: &Durations, clients: usize) -> Vec<f64> {
    let requests = Arc::new(AtomicU64::new(0));
    if E::KIND == Kind::Tokio {
        tokio_echo::start(ex, &requests, clients);
    } else {
        async_io_echo::start(ex, &requests, clients);
    }
    measure_window(&requests, durations)
}

/// `tcp_echo` with tokio's own sockets, for the tokio runtime.
mod tokio_echo {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    pub(super) fn start<E: Executor>(ex: E, requests: &Arc<AtomicU64>, clients: usize) {
        // Tokio sockets must be made inside the runtime, so bind from a task.
        let listener = ex.block_on(ex.spawn(async {
            TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binding 127.0.0.1")
        }));
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        ex.spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.expect("accepting");
                stream.set_nodelay(true).expect("setting TCP_NODELAY");
                ex.spawn(async move {
                    let mut buf = [0u8; MESSAGE];
                    while stream.read_exact(&mut buf).await.is_ok() {
                        if stream.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                })
                .detach();
            }
        })
        .detach();
        for _ in 0..clients {
            let requests = requests.clone();
            ex.spawn(async move {
                let mut stream = TcpStream::connect(addr).await.expect("connecting");
                stream.set_nodelay(true).expect("setting TCP_NODELAY");
                let mut buf = [7u8; MESSAGE];
                loop {
                    stream.write_all(&buf).await.expect("sending a request");
                    stream.read_exact(&mut buf).await.expect("reading the echo");
                    requests.fetch_add(1, Ordering::Relaxed);
                }
            })
            .detach();
        }
    }
}

/// `tcp_echo` with async-io's `Async` sockets, for every executor but tokio.
mod async_io_echo {
    use super::*;
    use async_io::Async;
    use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
    use std::net::{TcpListener, TcpStream};

    pub(super) fn start<E: Executor>(ex: E, requests: &Arc<AtomicU64>, clients: usize) {
        let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).expect("binding 127.0.0.1");
        let addr = listener
            .get_ref()
            .local_addr()
            .expect("a bound listener has an address");
        ex.spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.expect("accepting");
                stream
                    .get_ref()
                    .set_nodelay(true)
                    .expect("setting TCP_NODELAY");
                ex.spawn(async move {
                    let mut buf = [0u8; MESSAGE];
                    while stream.read_exact(&mut buf).await.is_ok() {
                        if stream.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                })
                .detach();
            }
        })
        .detach();
        for _ in 0..clients {
            let requests = requests.clone();
            ex.spawn(async move {
                let mut stream = Async::<TcpStream>::connect(addr).await.expect("connecting");
                stream
                    .get_ref()
                    .set_nodelay(true)
                    .expect("setting TCP_NODELAY");
                let mut buf = [7u8; MESSAGE];
                loop {
                    stream.write_all(&buf).await.expect("sending a request");
                    stream.read_exact(&mut buf).await.expect("reading the echo");
                    requests.fetch_add(1, Ordering::Relaxed);
                }
            })
            .detach();
        }
    }
}
