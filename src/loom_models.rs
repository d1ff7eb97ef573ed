//! loom models of the scheduling protocols (design.md §3, starred invariants).
//!
//! Run with `RUSTFLAGS="--cfg smolscale_loom" cargo test --lib --release loom_models` (`.ci/run` does).
//! Each model drives the real protocol code (`park.rs`, `queue.rs`) on loom's primitives; a
//! lost wake-up shows up as loom reporting that every thread is blocked.

use async_task::Runnable;
use loom::thread;

use crate::park::{Notified, Parker, Sleeper, Sleepers};
use crate::queue::Injector;
use crate::sync::Arc;

#[derive(Default)]
struct TestWorker {
    parker: Parker,
}

impl Sleeper for TestWorker {
    fn parker(&self) -> &Parker {
        &self.parker
    }
}

/// Runs `model` under loom with at most `preemptions` forced context switches per execution
/// (tokio's `LOOM_MAX_PREEMPTIONS` practice: bugs in protocols this small show up within two
/// or three, while the unbounded search of four threads would take hours).
fn check(preemptions: usize, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(preemptions);
    }
    builder.check(model);
}

/// A runnable that does nothing when run (its schedule function is never called here).
fn runnable() -> Runnable {
    let (runnable, task) = async_task::spawn(async {}, |_| {});
    task.detach();
    runnable
}

/// A worker's loop, reduced to the handshake: take from the injector, park when empty, until
/// `want` tasks have been run.
fn worker_loop(
    sleepers: &Sleepers<TestWorker>,
    injector: &Injector,
    me: &Arc<TestWorker>,
    want: usize,
) {
    let mut searching = true;
    let mut ran = 0;
    while ran < want {
        match injector.pop() {
            Some(runnable) => {
                if std::mem::take(&mut searching) && sleepers.found_work(|| !injector.is_empty()) {
                    sleepers.notify_one();
                }
                runnable.run();
                ran += 1;
            }
            None => {
                sleepers.park(me, std::mem::take(&mut searching), || !injector.is_empty());
                searching = true;
            }
        }
    }
    if searching {
        sleepers.end_search();
    }
}

/// §3.1: one producer, one worker that starts out searching (it was just woken). Whatever the
/// interleaving, the task pushed while the worker gives up and parks gets run.
#[test]
fn producer_and_parking_worker() {
    check(3, || {
        let sleepers = Arc::new(Sleepers::<TestWorker>::default());
        let injector = Arc::new(Injector::default());
        let worker = Arc::new(TestWorker::default());
        assert!(sleepers.claim_search());

        let w = {
            let (sleepers, injector, worker) = (sleepers.clone(), injector.clone(), worker.clone());
            thread::spawn(move || worker_loop(&sleepers, &injector, &worker, 1))
        };
        injector.push(runnable());
        let _: Notified = sleepers.notify_one();
        w.join().unwrap();
        assert!(injector.is_empty());
    });
}

/// §3.1 with two workers and two producers: every task runs, and the searching count ends
/// at zero (no token leaked, none counted twice).
#[test]
fn two_producers_two_workers() {
    check(2, || {
        let sleepers = Arc::new(Sleepers::<TestWorker>::default());
        let injector = Arc::new(Injector::default());
        let workers: Vec<_> = (0..2).map(|_| Arc::new(TestWorker::default())).collect();
        // Both workers were just woken: both count as searching.
        sleepers.add_searcher();
        sleepers.add_searcher();

        let handles: Vec<_> = workers
            .iter()
            .map(|worker| {
                let (sleepers, injector, worker) =
                    (sleepers.clone(), injector.clone(), worker.clone());
                thread::spawn(move || worker_loop(&sleepers, &injector, &worker, 1))
            })
            .collect();
        let producer = {
            let (sleepers, injector) = (sleepers.clone(), injector.clone());
            thread::spawn(move || {
                injector.push(runnable());
                sleepers.notify_one();
            })
        };
        injector.push(runnable());
        sleepers.notify_one();
        producer.join().unwrap();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(sleepers.searching(), 0);
    });
}
