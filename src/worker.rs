//! One worker thread: where it takes work from, in what order, how it parks and how it ends.
//!
//! # Where work comes from
//! Each loop iteration takes one task, in this order:
//! 1. the injector, if it holds a task and the previous task came from the local queue: one
//!    task to run now plus a fair share appended to the local queue. Tasks woken from outside
//!    the pool (timers, sockets, other threads) are waiting on the world and go first, yet never
//!    twice in a row while local work waits, and a backlog joins the local queue in batches, so
//!    a busy task gets its fair turn among thousands of spawned ones, not every other poll
//!    (smolscale 0.4 read its global queue only when idle and let a timer fire 0.58 s late).
//!    The tasks of such a batch count as coming from the injector, not the local queue: they
//!    are older than anything still there, so the worker runs them without looking after
//!    each (each look reads the injector's tail, the cache line every spawner outside the
//!    pool writes: looking after each of them made outside spawns 1.7× slower, tuning log
//!    41). It still looks every 61st poll, and appends what it takes then to the batch, in
//!    order; and once local work is queued (a task of the batch yields, spawns or wakes one),
//!    the batch is over and looks follow each task again;
//! 2. every [`SPILL_INTERVAL`]th iteration, a fair share of the spill lane (design.md §3.7: the
//!    global queue is read at least every 61 polls, Go's figure), appended to the local queue;
//! 3. the LIFO slot: the task most recently *woken* on this worker (not spawned, not yielding),
//!    so a message's receiver runs right after its sender, caches warm, instead of behind every
//!    queued task; at most [`MAX_LIFO_STREAK`] slot tasks in a row, then the local queue gets a
//!    turn (tokio's bound), so a ping-pong pair can't starve the others;
//! 4. the local queue (FIFO: a task that yields goes behind everything already queued), or the
//!    LIFO slot if the streak bound had skipped it;
//! 5. both are empty: a fair share of the injector, else of the spill lane;
//! 6. all of those are empty: one steal attempt, half the queue of the worker that published the
//!    longest one, if it holds at least [`steal_min`] tasks (fewer the more workers there are)
//!    and isn't keeping its cheap tasks home;
//! 7. nothing: park (the handshake in `park.rs`).
//!
//! A fair share is `len / threads + 1` tasks, at most half the local queue's free room, so a
//! burst spreads over the workers woken for it and a worker never overflows what it just took.
//! `threads` is never counted below the target parallelism: a pool still growing towards it
//! (the first spawns start it one thread at a time) has more workers on the way, and its
//! first worker taking the whole first burst left the others nothing to start with.
//!
//! Moving work between workers is the balancer's job, with two narrow exceptions. A worker that
//! has run completely dry makes a single, targeted steal attempt (step 6), chosen from the
//! lengths the workers publish, never a scan of their queues (design.md §2 allows this "if
//! measured"; the balancer moves at most 64 tasks a tick, too slow for a burst that lasts a
//! few milliseconds, see BENCHMARKS.md). And a worker whose queued tasks have waited
//! [`SHED_AFTER`] while another worker sat parked sheds half its queue to the spill lane and
//! wakes that worker: the balancer's evacuation, done by the busy worker itself at a
//! granularity of 100 µs instead of milliseconds. Without it the tasks one reactor pass woke
//! all ran on the worker that drove the reactor: on 16 cores TCP echo stayed at one core's
//! throughput (BENCHMARKS.md, scaling). Message-passing pairs and timer batches finish well
//! within that time and are left together. A batch of costly tasks doesn't wait even that long:
//! a worker that wakes from its park with tasks queued by its own reactor pass, after its last
//! run of polls averaged over [`COSTLY_POLL`] each (sockets, whose every poll is syscalls),
//! sheds half of them at once if another worker is parked and that half is worth
//! [`SHED_MIN_WORK`] of polls (tuning log 29: TCP echo on 16 cores 1.5× the requests), or,
//! if the park was over within [`REAL_WAIT`] (the reactor had work the moment it looked: a
//! few connections saturating one worker), whatever the half is worth (tuning log 60). Neither
//! shedding, nor the balancer's evening out, applies to a worker whose recent tasks were tiny
//! and finished at once (under [`CHEAP_TASK`] each, [`Signals::keep_home`]): moving such a
//! task to another core costs more than running it (a burst of 10 000 of them took 0.8 ms on
//! one worker and 1.2-1.45 ms spread over two), so its overflow waits in the spill lane for it
//! alone. A worker that wakes up is
//! "searching" until it finds a task; if it was the last searcher and more work waits in a
//! global lane, or in the queue it just stole from, it wakes another worker: a burst that landed
//! on a few workers reaches every idle core in a chain of wake-ups and steals, one wake-up
//! latency apart (16 cores: all within ~0.35 ms instead of ~2.5 ms, tuning log 30).
//!
//! # How a worker waits
//! The whole loop runs inside async-io's `block_on`, and parking is an `.await` on the worker's
//! [`Parker`]: while parked, a worker may be the thread driving async-io's reactor, and a timer
//! or socket it sees fire schedules the task onto this worker's own queue (`push` then wakes the
//! worker itself), so it runs the task with no hop through another thread. Before parking, the
//! last awake worker spins briefly ([`SPIN_FOR`](crate::spin::SPIN_FOR), with back-off) so that
//! work arriving from outside within microseconds doesn't cost a wake-up.
//!
//! # What the balancer sees
//! [`WorkerShared`] publishes, with relaxed stores the balancer only samples: `poll_seq` (odd
//! while a poll runs, so "same odd value for 5 ms" means stuck), the local queue length as each
//! poll starts, and since when the worker is parked.
//!
//! # How a worker ends
//! Only the balancer retires a worker: it takes a parked worker off the sleeper list, sets
//! `retire` and unparks it. Whatever way the thread leaves its loop (retirement or an unwinding
//! panic in the scheduler itself), [`ExitGuard`] first moves its local queue to the spill lane,
//! wakes a worker if that left work queued, and deregisters the thread (design.md §3.2).
//!
//! # Nested `block_on`
//! A task that calls [`crate::block_on`] keeps its worker busy for as long as the inner future
//! takes. [`suspend_current`] moves the worker's local queue to the spill lane and hides the
//! worker from `schedule` until the call returns, so tasks woken meanwhile are not stranded
//! behind the blocked thread; the balancer sees the long poll and replaces the worker if needed.

use std::cell::{Cell, OnceCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_task::Runnable;

use crate::park::{Parker, Sleeper};
use crate::pool::{pool, Pool};
use crate::queue::{Lane, LifoSlot, LocalQueue};
use crate::spin::Backoff;
use crate::stats::Counters;
use crate::sync::{Arc, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Every this many loop iterations a worker takes a share of the spill lane before its local
/// queue. Go's `schedtick % 61` (a prime, so it doesn't beat with task patterns of period 2, 4).
pub(crate) const SPILL_INTERVAL: u64 = 61;

/// Most LIFO-slot tasks run in a row before the local queue gets a turn (tokio's
/// `MAX_LIFO_POLLS_PER_TICK`, picked by hand there too).
const MAX_LIFO_STREAK: u32 = 3;

/// A dry worker steals from another only if that one published at least this many queued tasks
/// divided by the pool's target parallelism ([`steal_min`])...
const STEAL_SPREAD: usize = 64;

/// ... and never fewer than this many.
const STEAL_FLOOR: usize = 4;

/// The smallest queue a dry worker steals from: 32 tasks with 2 workers, 4 from 16 up. A steal
/// splits a batch the victim would have run with warm caches, to gain one core; the more cores
/// sit idle, the more a small batch is worth splitting, since the thief's own search can wake
/// the next one (tuning log 30). Measured: on 2 cores a threshold of 4 cost TCP echo 7-8 % of
/// its requests (a dry worker that doesn't steal parks and drives the reactor instead), 16
/// about 2 %, and 64, the old fixed figure, nothing; on 16 cores 4 gave TCP echo 1.22x the
/// requests of 64, where 16 gave 1.08x (yield_now 0.69x the time with either).
fn steal_min(target: usize) -> usize {
    (STEAL_SPREAD / target.max(1)).max(STEAL_FLOOR)
}

/// A worker whose local queue has held waiting tasks for this long, while another worker is
/// parked (or the pool is below its target) and none is searching, sheds half its queue to the
/// spill lane and wakes (or starts) a worker for it. A wake-up costs a few microseconds of the
/// woken core; a batch of work this long would otherwise serialise on one core (a reactor pass
/// that woke dozens of sockets, a burst of yields), while short exchanges (message passing, a
/// timer's few tasks) finish before it.
const SHED_AFTER: Duration = Duration::from_micros(100);

/// A worker whose polls between its last wake-up and its next park averaged at least this
/// much sheds half of what its next reactor pass queues on it at once, rather than after
/// [`SHED_AFTER`]. Measured on 2 cores (middle half of one run's runs of polls): TCP echo
/// 6.5-8.2 µs a poll (each one syscalls), partial load 0.14-0.20 µs (channels and timers,
/// which gain from staying on one core).
const COSTLY_POLL: Duration = Duration::from_micros(2);

/// ... and, after a park in which it really waited, only if the half it would hand over is
/// worth this much of those polls: less than a wake-up costs the woken core (on a VM, tens of
/// microseconds to sleep and wake a thread, `spin.rs`) is better run here, so two sockets that
/// turned ready together after a quiet spell stay together.
const SHED_MIN_WORK: Duration = Duration::from_micros(20);

/// A park shorter than this was no real wait: the worker's reactor pass had work for it the
/// moment it looked (a sleep and a wake-up take longer than this on every machine measured).
/// Such a worker is saturated, its sockets ready faster than it serves them, and a worker woken
/// for even one of its tasks will find more on its own reactor passes: so after a short park
/// [`SHED_MIN_WORK`] doesn't apply. Measured on 2 cores (tuning log 60): TCP echo with 4 and 8
/// connections had run on one worker at a time, the other parked for good (1.4-1.6x the
/// requests since); with 1 or 2 connections, or 16 and more, nothing changed.
const REAL_WAIT: Duration = Duration::from_micros(20);

/// The clock is read for [`SHED_AFTER`] only every this many polls from the local queue.
const SHED_CHECK_EVERY: u64 = 16;

/// Every this many polls from the local queue a worker judges what its tasks cost (the clock
/// and its own counters; see [`Signals::keep_home`]).
const COST_SAMPLE_EVERY: u64 = 64;

/// Every how many polls a worker publishes its local queue's length (`Signals::local_len`) for
/// the balancer and for thieves, besides after every grab, steal and spill (`publish_len`).
/// Measuring the length takes a dozen instructions, 4 % of a `yield_now` poll; a length a few
/// polls old serves both as well (BENCHMARKS.md, tuning log 51). A park publishes 0 at once.
const LEN_PUBLISH_EVERY: u64 = 4;

/// A task that costs this little from its first poll to its last, on average over a sample,
/// is cheap: moving it to another core (its cache lines, and its memory freed into another
/// thread's allocator arena) costs more than running it here. Picked between two measured
/// cases (BENCHMARKS.md, tuning log 25): 10 000 tasks that decrement a counter (~0.08 µs
/// each) run in ~0.8 ms on one worker and 1.2-1.45 ms spread over two, while 1000 ping-pong
/// pairs (~0.5 µs per task) take 0.53 ms spread and 0.78 ms kept on one.
const CHEAP_TASK: Duration = Duration::from_nanos(200);

/// The part of a worker other threads may look at. One per worker thread, shared through the
/// pool's registry (balancer, stats) and the sleeper list (producers that wake it).
#[derive(Debug)]
pub(crate) struct WorkerShared {
    /// Unique for the life of the process; names the thread (`smolscale-w{id}`).
    pub(crate) id: usize,
    /// Written only by this worker, read by the balancer and `stats()`; on its own cache line.
    pub(crate) signals: CachePadded<Signals>,
    /// Producers and the balancer unpark the worker through this.
    pub(crate) parker: Parker,
    /// The balancer's handle on the local queue, to move batches out of it.
    pub(crate) stealer: st3::fifo::Stealer<Runnable>,
    /// The LIFO slot (step 3 of the module docs). Written by the worker (an atomic swap per
    /// wake-up, an atomic take per poll from it); emptied by the balancer when the worker is
    /// stuck, so the task woken last before a blocking call is not stranded behind it.
    pub(crate) lifo: LifoSlot,
    /// Set by the balancer (before it unparks us, which publishes it) to make the worker exit.
    pub(crate) retire: AtomicBool,
    /// Nanoseconds since the pool's epoch at which the worker last parked; 0 while awake.
    /// Written by the worker (relaxed), read by the balancer to pick who retires.
    pub(crate) parked_at: AtomicU64,
    /// The thread's kernel id (`os.rs`), 0 until the thread has started or where unknown.
    /// Written once by the worker before its first poll (relaxed: the balancer reads it to ask
    /// the kernel about a long poll, and takes 0 as "unknown", the conservative answer).
    pub(crate) tid: AtomicU32,
}

/// A worker's own published numbers.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    /// `2 × polls completed`, plus one while a poll is running. Relaxed stores by the worker; the
    /// balancer compares samples and needs no ordering with anything else.
    pub(crate) poll_seq: AtomicU64,
    /// Local queue length when one of the last [`LEN_PUBLISH_EVERY`] polls started, or after
    /// the last grab, steal or spill if later (0 once parked, and 0 once the balancer has moved
    /// the queue of a stuck worker). Relaxed; approximate by design.
    pub(crate) local_len: AtomicUsize,
    /// True while the task being polled sits in a nested `block_on`: the worker declared itself
    /// blocked, so the balancer needn't wait out the stuck threshold (relaxed, like the rest).
    pub(crate) in_block_on: AtomicBool,
    /// Whether this worker's recent tasks were cheap from spawn to finish (a burst of tiny
    /// spawned tasks), so spreading its backlog would cost more than it saves: then its overflow
    /// wakes nobody, it doesn't shed, and the balancer neither evens out its queue nor wakes a
    /// worker for the spill lane while it runs (it drains that lane itself; a stuck worker's
    /// work moves as always). Written by the worker every [`COST_SAMPLE_EVERY`] local polls;
    /// cleared by the balancer when the worker's polls between two of its samples took over
    /// 16 µs each on average, or one poll spanned two samples without having overflowed the
    /// queue (see `overflowed_in`). A heuristic: relaxed, ordered against nothing.
    pub(crate) keep_home: AtomicBool,
    /// Set by the balancer when it saw one of this worker's polls span two of its samples (a
    /// millisecond or more) and that poll hadn't overflowed the queue; the worker's next cost
    /// sample then can't find its tasks cheap.
    /// Relaxed, like `keep_home`.
    pub(crate) costly_seen: AtomicBool,
    /// The `poll_seq` of the last poll that overflowed this worker's local queue: a poll
    /// *producing* the queue (a loop spawning thousands of tasks), whose length says nothing
    /// about what the queued tasks cost, so the balancer doesn't let it clear `keep_home`.
    /// Relaxed: the worker stores its own current `poll_seq`; the balancer compares it with the
    /// `poll_seq` it sampled; a stale value can only fail to match, and then it clears as before.
    pub(crate) overflowed_in: AtomicU64,
    /// Tasks spawned and finished on this thread.
    pub(crate) counters: Counters,
}

/// Keeps a value on cache lines of its own (128 bytes: two lines, for the adjacent-line
/// prefetcher on x86).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl Sleeper for WorkerShared {
    fn parker(&self) -> &Parker {
        &self.parker
    }
}

impl WorkerShared {
    pub(crate) fn new(id: usize, stealer: st3::fifo::Stealer<Runnable>) -> Self {
        Self {
            id,
            signals: CachePadded::default(),
            parker: Parker::default(),
            stealer,
            lifo: LifoSlot::default(),
            retire: AtomicBool::new(false),
            parked_at: AtomicU64::new(0),
            tid: AtomicU32::new(0),
        }
    }
}

/// The worker's own state, reachable from its thread through [`CURRENT`].
struct Local {
    pool: &'static Pool,
    shared: Arc<WorkerShared>,
    queue: LocalQueue,
    /// Loop iterations, for the spill interval.
    ticks: Cell<u64>,
    /// Whether the last task came from the local queue (so the next may come from the injector).
    last_was_local: Cell<bool>,
    /// How many tasks at the head of the local queue a grab from the injector queued there
    /// (it found the queue empty), with what later looks added behind them, until anything
    /// else is queued here: they count as injector tasks (step 1 of the module docs). Tasks
    /// stolen from the head make this an overestimate, by at most one share: looks at the
    /// injector skipped, never tasks lost.
    grabbed: Cell<usize>,
    /// LIFO-slot tasks run in a row.
    lifo_streak: Cell<u32>,
    /// Whether this worker put a task in its LIFO slot since it last took one out. Only this
    /// thread fills the slot, so `false` means empty and spares an atomic swap on every poll;
    /// `true` may be stale (the balancer emptied the slot), which costs one swap that finds None.
    lifo_filled: Cell<bool>,
    /// Whether this is its thread's current worker (see [`CURRENT`]).
    active: Cell<bool>,
    /// Whether this worker counts in the sleepers' `num_searching` (it woke up with a token, or
    /// re-checked its way out of parking, and hasn't found a task yet).
    searching: Cell<bool>,
    /// True while the worker is parked and not yet unparked. A task scheduled on this thread
    /// meanwhile was woken by the reactor this worker drives while parked; the first such `push`
    /// wakes the worker itself and clears this, so a reactor pass that wakes many tasks
    /// unparks once.
    parked: Cell<bool>,
    /// Since when tasks have waited in the local queue while another worker sat parked
    /// (sampled every [`SHED_CHECK_EVERY`] polls; `None` when that was last not the case).
    backlog_since: Cell<Option<Instant>>,
    /// When this worker's spins before parking stopped paying (`spin.rs`).
    backoff: Backoff,
    /// The last cost sample: when, and how many tasks had finished on this thread by then.
    cost_sample: Cell<Option<(Instant, u64)>>,
    /// When this worker last woke from a park, and its `ticks` then: the start of the run of
    /// polls that [`Local::park`] times (taken at the next park; `None` while not timed).
    woke: Cell<Option<(Instant, u64)>>,
    /// What a poll cost on average in that last timed run of polls.
    poll_cost: Cell<Duration>,
}

thread_local! {
    /// The worker this thread runs, set once as the thread starts it. It is this thread's
    /// current worker only while its `active` flag is up: from the start of its loop until it
    /// exits, except inside a nested `block_on`. (A flag rather than taking the worker out of
    /// a `RefCell`: every wake-up looks here, and a `OnceCell` and a flag cost it 5 fewer
    /// instructions than the cell's borrow count; tuning log 51.)
    static CURRENT: OnceCell<Rc<Local>> = const { OnceCell::new() };
}

/// Runs `f` with this thread's current worker, if it has one: see [`CURRENT`]. `None` also
/// while this thread's locals are being destroyed.
#[inline(always)]
fn with_current<R>(f: impl FnOnce(Option<&Rc<Local>>) -> R) -> R {
    let mut f = Some(f);
    if let Ok(result) = CURRENT
        .try_with(|current| (f.take().unwrap())(current.get().filter(|local| local.active.get())))
    {
        return result;
    }
    (f.take().unwrap())(None)
}

/// The schedule function of every task: see `queue.rs` for where a task goes. A wake-up on a
/// worker goes to its LIFO slot; a task that woke itself while running (it yielded) goes to
/// the back of the local queue.
pub(crate) fn schedule(runnable: Runnable, info: async_task::ScheduleInfo) {
    schedule_on::<false>(runnable, !info.woken_while_running);
}

/// Schedules a task that was just spawned: like a yield, it queues behind what is there. The
/// spawn is counted here (for [`Stats::alive`](crate::Stats::alive)), in the same
/// thread-local lookup that finds the worker.
pub(crate) fn schedule_spawned(runnable: Runnable) {
    schedule_on::<true>(runnable, false);
}

/// `SPAWNED`: count a spawn in this thread's counters (a compile-time choice, so wake-ups
/// pay nothing for it).
fn schedule_on<const SPAWNED: bool>(runnable: Runnable, lifo: bool) {
    // Off a running worker (or while this thread's locals are being destroyed) the task goes
    // to the injector like any other foreign wake-up.
    let runnable = with_current(|current| match current {
        Some(local) => {
            if SPAWNED {
                Counters::bump_own(&local.shared.signals.counters.spawned);
            }
            local.push(runnable, lifo);
            None
        }
        None => Some(runnable),
    });
    if let Some(runnable) = runnable {
        let pool = pool();
        if SPAWNED {
            Counters::bump_shared(&pool.counters.spawned);
        }
        pool.push_global(runnable);
    }
}

/// Runs `f` with this thread's task counters: its worker's, or `None` off the pool.
pub(crate) fn with_counters<R>(f: impl FnOnce(Option<&Counters>) -> R) -> R {
    with_current(|current| f(current.map(|local| &local.shared.signals.counters)))
}

/// Hides the current worker (if this is one) for the life of the returned guard: its local queue
/// goes to the spill lane now, and tasks scheduled from this thread meanwhile go to the injector.
pub(crate) fn suspend_current() -> Option<Suspended> {
    let local = with_current(|current| current.cloned())?;
    local.active.set(false);
    local
        .shared
        .signals
        .in_block_on
        .store(true, Ordering::Relaxed);
    if local.spill_all() > 0 {
        local.pool.notify();
    }
    Some(Suspended(local))
}

/// Restores the worker hidden by [`suspend_current`].
pub(crate) struct Suspended(Rc<Local>);

impl Drop for Suspended {
    fn drop(&mut self) {
        let local = &self.0;
        local
            .shared
            .signals
            .in_block_on
            .store(false, Ordering::Relaxed);
        local.active.set(true);
    }
}

impl Local {
    /// Queues a task scheduled on this worker's thread: into the LIFO slot if `lifo` (the slot's
    /// previous occupant moves to the back of the queue), else at the back of the queue.
    fn push(&self, runnable: Runnable, lifo: bool) {
        // Local work joins the queue: what runs now is no longer a batch from the injector
        // alone, and looks there follow each task again (a batch of tasks that yield or spawn
        // must not hold a timer's wake-up back for a whole round of them).
        self.grabbed.set(0);
        let runnable = if lifo {
            self.lifo_filled.set(true);
            self.shared.lifo.swap(runnable)
        } else {
            Some(runnable)
        };
        if let Some(runnable) = runnable {
            self.push_back(runnable);
        }
        if self.parked.replace(false) {
            // A timer or socket woke this task while we drove the reactor: run it ourselves.
            self.shared.parker.unpark();
        }
    }

    /// Appends a task to the local queue, spilling half of it if it is full.
    fn push_back(&self, runnable: Runnable) {
        if let Err(runnable) = self.queue.push(runnable) {
            self.overflow(runnable);
        }
    }

    /// The local queue is full: keeps the newer half here, spills the older half and
    /// `runnable`, and wakes a worker for them. Out of line, so the common push stays small.
    #[cold]
    #[inline(never)]
    fn overflow(&self, runnable: Runnable) {
        let signals = &self.shared.signals;
        // Tells the balancer that the poll now running is a producer (see `overflowed_in`).
        signals
            .overflowed_in
            .store(signals.poll_seq.load(Ordering::Relaxed), Ordering::Relaxed);
        let spill = &self.pool.spill;
        // (No batch from the injector to account for: `push`, the only way here, ended it.)
        self.queue.spill(spill, |n| n / 2);
        spill.push(runnable);
        self.publish_len();
        // Cheap one-shot tasks: this worker drains the spill lane itself (it reads it every
        // `SPILL_INTERVAL` polls and whenever its queue runs dry).
        if !self.shared.signals.keep_home.load(Ordering::Relaxed) {
            self.pool.notify();
        }
    }

    /// `n` tasks left the head of the local queue for the spill lane (a shed): the grabbed ones
    /// go first.
    fn spilled_head(&self, n: usize) {
        self.grabbed.set(self.grabbed.get().saturating_sub(n));
    }

    /// Moves the LIFO slot and the local queue to the spill lane (the worker stops running them).
    fn spill_all(&self) -> usize {
        let spill = &self.pool.spill;
        self.grabbed.set(0);
        self.lifo_filled.set(false);
        let slot = self.shared.lifo.take().map(|runnable| spill.push(runnable));
        let spilled = usize::from(slot.is_some()) + self.queue.spill_all(spill);
        self.publish_len();
        spilled
    }

    /// Publishes the local queue's length. Every [`LEN_PUBLISH_EVERY`]th poll does, and so
    /// does every change of many tasks at once (a grab, a steal, a spill), so that a thief or
    /// the balancer never misses a batch that just arrived or left.
    fn publish_len(&self) {
        self.shared
            .signals
            .local_len
            .store(self.queue.len(), Ordering::Relaxed);
    }

    /// Takes the LIFO slot's task, counting the streak.
    fn take_lifo(&self) -> Option<Runnable> {
        if !self.lifo_filled.replace(false) {
            return None;
        }
        let runnable = self.shared.lifo.take()?;
        self.lifo_streak.set(self.lifo_streak.get() + 1);
        self.last_was_local.set(true);
        Some(runnable)
    }

    /// The next task to run, in the order given in the module docs.
    ///
    /// Split in two so that the common case (no injector work after a local task, not a spill
    /// tick, an empty LIFO slot: pop the local queue) is inlined into the worker's loop, and
    /// costs no register saves of its own; everything else is [`next_task_slow`], the same
    /// order written out in full.
    #[inline(always)]
    fn next_task(&self) -> Option<Runnable> {
        let tick = self.ticks.get().wrapping_add(1);
        self.ticks.set(tick);
        if self.lifo_filled.get()
            || tick.is_multiple_of(SPILL_INTERVAL)
            || (self.last_was_local.get() && !self.pool.injector.is_empty())
        {
            return self.next_task_slow(tick);
        }
        // Steps 1-3 have nothing to give: the injector is empty (or the last task was not
        // local), this is not a spill tick, and the LIFO slot is empty.
        self.lifo_streak.set(0);
        match self.queue.pop() {
            Some(runnable) => Some(self.took_local(runnable, tick)),
            None => self.next_task_slow(tick),
        }
    }

    /// Bookkeeping for a task just taken from the local queue (step 4).
    #[inline(always)]
    fn took_local(&self, runnable: Runnable, tick: u64) -> Runnable {
        match self.grabbed.get() {
            0 => self.last_was_local.set(true),
            grabbed => {
                self.grabbed.set(grabbed - 1);
                self.last_was_local.set(false);
            }
        }
        if tick.is_multiple_of(SHED_CHECK_EVERY) {
            if tick.is_multiple_of(COST_SAMPLE_EVERY) {
                self.sample_cost();
            }
            self.shed_if_backlogged();
        }
        runnable
    }

    /// [`next_task`](Self::next_task) in full: steps 1-7 of the module docs, in order.
    #[inline(never)]
    fn next_task_slow(&self, tick: u64) -> Option<Runnable> {
        let pool = self.pool;
        if self.last_was_local.get() && !pool.injector.is_empty() {
            if let Some(runnable) = self.grab(&pool.injector) {
                return Some(runnable);
            }
        } else if tick.is_multiple_of(SPILL_INTERVAL)
            && self.grabbed.get() > 0
            && !pool.injector.is_empty()
        {
            // Running a batch from the injector, which is read at least every 61 polls
            // (design.md §3.7) all the same: its next tasks join the batch's tail, in order.
            self.top_up();
        }
        if tick.is_multiple_of(SPILL_INTERVAL) {
            if let Some(runnable) = self.grab(&*pool.spill) {
                return Some(runnable);
            }
        }
        if self.lifo_streak.get() < MAX_LIFO_STREAK {
            if let Some(runnable) = self.take_lifo() {
                return Some(runnable);
            }
        }
        self.lifo_streak.set(0);
        if let Some(runnable) = self.queue.pop() {
            return Some(self.took_local(runnable, tick));
        }
        self.backlog_since.set(None);
        self.grabbed.set(0);
        if let Some(runnable) = self.take_lifo() {
            return Some(runnable);
        }
        self.grab(&pool.injector)
            .or_else(|| self.grab(&*pool.spill))
            .or_else(|| self.steal_once())
    }

    /// Judges the tasks finished since the last sample: cheap if the time since then, divided
    /// among them, is under [`CHEAP_TASK`] (time parked included, so a worker that parked in
    /// between never counts as cheap, and tasks that keep running, like yield loops or
    /// connections, finish nothing and never count as cheap). Publishes the verdict as
    /// [`Signals::keep_home`].
    #[inline(never)]
    fn sample_cost(&self) {
        let now = Instant::now();
        let signals = &self.shared.signals;
        let finished = signals.counters.finished.load(Ordering::Relaxed);
        if let Some((at, at_finished)) = self.cost_sample.get() {
            let done = finished.wrapping_sub(at_finished);
            let costly_seen = signals.costly_seen.swap(false, Ordering::Relaxed);
            let cheap = !costly_seen
                && done > 0
                && now.duration_since(at)
                    <= CHEAP_TASK.saturating_mul(u32::try_from(done).unwrap_or(u32::MAX));
            signals.keep_home.store(cheap, Ordering::Relaxed);
        }
        self.cost_sample.set(Some((now, finished)));
    }

    /// Sheds half the local queue to the spill lane and wakes a worker for it (or starts one,
    /// below the target), once tasks have waited here for [`SHED_AFTER`] while another worker
    /// sat parked (or the pool was below its target) and none searched.
    #[inline(never)]
    fn shed_if_backlogged(&self) {
        let pool = self.pool;
        let sleepers = &pool.sleepers;
        if self.shared.signals.keep_home.load(Ordering::Relaxed) {
            self.backlog_since.set(None);
            return;
        }
        // Cheapest checks first: on a fully loaded pool nobody is parked and the clock is
        // never read.
        if self.queue.len() < 2 || !self.idle_core() {
            self.backlog_since.set(None);
            return;
        }
        match self.backlog_since.get() {
            None => self.backlog_since.set(Some(Instant::now())),
            // A worker is already searching: the wake-up a shed would send goes nowhere
            // (`notify` skips it), so wait until that one has found its work, keeping the clock
            // running. Resetting it instead made backlogged workers take turns, one shed per
            // 100 µs and a wake-up (tuning log 30).
            Some(_) if sleepers.searching() != 0 => {}
            Some(since) if since.elapsed() >= SHED_AFTER => {
                self.backlog_since.set(None);
                self.shed_half();
            }
            Some(_) => {}
        }
    }

    /// Whether a core could take shed work: a worker is parked, or the pool may start one.
    fn idle_core(&self) -> bool {
        let pool = self.pool;
        pool.sleepers.parked() > 0 || pool.threads() < pool.target()
    }

    /// Moves the older half of the local queue to the spill lane and wakes (or starts) a
    /// worker for it.
    fn shed_half(&self) {
        let pool = self.pool;
        let spilled = self.queue.spill(&pool.spill, |n| n / 2);
        self.spilled_head(spilled);
        self.publish_len();
        if spilled > 0 {
            pool.notify();
        }
    }

    /// Takes half the longest published local queue, if it is long enough (step 6).
    #[inline(never)]
    fn steal_once(&self) -> Option<Runnable> {
        let (victim, len) = self.pool.with_workers(|workers| {
            workers
                .iter()
                .filter(|w| !Arc::ptr_eq(w, &self.shared))
                .map(|w| (w, w.signals.local_len.load(Ordering::Relaxed)))
                .max_by_key(|&(_, len)| len)
                .map(|(w, len)| (w.clone(), len))
        })?;
        // A worker keeping its cheap tasks home keeps them from thieves too.
        let steal_min = steal_min(self.pool.target());
        if len < steal_min || victim.signals.keep_home.load(Ordering::Relaxed) {
            return None;
        }
        let (first, _) = victim
            .stealer
            .steal_and_pop(self.queue.worker(), |n| n / 2)
            .ok()?;
        self.publish_len();
        self.last_was_local.set(false);
        // The search ends here rather than in `found_work`, because only here is it known
        // whether the victim kept enough for another worker to steal.
        self.stop_searching(len - len / 2 >= steal_min);
        Some(first)
    }

    /// Takes one task from a global lane plus this worker's fair share of the rest, which goes
    /// to the back of the local queue.
    #[inline(never)]
    fn grab<L: Lane>(&self, lane: &L) -> Option<Runnable> {
        // Read once a task was taken, before the share is queued: an empty lane, a searching
        // worker's common case, costs nothing more than the lane's own check.
        let mut was_empty = false;
        let (first, queued) = lane.take(
            |len| {
                was_empty = self.queue.is_empty();
                (len / self.sharers()).min(self.queue.spare() / 2)
            },
            // Can't fail: the share is at most half the room there was.
            |runnable| self.queue.push(runnable),
        )?;
        self.publish_len();
        // Into an empty queue, the share is exactly what the queue gives out next.
        if was_empty && L::FROM_OUTSIDE {
            self.grabbed.set(queued);
        }
        self.last_was_local.set(false);
        Some(first)
    }

    /// Appends a fair share of the injector, at least one task, to the local queue while it
    /// runs a batch from there (see [`Local::grabbed`]): if the queue holds nothing but the
    /// batch, the share extends it.
    #[inline(never)]
    fn top_up(&self) {
        let batch_only = self.grabbed.get() == self.queue.len();
        let injector = &self.pool.injector;
        let share = (injector.len() / self.sharers())
            .max(1)
            .min(self.queue.spare() / 2);
        // Can't fail: the share is at most half the room there was.
        let queued = injector.pop_into(share, |runnable| self.queue.push(runnable));
        self.publish_len();
        if batch_only {
            self.grabbed.set(self.grabbed.get() + queued);
        }
    }

    /// How many workers a global lane's tasks are shared among: the threads alive, never
    /// counted below the target (at least 1, the configuration says so).
    fn sharers(&self) -> usize {
        self.pool.threads().max(self.pool.target())
    }

    /// Polls one task, publishing `poll_seq` around it. A panic that escapes `run` (one from a
    /// future's destructor, say) is caught here: the worker survives it (design.md §3.3).
    fn run(&self, runnable: Runnable) {
        if self.ticks.get().is_multiple_of(LEN_PUBLISH_EVERY) {
            self.publish_len();
        }
        let signals = &self.shared.signals;
        let seq = &signals.poll_seq;
        let before = seq.load(Ordering::Relaxed);
        seq.store(before + 1, Ordering::Relaxed);
        if catch_unwind(AssertUnwindSafe(|| runnable.run())).is_err() {
            log::error!(
                "smolscale: a panic escaped a task's poll on worker {}; the worker keeps running",
                self.shared.id
            );
        }
        seq.store(before + 2, Ordering::Relaxed);
    }

    /// Called with a task in hand: stops searching, and if this was the last searcher while
    /// more work waits in a global lane, wakes another worker for it.
    fn found_work(&self) {
        if self.searching.get() {
            self.stop_searching(false);
        }
    }

    /// Stops searching (if this worker was); if it was the last searcher and more work waits
    /// in a global lane, or `more_here` says the queue it just stole from kept enough for
    /// another steal, wakes another worker for it.
    fn stop_searching(&self, more_here: bool) {
        let pool = self.pool;
        if self.searching.replace(false)
            && pool
                .sleepers
                .found_work(|| more_here || pool.has_global_work())
        {
            pool.notify();
        }
    }

    /// Before parking: spins for up to [`SPIN_FOR`](crate::spin::SPIN_FOR) watching the global
    /// lanes, if every other worker is parked, none is searching, and the back-off allows
    /// (`spin.rs`). While it spins it counts as searching, so a producer outside the pool skips
    /// the wake-up it would have cost. Only the last awake worker spins: while others still
    /// run, spinning would take CPU from them (TCP echo lost 30 % of its throughput that way on
    /// 2 cores). Returns whether work appeared (the worker is then searching).
    fn spin(&self) -> bool {
        let pool = self.pool;
        if pool.sleepers.parked() + 1 < pool.threads() {
            return false;
        }
        if !self.backoff.may_spin() {
            return false;
        }
        if !self.searching.get() {
            if !pool.sleepers.claim_search() {
                return false;
            }
            self.searching.set(true);
        }
        self.backoff
            .spin_until(crate::spin::SPIN_FOR, None, || pool.has_global_work())
    }

    /// Parks until there is work. Returns false if the worker must exit instead.
    ///
    /// The wait is an `.await` inside async-io's `block_on`, so a parked worker may be the one
    /// driving the reactor: the timers and sockets it sees fire wake their tasks onto its own
    /// queue, and it runs them without a hop through another thread (async-global-executor and
    /// smolscale 0.4 do the same; design.md §2).
    async fn park(&self) -> bool {
        self.time_polls();
        if self.spin() {
            return true;
        }
        let pool = self.pool;
        let sleepers = &pool.sleepers;
        let shared = &self.shared;
        shared.signals.local_len.store(0, Ordering::Relaxed);
        // When the park began (the one clock read for both uses of it).
        let parked = Instant::now();
        shared
            .parked_at
            .store(pool.nanos_at(parked), Ordering::Relaxed);
        let was_searching = self.searching.replace(false);
        // (The LIFO slot is empty here: `next_task` takes it before giving up, and only this
        // thread fills it.)
        let sleep = sleepers.begin_park(shared, was_searching, || {
            !self.queue.is_empty() || pool.has_global_work()
        });
        // When the sleep ended.
        let mut woke = None;
        if sleep {
            self.parked.set(true);
            shared.parker.wait().await;
            self.parked.set(false);
            sleepers.end_park(shared);
            woke = Some(Instant::now());
        }
        shared.parked_at.store(0, Ordering::Relaxed);
        if sleep && shared.retire.load(Ordering::Acquire) {
            return false;
        }
        // Re-checked, woken with a producer's token, or woken by our own reactor: searching.
        self.searching.set(true);
        if let Some(woke) = woke {
            pool.balancer.poke();
            self.woke.set(Some((woke, self.ticks.get())));
            self.shed_costly_batch(woke.duration_since(parked) < REAL_WAIT);
        }
        true
    }

    /// Times the run of polls since this worker last woke from a park (it is about to park
    /// again). A run of a single poll says too little and leaves the last figure in place.
    fn time_polls(&self) {
        if let Some((at, ticks)) = self.woke.take() {
            let polls = self.ticks.get().wrapping_sub(ticks);
            if polls > 1 {
                self.poll_cost
                    .set(at.elapsed() / u32::try_from(polls).unwrap_or(u32::MAX));
            }
        }
    }

    /// Just woken from a park: if its own reactor pass queued several tasks here, this
    /// worker's polls have lately been costly (I/O), and half of them is worth a wake-up (any
    /// half is after a `short` park, see [`REAL_WAIT`]), gives that half to the spill lane and
    /// wakes a parked worker, so the batch runs on two cores now instead of after
    /// [`SHED_AFTER`] on one.
    fn shed_costly_batch(&self, short: bool) {
        let poll_cost = self.poll_cost.get();
        let half = self.queue.len() / 2;
        if half > 0
            && poll_cost >= COSTLY_POLL
            && (short
                || poll_cost.saturating_mul(u32::try_from(half).unwrap_or(u32::MAX))
                    >= SHED_MIN_WORK)
            && !self.shared.signals.keep_home.load(Ordering::Relaxed)
            && self.idle_core()
        {
            self.shed_half();
        }
    }

    /// The worker's loop: run tasks, park when there are none, until retired.
    async fn work(&self) {
        loop {
            match self.next_task() {
                Some(runnable) => {
                    self.found_work();
                    self.run(runnable);
                }
                None => {
                    if !self.park().await {
                        return;
                    }
                }
            }
        }
    }
}

/// The body of a worker thread. `searching`: whether it starts with a producer's token.
pub(crate) fn run(
    pool: &'static Pool,
    shared: Arc<WorkerShared>,
    queue: LocalQueue,
    searching: bool,
) {
    let local = Rc::new(Local {
        pool,
        shared,
        queue,
        ticks: Cell::new(0),
        last_was_local: Cell::new(false),
        grabbed: Cell::new(0),
        lifo_streak: Cell::new(0),
        lifo_filled: Cell::new(false),
        active: Cell::new(true),
        searching: Cell::new(searching),
        parked: Cell::new(false),
        backlog_since: Cell::new(None),
        backoff: Backoff::new(),
        cost_sample: Cell::new(None),
        woke: Cell::new(None),
        poll_cost: Cell::new(Duration::ZERO),
    });
    local.shared.parker.register();
    local
        .shared
        .tid
        .store(crate::os::current_tid(), Ordering::Relaxed);
    if CURRENT.with(|current| current.set(local.clone())).is_err() {
        unreachable!("a thread runs one worker");
    }
    let _exit = ExitGuard(&local);
    pool.balancer.poke();
    async_io::block_on(local.work());
}

/// Leaves nothing behind when a worker thread ends, however it ends.
struct ExitGuard<'a>(&'a Rc<Local>);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        let local = self.0;
        let pool = local.pool;
        local.active.set(false);
        let unwinding = std::thread::panicking();
        if unwinding {
            // Only a bug in the scheduler itself gets here; make sure nobody counts on us.
            pool.sleepers.cancel_idle(&local.shared);
            if local.searching.replace(false) {
                pool.sleepers.end_search();
            }
        }
        local.spill_all();
        pool.worker_exited(&local.shared, unwinding);
        if pool.has_global_work() {
            pool.notify();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_minimum_shrinks_with_the_pool_down_to_a_floor() {
        assert_eq!(steal_min(0), STEAL_SPREAD);
        assert_eq!(steal_min(1), 64);
        assert_eq!(steal_min(2), 32);
        assert_eq!(steal_min(8), 8);
        assert_eq!(steal_min(16), STEAL_FLOOR);
        assert_eq!(steal_min(256), STEAL_FLOOR);
    }
}
