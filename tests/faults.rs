//! Faults that must not lose a task or a worker: handles dropped while their futures run
//! elsewhere, spawning from destructors (of futures, of thread-locals at thread exit), and
//! `block_on` nested 100 deep. (Forever-blocked tasks: `cap.rs`; panics: `panic.rs`;
//! configuration garbage: `config.rs`.)

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{block_on_within, install_once, on_thread_within, spin_for, wait_until};

const LIMIT: Duration = Duration::from_secs(60);

fn setup() {
    // Short retirement, so the thread-local test sees worker threads exit.
    install_once(|| smolscale::Builder::new().retire_after(Duration::from_millis(100)));
}

/// Counts its drops.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

#[test]
fn dropping_tasks_while_their_futures_run_elsewhere() {
    setup();
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let started = started.clone();
        // Moved into the future, so it is dropped with it whether or not it ever ran.
        let dropped = dropped.clone();
        let guard = OnDrop(move || {
            dropped.fetch_add(1, Ordering::SeqCst);
        });
        tasks.push(smolscale::spawn(async move {
            let _guard = guard;
            started.fetch_add(1, Ordering::SeqCst);
            loop {
                // Long polls, so the drop below often lands while the future is being polled.
                spin_for(Duration::from_micros(200));
                futures_lite::future::yield_now().await;
            }
        }));
    }
    wait_until(LIMIT, "some tasks start running", || {
        started.load(Ordering::SeqCst) >= 10
    });
    drop(tasks);
    wait_until(LIMIT, "every dropped task's future is dropped once", || {
        dropped.load(Ordering::SeqCst) == 200
    });
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(dropped.load(Ordering::SeqCst), 200, "dropped exactly once");
    wait_until(LIMIT, "no task left alive", || {
        smolscale::stats().alive == 0
    });
}

#[test]
fn spawning_from_the_drop_of_a_future() {
    setup();
    let spawned_ran = Arc::new(AtomicUsize::new(0));
    // Completed, cancelled before running, and cancelled while pending: each future's
    // destructor spawns a task, which must run.
    let mut handles = Vec::new();
    for kind in 0..300 {
        let spawned_ran = spawned_ran.clone();
        let guard = OnDrop(move || {
            let spawned_ran = spawned_ran.clone();
            smolscale::spawn(async move {
                spawned_ran.fetch_add(1, Ordering::SeqCst);
            })
            .detach();
        });
        let task = smolscale::spawn(async move {
            let _guard = guard;
            if kind % 3 != 0 {
                futures_lite::future::pending::<()>().await;
            }
        });
        match kind % 3 {
            0 => task.detach(),
            1 => drop(task),
            _ => handles.push(task),
        }
    }
    block_on_within(LIMIT, "cancel the pending ones", async {
        for task in handles {
            task.cancel().await;
        }
    });
    wait_until(LIMIT, "every destructor's task ran", || {
        spawned_ran.load(Ordering::SeqCst) == 300
    });
}

#[test]
fn spawning_from_thread_local_destructors_at_thread_exit() {
    setup();
    static RAN: AtomicUsize = AtomicUsize::new(0);
    struct SpawnOnExit;
    impl Drop for SpawnOnExit {
        fn drop(&mut self) {
            smolscale::spawn(async {
                RAN.fetch_add(1, Ordering::SeqCst);
            })
            .detach();
        }
    }
    thread_local! {
        static GUARD: std::cell::RefCell<Option<SpawnOnExit>> = const { std::cell::RefCell::new(None) };
    }

    // On plain threads.
    on_thread_within(LIMIT, "plain threads exit", || {
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| GUARD.with(|g| *g.borrow_mut() = Some(SpawnOnExit))))
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    });
    wait_until(LIMIT, "tasks spawned by exiting plain threads ran", || {
        RAN.load(Ordering::SeqCst) >= 8
    });

    // On worker threads that retire: block a few workers so replacements start, leave a
    // guard in every worker's thread-locals, then let the surplus retire.
    let before = smolscale::stats().threads_retired;
    block_on_within(LIMIT, "workers get guards", async {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                smolscale::spawn(async {
                    GUARD.with(|g| *g.borrow_mut() = Some(SpawnOnExit));
                    std::thread::sleep(Duration::from_millis(30));
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
    wait_until(LIMIT, "surplus workers retire", || {
        smolscale::stats().threads_retired > before
    });
    let retired = (smolscale::stats().threads_retired - before) as usize;
    wait_until(
        LIMIT,
        "tasks spawned by retiring workers' destructors ran",
        || RAN.load(Ordering::SeqCst) >= 8 + retired.min(1),
    );
}

#[test]
fn block_on_nested_100_deep() {
    setup();
    fn nest(depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        smolscale::block_on(smolscale::spawn(async move { nest(depth - 1) + 1 }))
    }
    let depth = on_thread_within(LIMIT, "block_on nested 100 deep", || {
        smolscale::block_on(smolscale::spawn(async { nest(100) }))
    });
    assert_eq!(depth, 100);
}
