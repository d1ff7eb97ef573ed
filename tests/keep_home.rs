//! A worker whose recent tasks were tiny and finished in one go keeps its overflow to itself
//! (`Signals::keep_home` in `worker.rs`): spreading such tasks costs more than it gains. These
//! tests pin down what that must never do: keep *costly* tasks on one worker, or lose any.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{block_on_within, install_once, serial};

const LIMIT: Duration = Duration::from_secs(60);

/// Spawns and runs `n` tiny one-poll tasks from the current task, so that this worker's cost
/// samples say "cheap": the state in which it keeps work at home.
async fn tiny_burst(n: usize) {
    let (done_tx, done_rx) = async_channel::bounded::<()>(n);
    for _ in 0..n {
        let done_tx = done_tx.clone();
        smolscale::spawn(async move {
            done_tx.try_send(()).expect("room for every task");
        })
        .detach();
    }
    for _ in 0..n {
        done_rx.recv().await.expect("every task signals");
    }
}

#[test]
fn costly_tasks_spawned_after_a_tiny_burst_still_spread() {
    // One test at a time: with the other test's tiny tasks keeping a worker busy, there is no
    // idle core to spread to, and the costly tasks rightly stay where they are.
    let _serial = serial();
    install_once(|| smolscale::Builder::new().threads(2));
    // 16 tasks of 3 ms each (under the 5 ms stuck threshold, so the stuck-worker rescue can't
    // be what spreads them), spawned by a task whose worker has just run 20 000 tiny ones.
    // Kept on that worker they would all run on one thread.
    let threads = block_on_within(
        LIMIT,
        "costly tasks after a tiny burst",
        smolscale::spawn(async {
            for _ in 0..10 {
                tiny_burst(2000).await;
            }
            let seen = Arc::new(Mutex::new(HashSet::new()));
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    let seen = seen.clone();
                    smolscale::spawn(async move {
                        seen.lock().unwrap().insert(std::thread::current().id());
                        let start = Instant::now();
                        while start.elapsed() < Duration::from_millis(3) {
                            std::hint::spin_loop();
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
            let threads = seen.lock().unwrap().len();
            threads
        }),
    );
    assert!(threads >= 2, "16 tasks of 3 ms each all ran on one thread");
}

#[test]
fn a_tiny_burst_larger_than_the_local_queue_runs_completely() {
    let _serial = serial();
    install_once(|| smolscale::Builder::new().threads(2));
    // 100 000 one-poll tasks from one task: they overflow its worker's queue hundreds of times
    // into the spill lane, where (kept at home) nobody is woken for them. All must still run.
    block_on_within(
        LIMIT,
        "100 000 tiny tasks",
        smolscale::spawn(async {
            for _ in 0..3 {
                tiny_burst(100_000).await;
            }
        }),
    );
}
