//! The public metrics snapshot, [`Stats`], and the counters behind it.
//!
//! Nothing here is on a lock or a contended cache line: each worker counts into its own
//! [`Counters`] (single writer, relaxed), threads off the pool count into the pool's shared
//! ones, and a worker that exits folds its counts into the pool's before it leaves. A snapshot
//! adds them up; numbers that change while it is taken may be off by the changes in flight.

use std::fmt;

use crate::sync::{AtomicU64, Ordering};

/// Task counts kept by one thread (or, for the pool's shared set, by any thread).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Tasks spawned. Relaxed: a statistic, ordered against nothing.
    pub(crate) spawned: AtomicU64,
    /// Tasks whose future was dropped: completed, cancelled or panicked. Relaxed.
    pub(crate) finished: AtomicU64,
}

impl Counters {
    /// Adds one to a counter that only the calling thread writes: a plain load and store, no
    /// locked instruction on the spawn path.
    pub(crate) fn bump_own(counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Adds one to a counter any thread may write.
    pub(crate) fn bump_shared(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `other` into `self` (when a worker exits).
    pub(crate) fn absorb(&self, other: &Counters) {
        for (into, from) in [
            (&self.spawned, &other.spawned),
            (&self.finished, &other.finished),
        ] {
            into.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// A snapshot of the global pool, from [`stats()`](crate::stats).
///
/// Cheap to take (a few dozen atomic loads and one short lock), and approximate while the pool is
/// busy: each figure is read at a slightly different moment.
///
/// ```
/// smolscale::block_on(smolscale::spawn(async {}));
/// let stats = smolscale::stats();
/// assert!(stats.spawned >= 1);
/// assert!(stats.threads >= 1);
/// println!("{stats}");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Worker threads alive.
    pub threads: usize,
    /// Target parallelism: workers that should be able to run tasks at once.
    pub target: usize,
    /// Workers parked with nothing to do.
    pub parked: usize,
    /// Workers awake and looking for work.
    pub searching: usize,
    /// Workers the balancer last saw stuck in one poll for longer than the stuck threshold.
    pub stuck: usize,
    /// Tasks waiting in the global lanes (the injector and the spill lane).
    pub queued_global: usize,
    /// Tasks waiting in workers' local queues (as the workers last published it).
    pub queued_local: usize,
    /// Tasks spawned since the pool started.
    pub spawned: u64,
    /// Tasks spawned and not yet finished (completed, cancelled or panicked).
    pub alive: u64,
    /// Task polls run by workers.
    pub polls: u64,
    /// Tasks the balancer moved out of local queues (stuck or overloaded workers).
    pub moved: u64,
    /// Worker threads started since the pool started.
    pub threads_started: u64,
    /// Worker threads that exited (retired surplus threads).
    pub threads_retired: u64,
    /// Balancer wake-ups (ticks) since the pool started.
    pub balancer_ticks: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "threads {} (target {}, parked {}, stuck {}) queued {} global + {} local, \
             tasks {} alive of {} spawned, polls {}, moved {}, threads started {} retired {}, \
             balancer ticks {}",
            self.threads,
            self.target,
            self.parked,
            self.stuck,
            self.queued_global,
            self.queued_local,
            self.alive,
            self.spawned,
            self.polls,
            self.moved,
            self.threads_started,
            self.threads_retired,
            self.balancer_ticks,
        )
    }
}
