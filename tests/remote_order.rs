//! Tasks spawned from outside the pool start in the order they were spawned, on a pool of one
//! worker whose tasks wake nothing: a worker that took a batch from the injector runs that
//! batch before it looks at the injector again (its tasks are older than anything still
//! there), so a newer task doesn't overtake them. (A task woken on the worker meanwhile runs
//! first, from the LIFO slot, and a look at the injector follows it.)
//!
//! The stuck threshold is a minute here: on a loaded machine the only worker may be
//! preempted mid-poll for longer than the default 5 ms, and the balancer would then move its
//! queue to the spill lane, where the order is no longer the injector's.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::block_on_within;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn one_worker_starts_outside_spawns_in_spawn_order() {
    smolscale::Builder::new()
        .threads(1)
        .stuck_threshold(Duration::from_secs(60))
        .install()
        .expect("nothing was spawned yet");
    let started = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    // Bursts with pauses between them, so that the worker takes batches both while the
    // spawner is still pushing and after it has stopped.
    for burst in 0..20 {
        for i in 0..2_000 {
            let started = started.clone();
            let index = burst * 2_000 + i;
            tasks.push(smolscale::spawn(async move {
                started.lock().unwrap().push(index);
            }));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    block_on_within(LIMIT, "every task to finish", async {
        for task in tasks {
            task.await;
        }
    });
    let started = started.lock().unwrap();
    assert_eq!(started.len(), 40_000, "tasks lost");
    let overtaken = started.windows(2).filter(|pair| pair[0] > pair[1]).count();
    assert_eq!(
        overtaken,
        0,
        "{overtaken} tasks spawned from outside started before one spawned earlier \
         (first out of order: {:?})",
        started.windows(2).find(|pair| pair[0] > pair[1])
    );
}
