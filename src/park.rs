//! Parking and waking workers without ever losing a wake-up (design.md §3.1).
//!
//! This module owns two things: the per-thread [`Parker`] a worker (or the balancer) sleeps on,
//! and the [`Sleepers`] registry, which knows which workers are parked and how many are awake
//! and looking for work ("searching", Go's `nmspinning`).
//!
//! # The handshake
//!
//! *Producer* (anything that pushes a task into a global lane, `queue.rs`):
//! 1. push the task;
//! 2. `fence(SeqCst)`, then read `num_searching`: if a worker is searching, stop here, because
//!    that worker has not yet looked at the lanes for the last time;
//! 3. otherwise claim the single "waker" token (`num_searching` 0 → 1) and hand it to one parked
//!    worker, which wakes up searching. If no worker is parked the token is returned (or given
//!    to a newly started thread, see `pool.rs`).
//!
//! *Worker* that found nothing to run:
//! 1. stop searching (`num_searching -= 1`) if it was;
//! 2. announce itself idle (push onto the list under the lock, `num_idle += 1`), `fence(SeqCst)`;
//! 3. re-check its local queue and the global lanes. If work appeared, it takes itself off the list
//!    and searches again. If it is no longer on the list, a producer has claimed it and its
//!    unpark is on the way;
//! 4. otherwise it sleeps on its parker until somebody unparks it (or, driving async-io's
//!    reactor, until it queues a task for itself: see [`Sleepers::end_park`]).
//!
//! Why nothing is lost: the producer's step 2 and the worker's step 3 are both reads that follow
//! a `SeqCst` fence, after a write the other side reads (Dekker's pattern). Either the producer
//! sees the worker still searching (so the worker's re-check, which comes later, sees the task)
//! or it sees `num_searching == 0` and looks for a sleeper under the lock; a worker that was not
//! on the list yet announces itself after that lock was released, so its re-check sees the task.
//! And a searcher that finds work while it was the last one searching, with more queued, wakes
//! another (`end_search` plus the caller's check), so a burst of work spreads without every
//! producer paying for a wake-up.
//!
//! Liveness never depends on the balancer: nothing here has a timeout.

use std::time::Instant;

use crate::sync::{fence, lock, Arc, AtomicUsize, Mutex, Ordering};

/// A binary semaphore one thread sleeps on and any thread may signal.
///
/// `unpark` before `park` is remembered (the next `park` returns at once); several `unpark`s
/// before one `park` count once.
///
/// Built on the thread's own park token (`std::thread::park`): an `unpark` is one atomic swap,
/// plus a futex wake only if the thread is really asleep. (An `event_listener::Event` here cost
/// a contended mutex on every wake-up: the waker notifying and the woken worker dropping its
/// listener met on the event's internal lock; see BENCHMARKS.md.) The `notified` flag is the
/// truth and the token only the sleep, so a stray `unpark` of the thread by other code (or a
/// user's `thread::park` swallowing ours) costs a loop iteration, never a lost wake-up.
#[cfg(not(smolscale_loom))]
#[derive(Debug, Default)]
pub(crate) struct Parker {
    /// Set by `unpark`, consumed by `park`. Release on set, Acquire on consume: whatever the
    /// unparking thread wrote before `unpark` is visible to the parked thread once it wakes.
    notified: crate::sync::AtomicBool,
    /// The thread that parks here, known once it first calls [`Parker::register`]. An `unpark`
    /// before that only sets `notified`, which the thread reads before it ever sleeps.
    thread: std::sync::OnceLock<std::thread::Thread>,
    /// The waker of an async [`Parker::wait`] in progress (a worker parked inside async-io's
    /// `block_on`, driving the reactor). Taken by `unpark`; the lock is held only to swap it.
    waker: crate::sync::Mutex<Option<std::task::Waker>>,
}

#[cfg(not(smolscale_loom))]
impl Parker {
    /// Makes the calling thread the one that parks here. Call it on that thread before its
    /// first `park_until`.
    pub(crate) fn register(&self) {
        let _ = self.thread.set(std::thread::current());
    }

    /// Wakes the thread parked here, or makes its next `park` return immediately.
    pub(crate) fn unpark(&self) {
        self.notified.store(true, Ordering::Release);
        // An async waiter registers its waker before its last look at `notified`, under the
        // lock we take here: either we find the waker, or it finds the flag.
        let waker = crate::sync::lock(&self.waker).take();
        match waker {
            Some(waker) => waker.wake(),
            None => {
                if let Some(thread) = self.thread.get() {
                    // `Thread::unpark` releases, `park` acquires: the flag is visible to it.
                    thread.unpark();
                }
            }
        }
    }

    /// Waits until unparked, as a future (for a worker parked inside async-io's `block_on`).
    pub(crate) fn wait(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.notified.swap(false, Ordering::Acquire) {
                return std::task::Poll::Ready(());
            }
            *crate::sync::lock(&self.waker) = Some(cx.waker().clone());
            if self.notified.swap(false, Ordering::Acquire) {
                crate::sync::lock(&self.waker).take();
                return std::task::Poll::Ready(());
            }
            std::task::Poll::Pending
        })
    }

    /// Sleeps until unparked, or until `deadline` passes. Returns whether it was unparked (and
    /// consumes the notification).
    pub(crate) fn park_until(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.notified.swap(false, Ordering::Acquire) {
                return true;
            }
            match deadline {
                None => std::thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return self.notified.swap(false, Ordering::Acquire);
                    }
                    std::thread::park_timeout(deadline - now);
                }
            }
        }
    }
}

/// loom's stand-in: a flag under a mutex and a condition variable. loom has no clock, so a
/// deadline is modelled as "give up at once if not notified" (the worst case for callers).
#[cfg(smolscale_loom)]
#[derive(Debug, Default)]
pub(crate) struct Parker {
    notified: loom::sync::Mutex<bool>,
    condvar: loom::sync::Condvar,
}

#[cfg(smolscale_loom)]
impl Parker {
    pub(crate) fn register(&self) {}

    /// Never awaited in the models (they park through `park_until`).
    pub(crate) async fn wait(&self) {
        self.park_until(None);
    }

    pub(crate) fn unpark(&self) {
        *self.notified.lock().unwrap() = true;
        self.condvar.notify_one();
    }

    pub(crate) fn park_until(&self, deadline: Option<Instant>) -> bool {
        let mut notified = self.notified.lock().unwrap();
        if deadline.is_some() {
            return std::mem::take(&mut *notified);
        }
        while !*notified {
            notified = self.condvar.wait(notified).unwrap();
        }
        *notified = false;
        true
    }
}

/// What a call to [`Sleepers::notify_one`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notified {
    /// A worker is already searching; it will find the work.
    Searching,
    /// A parked worker was woken (and counted as searching).
    Woke,
    /// No worker was parked: every worker is awake and will reach the lanes on its own.
    NoneParked,
}

/// How [`Sleepers::park`] ended. Either way the worker is searching afterwards, unless the
/// balancer took it off the list to retire it (it checks its own flag for that).
#[cfg(smolscale_loom)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parked {
    /// Work appeared during the re-check; the worker never slept.
    Rechecked,
    /// The worker slept and was unparked.
    Woken,
}

/// Something that can sleep on the sleeper list.
pub(crate) trait Sleeper {
    fn parker(&self) -> &Parker;
}

/// The registry of parked workers and the searching count (see the module docs).
#[derive(Debug)]
pub(crate) struct Sleepers<W> {
    /// Parked workers, most recently parked last. Wake-ups pop the newest (its caches are the
    /// warmest); retirement takes the oldest.
    idle: Mutex<Vec<Arc<W>>>,
    /// `idle.len()`, written under the lock and read without it by producers and the balancer.
    /// SeqCst: the worker's write pairs with a producer's read after its fence.
    num_idle: AtomicUsize,
    /// Workers awake and looking for work, plus a producer holding the waker token. SeqCst on
    /// every access: it is the producer's half of the handshake.
    num_searching: AtomicUsize,
}

impl<W: Sleeper> Default for Sleepers<W> {
    fn default() -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            num_idle: AtomicUsize::new(0),
            num_searching: AtomicUsize::new(0),
        }
    }
}

impl<W: Sleeper> Sleepers<W> {
    /// Producer side: call after making work visible in a global lane.
    pub(crate) fn notify_one(&self) -> Notified {
        // Orders the caller's push before the reads below (pairs with the fence in
        // `announce_idle` and in `end_search`).
        fence(Ordering::SeqCst);
        if self.num_searching.load(Ordering::SeqCst) != 0 {
            return Notified::Searching;
        }
        if self.num_idle.load(Ordering::SeqCst) == 0 {
            return Notified::NoneParked;
        }
        if !self.claim_search() {
            return Notified::Searching;
        }
        let woken = {
            let mut idle = lock(&self.idle);
            let woken = idle.pop();
            self.num_idle.store(idle.len(), Ordering::SeqCst);
            woken
        };
        match woken {
            Some(worker) => {
                // The token we claimed now belongs to `worker`, which wakes up searching.
                worker.parker().unpark();
                Notified::Woke
            }
            None => {
                self.end_search();
                Notified::NoneParked
            }
        }
    }

    /// Claims the waker token if nobody is searching. The caller must either hand it to a
    /// worker that starts out searching or give it back with [`Self::end_search`].
    pub(crate) fn claim_search(&self) -> bool {
        self.num_searching
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Counts one more searching worker (one that goes looking without a producer's token).
    pub(crate) fn add_searcher(&self) {
        self.num_searching.fetch_add(1, Ordering::SeqCst);
    }

    /// A searching worker found a task. Returns whether it must wake another worker: it was the
    /// last searcher, and `more_queued` (a look at the global lanes, made after the decrement) says
    /// work is still waiting.
    pub(crate) fn found_work(&self, more_queued: impl FnOnce() -> bool) -> bool {
        self.end_search() && more_queued()
    }

    /// A searching worker (or a producer holding the token) stops searching. Returns whether it
    /// was the last one.
    pub(crate) fn end_search(&self) -> bool {
        let last = self.num_searching.fetch_sub(1, Ordering::SeqCst) == 1;
        // Orders the decrement before the caller's check of the lanes (pairs with the fence
        // in `notify_one`).
        fence(Ordering::SeqCst);
        last
    }

    /// Worker side, steps 1 to 3 (see the module docs). `has_work` is the re-check: it must look
    /// at every queue the worker takes from. Returns whether the worker must now sleep on its
    /// parker (and call [`Self::end_park`] when it wakes); `false` means work appeared, the worker
    /// is off the list again and counts as searching.
    pub(crate) fn begin_park(
        &self,
        worker: &Arc<W>,
        was_searching: bool,
        has_work: impl FnOnce() -> bool,
    ) -> bool {
        if was_searching {
            self.end_search();
        }
        self.announce_idle(worker);
        // If work appeared but we are no longer on the list, someone took us off it and their
        // unpark is on its way: the caller's sleep returns at once.
        if has_work() && self.cancel_idle(worker) {
            self.add_searcher();
            return false;
        }
        true
    }

    /// Worker side, after its parker returned. Whoever woke it normally took it off the list and
    /// handed it a searching token (or, the balancer, a retirement). If it is still on the list,
    /// it woke on its own (a task it queued for itself while parked: a timer that fired on its
    /// thread while it drove the reactor): it takes itself off and counts as searching.
    pub(crate) fn end_park(&self, worker: &Arc<W>) {
        if self.cancel_idle(worker) {
            self.add_searcher();
        }
    }

    /// [`Self::begin_park`], a blocking sleep, [`Self::end_park`]: the whole worker side for a
    /// caller that sleeps on the thread (the loom models).
    #[cfg(smolscale_loom)]
    pub(crate) fn park(
        &self,
        worker: &Arc<W>,
        was_searching: bool,
        has_work: impl FnOnce() -> bool,
    ) -> Parked {
        if !self.begin_park(worker, was_searching, has_work) {
            return Parked::Rechecked;
        }
        worker.parker().park_until(None);
        self.end_park(worker);
        Parked::Woken
    }

    /// Worker side, step 2: put `worker` on the list. The caller must re-check for work next.
    fn announce_idle(&self, worker: &Arc<W>) {
        {
            let mut idle = lock(&self.idle);
            idle.push(worker.clone());
            self.num_idle.store(idle.len(), Ordering::SeqCst);
        }
        // Orders the announcement before the caller's re-check (pairs with `notify_one`).
        fence(Ordering::SeqCst);
    }

    /// Worker side, step 3 when work appeared: takes `worker` off the list. Returns false if a
    /// producer (or the balancer) already took it, in which case an unpark is on its way.
    pub(crate) fn cancel_idle(&self, worker: &Arc<W>) -> bool {
        let mut idle = lock(&self.idle);
        let Some(at) = idle.iter().position(|w| Arc::ptr_eq(w, worker)) else {
            return false;
        };
        idle.remove(at);
        self.num_idle.store(idle.len(), Ordering::SeqCst);
        true
    }

    /// Takes the longest-parked worker for which `pick` says yes off the list (for retirement).
    /// Once off the list no producer can wake it, so the caller owns its next unpark.
    pub(crate) fn take_oldest(&self, mut pick: impl FnMut(&W) -> bool) -> Option<Arc<W>> {
        let mut idle = lock(&self.idle);
        let at = idle.iter().position(|w| pick(w))?;
        let worker = idle.remove(at);
        self.num_idle.store(idle.len(), Ordering::SeqCst);
        Some(worker)
    }

    /// Visits the parked workers, oldest first, until `visit` returns false.
    pub(crate) fn for_each_parked(&self, mut visit: impl FnMut(&W) -> bool) {
        let idle = lock(&self.idle);
        for worker in idle.iter() {
            if !visit(worker) {
                break;
            }
        }
    }

    /// Parked workers right now.
    pub(crate) fn parked(&self) -> usize {
        self.num_idle.load(Ordering::SeqCst)
    }

    /// Searching workers right now (including a producer's token in flight).
    pub(crate) fn searching(&self) -> usize {
        self.num_searching.load(Ordering::SeqCst)
    }
}
