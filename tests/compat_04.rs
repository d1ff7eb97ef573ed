//! A program written against smolscale 0.4.16's API, unchanged: it must compile and run.
//!
//! Everything below `// --- the 0.4 program ---` uses only what 0.4 offered, spelled as 0.4
//! users spelled it (`Send + 'static` futures for `block_on`, `async_executor`-style `Task`
//! handling, `Immortal`, `RespawnStrategy`, `TaskReaper`, `running_threads`,
//! `permanently_single_threaded`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

// --- the 0.4 program ---

use smolscale::immortal::{Immortal, RespawnStrategy};
use smolscale::reaper::TaskReaper;

static TICKS: AtomicUsize = AtomicUsize::new(0);

fn program() -> usize {
    smolscale::permanently_single_threaded();

    let background = Immortal::respawn(
        RespawnStrategy::JitterDelay(Duration::from_millis(1), Duration::from_millis(3)),
        || async {
            TICKS.fetch_add(1, Ordering::SeqCst);
        },
    );
    let _fixed = Immortal::respawn(
        RespawnStrategy::FixedDelay(Duration::from_millis(2)),
        || async {},
    );
    let _immediate = Immortal::respawn(RespawnStrategy::Immediate, || async {
        async_io::Timer::after(Duration::from_millis(5)).await;
    });
    let _forever = Immortal::spawn(async {
        loop {
            async_io::Timer::after(Duration::from_millis(10)).await;
        }
    });

    let reaper = TaskReaper::new();
    let finished = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let finished = finished.clone();
        reaper.attach(smolscale::spawn(async move {
            finished.fetch_add(1, Ordering::SeqCst);
        }));
    }

    let answer = smolscale::block_on(async move {
        let a = smolscale::spawn(async { 20 });
        let b = smolscale::spawn(async { 22 });
        // Nested block_on, as 0.4 allowed (single-threaded, this deadlocked in 0.4 when the
        // inner future needed another task; here it needs none).
        let c = smolscale::block_on(async { 0 });
        while TICKS.load(Ordering::SeqCst) < 3 {
            async_io::Timer::after(Duration::from_millis(1)).await;
        }
        background.cancel().await;
        a.await + b.await + c
    });
    assert!(smolscale::running_threads() >= 1);
    while finished.load(Ordering::SeqCst) < 100 {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(reaper);
    answer
}

// --- end of the 0.4 program ---

#[test]
fn a_smolscale_04_program_runs_unchanged() {
    // The program has no timeouts of its own (0.4 programs don't); run it under a watchdog.
    let (send, recv) = std::sync::mpsc::channel();
    std::thread::spawn(move || send.send(program()).unwrap());
    let answer = recv
        .recv_timeout(Duration::from_secs(60))
        .expect("the 0.4 program finished within 60 s");
    assert_eq!(answer, 42);
    assert_eq!(smolscale::stats().target, 1);
}
