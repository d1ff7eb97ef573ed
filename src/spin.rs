//! The one spin policy of the crate: before a thread sleeps, it may watch for its wake-up for a
//! short, bounded time, and it stops doing so when that keeps finding nothing.
//!
//! Used by the last awake worker before it parks (`worker.rs`) and by `block_on` before the
//! calling thread sleeps (`caller.rs`). On a VM, putting a thread to sleep and waking it
//! costs tens of microseconds; a spin that catches the wake-up saves both sides that. A spin
//! that finds nothing makes its owner skip the next 2^k spins (k growing with each fruitless
//! spin, up to [`MAX_SPIN_BACKOFF`]); a spin that finds something resets k. Request/response
//! traffic keeps finding work and keeps spinning; a load whose events come a millisecond
//! apart stops paying for it. Picked by measurement (BENCHMARKS.md, tuning log 4 and 10).
//!
//! A spin may also give way: past a point (`yield_after`), each round of looks ends in a
//! `sched_yield`, so a thread that shares the spinner's core and was waiting for it runs now,
//! while the spinner keeps watching without a sleep and a wake-up. `block_on` does this (see
//! [`CALLER_YIELD_AFTER`]), and only while its spins keep seeing their wake-ups
//! ([`Backoff::may_yield`]); workers, which spin only while every other worker is parked, don't.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long one spin of a worker lasts at most (design.md §4: 10-50 µs, as tokio and Go bound
/// theirs). A worker waits for the next message or wake-up from outside: one hand-off.
pub(crate) const SPIN_FOR: Duration = Duration::from_micros(20);

/// How long one spin of a thread in `block_on` lasts at most. Such a thread is no searcher (design
/// §4's 10-50 µs bound is for those): it has nothing else to do, and what it waits for is often
/// work it gave the pool (a chain of spawns, a message around a ring of tasks), which includes
/// waking a parked worker (30-50 µs on a VM) before the work itself runs. A spin shorter than
/// that sum misses, backs off, and the caller then sleeps while the worker that answers it
/// parks too, so every later exchange pays two wake-ups and keeps missing: a stable slow mode.
/// Measured (BENCHMARKS.md, tuning logs 16 and 52): 20 -> 50 µs took a 300-task ring from 52 to
/// 35 µs; 50 -> 100 µs took the share of its iterations in which `main` slept from 6-72 % per
/// process to at most 1 %, and its slow repetitions (80-160 µs) away. A wait that keeps taking
/// longer backs off as any other.
pub(crate) const CALLER_SPIN_FOR: Duration = Duration::from_micros(100);

/// How long a thread in `block_on` spins before it starts yielding its core between looks.
/// Its spin takes a core; when the pool's workers and the caller outnumber the cores, that core
/// may be the one a worker needs to finish what the caller waits for (a burst of 10 000 spawns
/// from `main` on 2 cores ran at half speed in about a third of the iterations: both workers
/// on one core, `main` spinning on the other, BENCHMARKS.md tuning log 43). Not spinning there
/// at all put `main` back on the futex for every exchange (tuning log 17: a channel drained by
/// busy workers 33x slower). A yield costs ~0.6 µs here when nobody else wants the core, but a
/// yielding thread waits behind a busy neighbour for the rest of its time slice, milliseconds:
/// yielding from the first look made a 4 µs exchange with busy workers take 2 ms in some runs.
/// Exchanges that quick are over before this, so they never yield. And a spin that follows a
/// fruitless one doesn't yield at all (tuning log 49).
pub(crate) const CALLER_YIELD_AFTER: Duration = Duration::from_micros(10);

/// Upper bound of the back-off exponent: after a run of fruitless spins, the owner still tries
/// one wait in 64, so it notices when spinning starts paying again.
pub(crate) const MAX_SPIN_BACKOFF: u32 = 6;

/// One thread's spin back-off state (not shared: plain cells).
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    /// Fruitless spins in a row.
    misses: Cell<u32>,
    /// Waits left before the next spin.
    skip: Cell<u32>,
}

impl Backoff {
    pub(crate) const fn new() -> Self {
        Self {
            misses: Cell::new(0),
            skip: Cell::new(0),
        }
    }

    /// Whether this wait may spin; if not, counts it towards the next spin that may.
    pub(crate) fn may_spin(&self) -> bool {
        let skip = self.skip.get();
        if skip > 0 {
            self.skip.set(skip - 1);
            return false;
        }
        true
    }

    /// Whether a spin now may yield its core: only if the last spin saw its wake-up. A spin
    /// that probes whether spinning pays again, after fruitless ones, mostly waits on
    /// something slow (a timer, a socket), and a thread that yields behind busy neighbours
    /// waits out the rest of their time slice: `main` awaiting 1 ms timers beside busy workers
    /// fired them 1-3.8 ms late at p99 that way, once per 64 waits (BENCHMARKS.md, tuning
    /// log 49). Waits on the pool's work, which a yield is for, find their wake-up and keep
    /// yielding.
    fn may_yield(&self) -> bool {
        self.misses.get() == 0
    }

    /// Spins until `ready` returns true (then returns true) or `limit` has passed (then
    /// returns false), adjusting the back-off either way. Once `yield_after` has passed, each
    /// round of looks ends in a yield of the thread's core, if [`Self::may_yield`]. Call only
    /// after [`Self::may_spin`].
    pub(crate) fn spin_until(
        &self,
        limit: Duration,
        yield_after: Option<Duration>,
        mut ready: impl FnMut() -> bool,
    ) -> bool {
        let yield_after = yield_after.filter(|_| self.may_yield());
        let start = Instant::now();
        loop {
            for _ in 0..32 {
                if ready() {
                    self.misses.set(0);
                    return true;
                }
                std::hint::spin_loop();
            }
            let spun = start.elapsed();
            if spun >= limit {
                let misses = (self.misses.get() + 1).min(MAX_SPIN_BACKOFF);
                self.misses.set(misses);
                self.skip.set((1 << misses) - 1);
                return false;
            }
            if yield_after.is_some_and(|after| spun >= after) {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn only_a_spin_after_one_that_saw_its_wake_up_may_yield() {
        let backoff = Backoff::new();
        assert!(backoff.may_yield(), "a thread's first spin may yield");
        assert!(!backoff.spin_until(Duration::from_micros(1), None, || false));
        assert!(
            !backoff.may_yield(),
            "a probe after a fruitless spin must not yield"
        );
        assert!(backoff.spin_until(Duration::from_secs(10), None, || true));
        assert!(
            backoff.may_yield(),
            "spinning pays again, so it may yield again"
        );
    }

    #[test]
    fn a_yielding_spin_still_sees_a_wake_up_from_another_thread() {
        let woken = Arc::new(AtomicBool::new(false));
        let waker = {
            let woken = woken.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2));
                woken.store(true, Ordering::Release);
            })
        };
        let backoff = Backoff::new();
        // Yields from the first round; the limit is far beyond the wake-up, so only a spin
        // that stopped looking after a yield can miss it.
        let seen = backoff.spin_until(Duration::from_secs(20), Some(Duration::ZERO), || {
            woken.load(Ordering::Acquire)
        });
        waker.join().unwrap();
        assert!(
            seen,
            "the spin gave up before the wake-up it was yielding for"
        );
        assert!(
            backoff.may_spin(),
            "a spin that saw its wake-up must not back off"
        );
    }

    #[test]
    fn a_yielding_spin_that_sees_nothing_ends_at_its_limit_and_backs_off() {
        let backoff = Backoff::new();
        let start = Instant::now();
        let seen = backoff.spin_until(Duration::from_millis(1), Some(Duration::ZERO), || false);
        assert!(!seen);
        // Loose: the limit is 1 ms; a spin that ignores it would run on forever.
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the spin ran past its limit"
        );
        assert!(
            !backoff.may_spin(),
            "one fruitless spin skips the next wait's spin"
        );
        assert!(backoff.may_spin(), "and only that one, after a single miss");
    }
}
