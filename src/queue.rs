//! The run queues: one local queue per worker, and two global lanes.
//!
//! Where a woken task goes (the whole rule, implemented in `worker::schedule`):
//! - woken or spawned **on a worker thread** while it runs a task: the back of that worker's
//!   local queue. Nobody is woken: the worker itself will get to it, and if it doesn't (a stuck
//!   poll) the balancer moves it out;
//! - woken **anywhere else** (a timer, a socket, a plain thread, `block_on`): the **injector**
//!   lane, and one parked worker is woken if no worker is already searching (`park.rs`);
//! - work the pool **redistributes**: the **spill** lane. That is half of a full local queue
//!   plus the new task (Go's `runqputslow`), what the balancer moves out of stuck or overloaded
//!   workers, and the queue of a worker that retires or blocks in a nested `block_on`. A parked
//!   worker is woken for it too, except for the overflow of a worker whose recent tasks were
//!   tiny one-shot ones (`Signals::keep_home` in `worker.rs`): that worker drains it itself.
//!
//! Why two lanes: tasks woken from outside are waiting on the world (a timer, a socket, another
//! thread) and are served ahead of local work, while spilled tasks were already queued and are
//! served at the pace of local work. In one shared FIFO, a timer's wake-up queued behind hundreds
//! of spilled busy tasks and fired 120 ms late, and 10 000 spawns from a plain thread took
//! seconds to drain past busy workers (see BENCHMARKS.md).

use std::collections::VecDeque;

use async_task::Runnable;

use crate::sync::{lock, AtomicUsize, Mutex, Ordering};

/// Capacity of each worker's local queue (a power of two, as st3 requires).
///
/// 256 is tokio's and Go's figure. Larger queues overflow into the spill lane less often, but
/// everything in a local queue is invisible to other workers until the balancer moves it, so a
/// long local queue is latency the balancer has to repair.
pub(crate) const LOCAL_QUEUE_CAPACITY: usize = 256;

/// Capacity of the injector's ring, in tasks: 64 KiB of slots, allocated when the pool starts.
/// A burst from outside that outruns the workers by more queues behind it, under a lock.
const INJECTOR_RING_CAPACITY: usize = 4096;

/// The injector: an unbounded multi-producer multi-consumer FIFO queue, lock-free until a
/// burst fills its ring of [`INJECTOR_RING_CAPACITY`] tasks; from then until the overflow
/// behind the ring drains, pushes take a lock.
///
/// Anyone may push (any thread, at any time), one task at a time; workers pop one task or grab
/// a batch. FIFO, so a task waits behind at most what was queued in it before.
///
/// A fixed ring (crossbeam's `ArrayQueue`) with a locked deque behind it, not an unbounded
/// lock-free queue: `SegQueue` allocates a block for every 31 pushes and its last popper frees
/// it, so a thread spawning a burst allocated blocks that the workers freed. With glibc's
/// allocator those frees take the allocating thread's arena lock, the very lock its next spawn
/// takes to allocate the task: 80 % of the futex calls of `ss04.spawn_many` were that lock
/// changing hands (tuning log 59). The ring allocates nothing after it is built.
///
/// Order: every task in the ring is older than every task in the overflow deque. A push goes
/// to the ring only while the deque is empty, and takers empty the ring before the deque.
#[derive(Debug)]
pub(crate) struct Injector {
    #[cfg(not(smolscale_loom))]
    ring: crossbeam_queue::ArrayQueue<Runnable>,
    /// Tasks pushed while the ring was full, or while this held any.
    #[cfg(not(smolscale_loom))]
    overflow: SpillLane,
    /// loom can't see inside `ArrayQueue`'s atomics; a locked deque has the same contract.
    #[cfg(smolscale_loom)]
    queue: loom::sync::Mutex<std::collections::VecDeque<Runnable>>,
}

#[cfg(not(smolscale_loom))]
impl Default for Injector {
    fn default() -> Self {
        Self {
            ring: crossbeam_queue::ArrayQueue::new(INJECTOR_RING_CAPACITY),
            overflow: SpillLane::default(),
        }
    }
}

#[cfg(not(smolscale_loom))]
impl Injector {
    pub(crate) fn push(&self, runnable: Runnable) {
        // Behind the overflow if it holds anything, so that nothing overtakes it. (A push
        // racing with the overflow's first is unordered with it either way.)
        let runnable = if self.overflow.is_empty() {
            match self.ring.push(runnable) {
                Ok(()) => return,
                Err(runnable) => runnable,
            }
        } else {
            runnable
        };
        self.overflow.push(runnable);
    }

    /// Both halves are SeqCst reads, as the wake-up protocol needs (`park.rs`): the ring's
    /// indices and the overflow's length.
    pub(crate) fn is_empty(&self) -> bool {
        self.ring.is_empty() && self.overflow.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.ring.len() + self.overflow.len()
    }

    /// Pops up to `n` tasks, in order, handing each to `sink`; returns how many `sink` kept. A
    /// task `sink` hands back goes back into the injector, behind what is there, and nothing
    /// more is popped.
    pub(crate) fn pop_into(
        &self,
        n: usize,
        mut sink: impl FnMut(Runnable) -> Result<(), Runnable>,
    ) -> usize {
        let (kept, handed_back) = hand_over(n, || self.ring.pop(), &mut sink);
        if let Some(runnable) = handed_back {
            self.push(runnable);
            return kept;
        }
        // The ring ran out before the share did: the rest comes from the overflow, under one
        // lock (`pop_into` skips an empty overflow without taking it).
        if kept < n {
            return kept + self.overflow.pop_into(n - kept, sink);
        }
        kept
    }
}

#[cfg(smolscale_loom)]
impl Default for Injector {
    fn default() -> Self {
        Self {
            queue: loom::sync::Mutex::default(),
        }
    }
}

#[cfg(smolscale_loom)]
impl Injector {
    pub(crate) fn push(&self, runnable: Runnable) {
        self.queue.lock().unwrap().push_back(runnable);
    }

    pub(crate) fn pop(&self) -> Option<Runnable> {
        self.queue.lock().unwrap().pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.lock().unwrap().is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.lock().unwrap().len()
    }

    pub(crate) fn pop_into(
        &self,
        n: usize,
        sink: impl FnMut(Runnable) -> Result<(), Runnable>,
    ) -> usize {
        let (kept, handed_back) = hand_over(n, || self.pop(), sink);
        if let Some(runnable) = handed_back {
            self.push(runnable);
        }
        kept
    }
}

/// What a worker takes work from: the [`Injector`] or the [`SpillLane`].
pub(crate) trait Lane {
    /// Whether the lane holds tasks woken from outside the pool (the injector), which a worker
    /// runs as a batch (`worker::Local::grabbed`).
    const FROM_OUTSIDE: bool;

    /// Pops the task at the front, then up to `share(len)` more, `len` being how many were
    /// queued behind the first, handing those to `sink` in order. Returns the first and how
    /// many `sink` kept, or `None` if the lane was empty. A task `sink` hands back stays in the
    /// lane, and nothing more is popped.
    fn take(
        &self,
        share: impl FnOnce(usize) -> usize,
        sink: impl FnMut(Runnable) -> Result<(), Runnable>,
    ) -> Option<(Runnable, usize)>;
}

/// Hands up to `n` tasks from `pop` to `sink`, in order, until `sink` hands one back or `pop`
/// runs out. Returns how many `sink` kept, and the task it handed back.
fn hand_over(
    n: usize,
    mut pop: impl FnMut() -> Option<Runnable>,
    mut sink: impl FnMut(Runnable) -> Result<(), Runnable>,
) -> (usize, Option<Runnable>) {
    let mut kept = 0;
    while kept < n {
        let Some(runnable) = pop() else {
            break;
        };
        if let Err(runnable) = sink(runnable) {
            return (kept, Some(runnable));
        }
        kept += 1;
    }
    (kept, None)
}

impl Lane for Injector {
    const FROM_OUTSIDE: bool = true;

    fn take(
        &self,
        share: impl FnOnce(usize) -> usize,
        sink: impl FnMut(Runnable) -> Result<(), Runnable>,
    ) -> Option<(Runnable, usize)> {
        // The pop first: on an empty injector, a searching worker's common case, that is all
        // it costs.
        #[cfg(not(smolscale_loom))]
        let Some(first) = self.ring.pop() else {
            // All of it from the overflow, under one lock.
            return self.overflow.take(share, sink);
        };
        #[cfg(smolscale_loom)]
        let first = self.pop()?;
        Some((first, self.pop_into(share(self.len()), sink)))
    }
}

/// Capacity the spill lane keeps once it runs empty, in tasks; a larger one (left by a burst)
/// is given back to the allocator then.
const SPILL_KEEP_CAPACITY: usize = 1 << 16;

/// The spill lane: an unbounded multi-producer multi-consumer FIFO queue that moves tasks in
/// batches, under one lock per batch.
///
/// Everything that goes through it is a batch: half a full local queue, a shed, what the
/// balancer moves, a retiring worker's queue; and workers take it out as fair shares. A
/// lock-free queue (the injector's) paid two compare-and-swaps per task on top, one in and one
/// out: 14 % of the samples of 10 000 local spawns, whose overflow went through it one task at
/// a time (tuning log 58).
#[derive(Default)]
pub(crate) struct SpillLane {
    tasks: Mutex<VecDeque<Runnable>>,
    /// The deque's length, stored under the lock after each change, read without it. SeqCst,
    /// like the injector's indices: a pusher's store and a parking worker's load are ordered
    /// by the fences of the wake-up protocol (`park.rs`).
    len: AtomicUsize,
}

impl SpillLane {
    pub(crate) fn push(&self, runnable: Runnable) {
        self.extend(std::iter::once(runnable));
    }

    /// Appends a batch, in order, under one lock; returns how many tasks it held.
    pub(crate) fn extend(&self, batch: impl IntoIterator<Item = Runnable>) -> usize {
        let mut tasks = lock(&self.tasks);
        let before = tasks.len();
        tasks.extend(batch);
        self.len.store(tasks.len(), Ordering::SeqCst);
        tasks.len() - before
    }

    /// Takes the task at the front (the models' way in; workers take shares).
    #[cfg(all(test, smolscale_loom))]
    pub(crate) fn pop(&self) -> Option<Runnable> {
        self.take(|_| 0, Err).map(|(first, _)| first)
    }

    /// Pops up to `n` tasks under one lock, in order, handing each to `sink`; returns how many
    /// `sink` kept. A task `sink` hands back stays at the front.
    pub(crate) fn pop_into(
        &self,
        n: usize,
        sink: impl FnMut(Runnable) -> Result<(), Runnable>,
    ) -> usize {
        if self.is_empty() {
            return 0;
        }
        self.hand_over_locked(&mut lock(&self.tasks), n, sink)
    }

    /// [`pop_into`](Self::pop_into) with the lock held; publishes the new length, and gives
    /// back a drained burst's memory.
    fn hand_over_locked(
        &self,
        tasks: &mut VecDeque<Runnable>,
        n: usize,
        sink: impl FnMut(Runnable) -> Result<(), Runnable>,
    ) -> usize {
        let (kept, handed_back) = hand_over(n, || tasks.pop_front(), sink);
        if let Some(runnable) = handed_back {
            tasks.push_front(runnable);
        }
        if tasks.is_empty() && tasks.capacity() > SPILL_KEEP_CAPACITY {
            tasks.shrink_to(SPILL_KEEP_CAPACITY);
        }
        self.len.store(tasks.len(), Ordering::SeqCst);
        kept
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The length only: printing the tasks would take the lock.
impl std::fmt::Debug for SpillLane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpillLane")
            .field("len", &self.len())
            .finish()
    }
}

impl Lane for SpillLane {
    const FROM_OUTSIDE: bool = false;

    fn take(
        &self,
        share: impl FnOnce(usize) -> usize,
        sink: impl FnMut(Runnable) -> Result<(), Runnable>,
    ) -> Option<(Runnable, usize)> {
        if self.is_empty() {
            return None;
        }
        let mut tasks = lock(&self.tasks);
        let first = tasks.pop_front()?;
        let n = share(tasks.len());
        Some((first, self.hand_over_locked(&mut tasks, n, sink)))
    }
}

/// One worker's run queue: a bounded FIFO ring (st3) that only its worker pushes to and pops
/// from, and that the balancer may take batches from through a [`st3::fifo::Stealer`].
///
/// Full means full: `push` hands the task back and the caller spills to the spill lane.
#[derive(Debug)]
pub(crate) struct LocalQueue {
    queue: st3::fifo::Worker<Runnable>,
}

impl LocalQueue {
    pub(crate) fn new() -> Self {
        Self {
            queue: st3::fifo::Worker::new(LOCAL_QUEUE_CAPACITY),
        }
    }

    pub(crate) fn stealer(&self) -> st3::fifo::Stealer<Runnable> {
        self.queue.stealer()
    }

    /// The st3 queue itself, as the destination of a steal.
    pub(crate) fn worker(&self) -> &st3::fifo::Worker<Runnable> {
        &self.queue
    }

    pub(crate) fn push(&self, runnable: Runnable) -> Result<(), Runnable> {
        self.queue.push(runnable)
    }

    pub(crate) fn pop(&self) -> Option<Runnable> {
        self.queue.pop()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Tasks queued (including any a concurrent balancer move is taking right now).
    pub(crate) fn len(&self) -> usize {
        self.queue.capacity() - self.queue.spare_capacity()
    }

    /// Room left before `push` fails.
    pub(crate) fn spare(&self) -> usize {
        self.queue.spare_capacity()
    }

    /// Moves up to `count(len)` tasks from the front into the spill lane; returns how many moved.
    /// Moves nothing if the balancer is taking a batch at this very moment.
    pub(crate) fn spill(&self, lane: &SpillLane, count: impl FnMut(usize) -> usize) -> usize {
        match self.queue.drain(count) {
            Ok(batch) => lane.extend(batch),
            Err(_) => 0,
        }
    }

    /// Moves every task into the spill lane. Used when the worker stops running its queue
    /// (retirement, unwinding, a nested `block_on`) and by the balancer's scratch queue. The
    /// caller wakes a worker afterwards if the lane holds work (design.md §3.2).
    pub(crate) fn spill_all(&self, lane: &SpillLane) -> usize {
        lane.extend(std::iter::from_fn(|| self.pop()))
    }
}

/// One worker's LIFO slot: the task woken most recently on that worker, run before its queue
/// (`worker.rs` bounds how often). The worker swaps tasks in and takes them out; the balancer
/// takes what a stuck worker left there. A lock-free atomic cell, so every wake-up costs one
/// atomic swap and no lock.
#[derive(Default)]
pub(crate) struct LifoSlot(crossbeam_utils::atomic::AtomicCell<Option<Runnable>>);

/// The slot is swapped on every wake-up: it must be a plain atomic, not crossbeam's fallback
/// lock.
const _: () = assert!(crossbeam_utils::atomic::AtomicCell::<Option<Runnable>>::is_lock_free());

impl LifoSlot {
    /// Puts `runnable` in the slot and returns what was there.
    pub(crate) fn swap(&self, runnable: Runnable) -> Option<Runnable> {
        self.0.swap(Some(runnable))
    }

    pub(crate) fn take(&self) -> Option<Runnable> {
        self.0.take()
    }
}

impl std::fmt::Debug for LifoSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LifoSlot")
    }
}

/// Moves up to `count(len)` tasks out of another worker's local queue into the spill lane,
/// through `scratch` (st3 moves batches only between its own queues). Balancer only.
pub(crate) fn steal_into(
    stealer: &st3::fifo::Stealer<Runnable>,
    scratch: &LocalQueue,
    lane: &SpillLane,
    count: impl FnMut(usize) -> usize,
) -> usize {
    match stealer.steal(&scratch.queue, count) {
        Ok(_) => scratch.spill_all(lane),
        Err(_) => 0,
    }
}

#[cfg(all(test, not(smolscale_loom)))]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A runnable that appends `id` to `ran` when run.
    fn numbered(id: usize, ran: &Arc<Mutex<Vec<usize>>>) -> Runnable {
        let ran = ran.clone();
        let (runnable, task) = async_task::spawn(
            async move {
                ran.lock().unwrap().push(id);
            },
            |_| {},
        );
        task.detach();
        runnable
    }

    /// Takes a task and up to `share(len)` more from `lane` and runs them, in order; returns
    /// how many ran.
    fn take_and_run(lane: &impl Lane, share: impl FnOnce(usize) -> usize) -> usize {
        let mut taken = Vec::new();
        let Some((first, kept)) = lane.take(share, |runnable| {
            taken.push(runnable);
            Ok(())
        }) else {
            return 0;
        };
        assert_eq!(kept, taken.len());
        first.run();
        taken.into_iter().for_each(|runnable| {
            runnable.run();
        });
        1 + kept
    }

    /// Takes a task and as big a share as `lane` holds into a sink with room for `room`
    /// tasks, then runs the first and what the sink kept, in order; returns how many the sink
    /// kept.
    fn take_into_room_and_run(lane: &impl Lane, room: usize) -> usize {
        let mut taken = Vec::new();
        let (first, kept) = lane
            .take(
                |len| len,
                |runnable| {
                    if taken.len() == room {
                        return Err(runnable);
                    }
                    taken.push(runnable);
                    Ok(())
                },
            )
            .expect("the lane holds tasks");
        assert_eq!(kept, taken.len());
        first.run();
        taken.into_iter().for_each(|runnable| {
            runnable.run();
        });
        kept
    }

    /// Runs everything left in `lane`, in order.
    fn drain(lane: &impl Lane) {
        while let Some((runnable, _)) = lane.take(|_| 0, Err) {
            runnable.run();
        }
    }

    #[test]
    fn the_spill_lane_is_fifo_across_batches_and_shares() {
        let ran = Arc::default();
        let lane = SpillLane::default();
        assert_eq!(lane.extend((0..5).map(|id| numbered(id, &ran))), 5);
        lane.push(numbered(5, &ran));
        assert_eq!(lane.extend((6..10).map(|id| numbered(id, &ran))), 4);
        assert_eq!(lane.len(), 10);

        let taken = take_and_run(&lane, |len| {
            assert_eq!(len, 9, "the share is asked of what queued behind the first");
            len / 2
        });
        assert_eq!((taken, lane.len()), (5, 5));
        drain(&lane);
        assert!(lane.is_empty());
        assert!(lane.take(|len| len, |_| Ok(())).is_none());
        assert_eq!(*ran.lock().unwrap(), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn the_injector_takes_a_first_task_and_a_share_in_order() {
        let ran = Arc::default();
        let injector = Injector::default();
        (0..10).for_each(|id| injector.push(numbered(id, &ran)));
        assert_eq!(take_and_run(&injector, |len| len / 3), 4);
        assert_eq!(take_and_run(&injector, |len| len), 6);
        assert_eq!(take_and_run(&injector, |len| len), 0);
        assert_eq!(*ran.lock().unwrap(), (0..10).collect::<Vec<_>>());
    }

    /// Pushes `ids` into the injector, one at a time.
    fn inject(injector: &Injector, ids: std::ops::Range<usize>, ran: &Arc<Mutex<Vec<usize>>>) {
        ids.for_each(|id| injector.push(numbered(id, ran)));
    }

    #[test]
    fn the_injector_stays_fifo_past_its_ring() {
        const CAP: usize = INJECTOR_RING_CAPACITY;
        let ran = Arc::default();
        let injector = Injector::default();
        // The ring fills; the rest queues in the overflow.
        inject(&injector, 0..CAP + 100, &ran);
        assert_eq!(injector.len(), CAP + 100);
        assert_eq!(injector.overflow.len(), 100);
        // A share taken from the ring leaves room there, but what is pushed now still queues
        // behind the overflow.
        assert_eq!(take_and_run(&injector, |_| 9), 10);
        inject(&injector, CAP + 100..CAP + 110, &ran);
        assert_eq!(injector.overflow.len(), 110);
        // A share that runs past the ring's end continues in the overflow.
        assert_eq!(take_and_run(&injector, |len| len - 50), CAP + 50);
        assert_eq!(injector.len(), 50);
        assert!(injector.ring.is_empty());
        // Once the overflow is drained, pushes go to the ring again.
        drain(&injector);
        inject(&injector, CAP + 110..CAP + 120, &ran);
        assert_eq!((injector.ring.len(), injector.overflow.len()), (10, 0));
        assert_eq!(take_and_run(&injector, |len| len), 10);
        assert_eq!(take_and_run(&injector, |len| len), 0);
        assert_eq!(*ran.lock().unwrap(), (0..CAP + 120).collect::<Vec<_>>());
    }

    #[test]
    fn an_injector_share_a_sink_refuses_stops_there_and_loses_nothing() {
        const CAP: usize = INJECTOR_RING_CAPACITY;
        let ran = Arc::default();
        let injector = Injector::default();
        inject(&injector, 0..CAP + 10, &ran);
        // Room for CAP + 2: the share runs into the overflow, and its refused task stays
        // at the overflow's front.
        assert_eq!(take_into_room_and_run(&injector, CAP + 2), CAP + 2);
        assert_eq!(injector.len(), 7);
        drain(&injector);
        assert_eq!(*ran.lock().unwrap(), (0..CAP + 10).collect::<Vec<_>>());
    }

    /// Three threads push numbered tasks one at a time, more than the ring holds, into an
    /// injector whose overflow is in use, while one thread takes shares: each pusher's tasks
    /// come out once each, in the order it pushed them, across every switch between the ring
    /// and the overflow.
    #[test]
    fn concurrent_pushes_keep_each_pushers_order_through_the_overflow() {
        const PUSHERS: usize = 3;
        const EACH: usize = 3 * INJECTOR_RING_CAPACITY;
        const TOTAL: usize = (PUSHERS + 1) * EACH;
        let ran = Arc::new(Mutex::new(Vec::new()));
        let injector = Arc::new(Injector::default());
        // The ring starts full, with the overflow in use, so the pushers start behind it.
        inject(&injector, PUSHERS * EACH..TOTAL, &ran);
        assert!(!injector.overflow.is_empty());
        let pushers: Vec<_> = (0..PUSHERS)
            .map(|p| {
                let (injector, ran) = (injector.clone(), ran.clone());
                std::thread::spawn(move || {
                    inject(&injector, p * EACH..(p + 1) * EACH, &ran);
                })
            })
            .collect();
        let mut shares = 0usize;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while ran.lock().unwrap().len() < TOTAL {
            assert!(
                std::time::Instant::now() < deadline,
                "tasks were lost: {} of {TOTAL} ran",
                ran.lock().unwrap().len(),
            );
            shares += 1;
            take_and_run(&*injector, |len| (len / 2).min(shares % 200));
        }
        for pusher in pushers {
            pusher.join().expect("a pushing thread panicked");
        }
        assert!(injector.is_empty());
        let ran = ran.lock().unwrap();
        assert_eq!(ran.len(), TOTAL, "a task ran twice");
        for p in 0..=PUSHERS {
            let mine: Vec<_> = ran.iter().copied().filter(|id| id / EACH == p).collect();
            assert_eq!(mine, (p * EACH..(p + 1) * EACH).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_task_the_sink_hands_back_stays_at_the_front() {
        let ran = Arc::default();
        let lane = SpillLane::default();
        lane.extend((0..5).map(|id| numbered(id, &ran)));
        // A sink with room for two: the fourth task comes back and nothing more is popped.
        assert_eq!(take_into_room_and_run(&lane, 2), 2);
        assert_eq!(lane.len(), 2);
        drain(&lane);
        assert_eq!(
            *ran.lock().unwrap(),
            vec![0, 1, 2, 3, 4],
            "a task was lost or reordered"
        );
    }

    #[test]
    fn a_drained_burst_gives_its_memory_back() {
        let ran = Arc::default();
        let lane = SpillLane::default();
        let burst = 4 * SPILL_KEEP_CAPACITY;
        lane.extend((0..burst).map(|id| numbered(id, &ran)));
        assert!(lock(&lane.tasks).capacity() >= burst);
        assert_eq!(take_and_run(&lane, |len| len), burst);
        assert!(lane.is_empty());
        assert!(lock(&lane.tasks).capacity() <= SPILL_KEEP_CAPACITY);
        assert_eq!(ran.lock().unwrap().len(), burst);
    }

    /// Four threads push batches and take shares at once, as overflowing workers, the
    /// balancer and grabbing workers do: every task comes out exactly once.
    #[test]
    fn concurrent_batches_and_shares_lose_nothing() {
        const THREADS: usize = 4;
        const BATCHES: usize = 200;
        const BATCH: usize = 50;
        let ran = Arc::default();
        let lane = Arc::new(SpillLane::default());
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (lane, ran) = (lane.clone(), Arc::clone(&ran));
                std::thread::spawn(move || {
                    for b in 0..BATCHES {
                        let first = (t * BATCHES + b) * BATCH;
                        lane.extend((first..first + BATCH).map(|id| numbered(id, &ran)));
                        take_and_run(&*lane, |len| len / 2);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().expect("a pushing thread panicked");
        }
        drain(&*lane);
        let mut ran = ran.lock().unwrap().clone();
        ran.sort_unstable();
        assert_eq!(ran, (0..THREADS * BATCHES * BATCH).collect::<Vec<_>>());
    }
}
