//! Configuration: malformed `SMOLSCALE_*` variables fail loudly and clearly, valid ones take
//! effect, and the builder is refused once the pool has started.
//!
//! The pool is global and reads the environment once, so each case runs in a child process:
//! this test binary re-executes itself, running only its `child` test, with `CONFIG_TEST_CHILD`
//! naming the case (not a `SMOLSCALE_` name, which smolscale would take for configuration).

use std::process::Command;
use std::time::Duration;

const CHILD: &str = "CONFIG_TEST_CHILD";

/// Runs the `child` test of this binary in a fresh process with `vars` set; returns (success,
/// stdout + stderr).
fn run_child(case: &str, vars: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, case);
    for var in [
        "SMOLSCALE_THREADS",
        "SMOLSCALE_MAX_THREADS",
        "SMOLSCALE_SINGLE",
        "SMOLSCALE_STUCK_MS",
        "SMOLSCALE_RETIRE_MS",
        "SMOLSCALE_REACTOR_SLICE_US",
    ] {
        command.env_remove(var);
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("child {case} with {vars:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// The child side: does what `CONFIG_TEST_CHILD` says and reports through its exit status.
#[test]
fn child() {
    let Ok(case) = std::env::var(CHILD) else {
        return; // not a child run
    };
    match case.as_str() {
        "spawn" => {
            let threads = smolscale::block_on(smolscale::spawn(async { 1 }));
            println!("ran {threads}; {}", smolscale::stats());
        }
        "stats" => {
            smolscale::block_on(smolscale::spawn(async {}));
            let stats = smolscale::stats();
            println!("target={} threads={}", stats.target, stats.threads);
        }
        "builder-after-start" => {
            smolscale::block_on(smolscale::spawn(async {}));
            let err = smolscale::Builder::new().threads(3).install().unwrap_err();
            assert_eq!(err, smolscale::ConfigError::AlreadyStarted);
            println!("refused: {err}");
        }
        "builder-overrides-env" => {
            smolscale::Builder::from_env()
                .unwrap()
                .threads(3)
                .install()
                .unwrap();
            smolscale::block_on(smolscale::spawn(async {}));
            println!("target={}", smolscale::stats().target);
        }
        "slices" => {
            // Timers in a task start async-io's reactor thread; the pool stays busy while the
            // balancer ticks, until the thread's slice is what this case expects (or 20 s).
            let expected: u64 = std::env::var("EXPECTED_NS").unwrap().parse().unwrap();
            let reactor = || {
                let tid = std::fs::read_dir("/proc/self/task")
                    .unwrap()
                    .flatten()
                    .find(|t| {
                        // (A thread may exit between the listing and the read.)
                        std::fs::read_to_string(t.path().join("comm"))
                            .is_ok_and(|comm| comm == "async-io\n")
                    })?;
                slice_of(&format!(
                    "/proc/self/task/{}/sched",
                    tid.file_name().to_str()?
                ))
            };
            let start = std::time::Instant::now();
            let seen = smolscale::block_on(smolscale::spawn(async move {
                loop {
                    async_io::Timer::after(Duration::from_millis(1)).await;
                    let seen = reactor();
                    let settled = start.elapsed() > Duration::from_millis(300);
                    if seen == Some(expected) && settled
                        || start.elapsed() > Duration::from_secs(20)
                    {
                        return seen;
                    }
                }
            }));
            let main = slice_of("/proc/thread-self/sched");
            println!("reactor={} main={}", seen.unwrap_or(0), main.unwrap_or(0));
        }
        other => panic!("unknown case {other}"),
    }
}

#[test]
fn malformed_variables_name_the_variable_the_value_and_what_is_accepted() {
    let cases = [
        ("SMOLSCALE_THREADS", "many", "a whole number from 1 to"),
        ("SMOLSCALE_THREADS", "0", "a whole number from 1 to"),
        ("SMOLSCALE_THREADS", "-3", "a whole number from 1 to"),
        ("SMOLSCALE_THREADS", "99999999", "a whole number from 1 to"),
        ("SMOLSCALE_MAX_THREADS", "1.5", "a whole number from"),
        ("SMOLSCALE_SINGLE", "perhaps", "one of 1, true, yes, on"),
        (
            "SMOLSCALE_STUCK_MS",
            "10ms",
            "a whole number of milliseconds",
        ),
        (
            "SMOLSCALE_STUCK_MS",
            "0",
            "a whole number of milliseconds from 1",
        ),
        ("SMOLSCALE_RETIRE_MS", "", "a whole number of milliseconds"),
        (
            "SMOLSCALE_REACTOR_SLICE_US",
            "50",
            "a whole number of microseconds from 100 to 100000, or off",
        ),
    ];
    for (var, value, expected) in cases {
        let (ok, output) = run_child("spawn", &[(var, value)]);
        assert!(!ok, "{var}={value:?} was accepted:\n{output}");
        assert!(
            output.contains(&format!(
                "{var}={value:?} is not valid: expected {expected}"
            )),
            "{var}={value:?}: unclear error:\n{output}"
        );
    }
}

#[test]
fn max_threads_below_threads_is_refused() {
    let (ok, output) = run_child(
        "spawn",
        &[("SMOLSCALE_THREADS", "4"), ("SMOLSCALE_MAX_THREADS", "2")],
    );
    assert!(!ok);
    assert!(
        output.contains("SMOLSCALE_MAX_THREADS=\"2\"")
            && output.contains("from the target parallelism (4)"),
        "{output}"
    );
}

#[test]
fn valid_variables_take_effect() {
    let (ok, output) = run_child("stats", &[("SMOLSCALE_THREADS", "3")]);
    assert!(ok && output.contains("target=3"), "{output}");
    let (ok, output) = run_child("stats", &[("SMOLSCALE_SINGLE", "1")]);
    assert!(ok && output.contains("target=1 threads=1"), "{output}");
    let (ok, output) = run_child(
        "stats",
        &[("SMOLSCALE_SINGLE", "0"), ("SMOLSCALE_THREADS", "2")],
    );
    assert!(ok && output.contains("target=2"), "{output}");
}

#[test]
fn the_builder_is_refused_after_start_and_overrides_the_environment() {
    let (ok, output) = run_child("builder-after-start", &[]);
    assert!(
        ok && output.contains("refused: smolscale: the pool has already started"),
        "{output}"
    );
    let (ok, output) = run_child("builder-overrides-env", &[("SMOLSCALE_THREADS", "5")]);
    assert!(ok && output.contains("target=3"), "{output}");
}

/// A thread's time slice in nanoseconds, from its `sched` file in `/proc` (Linux 6.6 and later).
fn slice_of(path: &str) -> Option<u64> {
    let sched = std::fs::read_to_string(path).ok()?;
    let line = sched.lines().find(|line| line.starts_with("se.slice"))?;
    line.rsplit(':').next()?.trim().parse().ok()
}

/// Whether this kernel honours a thread's own slice (`sched_setattr`, Linux 6.12 and later).
fn custom_slices() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = numbers.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let minor: u32 = numbers.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 12)
}

/// async-io's reactor thread gets the configured slice (100 µs unless told otherwise), or
/// keeps the kernel's with `off`; where the kernel has no per-thread slices it keeps the
/// kernel's too. On a kernel that reports no slices in `/proc` (before 6.6, or not Linux)
/// there is nothing to check.
#[test]
fn the_reactor_thread_gets_the_configured_slice() {
    if slice_of("/proc/thread-self/sched").is_none() {
        eprintln!("this kernel reports no time slices in /proc: nothing to check");
        return;
    }
    let reactor_and_main = |setting: Option<&str>, expected: Option<u64>| {
        let main = slice_of("/proc/thread-self/sched").unwrap();
        let expected = expected
            .filter(|_| custom_slices())
            .unwrap_or(main)
            .to_string();
        let mut vars = vec![("EXPECTED_NS", expected.as_str())];
        vars.extend(setting.map(|value| ("SMOLSCALE_REACTOR_SLICE_US", value)));
        let (ok, output) = run_child("slices", &vars);
        assert!(ok, "{setting:?}: {output}");
        let field = |name: &str| -> u64 {
            let start = output.find(&format!("{name}=")).expect(&output) + name.len() + 1;
            let digits: String = output[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().expect(&output)
        };
        (
            field("reactor"),
            field("main"),
            expected.parse::<u64>().unwrap(),
        )
    };
    let (reactor, _, expected) = reactor_and_main(None, Some(100_000));
    assert_eq!(reactor, expected, "the default reactor slice");
    let (reactor, _, expected) = reactor_and_main(Some("3000"), Some(3_000_000));
    assert_eq!(reactor, expected, "SMOLSCALE_REACTOR_SLICE_US=3000");
    let (reactor, main, _) = reactor_and_main(Some("off"), None);
    assert_eq!(
        reactor, main,
        "with the slice off the reactor keeps the kernel's"
    );
}
