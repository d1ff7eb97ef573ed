//! The two kinds of run queue: one global injector and one local queue per worker.
//!
//! Where a woken task goes (the whole rule, implemented in `worker::schedule`):
//! - woken or spawned **on a worker thread** while it runs a task: the back of that worker's
//!   local queue. Nobody is woken: the worker itself will get to it, and if it doesn't (a stuck
//!   poll) the balancer moves it out;
//! - the local queue is **full**: half of it and the new task go to the injector, and one parked
//!   worker is woken for them (Go's `runqputslow`);
//! - woken **anywhere else** (a timer, a socket, a plain thread, `block_on`): the injector, and
//!   one parked worker is woken if no worker is already searching (`park.rs`).

use async_task::Runnable;

/// Capacity of each worker's local queue (a power of two, as st3 requires).
///
/// 256 is tokio's and Go's figure. Larger queues overflow into the shared injector less often,
/// but everything in a local queue is invisible to other workers until the balancer moves it, so
/// a long local queue is latency the balancer has to repair. With 1000 busy tasks on 2 workers
/// (the timer-lateness workload) the overflow path carries the rest at no measurable cost.
pub(crate) const LOCAL_QUEUE_CAPACITY: usize = 256;

/// The global injector: an unbounded multi-producer multi-consumer FIFO queue.
///
/// Anyone may push (any thread, at any time); workers pop one task or grab a batch; the balancer
/// pushes what it moves out of local queues. FIFO, so a task woken from outside the pool waits
/// behind at most what was queued before it.
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

    /// Moves up to `count(len)` tasks from the front into the injector; returns how many moved.
    /// Moves nothing if the balancer is taking a batch at this very moment.
    pub(crate) fn spill(&self, injector: &Injector, count: impl FnMut(usize) -> usize) -> usize {
        match self.queue.drain(count) {
            Ok(batch) => batch.map(|runnable| injector.push(runnable)).count(),
            Err(_) => 0,
        }
    }

    /// Moves every task into the injector. Used when the worker stops running its queue
    /// (retirement, unwinding, a nested `block_on`) and by the balancer's scratch queue. The
    /// caller wakes a worker afterwards if the injector holds work (design.md §3.2).
    pub(crate) fn spill_all(&self, injector: &Injector) -> usize {
        let mut moved = 0;
        while let Some(runnable) = self.pop() {
            injector.push(runnable);
            moved += 1;
        }
        moved
    }
}

/// Moves up to `count(len)` tasks out of another worker's local queue into the injector, through
/// `scratch` (st3 moves batches only between its own queues). Balancer only.
pub(crate) fn steal_into_injector(
    stealer: &st3::fifo::Stealer<Runnable>,
    scratch: &LocalQueue,
    injector: &Injector,
    count: impl FnMut(usize) -> usize,
) -> usize {
    match stealer.steal(&scratch.queue, count) {
        Ok(_) => scratch.spill_all(injector),
        Err(_) => 0,
    }
}
