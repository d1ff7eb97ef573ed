//! Busy workers take turns at async-io's reactor (`worker.rs`, `REACTOR_TURN`): with every
//! worker running yield loops, nobody parks to drive the reactor, and without those turns
//! every timer fired on async-io's own thread, which first had to get a core the workers held
//! (1-3 ms late now and then on 2 cores; BENCHMARKS.md, tuning logs 46 and 47). A test of its
//! own: no other test's `block_on` may hold the reactor meanwhile.

mod common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use common::install_once;

const WORKERS: usize = 2;
const TIMERS: usize = 50;
const LIMIT: Duration = Duration::from_secs(60);

/// A timer's waker that notes which thread fired it, then wakes the task.
#[derive(Default)]
struct Spy {
    task: Mutex<Option<Waker>>,
    fired_on: Mutex<Option<String>>,
}

impl Wake for Spy {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let name = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        self.fired_on.lock().unwrap().get_or_insert(name);
        if let Some(task) = self.task.lock().unwrap().take() {
            task.wake();
        }
    }
}

/// Sleeps `duration` on an async-io timer; returns the name of the thread that fired it.
async fn timer_fired_on(duration: Duration) -> String {
    let spy = Arc::new(Spy::default());
    let waker = Waker::from(spy.clone());
    let mut timer = async_io::Timer::after(duration);
    poll_fn(|cx| {
        *spy.task.lock().unwrap() = Some(cx.waker().clone());
        Pin::new(&mut timer)
            .poll(&mut Context::from_waker(&waker))
            .map(drop)
    })
    .await;
    let fired_on = spy.fired_on.lock().unwrap().take();
    fired_on.unwrap_or_else(|| "nobody (ready when first polled)".to_owned())
}

#[test]
fn busy_workers_fire_due_timers_themselves() {
    install_once(|| smolscale::Builder::new().threads(WORKERS));
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..2 * WORKERS {
        let stop = stop.clone();
        smolscale::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                futures_lite::future::yield_now().await;
            }
        })
        .detach();
    }
    // This thread waits on a plain channel, never in async-io's `block_on`, so it can't be the
    // one driving the reactor.
    let (send, recv) = mpsc::channel();
    smolscale::spawn(async move {
        let mut fired_on = Vec::with_capacity(TIMERS);
        for _ in 0..TIMERS {
            fired_on.push(timer_fired_on(Duration::from_millis(1)).await);
        }
        send.send(fired_on).unwrap();
    })
    .detach();
    let fired_on = recv
        .recv_timeout(LIMIT)
        .unwrap_or_else(|_| panic!("{TIMERS} timers of 1 ms did not fire within {LIMIT:?}"));
    stop.store(true, Ordering::Relaxed);
    let by_workers = fired_on
        .iter()
        .filter(|name| name.starts_with("smolscale-w"))
        .count();
    // With the turns, nearly all fire on the workers once they have taken the reactor over from
    // async-io's thread (its first few may still fire there); without them, none did.
    assert!(
        by_workers * 2 > TIMERS,
        "only {by_workers} of {TIMERS} timers fired on a busy worker; fired on: {fired_on:?}"
    );
}
