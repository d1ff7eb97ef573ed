//! The executors under comparison, behind one trait ([`Executor`]: spawn, block_on, and a
//! [`Kind`] that names it) so that every workload is written once.
//!
//! Each child process starts exactly one of them ([`Kind::start`]), so the global pools of the
//! others never exist in it:
//! - `smolscale`: this crate, configured through `Builder::threads` when `--threads` is given;
//! - `tokio`: a multi-thread runtime with `worker_threads = N`;
//! - `async-executor`: one `Executor<'static>` run by N threads, each in
//!   `async_io::block_on(ex.run(pending()))`, which is how smol runs it;
//! - `async-global-executor`: its global pool, with min = max = N threads when `--threads` is
//!   given (its default is one per CPU, and it never starts more by itself);
//! - `smolscale-0.4`: the crates.io release, one worker per CPU (it can't be configured);
//! - `floor`: the single-threaded lower bound of [`crate::floor`].
//!
//! N is `--threads`, or else the number of CPUs. Without `--threads`, smolscale and
//! async-global-executor start with their defaults, which honour their environment variables.
//!
//! Tasks of all of them are wrapped in one [`Task`] type with async-task's semantics: awaiting
//! gives the output, dropping cancels, [`Task::detach`] lets it run on.

use std::future::Future;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::floor::Floor;

/// Which executor a child process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Smolscale,
    Tokio,
    AsyncExecutor,
    AsyncGlobalExecutor,
    Smolscale04,
    Floor,
}

impl Kind {
    /// Every executor, in the order of the tables' columns.
    pub const ALL: [Kind; 6] = [
        Kind::Smolscale,
        Kind::Tokio,
        Kind::AsyncExecutor,
        Kind::AsyncGlobalExecutor,
        Kind::Smolscale04,
        Kind::Floor,
    ];

    /// The name used on the command line, in tables and in the raw results.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Smolscale => "smolscale",
            Kind::Tokio => "tokio",
            Kind::AsyncExecutor => "async-executor",
            Kind::AsyncGlobalExecutor => "async-global-executor",
            Kind::Smolscale04 => "smolscale-0.4",
            Kind::Floor => "floor",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The worker threads this executor runs with when the harness asks for `requested` (every
    /// pool defaults to one per CPU; smolscale 0.4 can't be told otherwise, the floor is one).
    pub fn threads(self, requested: Option<usize>) -> usize {
        match self {
            Kind::Floor => 1,
            Kind::Smolscale04 => crate::sys::cores(),
            _ => requested.unwrap_or_else(crate::sys::cores),
        }
    }

    /// Starts this executor with the worker count `--threads` asked for (`None`: its own
    /// default) and hands it to `visit`. Call once per process: the pools are global.
    pub fn start<V: Visit>(self, requested: Option<usize>, visit: V) -> V::Output {
        let threads = self.threads(requested);
        match self {
            Kind::Smolscale => {
                if let Some(threads) = requested {
                    smolscale::Builder::from_env()
                        .expect("valid SMOLSCALE_* variables")
                        .threads(threads)
                        .install()
                        .expect("smolscale is configured before its first spawn");
                }
                visit.visit(Smolscale)
            }
            Kind::Tokio => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .enable_all()
                    .build()
                    .expect("building the tokio runtime");
                visit.visit(Tokio(Box::leak(Box::new(runtime))))
            }
            Kind::AsyncExecutor => {
                let ex: &'static async_executor::Executor<'static> =
                    Box::leak(Box::new(async_executor::Executor::new()));
                for i in 0..threads {
                    std::thread::Builder::new()
                        .name(format!("async-executor-{i}"))
                        .spawn(move || {
                            async_io::block_on(ex.run(futures_lite::future::pending::<()>()))
                        })
                        .expect("spawning an async-executor thread");
                }
                visit.visit(AsyncExecutor(ex))
            }
            Kind::AsyncGlobalExecutor => {
                match requested {
                    Some(threads) => async_global_executor::init_with_config(
                        async_global_executor::GlobalExecutorConfig::default()
                            .with_min_threads(threads)
                            .with_max_threads(threads),
                    ),
                    None => async_global_executor::init(),
                }
                visit.visit(AsyncGlobalExecutor)
            }
            Kind::Smolscale04 => visit.visit(Smolscale04),
            Kind::Floor => visit.visit(Floor),
        }
    }
}

/// Something to do with whichever executor a process started (a workload): the generic
/// method is what lets one workload body run on every executor.
pub trait Visit {
    type Output;
    fn visit<E: Executor>(self, ex: E) -> Self::Output;
}

/// One executor: how to spawn a task on it and how to block a thread on a future.
pub trait Executor: Copy + Send + Sync + 'static {
    /// Which executor this is (its name is `KIND.name()`).
    const KIND: Kind;

    /// Spawns a task; it runs until it completes, or until its [`Task`] is dropped.
    fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Runs `future` to completion on the calling thread, as a user of this executor's
    /// `block_on` would. `Send + 'static` because smolscale 0.4 requires it.
    fn block_on<F>(self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
}

/// A spawned task, whichever executor spawned it.
pub struct Task<T>(Handle<T>);

enum Handle<T> {
    /// Every executor but tokio hands out async-task's tasks.
    AsyncTask(async_task::Task<T>),
    Tokio(AbortOnDrop<T>),
}

/// A tokio join handle that cancels its task when dropped, like an async-task `Task` (tokio's
/// own handle detaches instead). `None` once detached.
struct AbortOnDrop<T>(Option<tokio::task::JoinHandle<T>>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

impl<T> Task<T> {
    pub fn from_async_task(task: async_task::Task<T>) -> Self {
        Task(Handle::AsyncTask(task))
    }

    /// Lets the task run on after this handle is gone.
    pub fn detach(self) {
        match self.0 {
            Handle::AsyncTask(task) => task.detach(),
            Handle::Tokio(mut handle) => drop(handle.0.take()),
        }
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().0 {
            Handle::AsyncTask(task) => Pin::new(task).poll(cx),
            Handle::Tokio(handle) => {
                let handle = handle.0.as_mut().expect("a detached task is never polled");
                match Pin::new(handle).poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(output)) => Poll::Ready(output),
                    Poll::Ready(Err(error)) if error.is_panic() => {
                        resume_unwind(error.into_panic())
                    }
                    Poll::Ready(Err(error)) => panic!("awaited a cancelled tokio task: {error}"),
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
pub struct Smolscale;

impl Executor for Smolscale {
    const KIND: Kind = Kind::Smolscale;

    fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Task::from_async_task(smolscale::spawn(future))
    }

    fn block_on<F>(self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        smolscale::block_on(future)
    }
}

#[derive(Clone, Copy)]
pub struct Tokio(&'static tokio::runtime::Runtime);

impl Executor for Tokio {
    const KIND: Kind = Kind::Tokio;

    fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Task(Handle::Tokio(AbortOnDrop(Some(self.0.spawn(future)))))
    }

    fn block_on<F>(self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.block_on(future)
    }
}

#[derive(Clone, Copy)]
pub struct AsyncExecutor(&'static async_executor::Executor<'static>);

impl Executor for AsyncExecutor {
    const KIND: Kind = Kind::AsyncExecutor;

    fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Task::from_async_task(self.0.spawn(future))
    }

    /// What `smol::block_on` does: the calling thread drives the reactor, not the executor.
    fn block_on<F>(self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        async_io::block_on(future)
    }
}

#[derive(Clone, Copy)]
pub struct AsyncGlobalExecutor;

impl Executor for AsyncGlobalExecutor {
    const KIND: Kind = Kind::AsyncGlobalExecutor;

    fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Task::from_async_task(async_global_executor::spawn(future))
    }

    fn block_on<F>(self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        async_global_executor::block_on(future)
    }
}

#[derive(Clone, Copy)]
pub struct Smolscale04;

impl Executor for Smolscale04 {
    const KIND: Kind = Kind::Smolscale04;

    fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Task::from_async_task(smolscale04::spawn(future))
    }

    fn block_on<F>(self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        smolscale04::block_on(future)
    }
}
