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

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long one spin of a worker lasts at most (design.md §4: 10-50 µs, as tokio and Go bound
/// theirs). A worker waits for the next message or wake-up from outside: one hand-off.
pub(crate) const SPIN_FOR: Duration = Duration::from_micros(20);

/// How long one spin of a thread in `block_on` lasts at most: the top of design.md's range. Such
/// a thread has nothing else to do, and what it waits for is often work it gave the pool (a
/// chain of spawns, a message around a ring of tasks), which takes longer than one hand-off.
/// Measured against 20 µs (BENCHMARKS.md, tuning log 16): a 300-task ring 52 -> 35 µs, a chain
/// of 1000 spawns 56 -> 39 µs, the rest unchanged; a wait that keeps taking longer backs off
/// as any other.
pub(crate) const CALLER_SPIN_FOR: Duration = Duration::from_micros(50);

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

    /// Spins until `ready` returns true (then returns true) or `limit` has passed (then
    /// returns false), adjusting the back-off either way. Call only after [`Self::may_spin`].
    pub(crate) fn spin_until(&self, limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        loop {
            for _ in 0..32 {
                if ready() {
                    self.misses.set(0);
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= limit {
                let misses = (self.misses.get() + 1).min(MAX_SPIN_BACKOFF);
                self.misses.set(misses);
                self.skip.set((1 << misses) - 1);
                return false;
            }
        }
    }
}
