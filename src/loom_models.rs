//! loom models of the scheduling protocols (design.md §3, starred invariants).
//!
//! Run with `RUSTFLAGS="--cfg smolscale_loom --cfg st3_loom" cargo test --lib --release
//! loom_models` (`.ci/run` does; `st3_loom` puts st3's local queues under the same model).
//! Each model drives the real protocol code (`park.rs`, `queue.rs`) on loom's primitives; a
//! lost wake-up shows up as loom reporting that every thread is blocked, a lost task as a count
//! that comes up short.

use async_task::Runnable;
use loom::thread;

use crate::park::{Notified, Parker, Sleeper, Sleepers};
use crate::queue::{steal_into, Injector, LocalQueue, SpillLane};
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
    counted(&std::sync::Arc::default())
}

/// A runnable that adds one to `runs` when run. (A plain std atomic: it is the model's
/// bookkeeping, not part of the protocol under test.)
fn counted(runs: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Runnable {
    let runs = runs.clone();
    let (runnable, task) = async_task::spawn(
        async move {
            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        },
        |_| {},
    );
    task.detach();
    runnable
}

/// The two global lanes, as the model's workers see them.
trait ModelLane {
    fn pop(&self) -> Option<Runnable>;
    fn is_empty(&self) -> bool;
}

impl ModelLane for Injector {
    fn pop(&self) -> Option<Runnable> {
        Injector::pop(self)
    }

    fn is_empty(&self) -> bool {
        Injector::is_empty(self)
    }
}

impl ModelLane for SpillLane {
    fn pop(&self) -> Option<Runnable> {
        SpillLane::pop(self)
    }

    fn is_empty(&self) -> bool {
        SpillLane::is_empty(self)
    }
}

/// A worker's loop, reduced to the handshake: take from a global lane, park when empty, until
/// `want` tasks have been run.
fn worker_loop(
    sleepers: &Sleepers<TestWorker>,
    lane: &impl ModelLane,
    me: &Arc<TestWorker>,
    want: usize,
) {
    let mut searching = true;
    let mut ran = 0;
    while ran < want {
        match lane.pop() {
            Some(runnable) => {
                if std::mem::take(&mut searching) && sleepers.found_work(|| !lane.is_empty()) {
                    sleepers.notify_one();
                }
                runnable.run();
                ran += 1;
            }
            None => {
                sleepers.park(me, std::mem::take(&mut searching), || !lane.is_empty());
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
            thread::spawn(move || worker_loop(&sleepers, &*injector, &worker, 1))
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
                thread::spawn(move || worker_loop(&sleepers, &*injector, &worker, 1))
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

/// §3.2: a worker that retires hands its local queue to the spill lane (then wakes a worker if the
/// lane holds work, as `worker::ExitGuard` does) while a producer schedules another task. A
/// searching worker must end up running all three.
#[test]
fn retiring_worker_hands_over_its_queue() {
    check(2, || {
        let sleepers = Arc::new(Sleepers::<TestWorker>::default());
        let lane = Arc::new(SpillLane::default());
        let retiring = LocalQueue::new();
        for _ in 0..2 {
            retiring.push(runnable()).unwrap();
        }
        let worker = Arc::new(TestWorker::default());
        sleepers.add_searcher();

        let w = {
            let (sleepers, lane, worker) = (sleepers.clone(), lane.clone(), worker.clone());
            thread::spawn(move || worker_loop(&sleepers, &*lane, &worker, 3))
        };
        let r = {
            let (sleepers, lane) = (sleepers.clone(), lane.clone());
            thread::spawn(move || {
                retiring.spill_all(&lane);
                if !lane.is_empty() {
                    sleepers.notify_one();
                }
            })
        };
        lane.push(runnable());
        sleepers.notify_one();
        r.join().unwrap();
        w.join().unwrap();
    });
}

/// §3.4: the balancer evacuates a stuck worker's local queue while that worker is still pushing
/// into it; then the worker's poll returns and it runs what is left. Every task runs exactly
/// once, whoever ends up with it.
#[test]
fn evacuation_races_with_pushes() {
    check(3, || {
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let lane = Arc::new(SpillLane::default());
        let stuck = LocalQueue::new();
        let stealer = stuck.stealer();
        stuck.push(counted(&runs)).unwrap();

        let w = {
            let runs = runs.clone();
            thread::spawn(move || {
                // Still inside its long poll: it schedules more work locally...
                stuck.push(counted(&runs)).unwrap();
                stuck.push(counted(&runs)).unwrap();
                // ...then the poll returns and it runs whatever the balancer left it.
                while let Some(runnable) = stuck.pop() {
                    runnable.run();
                }
            })
        };
        let b = {
            let lane = lane.clone();
            thread::spawn(move || {
                let scratch = LocalQueue::new();
                steal_into(&stealer, &scratch, &lane, |n| n)
            })
        };
        w.join().unwrap();
        let moved = b.join().unwrap();
        let mut evacuated = 0;
        while let Some(runnable) = lane.pop() {
            runnable.run();
            evacuated += 1;
        }
        assert_eq!(moved, evacuated);
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "a task was lost"
        );
    });
}

/// Shedding (`worker::Local::shed_if_backlogged`): a busy worker moves half its local queue to
/// a global lane and notifies, while another worker gives up searching and parks. The shed
/// task must reach the parking worker (no lost wake-up), and every task runs exactly once.
#[test]
fn shedding_races_with_a_parking_worker() {
    check(3, || {
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sleepers = Arc::new(Sleepers::<TestWorker>::default());
        let lane = Arc::new(SpillLane::default());
        let busy = LocalQueue::new();
        for _ in 0..3 {
            busy.push(counted(&runs)).unwrap();
        }
        let idle = Arc::new(TestWorker::default());
        // The idle worker was just woken and is about to find nothing and park.
        sleepers.add_searcher();

        let w = {
            let (sleepers, lane, idle) = (sleepers.clone(), lane.clone(), idle.clone());
            thread::spawn(move || worker_loop(&sleepers, &*lane, &idle, 1))
        };
        let shed = busy.spill(&lane, |n| n / 2);
        assert_eq!(shed, 1);
        sleepers.notify_one();
        while let Some(runnable) = busy.pop() {
            runnable.run();
        }
        w.join().unwrap();
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "a task was lost or run twice"
        );
        assert_eq!(sleepers.searching(), 0);
    });
}
