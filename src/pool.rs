//! The global pool: its queues and sleepers, the worker registry, and the life of a thread.
//!
//! # When a thread starts
//! - **On demand** (`notify`): work was pushed to a global lane, no worker is parked or
//!   searching, and fewer threads exist than the target parallelism. The producer starts one,
//!   and hands it the searching token. This is the only way the pool grows from cold, so it
//!   never starts more threads than queued work asks for.
//! - **As a replacement** (`balancer.rs`): stuck workers leave fewer than the target able to
//!   run, while work waits. Rate-limited by the balancer's token bucket, capped by
//!   `max_threads`.
//!
//! # When a thread ends
//! Only by retirement, which the balancer decides (one surplus worker per tick, the one parked
//! longest, once it has been parked for the retirement period); see `worker.rs` for how it
//! leaves nothing behind. Threads within the target never retire: parked, they cost nothing.
//!
//! The pool itself lives in a `static` and is created by the first `spawn` (or an explicit
//! `Builder::install`); it is never torn down.

use std::fmt;
use std::sync::OnceLock;
use std::time::Instant;

use async_task::Runnable;

use crate::balancer::BalancerSignal;
use crate::config::{Builder, Config, ConfigError};
use crate::park::{Notified, Sleepers};
use crate::queue::{Injector, LocalQueue, SpillLane};
use crate::stats::{Counters, Stats};
use crate::sync::{lock, Arc, AtomicU64, AtomicUsize, Mutex, Ordering};
use crate::worker::{self, CachePadded, WorkerShared};

static POOL: OnceLock<Pool> = OnceLock::new();

/// Set by `permanently_single_threaded` (before or after the pool starts). Relaxed: the pool
/// reads it on every decision about thread counts, and a late observation only delays a
/// retirement by a tick.
static SINGLE_THREADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The pool, started on first use from the environment's configuration.
///
/// # Panics
/// If a `SMOLSCALE_*` variable is malformed; the message names it. (Call
/// [`Builder::from_env`] early to handle that as an error instead.)
pub(crate) fn pool() -> &'static Pool {
    POOL.get_or_init(|| match Builder::from_env().and_then(Builder::validate) {
        Ok(config) => Pool::new(config),
        Err(err) => panic!("{err}"),
    })
}

/// The pool if it has started, without starting it.
pub(crate) fn try_pool() -> Option<&'static Pool> {
    POOL.get()
}

/// Makes `config` the pool's configuration, unless the pool exists already.
pub(crate) fn install(config: Config) -> Result<(), ConfigError> {
    let mut installed = false;
    POOL.get_or_init(|| {
        installed = true;
        Pool::new(config)
    });
    if installed {
        Ok(())
    } else {
        Err(ConfigError::AlreadyStarted)
    }
}

pub(crate) fn set_single_threaded() {
    SINGLE_THREADED.store(true, Ordering::Relaxed);
}

/// Why a worker thread was started (for the log).
#[derive(Debug, Clone, Copy)]
pub(crate) enum StartReason {
    /// Work was queued and the pool had fewer threads than its target.
    Demand,
    /// This many workers were stuck while work waited.
    Replace { stuck: usize },
}

impl fmt::Display for StartReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartReason::Demand => f.write_str("work queued below the target parallelism"),
            StartReason::Replace { stuck } => {
                write!(f, "replacing {stuck} stuck worker(s) while work waits")
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Pool {
    pub(crate) config: Config,
    /// Tasks woken or spawned outside the pool's workers (`queue.rs`).
    pub(crate) injector: Injector,
    /// Tasks the pool redistributes: overflow, balancer moves, hand-overs (`queue.rs`). On
    /// lines of its own, as the injector's indices are: every lane operation writes its lock,
    /// and unpadded it shared lines with `workers` and `balancer`, which other threads read
    /// (tuning log 58: no row measured the difference beyond its noise).
    pub(crate) spill: CachePadded<SpillLane>,
    /// Parked workers and the searching count: the wake-up protocol (`park.rs`). On lines of
    /// its own: every producer outside the pool reads it and workers write it as they park and
    /// search; unpadded, it shared a line with `workers` and `counters`.
    pub(crate) sleepers: CachePadded<Sleepers<WorkerShared>>,
    /// The balancer's wake-up line.
    pub(crate) balancer: BalancerSignal,
    /// Every live worker. Locked when a thread starts or exits, when the balancer or `stats()`
    /// takes a sample, and once by a worker that runs dry, for its one steal attempt (it reads
    /// the published queue lengths); never while a task is queued or run.
    workers: Mutex<Vec<Arc<WorkerShared>>>,
    /// Worker threads alive, counting ones reserved and being started. SeqCst: the balancer
    /// compares it with the parked count before it sleeps (see `balancer.rs`).
    threads: AtomicUsize,
    /// Next worker id. Relaxed: only uniqueness matters.
    next_id: AtomicUsize,
    /// Whether the balancer thread has been started. Set once, by the first thread start.
    balancer_started: std::sync::Once,
    /// Zero point for `parked_at` timestamps.
    epoch: Instant,
    /// Tasks spawned and finished off the pool's threads, plus those of exited workers. On
    /// lines of its own: a thread spawning from outside the pool bumps it on every spawn, and
    /// sharing a line with fields the workers read on every grab (`threads`) cost a cache miss
    /// per spawn (BENCHMARKS.md, tuning log 20).
    pub(crate) counters: CachePadded<Counters>,
    /// Polls run by workers that have exited. Relaxed.
    polls_of_exited: AtomicU64,
    /// Threads started / retired. Relaxed statistics.
    pub(crate) threads_started: AtomicU64,
    pub(crate) threads_retired: AtomicU64,
    /// Written by the balancer each tick; read by `stats()`. Relaxed statistics.
    pub(crate) stuck: AtomicUsize,
    pub(crate) moved: AtomicU64,
    pub(crate) balancer_ticks: AtomicU64,
}

impl Pool {
    pub(crate) fn new(config: Config) -> Self {
        log::debug!("smolscale pool created: {config:?}");
        Self {
            config,
            injector: Injector::default(),
            spill: CachePadded::default(),
            sleepers: CachePadded::default(),
            balancer: BalancerSignal::default(),
            workers: Mutex::new(Vec::new()),
            threads: AtomicUsize::new(0),
            next_id: AtomicUsize::new(0),
            balancer_started: std::sync::Once::new(),
            epoch: Instant::now(),
            counters: CachePadded::default(),
            polls_of_exited: AtomicU64::new(0),
            threads_started: AtomicU64::new(0),
            threads_retired: AtomicU64::new(0),
            stuck: AtomicUsize::new(0),
            moved: AtomicU64::new(0),
            balancer_ticks: AtomicU64::new(0),
        }
    }

    /// Target parallelism now (`permanently_single_threaded` may lower it at any time).
    pub(crate) fn target(&self) -> usize {
        if SINGLE_THREADED.load(Ordering::Relaxed) {
            1
        } else {
            self.config.threads
        }
    }

    /// Worker threads alive (or being started).
    pub(crate) fn threads(&self) -> usize {
        self.threads.load(Ordering::SeqCst)
    }

    /// Nanoseconds from the pool's creation to `at`; never 0, so 0 can mean "not parked".
    pub(crate) fn nanos_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64 + 1
    }

    pub(crate) fn instant_of(&self, nanos: u64) -> Instant {
        self.epoch + std::time::Duration::from_nanos(nanos.saturating_sub(1))
    }

    /// Whether either global lane holds work.
    pub(crate) fn has_global_work(&self) -> bool {
        !self.injector.is_empty() || !self.spill.is_empty()
    }

    /// Queues a task scheduled from outside the pool's workers.
    pub(crate) fn push_global(&'static self, runnable: Runnable) {
        self.injector.push(runnable);
        self.notify();
    }

    /// Wakes a worker for work just pushed into a global lane, or starts one if the pool is
    /// below its target (see the module docs).
    pub(crate) fn notify(&'static self) {
        if self.sleepers.notify_one() == Notified::NoneParked
            && self.threads() < self.target()
            && self.sleepers.claim_search()
            && !self.start_worker(true, StartReason::Demand)
        {
            self.sleepers.end_search();
        }
    }

    /// Starts a worker thread if the cap allows (the target for `Demand`, `max_threads` for a
    /// replacement). `searching`: the caller hands the new worker its searching token.
    pub(crate) fn start_worker(&'static self, searching: bool, reason: StartReason) -> bool {
        let limit = match reason {
            StartReason::Demand => self.target(),
            StartReason::Replace { .. } => self.config.max_threads,
        };
        let reserved = self
            .threads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            });
        let Ok(before) = reserved else {
            return false;
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let queue = LocalQueue::new();
        let shared = Arc::new(WorkerShared::new(id, queue.stealer()));
        lock(&self.workers).push(shared.clone());
        self.start_balancer();
        let spawned = std::thread::Builder::new()
            .name(format!("smolscale-w{id}"))
            .spawn(move || worker::run(self, shared, queue, searching));
        match spawned {
            Ok(_) => {
                self.threads_started.fetch_add(1, Ordering::Relaxed);
                log::debug!(
                    "smolscale: started worker {id} ({reason}); {} threads",
                    before + 1
                );
                true
            }
            Err(err) => {
                lock(&self.workers).retain(|w| w.id != id);
                self.threads.fetch_sub(1, Ordering::SeqCst);
                log::error!("smolscale: could not start a worker thread ({reason}): {err}");
                false
            }
        }
    }

    /// Deregisters a worker whose thread is ending (its local queue is already empty).
    pub(crate) fn worker_exited(&self, shared: &Arc<WorkerShared>, unwinding: bool) {
        lock(&self.workers).retain(|w| !Arc::ptr_eq(w, shared));
        self.counters.absorb(&shared.signals.counters);
        self.polls_of_exited.fetch_add(
            shared.signals.poll_seq.load(Ordering::Relaxed) / 2,
            Ordering::Relaxed,
        );
        let left = self.threads.fetch_sub(1, Ordering::SeqCst) - 1;
        if unwinding {
            log::error!("smolscale: worker {} died; {left} threads left", shared.id);
        } else {
            self.threads_retired.fetch_add(1, Ordering::Relaxed);
            log::debug!(
                "smolscale: retired worker {} (surplus, idle for {:?}); {left} threads left",
                shared.id,
                self.config.retire_after
            );
        }
        // The balancer may be asleep counting on this thread being parked.
        self.balancer.poke();
    }

    /// Registers a worker with no thread behind it, for unit tests that drive the balancer's
    /// ticks by hand and play the worker's part through its signals.
    #[cfg(all(test, not(smolscale_loom)))]
    pub(crate) fn add_threadless_worker(&self) -> Arc<WorkerShared> {
        self.threads.fetch_add(1, Ordering::SeqCst);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(WorkerShared::new(id, LocalQueue::new().stealer()));
        lock(&self.workers).push(shared.clone());
        shared
    }

    /// Runs `f` on the current list of workers.
    pub(crate) fn with_workers<R>(&self, f: impl FnOnce(&[Arc<WorkerShared>]) -> R) -> R {
        f(&lock(&self.workers))
    }

    fn start_balancer(&'static self) {
        if !self.config.balancer {
            return;
        }
        self.balancer_started.call_once(|| {
            let spawned = std::thread::Builder::new()
                .name("smolscale-bal".into())
                .spawn(move || crate::balancer::run(self));
            if let Err(err) = spawned {
                log::error!(
                    "smolscale: could not start the balancer thread ({err}); tasks still run, \
                     but stuck workers won't be replaced"
                );
            }
        });
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut stats = Stats {
            threads: self.threads(),
            target: self.target(),
            parked: self.sleepers.parked(),
            searching: self.sleepers.searching(),
            stuck: self.stuck.load(Ordering::Relaxed),
            queued_global: self.injector.len() + self.spill.len(),
            polls: self.polls_of_exited.load(Ordering::Relaxed),
            moved: self.moved.load(Ordering::Relaxed),
            threads_started: self.threads_started.load(Ordering::Relaxed),
            threads_retired: self.threads_retired.load(Ordering::Relaxed),
            balancer_ticks: self.balancer_ticks.load(Ordering::Relaxed),
            ..Stats::default()
        };
        let mut spawned = self.counters.spawned.load(Ordering::Relaxed);
        let mut finished = self.counters.finished.load(Ordering::Relaxed);
        self.with_workers(|workers| {
            for worker in workers {
                let signals = &worker.signals;
                stats.queued_local += signals.local_len.load(Ordering::Relaxed);
                stats.polls += signals.poll_seq.load(Ordering::Relaxed) / 2;
                spawned += signals.counters.spawned.load(Ordering::Relaxed);
                finished += signals.counters.finished.load(Ordering::Relaxed);
            }
        });
        stats.spawned = spawned;
        stats.alive = spawned.saturating_sub(finished);
        stats
    }
}
