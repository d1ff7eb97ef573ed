//! Command-line options of the suite (what follows `--` in `cargo bench -p smolscale-bench
//! --bench compare -- ...`), and of the child processes the harness starts.

use std::path::PathBuf;

use crate::executors::Kind;
use crate::micro::Micro;
use crate::scenarios::{Load, Scenario};
use crate::workload::Workload;

pub const USAGE: &str = "\
Usage: cargo bench -p smolscale-bench --bench compare -- [OPTIONS]

  --micro              the micro workloads (the default)
  --scenarios          the scenarios, each run in a fresh process
  --all                both
  --reps K             repetitions of every (workload, executor) run (default 3)
  --threads N          worker threads for every executor that can be told (default: CPUs)
  --only E1,E2,...     only these executors: smolscale, tokio, async-executor,
                       async-global-executor, smolscale-0.4, floor
  --workloads W1,...   only these workloads (names as in the tables, e.g. ss04.fanout,
                       partial_load)
  --quick              tiny budgets: a smoke test that everything runs
  --pairs N            task pairs in partial_load (default 200)
  --clients N          client connections in tcp_echo (default 64)
  --out DIR            where results-<unix time>.jsonl goes (default: <target dir>/bench-results;
                       a relative DIR is relative to benches/, where cargo runs benchmarks)

Profiling without perf (build with --features smolscale-bench/profile): one child, sampled,
its report written to PATH and its stacks to PATH.folded:
  SMOLSCALE_BENCH_PROFILE=PATH <compare binary> --child <executor> <workload> [--threads N]
";

/// What a process was asked to do.
pub enum Command {
    /// The harness: run children, print tables, write raw results.
    Compare(Options),
    /// A child: run one workload on one executor and print its metrics.
    Child {
        kind: Kind,
        workload: Workload,
        threads: Option<usize>,
        quick: bool,
        load: Load,
    },
    Help,
}

pub struct Options {
    /// The workloads to run, in table order.
    pub workloads: Vec<Workload>,
    pub reps: usize,
    /// `--threads`, if given.
    pub threads: Option<usize>,
    /// The executors to compare, in column order.
    pub kinds: Vec<Kind>,
    pub quick: bool,
    /// `--pairs` and `--clients`.
    pub load: Load,
    /// `--out`, if given.
    pub out: Option<PathBuf>,
}

/// Parses the arguments after the program name (cargo's own `--bench` flag already removed).
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut args = args.iter().map(String::as_str);
    let (mut micro, mut scenarios) = (false, false);
    let mut options = Options {
        workloads: Vec::new(),
        reps: 3,
        threads: None,
        kinds: Kind::ALL.to_vec(),
        quick: false,
        load: Load::default(),
        out: None,
    };
    let mut picked: Option<Vec<Workload>> = None;
    let mut child = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg {
            "--micro" => micro = true,
            "--scenarios" => scenarios = true,
            "--all" => (micro, scenarios) = (true, true),
            "--reps" => options.reps = positive(arg, value()?)?,
            "--threads" => options.threads = Some(positive(arg, value()?)?),
            "--only" => {
                let only = list(value()?, Kind::parse, "executor")?;
                options.kinds = Kind::ALL.into_iter().filter(|k| only.contains(k)).collect();
            }
            "--workloads" => picked = Some(list(value()?, Workload::parse, "workload")?),
            "--quick" => options.quick = true,
            "--pairs" => options.load.pairs = positive(arg, value()?)?,
            "--clients" => options.load.clients = positive(arg, value()?)?,
            "--out" => options.out = Some(PathBuf::from(value()?)),
            "--child" => {
                let kind = Kind::parse(value()?).ok_or("--child: unknown executor")?;
                let workload = Workload::parse(value()?).ok_or("--child: unknown workload")?;
                child = Some((kind, workload));
            }
            "--help" | "-h" => return Ok(Command::Help),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some((kind, workload)) = child {
        return Ok(Command::Child {
            kind,
            workload,
            threads: options.threads,
            quick: options.quick,
            load: options.load,
        });
    }
    options.workloads = match picked {
        Some(workloads) => workloads,
        None => {
            let micro = micro || !scenarios;
            let micros = Micro::ALL
                .into_iter()
                .filter(|_| micro)
                .map(Workload::Micro);
            let scenarios = Scenario::ALL.into_iter().filter(|_| scenarios);
            micros.chain(scenarios.map(Workload::Scenario)).collect()
        }
    };
    Ok(Command::Compare(options))
}

fn positive(flag: &str, value: &str) -> Result<usize, String> {
    match value.parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag} needs a positive integer, not {value:?}")),
    }
}

fn list<T>(value: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(|name| parse(name.trim()).ok_or(format!("unknown {what} {name:?}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn load_options_reach_the_harness_and_the_child() {
        let Ok(Command::Compare(options)) = parse(&args("--pairs 800 --clients 4")) else {
            panic!("a comparison");
        };
        assert_eq!(
            options.load,
            Load {
                pairs: 800,
                clients: 4
            }
        );
        let Ok(Command::Child { load, .. }) =
            parse(&args("--child smolscale tcp_echo --clients 2"))
        else {
            panic!("a child");
        };
        assert_eq!(load.clients, 2);
        assert_eq!(load.pairs, Load::default().pairs);
    }

    #[test]
    fn a_load_must_be_a_positive_integer() {
        for bad in ["--pairs 0", "--clients x", "--pairs"] {
            let Err(error) = parse(&args(bad)) else {
                panic!("{bad:?} was accepted");
            };
            assert!(error.starts_with(bad.split(' ').next().unwrap()), "{error}");
        }
    }
}
