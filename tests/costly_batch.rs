//! A reactor pass that wakes several costly I/O tasks onto one worker hands half of them to a
//! parked worker at once, without the balancer (switched off here) and without waiting for
//! the backlog shedding's 100 µs.
#![cfg(unix)]

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use async_io::Async;
use common::{block_on_within, install_once, spin_for};

/// Sockets, each with a reader task: one reactor pass wakes them all.
const READERS: usize = 8;
/// Rounds of one byte written to every socket.
const ROUNDS: usize = 40;
/// How long each reader's poll keeps its worker busy after reading: a costly, syscall-heavy
/// poll as far as the worker's timing can tell.
const POLL_COST: Duration = Duration::from_micros(40);
/// Longest a round may take before the test fails.
const ROUND_LIMIT: Duration = Duration::from_secs(20);

#[test]
fn a_batch_of_costly_wake_ups_spreads_at_once() {
    install_once(|| smolscale::Builder::new().threads(2).balancer(false));
    // The threads that ran a reader's poll in the current round.
    let ran_on: Arc<Mutex<Vec<ThreadId>>> = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let (ours, theirs) = UnixStream::pair().expect("a socket pair");
        writers.push(ours);
        let theirs = Async::new(theirs).expect("a non-blocking socket");
        let ran_on = ran_on.clone();
        readers.push(smolscale::spawn(async move {
            let mut byte = [0u8; 1];
            for _ in 0..ROUNDS {
                theirs
                    .read_with(|mut socket| socket.read(&mut byte))
                    .await
                    .expect("a byte");
                ran_on.lock().unwrap().push(std::thread::current().id());
                spin_for(POLL_COST);
            }
        }));
    }
    let mut spread = 0;
    for round in 0..ROUNDS {
        // Let both workers park (and one of them take the reactor) before the next batch.
        std::thread::sleep(Duration::from_millis(2));
        for writer in &mut writers {
            writer.write_all(&[1]).expect("a write");
        }
        let start = Instant::now();
        let threads: HashSet<ThreadId> = loop {
            {
                let mut ran_on = ran_on.lock().unwrap();
                if ran_on.len() == READERS {
                    break ran_on.drain(..).collect();
                }
            }
            assert!(
                start.elapsed() < ROUND_LIMIT,
                "round {round}: not every reader ran within {ROUND_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_micros(100));
        };
        spread += usize::from(threads.len() >= 2);
    }
    for reader in readers {
        block_on_within(ROUND_LIMIT, "a reader's last round", reader);
    }
    println!("{spread} of {ROUNDS} rounds ran on both workers");
    // Not every round spreads: the first has no timing to go by, and the worker woken for the
    // other half sometimes arrives after the first has run them all. Measured on 2 cores: 11
    // to 35 of 40 rounds spread (15 runs, debug and release builds); with the hand-off
    // disabled 0 to 2 (10 runs), because 8 polls finish on the worker that drove the reactor
    // before its backlog check (every 16 polls) can see them wait 100 µs. What it can't
    // survive is a machine with no idle core: with four busy threads beside it on 2 cores, the
    // kernel sometimes keeps both workers on one core, the woken one waiting behind the other,
    // and 3 runs of 20 spread 0 or 1 rounds (30 more runs: 2 to 18 rounds with both workers
    // last seen on one core, 22 to 38 with them on two). With two busy threads: 16 to 40.
    assert!(
        spread >= ROUNDS / 6,
        "only {spread} of {ROUNDS} batches of costly wake-ups ran on both workers"
    );
}
