//! A worker with a backlog shares it with a parked worker by itself, without the balancer: the
//! balancer is switched off here, so only the worker's own shedding can move the work.

mod common;

use std::time::Duration;

use common::{burst_from_one_worker, install_once};

#[test]
fn a_backlog_spreads_to_a_parked_worker_without_the_balancer() {
    install_once(|| smolscale::Builder::new().threads(2).balancer(false));
    // Eight tasks queued on one worker keep yielding until both workers have run one; only
    // shedding can hand some to the other, parked worker. Without it they would yield on one
    // thread until the deadline.
    let threads = burst_from_one_worker(8, 2, Duration::from_secs(30));
    assert_eq!(
        threads,
        2,
        "30 s of yielding and every task still ran on one thread: {}",
        smolscale::stats()
    );
}
