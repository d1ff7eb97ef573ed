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
