//! The floor: the cheapest executor a message-passing workload can run on, to bound what any
//! pool can do with it.
//!
//! One thread, no synchronisation of its own: the run queue is a `VecDeque<Runnable>` in a
//! thread-local `RefCell`, tasks are made by `async_task::spawn_local` and scheduling just pushes
//! onto that queue. `block_on` polls the main future on the same thread whenever it was woken,
//! and in between runs queued runnables in FIFO order, parking only when both are idle.
//!
//! It only runs workloads whose wake-ups all happen on that thread (the micro workloads without
//! background CPU load): a task woken from another thread (a timer, a socket) would be queued on
//! that other thread's queue and never run.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use async_task::Runnable;

use crate::executors::{Executor, Kind, Task};

thread_local! {
    static QUEUE: RefCell<VecDeque<Runnable>> = const { RefCell::new(VecDeque::new()) };
}

#[derive(Clone, Copy)]
pub struct Floor;

/// Wakes the main future of [`Floor::block_on`]: a flag, plus an unpark in case the thread
/// parked (which only happens when the queue is empty).
struct MainWaker {
    woken: AtomicBool,
    thread: Thread,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

impl Executor for Floor {
    const KIND: Kind = Kind::Floor;

    fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let schedule = |runnable| QUEUE.with(|queue| queue.borrow_mut().push_back(runnable));
        let (runnable, task) = async_task::spawn_local(future, schedule);
        runnable.schedule();
        Task::from_async_task(task)
    }

    fn block_on<F>(self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let main = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            thread: std::thread::current(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if main.woken.swap(false, Ordering::Acquire) {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            // Pop in its own statement: the runnable may spawn, which borrows the queue again.
            let next = QUEUE.with(|queue| queue.borrow_mut().pop_front());
            match next {
                Some(runnable) => {
                    runnable.run();
                }
                None if !main.woken.load(Ordering::Acquire) => std::thread::park(),
                None => {}
            }
        }
    }
}
