//! Results: one [`Record`] per (executor, metric, repetition), written as a JSON line, and the
//! markdown tables printed at the end.
//!
//! A table has one row per metric and one column per executor holding the median over the
//! repetitions that produced a value, then two columns for smolscale: its ratio to the best
//! peer (the best of tokio, async-executor, async-global-executor and smolscale 0.4 on that
//! row) and its ratio to the single-threaded floor. Ratios are oriented as costs: above 1 means
//! smolscale is slower (or, for a throughput, lower) than the other, below 1 better.

use crate::cli::Options;
use crate::executors::Kind;
use crate::workload::{MetricSpec, Workload};

/// What one child produced for one metric.
#[derive(Clone, Copy, Debug)]
pub enum Outcome {
    Value(f64),
    /// The watchdog fired (or the harness killed the child).
    Timeout,
    /// The child exited without this metric (a panic, a crash).
    Failed,
}

impl Outcome {
    pub fn describe(self, unit: &str) -> String {
        match self {
            Outcome::Value(value) => format!("{} {unit}", number(value)),
            Outcome::Timeout => "TIMEOUT".to_string(),
            Outcome::Failed => "FAILED".to_string(),
        }
    }
}

pub struct Record {
    pub kind: Kind,
    pub metric: MetricSpec,
    pub rep: usize,
    pub outcome: Outcome,
    /// Worker threads the executor ran with.
    pub threads: usize,
    /// The scenario's load (`--pairs` or `--clients`), for the scenarios that have one.
    pub load: Option<usize>,
}

impl Record {
    /// The record as one line of JSON (`value` is null unless `status` is "ok").
    pub fn json(&self, cpu_model: &str, cores: usize) -> String {
        let (value, status) = match self.outcome {
            Outcome::Value(value) if value.is_finite() => (value.to_string(), "ok"),
            Outcome::Value(_) => ("null".to_string(), "no-data"),
            Outcome::Timeout => ("null".to_string(), "timeout"),
            Outcome::Failed => ("null".to_string(), "failed"),
        };
        let load = match self.load {
            Some(load) => format!(",\"load\":{load}"),
            None => String::new(),
        };
        format!(
            "{{\"executor\":{},\"workload\":{},\"rep\":{},\"value\":{value},\"unit\":{},\
             \"threads\":{},\"cpu_model\":{},\"cores\":{cores},\"status\":\"{status}\"{load}}}",
            json_string(self.kind.name()),
            json_string(self.metric.name),
            self.rep,
            json_string(self.metric.unit),
            self.threads,
            json_string(cpu_model),
        )
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The lines above the tables: machine and settings.
pub fn header(options: &Options, cpu_model: &str, cores: usize) -> String {
    let threads = match options.threads {
        Some(threads) => format!("worker threads: {threads} (smolscale-0.4 always has {cores})"),
        None => "worker threads: one per CPU (the default)".to_string(),
    };
    let load = options.load;
    format!(
        "# smolscale comparison\n\n{cpu_model}, {cores} CPUs; {threads}; partial_load {} pairs, \
         tcp_echo {} clients; {} repetitions{}; \
         each cell is the median over repetitions (†n: n repetitions timed out or failed).\n\
         Ratios are smolscale's cost relative to the best peer / the floor: > 1 means \
         smolscale is slower (lower throughput), < 1 better.\n",
        load.pairs,
        load.clients,
        options.reps,
        if options.quick {
            " (--quick: smoke test, numbers not meaningful)"
        } else {
            ""
        },
    )
}

/// A markdown table of `workloads`' metrics over the executors in `kinds` that ran any.
pub fn table(records: &[Record], workloads: &[Workload], kinds: &[Kind]) -> String {
    let metrics: Vec<MetricSpec> = workloads
        .iter()
        .flat_map(|w| w.metrics())
        .copied()
        .collect();
    let columns: Vec<Kind> = (kinds.iter().copied())
        .filter(|kind| {
            records
                .iter()
                .any(|r| r.kind == *kind && metrics.iter().any(|m| m.name == r.metric.name))
        })
        .collect();
    let has_floor = columns.contains(&Kind::Floor);
    let mut out = String::from("| workload | unit |");
    for kind in &columns {
        out.push_str(&format!(" {} |", kind.name()));
    }
    out.push_str(" smolscale vs best peer |");
    if has_floor {
        out.push_str(" smolscale vs floor |");
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---:|".repeat(columns.len() + 1 + usize::from(has_floor)));
    out.push('\n');
    for metric in &metrics {
        let medians: Vec<(Kind, Option<f64>)> = columns
            .iter()
            .map(|&kind| (kind, median(records, kind, metric)))
            .collect();
        out.push_str(&format!("| {} | {} |", metric.name, metric.unit));
        for &kind in &columns {
            out.push_str(&format!(" {} |", cell(records, kind, metric)));
        }
        let smolscale = medians
            .iter()
            .find(|(k, _)| *k == Kind::Smolscale)
            .and_then(|m| m.1);
        let peers = medians
            .iter()
            .filter(|(k, _)| !matches!(k, Kind::Smolscale | Kind::Floor));
        let best = peers
            .filter_map(|&(kind, median)| Some((kind, median?)))
            .min_by(|a, b| cost(*metric, a.1).total_cmp(&cost(*metric, b.1)));
        out.push_str(&match (smolscale, best) {
            (Some(ours), Some((kind, theirs))) => {
                format!(" {} ({}) |", ratio_cell(*metric, ours, theirs), kind.name())
            }
            _ => " – |".to_string(),
        });
        if has_floor {
            let floor = medians
                .iter()
                .find(|(k, _)| *k == Kind::Floor)
                .and_then(|m| m.1);
            out.push_str(&match (smolscale, floor) {
                (Some(ours), Some(floor)) => format!(" {} |", ratio_cell(*metric, ours, floor)),
                _ => " – |".to_string(),
            });
        }
        out.push('\n');
    }
    out
}

/// A value turned into a cost: lower is better.
fn cost(metric: MetricSpec, value: f64) -> f64 {
    if metric.higher_is_better() {
        -value
    } else {
        value
    }
}

/// How much more smolscale costs than `other` (> 1: smolscale is worse).
fn ratio(metric: MetricSpec, smolscale: f64, other: f64) -> f64 {
    if metric.higher_is_better() {
        other / smolscale
    } else {
        smolscale / other
    }
}

/// [`ratio`] for a table: where the other executor's value is zero (no wake-ups at all), a ratio
/// says nothing, so the cell says whether ours is zero too.
fn ratio_cell(metric: MetricSpec, smolscale: f64, other: f64) -> String {
    let ratio = ratio(metric, smolscale, other);
    if ratio.is_finite() {
        format!("{ratio:.2}×")
    } else if smolscale == other {
        "equal".to_string()
    } else {
        "vs 0".to_string()
    }
}

fn values(records: &[Record], kind: Kind, metric: &MetricSpec) -> Vec<Outcome> {
    (records.iter())
        .filter(|r| r.kind == kind && r.metric.name == metric.name)
        .map(|r| r.outcome)
        .collect()
}

fn median(records: &[Record], kind: Kind, metric: &MetricSpec) -> Option<f64> {
    let mut ok: Vec<f64> = (values(records, kind, metric).into_iter())
        .filter_map(|outcome| match outcome {
            Outcome::Value(value) if value.is_finite() => Some(value),
            _ => None,
        })
        .collect();
    (!ok.is_empty()).then(|| crate::stats::median(&mut ok))
}

/// A table cell: the median, marked with how many repetitions produced nothing.
fn cell(records: &[Record], kind: Kind, metric: &MetricSpec) -> String {
    let outcomes = values(records, kind, metric);
    if outcomes.is_empty() {
        return "–".to_string();
    }
    let missing = (outcomes.iter())
        .filter(|o| !matches!(o, Outcome::Value(v) if v.is_finite()))
        .count();
    match median(records, kind, metric) {
        Some(median) if missing == 0 => number(median),
        Some(median) => format!("{} †{missing}", number(median)),
        None if outcomes.iter().any(|o| matches!(o, Outcome::Timeout)) => "timeout".to_string(),
        None => "failed".to_string(),
    }
}

/// About four significant digits, no exponent; whole numbers (thread counts) as such.
fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1000.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 100.0 {
        format!("{value:.1}")
    } else if magnitude >= 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}
