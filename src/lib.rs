//! A global, auto-scaling async executor for [`async-task`] that schedules by *work-balancing*.
//!
//! ```
//! smolscale::block_on(async {
//!     let task = smolscale::spawn(async { 1 + 1 });
//!     assert_eq!(task.await, 2);
//! });
//! ```
//!
//! # What it is
//! A drop-in replacement for `smol::spawn`, `async_global_executor::spawn` and smolscale 0.4: a
//! pool of worker threads started lazily by the first [`spawn`], sized to the machine, that
//! grows when tasks block and shrinks again when they stop.
//!
//! # Why work-balancing
//! Message-passing programs are made of many tiny tasks that wake each other. A work-stealing
//! scheduler reacts to every wake-up on a busy worker by waking an idle one to come and steal,
//! which at partial load means a storm of wake-ups, failed steals and cache misses. Here a task
//! woken on a worker stays on that worker's local queue, and workers don't scan each other's
//! queues (a worker that runs dry makes one targeted steal). A separate balancer thread samples
//! the workers every millisecond or so and moves work from overloaded or stuck workers to a
//! shared queue, waking idle workers for it (Erlang's BEAM balances its run queues the same
//! way).
//!
//! # Tasks may block
//! A task stuck in one poll (a blocking syscall, a long loop, a nested [`block_on`]) for more
//! than a few milliseconds while other work waits gets its worker's queue moved elsewhere and,
//! if needed, a replacement thread, so the rest of the program keeps running without
//! `spawn_blocking`. Surplus threads retire after being idle for a while; an idle pool makes no
//! periodic wake-ups at all.
//!
//! # Configuration
//! From `SMOLSCALE_*` environment variables or a [`Builder`] installed before the first
//! `spawn`; see [`Builder`] and the README's table.
//!
//! [`async-task`]: https://docs.rs/async-task

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::undocumented_unsafe_blocks
)]
// The crate's only `unsafe` is `os.rs`'s two system calls (tuning log 50), allowed there alone.
#![deny(unsafe_code)]

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

mod balancer;
mod caller;
mod config;
pub mod immortal;
mod os;
mod park;
mod pool;
mod queue;
pub mod reaper;
mod spin;
mod stats;
mod sync;
mod worker;

#[cfg(all(test, smolscale_loom))]
mod loom_models;

pub use async_task::{FallibleTask, Task};
pub use config::{
    Builder, ConfigError, DEFAULT_RETIRE_AFTER, DEFAULT_SPARE_THREADS, DEFAULT_STUCK_THRESHOLD,
    THREADS_LIMIT,
};
pub use stats::Stats;

use stats::Counters;

/// Spawns a task onto the global pool, starting the pool if this is the first task.
///
/// The task starts running right away, on some worker thread. Await the returned [`Task`] for
/// its output; drop it to cancel the task, or [`detach`](Task::detach) it to let it run on its
/// own. If the task panics, the panic is re-raised where the `Task` is awaited; a detached
/// task's panic is reported through [`log::error!`]. Either way no worker is lost.
///
/// # Panics
/// On the first call, if a `SMOLSCALE_*` environment variable is malformed (the message names
/// it). Use [`Builder::from_env`] to handle that as an error instead.
///
/// ```
/// let tasks: Vec<_> = (0..10u64).map(|i| smolscale::spawn(async move { i * i })).collect();
/// let sum: u64 = smolscale::block_on(async {
///     let mut sum = 0;
///     for task in tasks {
///         sum += task.await;
///     }
///     sum
/// });
/// assert_eq!(sum, 285);
/// ```
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let future = Supervised {
        future,
        _alive: Alive,
    };
    let (runnable, task) = async_task::Builder::new()
        .propagate_panic(true)
        .spawn(|()| future, async_task::WithInfo(worker::schedule));
    worker::schedule_spawned(runnable);
    task
}

pin_project_lite::pin_project! {
    /// A spawned future as the pool runs it: counted alive until it is dropped, and a panic
    /// from its poll logged before async-task stores it for the `Task` (where it is re-raised;
    /// for a detached task the log is the only report). A plain struct, not an `async` block
    /// around `catch_unwind().await`: those two layers cost 31 of the 376 instructions of a
    /// `yield_now` poll (BENCHMARKS.md, tuning log 18).
    struct Supervised<F> {
        #[pin]
        future: F,
        _alive: Alive,
    }
}

impl<F: Future> Future for Supervised<F> {
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let future = self.project().future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => report_and_resume(panic),
        }
    }
}

/// Logs a task's panic and re-raises it (async-task's `propagate_panic` catches it again and
/// hands it to the task's `Task`).
#[cold]
#[inline(never)]
fn report_and_resume(panic: Box<dyn std::any::Any + Send>) -> ! {
    log::error!(
        "smolscale: a task panicked: {}; the panic is re-raised where its Task is awaited (if it \
         was detached, this is the only report)",
        panic_message(&*panic)
    );
    resume_unwind(panic)
}

/// Counts a task as alive from its spawn (counted where it is first scheduled,
/// `worker::schedule_spawned`) until its future is dropped (completed, cancelled or panicked),
/// for [`Stats::alive`].
struct Alive;

impl Drop for Alive {
    fn drop(&mut self) {
        worker::with_counters(|own| match own {
            Some(own) => Counters::bump_own(&own.finished),
            None => {
                if let Some(pool) = pool::try_pool() {
                    Counters::bump_shared(&pool.counters.finished)
                }
            }
        });
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(message) = panic.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message
    } else {
        "(a non-string panic payload)"
    }
}

/// Runs a future to completion on the current thread, driving async-io's reactor while it
/// waits (so timers and sockets work), and returns its output.
///
/// The future needn't be `Send`. Call it from `main`, from any plain thread, or from inside a
/// task: a worker blocked in a nested `block_on` first hands its queued tasks to the other
/// workers, and if the call lasts, the balancer replaces it, so the pool keeps running (even
/// with a single thread, see [`permanently_single_threaded`]).
///
/// Each time the future is pending, the thread first spins for up to 100 µs watching for its
/// wake-up before it sleeps (a spin that sees nothing makes the next ones rarer), so a thread
/// that trades messages with tasks doesn't pay a sleep and a wake-up per message.
///
/// ```
/// let answer = smolscale::block_on(async {
///     // Nested inside a task, and waiting for another task: no deadlock.
///     smolscale::spawn(async {
///         smolscale::block_on(smolscale::spawn(async { 21 })) * 2
///     })
///     .await
/// });
/// assert_eq!(answer, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let _suspended = worker::suspend_current();
    caller::block_on(future)
}

/// Worker threads alive now (stuck ones and surplus ones waiting to retire included; the
/// balancer thread not). 0 before the pool has started.
///
/// ```
/// smolscale::block_on(smolscale::spawn(async {}));
/// assert!(smolscale::running_threads() >= 1);
/// ```
pub fn running_threads() -> usize {
    pool::try_pool().map_or(0, |pool| pool.threads())
}

/// Irrevocably sets the target parallelism to 1, as in smolscale 0.4.
///
/// One worker runs tasks at a time from then on. A worker that gets stuck (for instance in a
/// nested [`block_on`] that waits for another task) is still replaced, so that program
/// completes where smolscale 0.4 deadlocked. If the pool is already running with more
/// threads, the surplus retires after the retirement period.
///
/// ```
/// smolscale::permanently_single_threaded();
/// assert_eq!(smolscale::block_on(smolscale::spawn(async { 5 })), 5);
/// assert_eq!(smolscale::stats().target, 1);
/// ```
pub fn permanently_single_threaded() {
    pool::set_single_threaded();
}

/// A snapshot of the pool's state and counters (all zero before the pool starts).
///
/// ```
/// smolscale::block_on(smolscale::spawn(async {}));
/// let stats = smolscale::stats();
/// assert!(stats.threads >= 1 && stats.polls >= 1);
/// ```
pub fn stats() -> Stats {
    match pool::try_pool() {
        Some(pool) => pool.stats(),
        None => Stats::default(),
    }
}
