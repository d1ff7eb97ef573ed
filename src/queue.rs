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

use async_task::Runnable;

/// Capacity of each worker's local queue (a power of two, as st3 requires).
///
/// 256 is tokio's and Go's figure. Larger queues overflow into the spill lane less often, but
/// everything in a local queue is invisible to other workers until the balancer moves it, so a
/// long local queue is latency the balancer has to repair.
pub(crate) const LOCAL_QUEUE_CAPACITY: usize = 256;

/// A global lane (the injector or the spill lane): an unbounded multi-producer multi-consumer
/// FIFO queue.
///
/// Anyone may push (any thread, at any time); workers pop one task or grab a batch. FIFO, so a
/// task waits behind at most what was queued in the same lane before it.
#[derive(Debug, Default)]
pub(crate) struct Injector {
    #[cfg(not(smolscale_loom))]
    queue: crossbeam_queue::SegQueue<Runnable>,
    /// loom can't see inside `SegQueue`'s atomics; a locked deque has the same contract.
    #[cfg(smolscale_loom)]
    queue: loom::sync::Mutex<std::collections::VecDeque<Runnable>>,
}

#[cfg(not(smolscale_loom))]
impl Injector {
    pub(crate) fn push(&self, runnable: Runnable) {
        self.queue.push(runnable);
    }

    pub(crate) fn pop(&self) -> Option<Runnable> {
        self.queue.pop()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
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
}

/// One worker's run queue: a bounded FIFO ring (st3) that only its worker pushes to and pops
/// from, and that the balancer may take batches from through a [`st3::fifo::Stealer`].
///
/// Full means full: `push` hands the task back and the caller spills to the injector.
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

    /// Moves up to `count(len)` tasks from the front into a global lane; returns how many moved.
    /// Moves nothing if the balancer is taking a batch at this very moment.
    pub(crate) fn spill(&self, lane: &Injector, count: impl FnMut(usize) -> usize) -> usize {
        match self.queue.drain(count) {
            Ok(batch) => batch.map(|runnable| lane.push(runnable)).count(),
            Err(_) => 0,
        }
    }

    /// Moves every task into a global lane. Used when the worker stops running its queue
    /// (retirement, unwinding, a nested `block_on`) and by the balancer's scratch queue. The
    /// caller wakes a worker afterwards if the lane holds work (design.md §3.2).
    pub(crate) fn spill_all(&self, lane: &Injector) -> usize {
        let mut moved = 0;
        while let Some(runnable) = self.pop() {
            lane.push(runnable);
            moved += 1;
        }
        moved
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

/// Moves up to `count(len)` tasks out of another worker's local queue into a global lane,
/// through `scratch` (st3 moves batches only between its own queues). Balancer only.
pub(crate) fn steal_into(
    stealer: &st3::fifo::Stealer<Runnable>,
    scratch: &LocalQueue,
    lane: &Injector,
    count: impl FnMut(usize) -> usize,
) -> usize {
    match stealer.steal(&scratch.queue, count) {
        Ok(_) => scratch.spill_all(lane),
        Err(_) => 0,
    }
}
