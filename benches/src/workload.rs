//! The catalogue of workloads (micro and scenarios), their names on the command line and in the
//! results, the metrics each reports, and which executors run which.

use crate::executors::Kind;
use crate::micro::Micro;
use crate::scenarios::{Load, Scenario};

/// One measured quantity: its name in tables and raw results, and its unit.
#[derive(Clone, Copy, Debug)]
pub struct MetricSpec {
    pub name: &'static str,
    pub unit: &'static str,
}

impl MetricSpec {
    /// Whether a bigger value is better (throughputs, whose units are per second).
    pub fn higher_is_better(self) -> bool {
        self.unit.ends_with("/s")
    }
}

/// One workload, run in one child process per executor and repetition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Micro(Micro),
    Scenario(Scenario),
}

impl Workload {
    /// The size of this workload's load under `load`, for the scenarios that have one.
    pub fn load(self, load: Load) -> Option<usize> {
        match self {
            Workload::Micro(_) => None,
            Workload::Scenario(scenario) => scenario.load(load),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Workload::Micro(micro) => micro.name(),
            Workload::Scenario(scenario) => scenario.name(),
        }
    }

    pub fn parse(name: &str) -> Option<Workload> {
        Micro::ALL
            .into_iter()
            .map(Workload::Micro)
            .chain(Scenario::ALL.into_iter().map(Workload::Scenario))
            .find(|workload| workload.name() == name)
    }

    /// What it reports: a micro workload its median iteration time, a scenario its own list.
    pub fn metrics(self) -> &'static [MetricSpec] {
        match self {
            Workload::Micro(micro) => micro.metrics(),
            Workload::Scenario(scenario) => scenario.metrics(),
        }
    }

    /// Whether `kind` runs this workload: the floor only runs the micro workloads it can (see
    /// [`Micro::has_floor`]), since the scenarios need wake-ups from other threads.
    pub fn runs_on(self, kind: Kind) -> bool {
        match self {
            Workload::Micro(micro) => kind != Kind::Floor || micro.has_floor(),
            Workload::Scenario(_) => kind != Kind::Floor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_metrics_are_unique() {
        let all: Vec<Workload> = (Micro::ALL.into_iter().map(Workload::Micro))
            .chain(Scenario::ALL.into_iter().map(Workload::Scenario))
            .collect();
        let mut metric_names = Vec::new();
        for workload in all {
            assert_eq!(Workload::parse(workload.name()), Some(workload));
            metric_names.extend(workload.metrics().iter().map(|m| m.name));
        }
        let count = metric_names.len();
        metric_names.sort_unstable();
        metric_names.dedup();
        assert_eq!(metric_names.len(), count);
    }
}
