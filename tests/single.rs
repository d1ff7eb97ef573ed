//! `permanently_single_threaded`: one worker at a time, yet a nested `block_on` inside the only
//! worker that waits on another task completes (smolscale 0.4 deadlocked here).

mod common;

use std::time::Duration;

use common::{block_on_within, on_thread_within};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn nested_block_on_in_the_only_worker_completes() {
    smolscale::permanently_single_threaded();
    let value = on_thread_within(LIMIT, "single-threaded nested block_on", || {
        smolscale::block_on(smolscale::spawn(async {
            let inner = smolscale::spawn(async { 41 });
            smolscale::block_on(inner) + 1
        }))
    });
    assert_eq!(value, 42);

    // Ten levels of it, each waiting on a task spawned one level down.
    fn nest(depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        smolscale::block_on(smolscale::spawn(async move { nest(depth - 1) + 1 }))
    }
    let depth = block_on_within(
        LIMIT,
        "ten nested levels",
        smolscale::spawn(async { nest(10) }),
    );
    assert_eq!(depth, 10);
    assert_eq!(smolscale::stats().target, 1);
}
