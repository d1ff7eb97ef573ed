//! `block_on` for any thread: a poll-and-spin loop of our own, and async-io's `block_on` only
//! once the thread is about to sleep.
//!
//! A thread outside the pool that waits on the pool (`main` awaiting a spawned task, a plain
//! thread sending into a channel that tasks drain) would otherwise sleep on a futex after every
//! pending poll, and the task that answers it a few microseconds later pays for waking it: on
//! a VM, tens of microseconds per exchange, and the two sides fall into lockstep. So before the
//! thread parks, it watches for a wake-up for up to [`CALLER_SPIN_FOR`] (100 µs), with
//! the workers' adaptive back-off (`spin.rs`): a spin that sees nothing makes this thread skip
//! the next 2^k spins, so a `block_on` waiting on a timer or a socket pays for one short spin
//! now and then, not on every wait. Measured (BENCHMARKS.md, tuning log 10): smolscale 0.4's
//! `fanout` was bimodal, 0.5 ms when the main thread never slept, 9-11 ms when it did. After
//! [`CALLER_YIELD_AFTER`] (10 µs) of it, the spin yields the core between looks, so that a
//! worker sharing that core runs the work the thread waits for (tuning log 43).
//!
//! How the spin sees the wake-up: the future is polled with a waker of ours. While the thread
//! polls or spins, a wake-up only swaps a state word, which the spinner reads: no lock, no
//! syscall. A future that completes within the polls and spins never enters async-io at all:
//! each entry into async-io's `block_on` costs two SeqCst read-modify-writes on a process-wide
//! counter, and each exit wakes the "async-io" thread, which then polls the reactor every 50 µs
//! for a while (tuning log 14). When a spin gives up, the thread enters async-io's `block_on`,
//! async-io's waker is stored and the state turns `PARKING`; from then on a wake-up goes
//! through to async-io's waker, and async-io decides when to drive the reactor and when to park.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crate::spin::{Backoff, CALLER_SPIN_FOR, CALLER_YIELD_AFTER};

thread_local! {
    /// This thread's spin back-off, kept across calls, so a thread that keeps waiting on slow
    /// events stops spinning.
    static BACKOFF: Backoff = const { Backoff::new() };
    /// A signal and its waker, reused by this thread's `block_on` calls (a nested call, which
    /// finds it borrowed, makes its own), so a call costs no allocation.
    static CACHE: RefCell<(Arc<Signal>, Waker)> = RefCell::new(Signal::new());
}

/// `Signal::state`: polling or spinning, nobody woke us yet.
const WAITING: u8 = 0;
/// A wake-up came while we polled or spun: the spinner sees it and re-polls.
const WOKEN: u8 = 1;
/// The spin ended without a wake-up and async-io may park the thread: a wake-up must go to
/// async-io's waker.
const PARKING: u8 = 2;

/// The waker the future is polled with.
struct Signal {
    /// [`WAITING`], [`WOKEN`] or [`PARKING`]. A wake-up swaps in `WOKEN` (AcqRel: the spinner
    /// that reads it sees what the waker wrote before waking; the waker that finds `PARKING`
    /// sees the `outer` waker stored before it).
    state: AtomicU8,
    /// async-io's waker for this call, stored before the state turns to `PARKING`; read by a
    /// wake-up only then (the spin's fast path takes no lock).
    outer: Mutex<Option<Waker>>,
}

impl Signal {
    fn new() -> (Arc<Signal>, Waker) {
        let signal = Arc::new(Signal {
            state: AtomicU8::new(WAITING),
            outer: Mutex::new(None),
        });
        let waker = Waker::from(signal.clone());
        (signal, waker)
    }

    fn outer(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        self.outer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.state.swap(WOKEN, Ordering::AcqRel) == PARKING {
            if let Some(outer) = self.outer().as_ref() {
                outer.wake_by_ref();
            }
        }
    }
}

pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = Some(future);
    let cached = CACHE.try_with(|cache| {
        let cached = cache.try_borrow_mut().ok()?;
        Some(run(future.take()?, &cached.0, &cached.1))
    });
    match (cached, future) {
        (Ok(Some(output)), _) => output,
        // Nested in another `block_on` on this thread, or called while the thread's locals
        // are being destroyed: a signal of its own.
        (_, Some(future)) => {
            let (signal, waker) = Signal::new();
            run(future, &signal, &waker)
        }
        (_, None) => unreachable!("the future is taken only by a call that returns"),
    }
}

fn run<F: Future>(future: F, signal: &Signal, waker: &Waker) -> F::Output {
    let mut future = pin!(future);
    // Polls and spins on this thread first; async-io's `block_on` is entered only once the
    // thread is about to park. Entering and leaving it costs two SeqCst read-modify-writes on a
    // process-wide counter and a wake-up of the "async-io" thread, which then polls the reactor
    // every 50 µs for a while; a call whose future is ready within the spin needs none of it.
    if let Some(output) = poll_until_quiet(future.as_mut(), signal, waker) {
        return output;
    }
    // The future is pending and the spin saw no wake-up: async-io's first poll only hands over.
    let mut quiet = true;
    let output = async_io::block_on(std::future::poll_fn(|cx| {
        if !std::mem::take(&mut quiet) {
            if let Some(output) = poll_until_quiet(future.as_mut(), signal, waker) {
                return Poll::Ready(output);
            }
        }
        // Hand over to async-io: from now on a wake-up goes to its waker. If one came after
        // the spin gave up, pass it on ourselves.
        {
            let mut outer = signal.outer();
            if !outer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *outer = Some(cx.waker().clone());
            }
        }
        if signal
            .state
            .compare_exchange(WAITING, PARKING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Woken after the spin: async-io polls again without parking.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }));
    // A late wake-up (the future's waker kept somewhere) must not reach a later call's
    // async-io waker.
    *signal.outer() = None;
    signal.state.store(WAITING, Ordering::Relaxed);
    output
}

/// Polls the future with our waker, and while it is pending, spins for its wake-up and polls
/// again. Returns its output, or `None` once a spin ends without a wake-up.
fn poll_until_quiet<F: Future>(
    mut future: std::pin::Pin<&mut F>,
    signal: &Signal,
    waker: &Waker,
) -> Option<F::Output> {
    loop {
        signal.state.store(WAITING, Ordering::Relaxed);
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(waker)) {
            return Some(output);
        }
        if !spin_for_wake(&signal.state) {
            return None;
        }
    }
}

/// Spins until `state` turns [`WOKEN`] or [`CALLER_SPIN_FOR`] has passed, as
/// the back-off allows, yielding the core between looks after [`CALLER_YIELD_AFTER`].
/// Returns whether it saw the wake-up.
fn spin_for_wake(state: &AtomicU8) -> bool {
    let woken = || state.load(Ordering::Acquire) == WOKEN;
    woken()
        || BACKOFF.with(|backoff| {
            backoff.may_spin()
                && backoff.spin_until(CALLER_SPIN_FOR, Some(CALLER_YIELD_AFTER), woken)
        })
}
