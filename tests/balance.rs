//! Work-balancing: tiny message-passing tasks stay together on one worker instead of waking every
//! core, while long-running work queued on one worker is spread to the others by the balancer.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{block_on_within, process_cpu_time, serial, spin_for};

const LIMIT: Duration = Duration::from_secs(60);

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn a_ping_pong_pair_keeps_one_core_busy_not_all() {
    let _serial = serial();
    if cpus() < 2 {
        return; // nothing to tell apart on one core
    }
    let (cpu, wall, round_trips) = block_on_within(LIMIT, "ping-pong for 500 ms", async {
        let (ping_send, ping_recv) = async_channel::bounded::<u64>(1);
        let (pong_send, pong_recv) = async_channel::bounded::<u64>(1);
        let ponger = smolscale::spawn(async move {
            while let Ok(n) = ping_recv.recv().await {
                if pong_send.send(n).await.is_err() {
                    break;
                }
            }
        });
        let pinger = smolscale::spawn(async move {
            let start = Instant::now();
            let cpu_start = process_cpu_time();
            let mut n = 0u64;
            while start.elapsed() < Duration::from_millis(500) {
                for _ in 0..100 {
                    ping_send.send(n).await.unwrap();
                    n = pong_recv.recv().await.unwrap() + 1;
                }
            }
            (process_cpu_time() - cpu_start, start.elapsed(), n)
        });
        let result = pinger.await;
        ponger.await;
        result
    });
    // Work-stealing would keep a second worker spinning on steal attempts or waking for every
    // message; here the pair shares one worker and the others sleep.
    let cores = cpu.as_secs_f64() / wall.as_secs_f64();
    eprintln!("ping-pong: {round_trips} round trips in {wall:?} using {cores:.2} cores");
    assert!(round_trips > 1000, "only {round_trips} round trips");
    assert!(
        cores < 1.6,
        "a single ping-pong pair kept {cores:.2} cores busy ({round_trips} round trips)"
    );
}

#[test]
fn long_tasks_queued_on_one_worker_spread_to_the_others() {
    let _serial = serial();
    if cpus() < 2 {
        return;
    }
    for (tasks, each) in [
        (4 * cpus(), Duration::from_millis(20)),
        (200, Duration::from_millis(1)),
    ] {
        let threads = block_on_within(LIMIT, "spread long tasks", async move {
            // Spawned from inside a task: every one lands on that worker's local queue.
            smolscale::spawn(async move {
                let handles: Vec<_> = (0..tasks)
                    .map(|_| {
                        smolscale::spawn(async move {
                            spin_for(each);
                            std::thread::current().name().map(str::to_string)
                        })
                    })
                    .collect();
                let mut names = HashSet::new();
                for handle in handles {
                    names.insert(handle.await);
                }
                names
            })
            .await
        });
        eprintln!(
            "{tasks} tasks of {each:?} ran on {} threads; {}",
            threads.len(),
            smolscale::stats()
        );
        assert!(
            threads.len() >= 2,
            "{tasks} tasks of {each:?} queued on one worker all ran on {threads:?}"
        );
    }
}
