//! A holder of tasks that cancels them all when dropped: smolscale 0.4's `TaskReaper`.

use std::sync::Mutex;

use crate::Task;

/// Smallest number of held handles before finished ones are swept out.
const MIN_SWEEP: usize = 64;

/// Holds [`Task`]s and cancels every one still running when the reaper is dropped, without
/// accumulating handles of tasks that have already finished.
///
/// Finished tasks are swept out when the number of held handles doubles since the last sweep,
/// so memory stays proportional to the tasks still running and `attach` costs O(1) amortized.
/// (smolscale 0.4 ran a background task for this; sweeping on `attach` needs none.)
///
/// ```
/// use smolscale::reaper::TaskReaper;
///
/// let reaper = TaskReaper::new();
/// reaper.attach(smolscale::spawn(futures_lite::future::pending::<()>()));
/// for _ in 0..1000 {
///     reaper.attach(smolscale::spawn(async {}));
/// }
/// drop(reaper); // cancels the pending task; the finished ones were only handles
/// ```
#[derive(Debug)]
pub struct TaskReaper<T> {
    inner: Mutex<Held<T>>,
}

#[derive(Debug)]
struct Held<T> {
    tasks: Vec<Task<T>>,
    /// Sweep when `tasks` reaches this length.
    sweep_at: usize,
}

impl<T: Send + 'static> Default for TaskReaper<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static> TaskReaper<T> {
    /// An empty reaper.
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Held {
                tasks: Vec::new(),
                sweep_at: MIN_SWEEP,
            }),
        }
    }

    /// Hands a task to the reaper: it keeps running, and is cancelled if still running when the
    /// reaper is dropped.
    pub fn attach(&self, task: Task<T>) {
        let mut held = match self.inner.lock() {
            Ok(held) => held,
            Err(poisoned) => poisoned.into_inner(),
        };
        held.tasks.push(task);
        if held.tasks.len() >= held.sweep_at {
            held.tasks.retain(|task| !task.is_finished());
            held.sweep_at = (held.tasks.len() * 2).max(MIN_SWEEP);
        }
    }
}
