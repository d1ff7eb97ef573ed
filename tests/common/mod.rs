//! Helpers shared by the integration tests: waits that fail loudly, CPU accounting, a log
//! capture. Each test file includes this with `mod common;` and uses what it needs.
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use futures_lite::FutureExt;

/// Awaits `future`, panicking with `what` if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    future
        .or(async {
            async_io::Timer::after(limit).await;
            panic!(
                "timed out after {limit:?}: {what} (the pool then: {:?})",
                smolscale::stats()
            );
        })
        .await
}

/// `smolscale::block_on(within(limit, what, future))`.
pub fn block_on_within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    smolscale::block_on(within(limit, what, future))
}

/// Spawns `n` tasks returning 0..n, awaits them all within `limit`, and checks every output
/// arrived (their sum is right): no task lost, none run twice.
pub fn spawn_and_sum(limit: Duration, what: &str, n: u64) {
    let sum = block_on_within(limit, what, async move {
        let tasks: Vec<_> = (0..n).map(|i| smolscale::spawn(async move { i })).collect();
        let mut sum = 0;
        for task in tasks {
            sum += task.await;
        }
        sum
    });
    assert_eq!(sum, n * n.saturating_sub(1) / 2, "{what}: outputs missing");
}

/// Waits until `condition` holds, polling every millisecond; panics after `limit`, showing
/// the pool's state then.
pub fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?}: {what} (the pool then: {:?})",
            smolscale::stats()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `f` on a plain thread and waits for its result, panicking after `limit`.
pub fn on_thread_within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (send, recv) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(f());
    });
    match recv.recv_timeout(limit) {
        Ok(value) => value,
        Err(err) => panic!("{what}: no result after {limit:?} ({err})"),
    }
}

/// CPU time used by every thread of this process so far (Linux: the sum of
/// `/proc/self/task/*/schedstat`, nanosecond resolution).
pub fn process_cpu_time() -> Duration {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = task.expect("task entry").path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

/// Threads in this process (Linux).
pub fn process_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// Names of this process's threads (Linux).
pub fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

/// Every log record at warn level or above, plus debug records from smolscale.
static LOGGED: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Debug
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            LOGGED
                .lock()
                .unwrap()
                .push((record.level(), record.args().to_string()));
        }
    }

    fn flush(&self) {}
}

/// Installs the log capture (once per test binary).
pub fn capture_logs() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&Capture).expect("no other logger");
        log::set_max_level(log::LevelFilter::Debug);
    });
}

/// Log records captured so far that contain `needle`.
pub fn logged(needle: &str) -> Vec<(log::Level, String)> {
    LOGGED
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, text)| text.contains(needle))
        .cloned()
        .collect()
}

/// Installs a pool configuration shared by every test in a binary (the first caller wins;
/// later calls must find the pool already configured).
pub fn install_once(builder: impl FnOnce() -> smolscale::Builder) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| builder().install().expect("install before any spawn"));
}

/// Spawns, from inside a task, `tasks` tasks that all queue on that task's worker. Each keeps
/// polling in 20 µs slices, a yield between them (short polls, so its worker can look at its
/// queue in between), until `threads` different threads have run one of the tasks or
/// `give_up` has passed. Returns how many different threads ran them; fails if it all takes
/// longer than `give_up` plus a minute.
pub fn burst_from_one_worker(tasks: usize, threads: usize, give_up: Duration) -> usize {
    use std::collections::HashSet;
    use std::sync::Arc;

    let seen = Arc::new(Mutex::new(HashSet::new()));
    let deadline = Instant::now() + give_up;
    let limit = give_up + Duration::from_secs(60);
    block_on_within(limit, "a burst spawned on one worker", {
        let seen = seen.clone();
        smolscale::spawn(async move {
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    let seen = seen.clone();
                    smolscale::spawn(async move {
                        loop {
                            let ran_on = {
                                let mut seen = seen.lock().unwrap();
                                seen.insert(std::thread::current().id());
                                seen.len()
                            };
                            if ran_on >= threads || Instant::now() > deadline {
                                return;
                            }
                            spin_for(Duration::from_micros(20));
                            futures_lite::future::yield_now().await;
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await;
            }
        })
    });
    let ran_on = seen.lock().unwrap().len();
    ran_on
}

/// Holds the test binary's one lock for tests that must not run beside each other (they
/// measure the whole process, or need the pool's cores to themselves). A test that failed
/// while holding it doesn't block the rest.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Busy threads outside the pool, spinning until dropped (the dropping joins them): an
/// oversubscribed machine, on which the pool's threads get a CPU only part of the time.
pub struct BusyThreads {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl BusyThreads {
    pub fn start(count: usize) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = (0..count)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for BusyThreads {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Keeps the calling thread on a CPU for `duration` without yielding: a long computation
/// inside one poll.
pub fn spin_for(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

/// Runs a task beating every 10 ms on an async-io timer for `beat_for`, beside `spinners`
/// tasks that each spin for `spin_time` without yielding; returns the longest gap between two
/// beats. Every wait is bounded by `limit`.
pub fn heartbeat_beside_spinners(
    limit: Duration,
    beat_for: Duration,
    spinners: usize,
    spin_time: Duration,
) -> Duration {
    block_on_within(limit, "heartbeat beside spinners", async move {
        let heartbeat = smolscale::spawn(async move {
            let mut worst = Duration::ZERO;
            let end = Instant::now() + beat_for;
            let mut last = Instant::now();
            while Instant::now() < end {
                async_io::Timer::after(Duration::from_millis(10)).await;
                worst = worst.max(last.elapsed());
                last = Instant::now();
            }
            worst
        });
        let spinners: Vec<_> = (0..spinners)
            .map(|_| smolscale::spawn(async move { spin_for(spin_time) }))
            .collect();
        let worst = within(limit, "heartbeat", heartbeat).await;
        for spinner in spinners {
            spinner.await;
        }
        worst
    })
}
