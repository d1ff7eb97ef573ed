//! The balancer thread: what it samples, what it decides, how it sleeps when the pool is idle.
//!
//! Workers never look at each other's queues. Instead, this one thread periodically samples
//! every worker's published signals (`worker.rs`) and repairs what it finds:
//!
//! 1. **Stuck workers.** A worker whose `poll_seq` has stayed at the same odd value for the
//!    stuck threshold is in one long poll (a blocking call, a CPU loop, a nested `block_on`).
//!    Its local queue is moved to the spill lane at once, and parked workers are woken for it.
//! 2. **Replacement.** If blocked workers leave fewer than the target parallelism able to run
//!    while work waits in a global lane and no worker is parked, threads are started, as many as
//!    are missing, each taking a token from a bucket (a burst of `2 × target`, then one per
//!    25 ms, backing off to 250 ms while starts continue) and never beyond `max_threads`. A stuck
//!    worker counts as blocked if it declared a nested `block_on`, or if the kernel says its
//!    thread sleeps, or has had more than half of a 2 ms window on a CPU, or has run on a CPU
//!    for the stuck threshold again since the balancer first looked (`os.rs`; where the
//!    kernel can't be asked, every stuck worker counts). A thread that is runnable but gets
//!    little CPU is preempted, not blocked: another thread would share the same cores, so it
//!    gets none (its queue is still moved), unless its poll keeps burning CPU that long.
//! 3. **Imbalance.** A running worker whose queue is longer than 117 % of the average, and by
//!    at least 2 tasks, gives half the difference (at most 64 tasks) to the spill lane
//!    (Linux's `imbalance_pct`; tokio's and smolscale 0.4's "steal half, at most 64").
//!    Not a worker that keeps its tasks at home (`Signals::keep_home` in `worker.rs`: its
//!    recent tasks cost under 0.2 µs each, less than moving them), and no worker is woken for
//!    work in the spill lane alone while such a worker runs, unless it was just rescued from a
//!    stuck worker. The balancer clears that verdict when it sees the worker's polls take over
//!    16 µs each on average, or one poll span two of its samples (which also vetoes the
//!    worker's next cheap verdict), unless that poll overflowed the worker's queue: a loop
//!    spawning a burst is not the burst, and its length is no sign of what the tasks cost.
//! 4. **Retirement.** While there are more un-stuck workers than the target, the worker parked
//!    longest retires once it has been parked for the retirement period; one per tick. A
//!    worker told to retire counts as gone from then on, though its thread may take a while to
//!    get a CPU and exit.
//!
//! # How it sleeps
//! It ticks every 1 ms while a worker is stuck or a poll spans two samples, doubling the period
//! after 50 quiet ticks up to 10 ms or half the stuck threshold, whichever is less (so a stuck
//! poll is always caught within threshold + period). Moving work doesn't keep the tick fast: a
//! partly loaded pool has a queue to even out at most ticks, and a 1 ms tick there only woke
//! parked workers more often (BENCHMARKS.md, tuning log 12). When two ticks in a row find every
//! worker parked, both global lanes empty and no poll since the tick before, it sleeps with no
//! timeout at all (or until the next surplus worker's retirement is due): an idle pool makes no
//! periodic wake-ups (design.md §3.6). It does not sleep on the first sample that catches every
//! worker parked: in a pool that parks between messages, that happens at most ticks, and each
//! such sleep cost a poke (a futex wake) from the next worker to unpark. The handshake that
//! makes sleeping safe is Dekker's again: the balancer sets `sleeping` and then re-reads the
//! parked and thread counts (all SeqCst); a worker that leaves its parker (or starts, or exits)
//! changes those counts and then reads `sleeping`, and pokes the balancer awake if it is set.
//! A stale poke costs one spurious tick, never a missed one.
//!
//! None of this is needed for liveness: a task scheduled while every worker is parked is run
//! without the balancer (`park.rs`). The balancer only bounds how long work can wait behind a
//! worker that stopped coming back to its queues.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::os::{thread_state, ThreadState};
use crate::park::Parker;
use crate::pool::{Pool, StartReason};
use crate::queue::{steal_into, LocalQueue};
use crate::sync::{Arc, AtomicBool, Ordering};
use crate::worker::WorkerShared;

/// Tick period while workers are busy: Go's sysmon starts at 20 µs, but our stuck threshold is
/// milliseconds, and 1 ms keeps the balancer's own cost near 0.1 % of a core.
const MIN_PERIOD: Duration = Duration::from_millis(1);
/// Longest tick period while any worker is awake (Go's sysmon tops out at 10 ms), and never
/// more than half the stuck threshold: a poll is seen stuck once two samples, at least a
/// threshold apart, find it still running, so detection takes up to threshold + period, and a
/// longer period let polls a little over the threshold go unseen altogether (measured: 1.1 ms
/// polls with a 1 ms threshold were never caught once the period had grown to 8 ms).
const MAX_PERIOD: Duration = Duration::from_millis(10);
/// Quiet ticks (nothing stuck, no long poll in progress) before the period doubles.
const QUIET_TICKS_BEFORE_BACKOFF: u32 = 50;
/// How long a stuck worker whose thread is runnable is watched before its CPU time says
/// whether it is running a long poll or waiting for a CPU. Two fast ticks: the thread's CPU
/// clock is exact to the moment of the look (`os.rs`), so the window needs no length of its
/// own to be right, only to be long enough that a poll waiting for a CPU, which ends within
/// microseconds of getting one, can't fill half of it. (It was 20 ms while the CPU time came
/// from `/proc`, which credits a running thread only at scheduler ticks, 4 ms apart: a
/// 1.8 ms look credited a preempted thread with 3 ms. A worker held by a CPU loop then got its
/// replacement 25-30 ms after its poll began, 7-9 ms since; BENCHMARKS.md, tuning log 57.)
/// Only replacement waits for it: the worker's queue is moved at the stuck threshold.
const CPU_WINDOW: Duration = Duration::from_millis(2);
/// Ticks in a row that must find every worker parked *and* no poll since the tick before,
/// before the balancer sleeps until poked. A partly loaded pool (workers parking between
/// messages, timers firing every millisecond) keeps ticking at the slow period instead of
/// sleeping whenever a sample catches all workers parked and being poked awake by the next
/// worker to unpark: on 2 cores that cycle was half of the process's context switches.
const IDLE_TICKS_BEFORE_SLEEP: u32 = 2;
/// A worker completing polls slower than this on average between two samples loses its
/// `keep_home` verdict at once (`worker.rs` judges only every 64 polls, which for long polls
/// could take long).
const SLOW_POLL: Duration = Duration::from_micros(16);
/// A queue is overloaded above this percentage of the average (Linux's `imbalance_pct`).
const IMBALANCE_PERCENT: usize = 117;
/// ... and only if it is at least this many tasks above the average.
const MIN_IMBALANCE: usize = 2;
/// Most tasks moved out of one queue per tick (tokio and smolscale 0.4 steal at most 64).
const MAX_MOVE: usize = 64;
/// Thread-start tokens available in a burst, per unit of target parallelism. Two, because the
/// first generation of replacements can itself pick up blocking tasks (2 × CPUs tasks blocking
/// is the design's benchmark), and the second must not wait for a refill.
const BURST_PER_TARGET: usize = 2;
/// Refill period of the thread-start bucket, doubling while starts continue (.NET's thread
/// injection adds one thread per ~0.5 s under starvation; we start faster and back off).
const REFILL_MIN: Duration = Duration::from_millis(25);
const REFILL_MAX: Duration = Duration::from_millis(250);
/// How long ticks wait between looks for async-io's reactor thread until they find it (to give
/// it its slice, `Builder::reactor_slice`), at first. async-io starts the thread when anything
/// first waits on its reactor (a timer, a socket, a worker parking), in most programs right
/// after the pool starts, so the first looks find it. In a process that never starts it, the
/// wait doubles after every look up to [`REACTOR_LOOK_MAX`]: a look reads the name of every
/// thread in `/proc/self/task` (tens of microseconds, more with hundreds of threads).
const REACTOR_LOOK_FIRST: Duration = Duration::from_millis(20);
/// The longest wait between two looks for the reactor thread.
const REACTOR_LOOK_MAX: Duration = Duration::from_secs(5);
/// The name async-io gives its reactor thread.
const REACTOR_THREAD: &str = "async-io";

/// How workers reach the balancer.
#[derive(Debug, Default)]
pub(crate) struct BalancerSignal {
    parker: Parker,
    /// True while the balancer sleeps without a tick. Set (SeqCst) by the balancer before its
    /// last look at the counts; cleared by whoever wakes it. See the module docs.
    sleeping: AtomicBool,
}

impl BalancerSignal {
    /// Wakes the balancer if it sleeps. Call after changing the parked or thread counts.
    pub(crate) fn poke(&self) {
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            self.parker.unpark();
        }
    }
}

/// What the balancer remembers about a worker between ticks.
#[derive(Debug, Clone, Copy)]
struct Observation {
    /// `poll_seq` when last seen.
    seq: u64,
    /// When `seq` was first seen at that value.
    since: Instant,
    /// The tick that last saw this worker (to forget workers that exited).
    tick: u64,
    /// This poll has been found blocked (declared, asleep in the kernel, or burning CPU).
    blocked: bool,
    /// When this poll, past the stuck threshold, was last found runnable, and the thread's CPU
    /// time then: [`CPU_WINDOW`] later, the CPU time it gained tells a CPU-bound poll from a
    /// thread waiting for a CPU.
    runnable_since: Option<(Instant, u64)>,
    /// The thread's CPU time when this poll was first found runnable past the stuck threshold:
    /// a poll that has since run on a CPU for the threshold again is a long poll, however
    /// little of each window it got.
    first_cpu_ns: Option<u64>,
}

impl Observation {
    fn new(seq: u64, now: Instant, tick: u64) -> Self {
        Self {
            seq,
            since: now,
            tick,
            blocked: false,
            runnable_since: None,
            first_cpu_ns: None,
        }
    }

    /// Whether it is time to ask the kernel about this poll's thread: at once, then every
    /// [`CPU_WINDOW`] while it stays runnable without being judged blocked (a look is one small
    /// file read and one `clock_gettime`, ~12 µs; once judged blocked, the poll is not looked
    /// at again).
    fn look_due(&self, now: Instant) -> bool {
        !self.blocked
            && self
                .runnable_since
                .is_none_or(|(at, _)| now.duration_since(at) >= CPU_WINDOW)
    }

    /// Judges this poll, in progress for at least the stuck threshold, from its thread's
    /// state: blocked if the thread sleeps in the kernel, if it had more than half of the
    /// window since the previous look on a CPU, or if it has run on a CPU for `threshold` since
    /// the first look. A thread that is runnable but gets little CPU is waiting for one
    /// (preempted, throttled), and a replacement thread would only compete for the same cores;
    /// but only while its poll is short: a poll that keeps burning CPU, however thinly the
    /// cores are shared, holds its worker for good, and the tasks queued behind it would
    /// otherwise wait for it to end (on 2 cores shared with four other busy threads, each
    /// thread got a third of a core, and a timer task starved for the whole second its
    /// neighbours spun). Where the kernel can't be asked, every long poll counts as blocked.
    fn judge(&mut self, state: ThreadState, now: Instant, threshold: Duration) -> bool {
        self.blocked = match state {
            ThreadState::Blocked | ThreadState::Unknown => true,
            ThreadState::Runnable { cpu_ns } => {
                let first = *self.first_cpu_ns.get_or_insert(cpu_ns);
                let burned = Duration::from_nanos(cpu_ns.saturating_sub(first));
                match self.runnable_since.replace((now, cpu_ns)) {
                    None => false,
                    Some((at, before)) => {
                        let wall = now.duration_since(at).as_nanos();
                        u128::from(cpu_ns.saturating_sub(before)) * 2 > wall || burned >= threshold
                    }
                }
            }
        };
        self.blocked
    }
}

/// Thread-start rate limit (see [`BURST_PER_TARGET`], [`REFILL_MIN`]).
#[derive(Debug)]
struct TokenBucket {
    tokens: usize,
    refill_every: Duration,
    last_refill: Instant,
}

impl TokenBucket {
    fn take(&mut self, capacity: usize, now: Instant) -> bool {
        while self.tokens < capacity && now.duration_since(self.last_refill) >= self.refill_every {
            self.tokens += 1;
            self.last_refill += self.refill_every;
        }
        if self.tokens >= capacity {
            self.tokens = capacity;
            self.last_refill = now;
            self.refill_every = REFILL_MIN;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        if self.tokens == 0 {
            self.refill_every = (self.refill_every * 2).min(REFILL_MAX);
        }
        true
    }
}

struct Balancer {
    pool: &'static Pool,
    /// Per worker id.
    observed: HashMap<usize, Observation>,
    /// st3 moves batches only between its own queues: stolen tasks pass through here on their
    /// way to the spill lane.
    scratch: LocalQueue,
    /// This tick's copy of the worker list (reused to avoid allocating every tick).
    workers: Vec<Arc<WorkerShared>>,
    /// This tick's running (awake, not stuck) workers, as indices into `workers`, each with
    /// the local queue length it published when sampled.
    running: Vec<(usize, usize)>,
    ticks: u64,
    period: Duration,
    /// The period bounds for this pool's stuck threshold (see [`MAX_PERIOD`]).
    min_period: Duration,
    max_period: Duration,
    quiet_ticks: u32,
    /// Ticks in a row that found the pool parked with no poll since the tick before.
    idle_ticks: u32,
    bucket: TokenBucket,
    /// Whether we already warned that `max_threads` stops growth (reset once below the cap).
    warned_cap: bool,
    /// When a tick may next look for async-io's reactor thread; `None` once it was found (or
    /// with no slice to give it).
    reactor_look_at: Option<Instant>,
    /// The wait before the look after that one.
    reactor_look_every: Duration,
}

/// The balancer thread's body.
pub(crate) fn run(pool: &'static Pool) {
    pool.balancer.parker.register();
    let mut balancer = Balancer::new(pool);
    loop {
        let seen = balancer.tick(Instant::now());
        balancer.sleep(seen);
    }
}

/// What one tick saw, for choosing the next sleep.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// Something deserves the fast tick: a worker stuck, or a poll spanning samples.
    busy: bool,
    /// A worker completed or started a poll since the previous tick (or is new).
    polled: bool,
}

impl Balancer {
    fn new(pool: &'static Pool) -> Self {
        let half_threshold = pool.config.stuck_threshold / 2;
        let max_period = MAX_PERIOD.min(half_threshold);
        Balancer {
            pool,
            observed: HashMap::new(),
            scratch: LocalQueue::new(),
            workers: Vec::new(),
            running: Vec::new(),
            ticks: 0,
            period: MIN_PERIOD.min(max_period),
            min_period: MIN_PERIOD.min(max_period),
            max_period,
            quiet_ticks: 0,
            idle_ticks: 0,
            bucket: TokenBucket {
                tokens: BURST_PER_TARGET * pool.target(),
                refill_every: REFILL_MIN,
                last_refill: Instant::now(),
            },
            warned_cap: false,
            reactor_look_at: pool.config.reactor_slice.map(|_| Instant::now()),
            reactor_look_every: REACTOR_LOOK_FIRST,
        }
    }

    /// One sample and the repairs it calls for.
    fn tick(&mut self, now: Instant) -> Seen {
        let pool = self.pool;
        if self.reactor_look_at.is_some_and(|at| now >= at) {
            self.tune_reactor(now);
        }
        self.ticks += 1;
        pool.balancer_ticks.fetch_add(1, Ordering::Relaxed);
        self.workers.clear();
        pool.with_workers(|workers| self.workers.extend(workers.iter().cloned()));

        self.running.clear();
        let mut stuck = 0;
        let mut blocked = 0;
        let mut declared_stuck = 0;
        let mut long_poll = false;
        let mut running_total = 0;
        let mut moved = 0;
        // Tasks were moved off a stuck worker this tick: they get a wake-up whatever else.
        let mut rescued = false;
        let mut polled = false;
        // Workers told to retire that have not exited yet: they take no more work, so they
        // count neither as running nor as stuck. Counted as running, a slow exit (its thread
        // waiting for a CPU) kept the surplus looking unretired, and the next ticks retired
        // more workers, down to below the target.
        let mut leaving = 0;
        for (index, worker) in self.workers.iter().enumerate() {
            // Only this thread sets `retire`, so a relaxed read sees every flag it set.
            if worker.retire.load(Ordering::Relaxed) {
                leaving += 1;
                continue;
            }
            let seq = worker.signals.poll_seq.load(Ordering::Relaxed);
            let seen = self.observed.entry(worker.id).or_insert_with(|| {
                polled = true;
                Observation::new(seq, now, self.ticks)
            });
            seen.tick = self.ticks;
            if seen.seq != seq {
                polled = true;
                // Polls completed since the last change, at least one: slower than
                // `SLOW_POLL` each on average means this worker's tasks are not the cheap kind
                // it may keep to itself (`Signals::keep_home`).
                let polls = (seq / 2).saturating_sub(seen.seq / 2);
                if polls > 0
                    && now.duration_since(seen.since)
                        > SLOW_POLL.saturating_mul(u32::try_from(polls).unwrap_or(u32::MAX))
                {
                    worker.signals.keep_home.store(false, Ordering::Relaxed);
                }
                *seen = Observation::new(seq, now, self.ticks);
            }
            let in_poll = seq % 2 == 1;
            let polling_for = now.duration_since(seen.since);
            let declared = worker.signals.in_block_on.load(Ordering::Relaxed);
            if in_poll && (declared || polling_for >= pool.config.stuck_threshold) {
                stuck += 1;
                declared_stuck += usize::from(declared);
                let tid = worker.tid.load(Ordering::Relaxed);
                if declared
                    || seen.blocked
                    || (seen.look_due(now)
                        && seen.judge(thread_state(tid), now, pool.config.stuck_threshold))
                {
                    blocked += 1;
                } else {
                    log::trace!(
                        "smolscale: worker {} in one poll for {polling_for:?}, runnable but not \
                         seen using a CPU (preempted?): no replacement for it yet",
                        worker.id
                    );
                }
                let slot = worker.lifo.take().map(|runnable| pool.spill.push(runnable));
                let n = usize::from(slot.is_some())
                    + steal_into(&worker.stealer, &self.scratch, &pool.spill, |n| n);
                // The worker won't publish its emptied queue until its poll ends. Left at the
                // length it had, that figure made every worker that ran dry aim its one steal
                // at this empty queue (the longest published), and `stats()` count its tasks.
                worker.signals.local_len.store(0, Ordering::Relaxed);
                if n > 0 {
                    log::trace!(
                        "smolscale: moved {n} tasks off worker {} (stuck for {polling_for:?})",
                        worker.id
                    );
                    moved += n;
                    rescued = true;
                }
            } else if worker.parked_at.load(Ordering::Relaxed) == 0 {
                // A poll that spans two samples may be about to get stuck: keep sampling fast
                // so the stuck threshold is measured to within one short period.
                let spans = in_poll && polling_for > Duration::ZERO;
                long_poll |= spans;
                // A poll this long is no tiny task, whatever the average says (a few costly
                // tasks among thousands of tiny ones): spread this worker's queue, and veto its
                // next cheap verdict. Unless this very poll overflowed the queue: then it is the
                // loop that spawned the queued tasks, its length is theirs to share, not theirs
                // to have, and spreading a tiny burst while it is still being spawned costs more
                // than it saves (BENCHMARKS.md, tuning log 38). A producer that takes the stuck
                // threshold has its queue moved as always.
                let producing = worker.signals.overflowed_in.load(Ordering::Relaxed) == seq;
                if spans && !producing {
                    worker.signals.keep_home.store(false, Ordering::Relaxed);
                    worker.signals.costly_seen.store(true, Ordering::Relaxed);
                }
                // One read per tick: the average and each queue's excess must come from the
                // same sample, or a queue that grew between two reads looks long against its
                // own earlier length (a lone worker had tasks moved off it that way).
                let len = worker.signals.local_len.load(Ordering::Relaxed);
                running_total += len;
                self.running.push((index, len));
            }
        }
        let ticks = self.ticks;
        self.observed.retain(|_, seen| seen.tick == ticks);

        let unstuck = self.workers.len() - leaving - stuck;
        moved += self.even_out(unstuck, running_total);
        if moved > 0 {
            pool.moved.fetch_add(moved as u64, Ordering::Relaxed);
        }
        pool.stuck.store(stuck, Ordering::Relaxed);

        if pool.has_global_work() {
            // Only the spill lane holds work, none of it just rescued from a stuck worker, and a
            // running worker keeps its cheap tasks at home: that worker is draining the lane;
            // waking another would spread them.
            let kept_home = !rescued
                && pool.injector.is_empty()
                && self.running.iter().any(|&(index, _)| {
                    self.workers[index]
                        .signals
                        .keep_home
                        .load(Ordering::Relaxed)
                });
            if !kept_home {
                pool.notify();
            }
            let unblocked = self.workers.len() - leaving - blocked;
            if blocked > 0 && unblocked < pool.target() && pool.sleepers.parked() == 0 {
                self.replace(blocked, declared_stuck, pool.target() - unblocked, now);
            }
        }
        if unstuck > pool.target() {
            self.retire_one(now);
        }
        Seen {
            busy: stuck > 0 || long_poll,
            polled,
        }
    }

    /// Moves work out of overloaded running queues (rule 3 of the module docs). The average is
    /// over every un-stuck worker, parked ones counting as empty queues.
    fn even_out(&mut self, unstuck: usize, running_total: usize) -> usize {
        if unstuck == 0 || running_total == 0 {
            return 0;
        }
        let pool = self.pool;
        let average = running_total / unstuck;
        let mut moved = 0;
        for &(index, len) in &self.running {
            let worker = &self.workers[index];
            if worker.signals.keep_home.load(Ordering::Relaxed) {
                continue;
            }
            if len * 100 > average * IMBALANCE_PERCENT && len >= average + MIN_IMBALANCE {
                let want = ((len - average) / 2).clamp(1, MAX_MOVE);
                let n = steal_into(&worker.stealer, &self.scratch, &pool.spill, |n| want.min(n));
                if n > 0 {
                    log::trace!(
                        "smolscale: moved {n} tasks off worker {} (queue {len}, average {average})",
                        worker.id
                    );
                    moved += n;
                }
            }
        }
        moved
    }

    /// Starts up to `missing` replacement threads, as tokens and the cap allow. Workers that
    /// declared themselves blocked (`declared` of the `stuck`) are replaced without tokens: the
    /// bucket guards against mistaking a long poll for a blocked one, and they can't be mistaken.
    fn replace(&mut self, stuck: usize, declared: usize, missing: usize, now: Instant) {
        let pool = self.pool;
        let capacity = BURST_PER_TARGET * pool.target();
        for started in 0..missing {
            if pool.threads() >= pool.config.max_threads {
                if !self.warned_cap {
                    log::warn!(
                        "smolscale: {stuck} worker(s) stuck while work waits, but the pool is at \
                         max_threads ({}); not starting more (raise SMOLSCALE_MAX_THREADS or \
                         Builder::max_threads if tasks are meant to block)",
                        pool.config.max_threads
                    );
                    self.warned_cap = true;
                }
                return;
            }
            self.warned_cap = false;
            if started >= declared && !self.bucket.take(capacity, now) {
                return;
            }
            if !pool.start_worker(false, StartReason::Replace { stuck }) {
                return;
            }
        }
    }

    /// Retires the longest-parked worker if it has been parked for the retirement period.
    fn retire_one(&mut self, now: Instant) {
        let pool = self.pool;
        let retire_after = pool.config.retire_after;
        let due = |worker: &WorkerShared| {
            let parked_at = worker.parked_at.load(Ordering::Relaxed);
            parked_at != 0 && now.duration_since(pool.instant_of(parked_at)) >= retire_after
        };
        if let Some(worker) = pool.sleepers.take_oldest(due) {
            // Off the sleeper list, nobody else can wake it: this unpark makes it exit.
            worker.retire.store(true, Ordering::Release);
            worker.parker.unpark();
        }
    }

    /// When the next surplus worker is due to retire, if there is a surplus.
    fn retirement_due(&self) -> Option<Instant> {
        let pool = self.pool;
        if pool.threads() <= pool.target() {
            return None;
        }
        let mut due = None;
        pool.sleepers.for_each_parked(|worker| {
            let parked_at = worker.parked_at.load(Ordering::Relaxed);
            if parked_at != 0 {
                due = Some(pool.instant_of(parked_at) + pool.config.retire_after);
            }
            due.is_none()
        });
        due
    }

    /// Gives async-io's reactor thread its slice if it exists yet (it starts with the first
    /// timer, socket or `async_io::block_on`, on whichever thread), else looks again later.
    #[cold]
    fn tune_reactor(&mut self, now: Instant) {
        let Some(slice) = self.pool.config.reactor_slice else {
            return;
        };
        let tids = crate::os::threads_named(REACTOR_THREAD);
        if tids.is_empty() {
            self.reactor_look_at = Some(now + self.reactor_look_every);
            self.reactor_look_every = (self.reactor_look_every * 2).min(REACTOR_LOOK_MAX);
            return;
        }
        self.reactor_look_at = None;
        // More than one only if two versions of async-io run side by side.
        for tid in tids {
            match crate::os::set_slice(tid, slice) {
                Ok(true) => log::debug!(
                    "smolscale: async-io's reactor thread ({tid}) now asks for {slice:?} slices"
                ),
                Ok(false) => log::debug!(
                    "smolscale: async-io's reactor thread ({tid}) keeps its scheduling (a \
                     real-time policy, or not Linux)"
                ),
                Err(err) => log::debug!(
                    "smolscale: async-io's reactor thread ({tid}) keeps its time slice: \
                     sched_setattr: {err}"
                ),
            }
        }
    }

    /// Waits for the next tick, or sleeps until poked if the whole pool has stayed parked for
    /// [`IDLE_TICKS_BEFORE_SLEEP`] ticks.
    fn sleep(&mut self, seen: Seen) {
        let pool = self.pool;
        if seen.busy {
            self.period = self.min_period;
            self.quiet_ticks = 0;
        } else {
            self.quiet_ticks += 1;
            if self.quiet_ticks >= QUIET_TICKS_BEFORE_BACKOFF {
                self.period = (self.period * 2).min(self.max_period);
                self.quiet_ticks = 0;
            }
        }
        let signal = &pool.balancer;
        let all_parked = || pool.sleepers.parked() == pool.threads() && !pool.has_global_work();
        if seen.polled || !all_parked() {
            self.idle_ticks = 0;
        } else {
            self.idle_ticks += 1;
        }
        if self.idle_ticks >= IDLE_TICKS_BEFORE_SLEEP {
            signal.sleeping.store(true, Ordering::SeqCst);
            // Re-read after announcing (pairs with `poke` after a count changes).
            if all_parked() {
                signal.parker.park_until(self.retirement_due());
                signal.sleeping.store(false, Ordering::SeqCst);
                self.period = self.min_period;
                self.quiet_ticks = 0;
                self.idle_ticks = 0;
                return;
            }
            signal.sleeping.store(false, Ordering::SeqCst);
        }
        std::thread::sleep(self.period);
    }
}

#[cfg(all(test, not(smolscale_loom)))]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const THRESHOLD: Duration = Duration::from_millis(5);

    /// A poll's observation after a first look that found its thread runnable, with 100 ms of
    /// CPU time so far: nothing to compare with yet, so not blocked.
    fn runnable_at_first_look(start: Instant) -> Observation {
        let mut seen = Observation::new(1, start, 1);
        assert!(!seen.judge(runnable(Duration::ZERO), start, THRESHOLD));
        seen
    }

    /// A runnable thread that has had `cpu` more than the 100 ms of the first look.
    fn runnable(cpu: Duration) -> ThreadState {
        ThreadState::Runnable {
            cpu_ns: 100 * MS + u64::try_from(cpu.as_nanos()).unwrap(),
        }
    }

    #[test]
    fn a_sleeping_or_unknown_thread_is_blocked_at_once() {
        let now = Instant::now();
        for state in [ThreadState::Blocked, ThreadState::Unknown] {
            let mut seen = Observation::new(1, now, 1);
            assert!(seen.look_due(now));
            assert!(seen.judge(state, now, THRESHOLD));
            assert!(seen.blocked && !seen.look_due(now), "judged once per poll");
        }
    }

    #[test]
    fn a_runnable_thread_is_judged_by_the_cpu_it_gets_over_a_window() {
        let start = Instant::now();
        let mut seen = runnable_at_first_look(start);
        assert!(
            !seen.look_due(start + CPU_WINDOW / 2),
            "no look within the window"
        );

        // Preempted: a tenth of the window on a CPU. Not blocked; the window starts again.
        let later = start + CPU_WINDOW;
        assert!(seen.look_due(later));
        assert!(!seen.judge(runnable(CPU_WINDOW / 10), later, THRESHOLD));
        assert!(!seen.look_due(later + CPU_WINDOW / 2));

        // Then it spins: three quarters of the next window. Blocked (a CPU-bound poll).
        let end = later + CPU_WINDOW;
        let spun = CPU_WINDOW / 10 + CPU_WINDOW * 3 / 4;
        assert!(seen.judge(runnable(spun), end, THRESHOLD));
    }

    #[test]
    fn a_cpu_loop_is_blocked_one_window_after_the_first_look() {
        // What a window costs a worker held by a CPU loop on a core of its own: it gets its
        // replacement one window after the stuck threshold, not several scheduler ticks after.
        let start = Instant::now();
        let mut seen = runnable_at_first_look(start);
        let end = start + CPU_WINDOW;
        assert!(seen.look_due(end));
        assert!(seen.judge(runnable(CPU_WINDOW), end, THRESHOLD));
        assert!(
            CPU_WINDOW <= THRESHOLD / 2,
            "the window is short beside the stuck threshold it follows"
        );
    }

    #[test]
    fn a_poll_that_keeps_burning_cpu_on_shared_cores_is_blocked() {
        let start = Instant::now();
        let mut seen = runnable_at_first_look(start);
        // A third of each window (six busy threads on two cores): preempted, by its share,
        // until the poll has burned the stuck threshold since the first look: a long poll.
        let mut window = 0u32;
        loop {
            window += 1;
            let burned = CPU_WINDOW * window / 3;
            let blocked = seen.judge(runnable(burned), start + CPU_WINDOW * window, THRESHOLD);
            assert_eq!(blocked, burned >= THRESHOLD, "after {burned:?} of CPU");
            if blocked {
                break;
            }
        }
    }

    #[test]
    fn a_short_poll_waiting_for_a_cpu_is_not_blocked() {
        let start = Instant::now();
        let mut seen = runnable_at_first_look(start);
        // Barely runs for several windows (an eighth of each, less than the stuck threshold
        // in all): whatever the wait, not a long poll.
        for window in 1..10u32 {
            let at = start + CPU_WINDOW * window;
            let burned = CPU_WINDOW * window / 8;
            assert!(burned < THRESHOLD);
            assert!(!seen.judge(runnable(burned), at, THRESHOLD));
        }
    }

    #[test]
    fn the_cpu_burned_counts_per_poll() {
        let start = Instant::now();
        let mut seen = runnable_at_first_look(start);
        // Two thirds of the threshold in preempted slices (a third of each window)...
        let windows = u32::try_from((THRESHOLD * 2).as_nanos() / CPU_WINDOW.as_nanos()).unwrap();
        for window in 1..=windows {
            let burned = CPU_WINDOW * window / 3;
            assert!(!seen.judge(runnable(burned), start + CPU_WINDOW * window, THRESHOLD));
        }
        // ...then that poll ends, and the next one starts from its own first look, not from
        // the last one's: another two thirds of the threshold don't make it a long poll.
        let next_start = start + CPU_WINDOW * windows;
        let offset = CPU_WINDOW * windows / 3;
        let mut seen = Observation::new(3, next_start, 2);
        assert!(!seen.judge(runnable(offset), next_start, THRESHOLD));
        for window in 1..=windows {
            let burned = offset + CPU_WINDOW * window / 3;
            let at = next_start + CPU_WINDOW * window;
            assert!(!seen.judge(runnable(burned), at, THRESHOLD));
        }
    }

    const RETIRE_AFTER: Duration = Duration::from_millis(200);

    /// A pool of target 1 with no threads, for ticks driven by hand: one threadless worker in a
    /// poll that never ends, with `stuck_len` tasks' worth of queue published, and two parked
    /// ones (only one of them surplus).
    fn hand_driven_pool(
        stuck_len: usize,
    ) -> (&'static Pool, Arc<WorkerShared>, [Arc<WorkerShared>; 2]) {
        let config = crate::Builder::new()
            .threads(1)
            .stuck_threshold(THRESHOLD)
            .retire_after(RETIRE_AFTER)
            .reactor_slice(None)
            .validate()
            .unwrap();
        let pool: &'static Pool = Box::leak(Box::new(Pool::new(config)));
        let stuck = pool.add_threadless_worker();
        stuck.signals.poll_seq.store(1, Ordering::Relaxed);
        stuck.signals.local_len.store(stuck_len, Ordering::Relaxed);
        let parked = [pool.add_threadless_worker(), pool.add_threadless_worker()];
        for worker in &parked {
            worker
                .parked_at
                .store(pool.nanos_at(Instant::now()), Ordering::Relaxed);
            assert!(pool.sleepers.begin_park(worker, false, || false));
        }
        (pool, stuck, parked)
    }

    #[test]
    fn a_retired_worker_that_has_not_exited_yet_is_no_surplus() {
        let (pool, _stuck, parked) = hand_driven_pool(0);
        let mut balancer = Balancer::new(pool);
        let start = Instant::now();
        balancer.tick(start);
        // The first tick past both the stuck threshold and the retirement period retires the
        // longest parked worker.
        let later = start + RETIRE_AFTER + THRESHOLD;
        balancer.tick(later);
        assert!(
            parked[0].retire.load(Ordering::Relaxed),
            "the surplus worker retires"
        );
        assert_eq!(pool.sleepers.parked(), 1);
        // Its thread has not exited yet (no CPU for it, say) when the next ticks come: the
        // other parked worker is the only one left to run tasks, and must stay.
        for tick in 1..=3 {
            balancer.tick(later + MIN_PERIOD * tick);
        }
        assert!(
            !parked[1].retire.load(Ordering::Relaxed),
            "a second worker retired while the first was still leaving: no worker left to run \
             tasks beside the stuck one"
        );
        assert_eq!(pool.sleepers.parked(), 1);
    }

    #[test]
    fn a_stuck_workers_moved_queue_is_published_empty() {
        let (pool, stuck, _parked) = hand_driven_pool(128);
        let mut balancer = Balancer::new(pool);
        let start = Instant::now();
        balancer.tick(start);
        balancer.tick(start + THRESHOLD);
        assert_eq!(
            stuck.signals.local_len.load(Ordering::Relaxed),
            0,
            "the stuck worker's queue was moved; a stale length draws every dry worker's steal"
        );
        assert_eq!(
            pool.stats().queued_local,
            0,
            "nor do the stats count its tasks"
        );
    }

    #[test]
    fn a_thread_that_falls_asleep_is_blocked() {
        let start = Instant::now();
        let mut seen = Observation::new(3, start, 1);
        // Runnable at the first look, then asleep in the kernel.
        assert!(!seen.judge(runnable(Duration::ZERO), start, THRESHOLD));
        assert!(seen.judge(ThreadState::Blocked, start + CPU_WINDOW, THRESHOLD));
    }
}
