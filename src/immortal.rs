//! Tasks that run until cancelled from outside: smolscale 0.4's `Immortal`, same semantics.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use crate::Task;

/// A task that never ends on its own: it runs until the `Immortal` is dropped (which cancels it)
/// or [`cancel`](Immortal::cancel)led. Think of it as a `Task<!>` with helpers for restarting
/// work that does end.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use smolscale::immortal::{Immortal, RespawnStrategy};
///
/// let runs = Arc::new(AtomicUsize::new(0));
/// let counter = runs.clone();
/// let immortal = Immortal::respawn(
///     RespawnStrategy::FixedDelay(Duration::from_millis(1)),
///     move || {
///         let counter = counter.clone();
///         async move { counter.fetch_add(1, Ordering::SeqCst) }
///     },
/// );
/// smolscale::block_on(async {
///     while runs.load(Ordering::SeqCst) < 3 {
///         async_io::Timer::after(Duration::from_millis(1)).await;
///     }
///     immortal.cancel().await;
/// });
/// ```
#[derive(Debug)]
pub struct Immortal(Task<Infallible>);

impl Immortal {
    /// Spawns a future that never returns.
    ///
    /// ```
    /// use smolscale::immortal::Immortal;
    /// let immortal = Immortal::spawn(futures_lite::future::pending());
    /// drop(immortal); // cancels it
    /// ```
    pub fn spawn<F>(future: F) -> Self
    where
        F: Future<Output = Infallible> + Send + 'static,
    {
        Self(crate::spawn(future))
    }

    /// Spawns a task that runs `make()` to completion over and over, waiting between runs as
    /// `strategy` says. The outputs are dropped.
    pub fn respawn<T, F>(
        strategy: RespawnStrategy,
        mut make: impl FnMut() -> F + Send + 'static,
    ) -> Self
    where
        T: Send,
        F: Future<Output = T> + Send,
    {
        Self::spawn(async move {
            loop {
                make().await;
                strategy.wait().await;
            }
        })
    }

    /// Cancels the task and waits until it has stopped running (dropping the `Immortal` cancels
    /// it too, without waiting).
    pub async fn cancel(self) {
        self.0.cancel().await;
    }
}

/// How [`Immortal::respawn`] waits before running its future again.
///
/// ```
/// use std::time::Duration;
/// use smolscale::immortal::{Immortal, RespawnStrategy};
///
/// // Poll something every 100 to 200 ms, forever (until dropped).
/// let poller = Immortal::respawn(
///     RespawnStrategy::JitterDelay(Duration::from_millis(100), Duration::from_millis(200)),
///     || async { /* check for news */ },
/// );
/// drop(poller);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RespawnStrategy {
    /// Right away (after yielding once, so other tasks run).
    Immediate,
    /// After a fixed delay.
    FixedDelay(Duration),
    /// After a delay drawn uniformly from the range, to whole milliseconds (bounds in either
    /// order).
    JitterDelay(Duration, Duration),
}

impl RespawnStrategy {
    async fn wait(self) {
        match self {
            RespawnStrategy::Immediate => futures_lite::future::yield_now().await,
            RespawnStrategy::FixedDelay(delay) => {
                async_io::Timer::after(delay).await;
            }
            RespawnStrategy::JitterDelay(a, b) => {
                let (low, high) = (a.min(b).as_millis() as u64, a.max(b).as_millis() as u64);
                let delay = Duration::from_millis(fastrand::u64(low..=high));
                async_io::Timer::after(delay).await;
            }
        }
    }
}
