//! The one door through which the scheduler reaches threads, atomics and locks.
//!
//! Everything the scheduling protocols touch (the sleeper list and its counters, the per-worker
//! parkers, the injector) is imported from here. Under `--cfg smolscale_loom` the same code is
//! compiled against [loom]'s model-checked primitives, so the models in `src/loom_models.rs`
//! exercise the real protocol code rather than a copy of it (tokio's practice).
//!
//! [loom]: https://docs.rs/loom

#[cfg(not(smolscale_loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(smolscale_loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

/// Locks a mutex, ignoring poisoning.
///
/// Our critical sections never run user code, so a poisoned lock only means some unrelated
/// panic unwound through a guard; the data it protects is still consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
