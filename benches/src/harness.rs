//! The harness: runs every (repetition, workload, executor) as a child process of this same
//! binary (`--child <executor> <workload>`), one at a time, records the raw results as JSON
//! lines and prints the tables at the end.
//!
//! Repetitions are the outer loop and executors the inner one, rotated by one place each
//! repetition, so the executors are interleaved in time and none always runs first: machine
//! noise that drifts over the run is spread across all of them. A child that outlives its own
//! watchdog by [`GRACE`] is killed and counted as timed out.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::child::{TIMEOUT_EXIT, WATCHDOG};
use crate::cli::Options;
use crate::executors::Kind;
use crate::report::{self, Outcome, Record};
use crate::scenarios::Load;
use crate::workload::Workload;

/// How long past its watchdog a child may run before the harness kills it.
const GRACE: Duration = Duration::from_secs(10);

/// How often the harness checks whether a child has exited.
const POLL: Duration = Duration::from_millis(10);

/// Runs the comparison the options ask for.
pub fn run(options: Options) -> ExitCode {
    let exe = std::env::current_exe().expect("the path of this benchmark binary");
    let out_dir = options.out.clone().unwrap_or_else(|| default_out_dir(&exe));
    std::fs::create_dir_all(&out_dir).expect("creating the output directory");
    let unix_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let path = out_dir.join(format!("results-{unix_time}.jsonl"));
    let mut raw = BufWriter::new(File::create(&path).expect("creating the results file"));
    let cpu_model = crate::sys::cpu_model();
    let cores = crate::sys::cores();

    let mut records = Vec::new();
    let mut micro_time = Duration::ZERO;
    let mut scenario_time = Duration::ZERO;
    for rep in 0..options.reps {
        for &workload in &options.workloads {
            let mut kinds: Vec<Kind> = (options.kinds.iter().copied())
                .filter(|kind| workload.runs_on(*kind))
                .collect();
            if kinds.is_empty() {
                continue;
            }
            let rotation = rep % kinds.len();
            kinds.rotate_left(rotation);
            for kind in kinds {
                let start = Instant::now();
                let outcomes = run_child(&exe, kind, workload, &options);
                match workload {
                    Workload::Micro(_) => micro_time += start.elapsed(),
                    Workload::Scenario(_) => scenario_time += start.elapsed(),
                }
                for (metric, outcome) in workload.metrics().iter().zip(outcomes) {
                    let record = Record {
                        kind,
                        metric: *metric,
                        rep,
                        outcome,
                        threads: kind.threads(options.threads),
                        load: workload.load(options.load),
                    };
                    eprintln!(
                        "rep {}/{}  {:<34} {:<22} {}",
                        rep + 1,
                        options.reps,
                        metric.name,
                        kind.name(),
                        record.outcome.describe(metric.unit)
                    );
                    writeln!(raw, "{}", record.json(&cpu_model, cores)).expect("writing results");
                    records.push(record);
                }
            }
        }
    }
    raw.flush().expect("writing results");

    println!("{}", report::header(&options, &cpu_model, cores));
    let (micro, scenarios): (Vec<Workload>, Vec<Workload>) =
        (options.workloads.iter()).partition(|workload| matches!(workload, Workload::Micro(_)));
    if !micro.is_empty() {
        println!("## Micro: median time per iteration (µs)\n");
        println!("{}", report::table(&records, &micro, &options.kinds));
    }
    if !scenarios.is_empty() {
        println!("## Scenarios: one fresh process per run\n");
        println!("{}", report::table(&records, &scenarios, &options.kinds));
    }
    println!(
        "Wall time: micro {:.0} s, scenarios {:.0} s. Raw results: {}",
        micro_time.as_secs_f64(),
        scenario_time.as_secs_f64(),
        path.display()
    );
    ExitCode::SUCCESS
}

/// `<target dir>/bench-results`: the bench binary lives in `<target dir>/<profile>/deps/`.
fn default_out_dir(exe: &Path) -> PathBuf {
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the binary is in <target>/<profile>/deps");
    target.join("bench-results")
}

/// Runs one child and returns one outcome per metric of `workload`.
fn run_child(exe: &Path, kind: Kind, workload: Workload, options: &Options) -> Vec<Outcome> {
    let mut command = Command::new(exe);
    command.args(["--child", kind.name(), workload.name()]);
    if let Some(threads) = options.threads {
        command.args(["--threads", &threads.to_string()]);
    }
    if options.quick {
        command.arg("--quick");
    }
    if options.load != Load::default() {
        let load = options.load;
        command.args(["--pairs", &load.pairs.to_string()]);
        command.args(["--clients", &load.clients.to_string()]);
    }
    let mut child = (command.stdin(Stdio::null()).stdout(Stdio::piped()))
        .spawn()
        .expect("starting a child process");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut output = String::new();
        // A killed child may cut its output short; what arrived is still worth parsing.
        let _ = stdout.read_to_string(&mut output);
        output
    });
    let deadline = Instant::now() + WATCHDOG + GRACE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            child.kill().expect("killing a hung child");
            child.wait().expect("reaping a killed child");
            break None;
        }
        std::thread::sleep(POLL);
    };
    let output = reader.join().expect("the reader thread");
    let timed_out = status.is_none_or(|status| status.code() == Some(TIMEOUT_EXIT));
    workload
        .metrics()
        .iter()
        .map(|metric| {
            let value = output.lines().find_map(|line| {
                let mut fields = line.split('\t');
                (fields.next() == Some("RESULT") && fields.next() == Some(metric.name))
                    .then(|| fields.next()?.parse::<f64>().ok())
                    .flatten()
            });
            match value {
                Some(value) => Outcome::Value(value),
                None if timed_out => Outcome::Timeout,
                None => Outcome::Failed,
            }
        })
        .collect()
}
