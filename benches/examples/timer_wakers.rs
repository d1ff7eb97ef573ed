//! Where a late timer's time goes, under the `timer_lateness` scenario's load (1000 tasks
//! yielding and adding to a shared counter, one task awaiting 1 ms `async_io::Timer`s for 3 s):
//! each timer's waker is wrapped, so each firing records when it came and which thread made
//! it, and the task's poll when it ran. Splits the lateness into the reactor's part (the
//! timer's deadline to the wake-up) and the scheduler's (the wake-up to the poll). Tuning
//! log 46 in BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release -p smolscale-bench --example timer_wakers
//! ```
//!
//! Prints one line per run: the p99 of the whole lateness and of each part, the threads that
//! fired the timers, and for the firings over 0.5 ms late, their count, their mean of each
//! part and who fired them. Run it several times: the late firings come in some runs only.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use smolscale_bench::{busy_forever, percentile, BUSY_TASKS, TIMER};

/// How long each run awaits timers (the scenario samples for 2 s; longer gives more firings).
const SAMPLING: Duration = Duration::from_secs(3);

/// Passes wake-ups on to the task's waker, noting the first one's time and thread.
struct Spy {
    task: Waker,
    first: Mutex<Option<(Instant, String)>>,
}

impl Wake for Spy {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            let thread = std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_owned();
            *first = Some((Instant::now(), thread));
        }
        self.task.wake_by_ref();
    }
}

/// A timer whose wake-ups go through a [`Spy`]; yields the first wake-up's time and thread.
struct Spied {
    timer: async_io::Timer,
    spy: Option<Arc<Spy>>,
}

impl Future for Spied {
    type Output = Option<(Instant, String)>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let spy = self
            .spy
            .get_or_insert_with(|| {
                Arc::new(Spy {
                    task: cx.waker().clone(),
                    first: Mutex::new(None),
                })
            })
            .clone();
        let waker = Waker::from(spy.clone());
        match Pin::new(&mut self.timer).poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(_) => {
                Poll::Ready(spy.first.lock().unwrap_or_else(|e| e.into_inner()).take())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One firing: ms late at the wake-up (`None` if the timer was due at its first poll), ms
/// late at the poll, and the waking thread.
struct Firing {
    woken_late: Option<f64>,
    polled_late: f64,
    thread: String,
}

/// The suite's p99 (nearest rank), so the figures compare with the scenario's.
fn p99(mut values: Vec<f64>) -> f64 {
    percentile(&mut values, 99.0)
}

fn main() {
    let counter = Arc::new(AtomicU64::new(0));
    for _ in 0..BUSY_TASKS {
        smolscale::spawn(busy_forever(counter.clone())).detach();
    }
    let late_ms = |since: Instant, at: Instant| {
        at.duration_since(since).saturating_sub(TIMER).as_secs_f64() * 1e3
    };
    let firings = smolscale::block_on(smolscale::spawn(async move {
        let mut firings = Vec::new();
        let start = Instant::now();
        while start.elapsed() < SAMPLING {
            let armed = Instant::now();
            let woken = Spied {
                timer: async_io::Timer::after(TIMER),
                spy: None,
            }
            .await;
            let polled_late = late_ms(armed, Instant::now());
            let (woken_late, thread) = match woken {
                Some((at, thread)) => (Some(late_ms(armed, at)), thread),
                None => (None, "none (due at its first poll)".to_owned()),
            };
            firings.push(Firing {
                woken_late,
                polled_late,
                thread,
            });
        }
        firings
    }));
    let total = p99(firings.iter().map(|f| f.polled_late).collect());
    let reactor = p99(firings.iter().filter_map(|f| f.woken_late).collect());
    let scheduler = p99(firings
        .iter()
        .filter_map(|f| f.woken_late.map(|w| f.polled_late - w))
        .collect());
    let mut by_thread = BTreeMap::new();
    for f in &firings {
        *by_thread.entry(f.thread.as_str()).or_insert(0) += 1;
    }
    let late: Vec<&Firing> = firings.iter().filter(|f| f.polled_late > 0.5).collect();
    let mean = |part: &dyn Fn(&Firing) -> f64| {
        late.iter().map(|f| part(f)).sum::<f64>() / late.len().max(1) as f64
    };
    let late_reactor = mean(&|f| f.woken_late.unwrap_or(0.0));
    let late_scheduler = mean(&|f| f.polled_late - f.woken_late.unwrap_or(0.0));
    let mut late_by_thread = BTreeMap::new();
    for f in &late {
        *late_by_thread.entry(f.thread.as_str()).or_insert(0) += 1;
    }
    println!(
        "{} firings, p99 late {total:.3} ms: reactor (deadline to wake-up) {reactor:.3}, \
         scheduler (wake-up to poll) {scheduler:.3}; fired by {by_thread:?}; over 0.5 ms: {} \
         (mean reactor {late_reactor:.3} ms, scheduler {late_scheduler:.3} ms), fired by \
         {late_by_thread:?}",
        firings.len(),
        late.len(),
    );
}
