//! Quiescence (design.md §3.6): once work ends, the pool sleeps. No worker or balancer
//! wake-ups, next to no CPU, and surplus threads retire.

mod common;

use std::time::Duration;

use common::{block_on_within, install_once, process_cpu_time, wait_until};

const LIMIT: Duration = Duration::from_secs(60);
const RETIRE_AFTER: Duration = Duration::from_millis(300);

#[test]
fn an_idle_pool_costs_nothing() {
    install_once(|| smolscale::Builder::new().retire_after(RETIRE_AFTER));

    // A burst of work, including tasks that block long enough to get replacement threads.
    block_on_within(LIMIT, "a burst of work", async {
        let blockers: Vec<_> = (0..4)
            .map(|_| smolscale::spawn(async { std::thread::sleep(Duration::from_millis(100)) }))
            .collect();
        let tasks: Vec<_> = (0..50_000).map(|_| smolscale::spawn(async {})).collect();
        for task in tasks {
            task.await;
        }
        for blocker in blockers {
            blocker.await;
        }
    });

    // Surplus threads retire after the retirement period (plus a generous margin).
    wait_until(
        RETIRE_AFTER + Duration::from_secs(20),
        "threads back to the target",
        || {
            let stats = smolscale::stats();
            stats.threads <= stats.target && stats.parked == stats.threads
        },
    );
    // Let the balancer see the last retirement and go to sleep (two idle ticks, a few ms).
    wait_until(
        Duration::from_secs(20),
        "the balancer stops ticking",
        || {
            let ticks = smolscale::stats().balancer_ticks;
            std::thread::sleep(Duration::from_millis(50));
            smolscale::stats().balancer_ticks == ticks
        },
    );

    let before = smolscale::stats();
    let cpu_before = process_cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let cpu = process_cpu_time() - cpu_before;
    let after = smolscale::stats();
    eprintln!("idle for 2 s: {cpu:?} CPU; {after}");

    assert_eq!(
        after.balancer_ticks, before.balancer_ticks,
        "the balancer slept through the idle period\nbefore: {before}\nafter: {after}"
    );
    assert_eq!(after.polls, before.polls, "no task ran");
    assert_eq!(after.threads, before.threads, "{after}");
    assert!(
        cpu < Duration::from_millis(20),
        "2 s of idle cost {cpu:?} of CPU\n{after}"
    );
}
