//! A burst of long-running tasks spawned on one worker reaches every worker of the pool with the
//! balancer switched off: only the workers' own shedding, steals and the wake-up chain between
//! them can move the work (tuning log 30 made that chain follow steals, not only the global
//! lanes).

mod common;

use std::time::Duration;

use common::{burst_from_one_worker, install_once};

const WORKERS: usize = 6;

#[test]
fn a_burst_on_one_worker_reaches_every_worker_without_the_balancer() {
    install_once(|| smolscale::Builder::new().threads(WORKERS).balancer(false));
    let threads = burst_from_one_worker(48, WORKERS, Duration::from_secs(30));
    assert_eq!(
        threads,
        WORKERS,
        "a burst on one worker reached only {threads} of {WORKERS} workers in 30 s: {}",
        smolscale::stats()
    );
}
