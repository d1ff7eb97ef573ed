//! Configuration: defaults, `SMOLSCALE_*` environment variables and the [`Builder`].
//!
//! The pool reads its configuration once, when it starts (the first [`spawn`](crate::spawn)
//! or an explicit [`Builder::install`]). Precedence: built-in defaults, then the environment
//! ([`Builder::from_env`]), then whatever the program sets on the builder. A value that can't be
//! used is an error naming the variable (or builder method), the value and what is accepted;
//! it is never silently replaced by a default.

use std::fmt;
use std::time::Duration;

/// Largest accepted `threads` and `max_threads`: far above any machine we know of, low enough
/// that a typo (an extra zero or three) is caught instead of starting a million threads.
pub const THREADS_LIMIT: usize = 32_768;

/// Extra threads allowed above the target parallelism for replacing stuck workers, unless
/// `SMOLSCALE_MAX_THREADS` says otherwise (design.md §4: Java's ForkJoinPool keeps 256 spares).
pub const DEFAULT_SPARE_THREADS: usize = 256;

/// How long one poll may run, while other work waits, before its worker counts as stuck and is
/// replaced. Go preempts a goroutine after 10 ms; we start replacing after 5 ms because a
/// replacement may itself land on a blocking task, and the second generation of replacements
/// must still arrive within the 20 ms we promise (design.md §5, blocking tolerance).
pub const DEFAULT_STUCK_THRESHOLD: Duration = Duration::from_millis(5);

/// How long a surplus worker stays parked before it exits. .NET waits 20 s, smolscale 0.3 waited
/// 3 s; 10 s keeps a thread around across bursts a few seconds apart without costing anything
/// while it waits (a parked thread uses no CPU).
pub const DEFAULT_RETIRE_AFTER: Duration = Duration::from_secs(10);

/// The time slice smolscale asks the kernel for on async-io's reactor thread (Linux 6.12 and
/// later): the shortest there is, so that the thread wakes straight onto a core busy workers
/// hold (BENCHMARKS.md, tuning log 50; [`Builder::reactor_slice`]).
pub const DEFAULT_REACTOR_SLICE: Duration = Duration::from_micros(100);

/// Environment variable: target parallelism (worker threads running tasks at once).
pub(crate) const ENV_THREADS: &str = "SMOLSCALE_THREADS";
/// Environment variable: hard cap on worker threads, stuck ones included.
pub(crate) const ENV_MAX_THREADS: &str = "SMOLSCALE_MAX_THREADS";
/// Environment variable: smolscale 0.4's single-threaded switch (target parallelism 1).
pub(crate) const ENV_SINGLE: &str = "SMOLSCALE_SINGLE";
/// Environment variable: stuck threshold in milliseconds.
pub(crate) const ENV_STUCK_MS: &str = "SMOLSCALE_STUCK_MS";
/// Environment variable: retirement period of surplus threads in milliseconds.
pub(crate) const ENV_RETIRE_MS: &str = "SMOLSCALE_RETIRE_MS";
/// Environment variable: the reactor thread's time slice in microseconds, or `off`.
pub(crate) const ENV_REACTOR_SLICE_US: &str = "SMOLSCALE_REACTOR_SLICE_US";

/// Every variable smolscale reads, for the warning about unknown `SMOLSCALE_*` names.
const KNOWN_VARS: [&str; 6] = [
    ENV_THREADS,
    ENV_MAX_THREADS,
    ENV_SINGLE,
    ENV_STUCK_MS,
    ENV_RETIRE_MS,
    ENV_REACTOR_SLICE_US,
];

/// Why a configuration was refused.
///
/// ```
/// let err = smolscale::Builder::new().threads(100_000).install().unwrap_err();
/// match err {
///     smolscale::ConfigError::Invalid { setting, value, expected } => {
///         assert_eq!(setting, "Builder::threads");
///         assert_eq!(value, "100000");
///         assert!(expected.starts_with("a whole number from 1 to"));
///     }
///     other => panic!("unexpected {other}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value that can't be used.
    Invalid {
        /// The environment variable or builder method that carried it.
        setting: String,
        /// The value as given.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The pool already started (something was spawned or a builder was installed), so its
    /// configuration can no longer change.
    AlreadyStarted,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid {
                setting,
                value,
                expected,
            } => write!(
                f,
                "smolscale: {setting}={value:?} is not valid: expected {expected}"
            ),
            ConfigError::AlreadyStarted => f.write_str(
                "smolscale: the pool has already started, so it can't be configured any more; \
                 install the builder before the first spawn",
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The settings the pool runs with (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// Target parallelism: worker threads that should be able to run tasks at once.
    pub(crate) threads: usize,
    /// Cap on worker threads, stuck ones included.
    pub(crate) max_threads: usize,
    /// A poll longer than this, while work waits, marks its worker stuck.
    pub(crate) stuck_threshold: Duration,
    /// A surplus worker parked this long exits.
    pub(crate) retire_after: Duration,
    /// The time slice asked for async-io's reactor thread (`None`: leave it alone).
    pub(crate) reactor_slice: Option<Duration>,
    /// Whether the balancer runs at all (tests turn it off to prove liveness without it).
    pub(crate) balancer: bool,
}

/// Configures the global pool before it starts.
///
/// ```
/// use std::time::Duration;
///
/// smolscale::Builder::from_env()
///     .expect("SMOLSCALE_* variables are valid")
///     .threads(2)
///     .max_threads(64)
///     .stuck_threshold(Duration::from_millis(5))
///     .retire_after(Duration::from_secs(10))
///     .reactor_slice(Some(Duration::from_micros(100)))
///     .install()
///     .expect("nothing was spawned yet");
///
/// assert_eq!(smolscale::block_on(smolscale::spawn(async { 7 })), 7);
///
/// // Too late now: the pool is running.
/// assert_eq!(
///     smolscale::Builder::new().install(),
///     Err(smolscale::ConfigError::AlreadyStarted)
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    threads: Option<usize>,
    max_threads: Option<usize>,
    stuck_threshold: Option<Duration>,
    retire_after: Option<Duration>,
    reactor_slice: Option<Option<Duration>>,
    balancer: Option<bool>,
    /// Which setting (variable or method) each value came from, for error messages.
    threads_from: &'static str,
    max_threads_from: &'static str,
}

impl Builder {
    /// Built-in defaults, ignoring the environment.
    ///
    /// ```
    /// let builder = smolscale::Builder::new().threads(1);
    /// # let _ = builder;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Built-in defaults overridden by any `SMOLSCALE_*` variables that are set.
    ///
    /// Fails on the first malformed variable, naming it, its value and what is accepted.
    ///
    /// ```
    /// std::env::set_var("SMOLSCALE_THREADS", "lots");
    /// let err = smolscale::Builder::from_env().unwrap_err();
    /// assert!(err.to_string().contains("SMOLSCALE_THREADS"));
    /// std::env::remove_var("SMOLSCALE_THREADS");
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut builder = Self::new();
        for (name, _) in std::env::vars_os() {
            if let Some(name) = name.to_str() {
                if name.starts_with("SMOLSCALE_") && !KNOWN_VARS.contains(&name) {
                    log::warn!(
                        "ignoring unknown environment variable {name}; smolscale reads {}",
                        KNOWN_VARS.join(", ")
                    );
                }
            }
        }
        if let Some(value) = env_var(ENV_THREADS)? {
            builder.threads = Some(parse_count(ENV_THREADS, &value)?);
            builder.threads_from = ENV_THREADS;
        }
        if let Some(value) = env_var(ENV_SINGLE)? {
            if parse_bool(ENV_SINGLE, &value)? {
                builder.threads = Some(1);
                builder.threads_from = ENV_SINGLE;
            }
        }
        if let Some(value) = env_var(ENV_MAX_THREADS)? {
            builder.max_threads = Some(parse_count(ENV_MAX_THREADS, &value)?);
            builder.max_threads_from = ENV_MAX_THREADS;
        }
        if let Some(value) = env_var(ENV_STUCK_MS)? {
            builder.stuck_threshold = Some(parse_millis(ENV_STUCK_MS, &value, 1, 60_000)?);
        }
        if let Some(value) = env_var(ENV_RETIRE_MS)? {
            builder.retire_after = Some(parse_millis(ENV_RETIRE_MS, &value, 1, 86_400_000)?);
        }
        if let Some(value) = env_var(ENV_REACTOR_SLICE_US)? {
            builder.reactor_slice = Some(parse_slice(ENV_REACTOR_SLICE_US, &value)?);
        }
        Ok(builder)
    }

    /// Target parallelism: how many worker threads run tasks at once when none is stuck
    /// (default: the number of CPUs). Accepted: 1 to [`THREADS_LIMIT`].
    ///
    /// ```
    /// let err = smolscale::Builder::new().threads(0).install().unwrap_err();
    /// assert!(err.to_string().contains("Builder::threads"));
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self.threads_from = "Builder::threads";
        self
    }

    /// Cap on worker threads, counting stuck ones (default: target + [`DEFAULT_SPARE_THREADS`]).
    /// Accepted: at least the target parallelism, at most [`THREADS_LIMIT`].
    ///
    /// ```
    /// let err = smolscale::Builder::new().threads(8).max_threads(4).install().unwrap_err();
    /// assert!(err.to_string().contains("from the target parallelism (8)"));
    /// ```
    pub fn max_threads(mut self, max_threads: usize) -> Self {
        self.max_threads = Some(max_threads);
        self.max_threads_from = "Builder::max_threads";
        self
    }

    /// How long a single poll may run, while other work waits, before the worker running it
    /// counts as stuck (default [`DEFAULT_STUCK_THRESHOLD`]). Accepted: 1 ms to 60 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = smolscale::Builder::new().stuck_threshold(Duration::from_millis(20));
    /// # let _ = builder;
    /// ```
    pub fn stuck_threshold(mut self, threshold: Duration) -> Self {
        self.stuck_threshold = Some(threshold);
        self
    }

    /// How long a surplus worker stays parked before its thread exits (default
    /// [`DEFAULT_RETIRE_AFTER`]). Accepted: 1 ms to 24 h.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = smolscale::Builder::new().retire_after(Duration::from_secs(60));
    /// # let _ = builder;
    /// ```
    pub fn retire_after(mut self, period: Duration) -> Self {
        self.retire_after = Some(period);
        self
    }

    /// The time slice smolscale asks the kernel to give async-io's reactor thread (the thread
    /// named "async-io", which fires timers and reads sockets while no other thread drives the
    /// reactor), or `None` to leave that thread alone (default [`DEFAULT_REACTOR_SLICE`],
    /// 100 µs). Accepted: 100 µs to 100 ms, Linux's range.
    ///
    /// Linux (6.12 and later) picks, among the threads that may run on a core, the one whose
    /// slice ends first. The workers of a busy pool never sleep, so when the reactor thread
    /// wakes up to fire a timer it often waited for the next scheduler tick (up to 4 ms at
    /// 250 Hz) behind a worker; with a slice shorter than the workers' it gets the core at once.
    /// The thread's share of the CPU does not change (that is its nice value). Measured: the
    /// suite's timer-lateness p99 passed 0.5 ms in about one run in four without it, and stayed
    /// under 0.3 ms with it (BENCHMARKS.md, tuning log 50). A reactor thread with a real-time
    /// policy is left alone, as is every thread on other systems; kernels before 6.12 ignore
    /// the request.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = smolscale::Builder::new().reactor_slice(Some(Duration::from_micros(300)));
    /// let leave_it_alone = smolscale::Builder::new().reactor_slice(None);
    /// # let _ = (builder, leave_it_alone);
    /// ```
    pub fn reactor_slice(mut self, slice: Option<Duration>) -> Self {
        self.reactor_slice = Some(slice);
        self
    }

    /// Test hook: with `false` the balancer thread never runs, so nothing moves work between
    /// workers, detects stuck workers or retires threads. Scheduling must stay live without it,
    /// and the test suite proves that with this switch.
    #[doc(hidden)]
    pub fn balancer(mut self, enabled: bool) -> Self {
        self.balancer = Some(enabled);
        self
    }

    /// Validates the settings and makes them the global pool's configuration.
    ///
    /// Fails with [`ConfigError::AlreadyStarted`] once anything has been spawned (or a builder
    /// installed), and with [`ConfigError::Invalid`] for a value out of range. Threads still
    /// start lazily, when work arrives.
    ///
    /// ```
    /// smolscale::Builder::new().threads(1).install().unwrap();
    /// assert_eq!(smolscale::running_threads(), 0); // nothing started yet
    /// smolscale::block_on(smolscale::spawn(async {}));
    /// assert_eq!(smolscale::running_threads(), 1);
    /// ```
    pub fn install(self) -> Result<(), ConfigError> {
        let config = self.validate()?;
        crate::pool::install(config)
    }

    pub(crate) fn validate(self) -> Result<Config, ConfigError> {
        let threads = match self.threads {
            Some(threads) => check_count(self.threads_from, threads, 1)?,
            None => default_threads(),
        };
        let max_threads = match self.max_threads {
            Some(max) => check_count(self.max_threads_from, max, threads)?,
            None => (threads + DEFAULT_SPARE_THREADS).min(THREADS_LIMIT),
        };
        let stuck_threshold = match self.stuck_threshold {
            Some(t) => check_duration("Builder::stuck_threshold", t, 1, 60_000)?,
            None => DEFAULT_STUCK_THRESHOLD,
        };
        let retire_after = match self.retire_after {
            Some(t) => check_duration("Builder::retire_after", t, 1, 86_400_000)?,
            None => DEFAULT_RETIRE_AFTER,
        };
        let reactor_slice = match self.reactor_slice {
            Some(Some(slice)) if !crate::os::SLICE_RANGE.contains(&slice) => {
                return Err(invalid(
                    "Builder::reactor_slice",
                    format!("Some({slice:?})"),
                    "None, or Some of a duration from 100 µs to 100 ms",
                ));
            }
            Some(slice) => slice,
            None => Some(DEFAULT_REACTOR_SLICE),
        };
        Ok(Config {
            threads,
            max_threads,
            stuck_threshold,
            retire_after,
            reactor_slice,
            balancer: self.balancer.unwrap_or(true),
        })
    }
}

/// The number of CPUs this process may use, or 1 if the OS won't say.
fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(THREADS_LIMIT)
}

fn invalid(setting: &str, value: impl fmt::Display, expected: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_string(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

fn env_var(name: &str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => Err(invalid(
            name,
            raw.to_string_lossy(),
            "a value made of plain ASCII characters",
        )),
    }
}

fn count_range(setting: &str, min: usize) -> String {
    if setting.contains("MAX") || setting.contains("max") {
        format!("a whole number from the target parallelism ({min}) to {THREADS_LIMIT}")
    } else {
        format!("a whole number from {min} to {THREADS_LIMIT}")
    }
}

fn parse_count(setting: &str, value: &str) -> Result<usize, ConfigError> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=THREADS_LIMIT).contains(n))
        .ok_or_else(|| invalid(setting, value, count_range(setting, 1)))
}

fn check_count(setting: &str, value: usize, min: usize) -> Result<usize, ConfigError> {
    if (min..=THREADS_LIMIT).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(setting, value, count_range(setting, min)))
    }
}

fn parse_millis(setting: &str, value: &str, min: u64, max: u64) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|ms| (min..=max).contains(ms))
        .map(Duration::from_millis)
        .ok_or_else(|| {
            invalid(
                setting,
                value,
                format!("a whole number of milliseconds from {min} to {max}"),
            )
        })
}

fn check_duration(
    setting: &str,
    value: Duration,
    min_ms: u64,
    max_ms: u64,
) -> Result<Duration, ConfigError> {
    let range = Duration::from_millis(min_ms)..=Duration::from_millis(max_ms);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            setting,
            format!("{value:?}"),
            format!("a duration from {min_ms} ms to {max_ms} ms"),
        ))
    }
}

/// A slice in microseconds within Linux's range, or `off` (also `0`): the kernel's default.
fn parse_slice(setting: &str, value: &str) -> Result<Option<Duration>, ConfigError> {
    let trimmed = value.trim();
    if trimmed.eq_ignore_ascii_case("off") || trimmed == "0" {
        return Ok(None);
    }
    trimmed
        .parse::<u64>()
        .ok()
        .map(Duration::from_micros)
        .filter(|slice| crate::os::SLICE_RANGE.contains(slice))
        .map(Some)
        .ok_or_else(|| {
            invalid(
                setting,
                value,
                "a whole number of microseconds from 100 to 100000, or off (or 0) for the \
                 kernel's default",
            )
        })
}

fn parse_bool(setting: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        // smolscale 0.4 switched on when the variable merely existed, so empty means yes.
        "" | "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            setting,
            value,
            "one of 1, true, yes, on (or empty) to enable; 0, false, no, off to disable",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_range_checked() {
        assert_eq!(parse_count(ENV_THREADS, " 4 "), Ok(4));
        for bad in ["0", "-1", "four", "", "4.0", "99999999999999999999"] {
            let err = parse_count(ENV_THREADS, bad).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(ENV_THREADS), "{text}");
            assert!(text.contains(&format!("{bad:?}")), "{text}");
            assert!(text.contains("whole number from 1 to"), "{text}");
        }
    }

    #[test]
    fn booleans_accept_the_usual_spellings() {
        for yes in ["", "1", "TRUE", "yes", "On"] {
            assert_eq!(parse_bool(ENV_SINGLE, yes), Ok(true), "{yes}");
        }
        for no in ["0", "false", "No", "off"] {
            assert_eq!(parse_bool(ENV_SINGLE, no), Ok(false), "{no}");
        }
        let err = parse_bool(ENV_SINGLE, "maybe").unwrap_err().to_string();
        assert!(
            err.contains("SMOLSCALE_SINGLE") && err.contains("\"maybe\""),
            "{err}"
        );
    }

    #[test]
    fn builder_validation_names_the_method() {
        let err = Builder::new()
            .threads(0)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("Builder::threads"), "{err}");
        let err = Builder::new()
            .threads(8)
            .max_threads(4)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Builder::max_threads") && err.contains("(8)"),
            "{err}"
        );
        let err = Builder::new()
            .stuck_threshold(Duration::ZERO)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("Builder::stuck_threshold"), "{err}");
    }

    #[test]
    fn defaults_follow_the_cpu_count() {
        let config = Builder::new().validate().unwrap();
        assert_eq!(config.threads, default_threads());
        assert_eq!(config.max_threads, config.threads + DEFAULT_SPARE_THREADS);
        assert_eq!(config.stuck_threshold, DEFAULT_STUCK_THRESHOLD);
        assert_eq!(config.retire_after, DEFAULT_RETIRE_AFTER);
        assert_eq!(config.reactor_slice, Some(DEFAULT_REACTOR_SLICE));
        assert!(config.balancer);
    }

    #[test]
    fn reactor_slices_are_range_checked_or_off() {
        let env = ENV_REACTOR_SLICE_US;
        assert_eq!(
            parse_slice(env, " 250 "),
            Ok(Some(Duration::from_micros(250)))
        );
        assert_eq!(
            parse_slice(env, "100"),
            Ok(Some(Duration::from_micros(100)))
        );
        assert_eq!(
            parse_slice(env, "100000"),
            Ok(Some(Duration::from_millis(100)))
        );
        assert_eq!(parse_slice(env, "OFF"), Ok(None));
        assert_eq!(parse_slice(env, "0"), Ok(None));
        for bad in ["99", "100001", "-5", "1ms", ""] {
            let err = parse_slice(env, bad).unwrap_err().to_string();
            assert!(
                err.contains(env) && err.contains(&format!("{bad:?}")) && err.contains("100000"),
                "{err}"
            );
        }
        let slice = |slice| Builder::new().reactor_slice(slice).validate();
        assert_eq!(slice(None).unwrap().reactor_slice, None);
        let ms = Some(Duration::from_millis(3));
        assert_eq!(slice(ms).unwrap().reactor_slice, ms);
        for bad in [Duration::from_micros(99), Duration::from_millis(101)] {
            let err = slice(Some(bad)).unwrap_err().to_string();
            assert!(err.contains("Builder::reactor_slice"), "{err}");
        }
    }
}
