//! A sampling profiler inside the child process, for machines without `perf` (the 16-core device
//! has none, and no hardware events): set `SMOLSCALE_BENCH_PROFILE=<path>` on a child built with
//! `--features profile`, and the whole child run is sampled through `SIGPROF` (pprof-rs), which
//! counts CPU time of every thread, system time included: a sample taken inside a syscall shows
//! the user-space frame that made it.
//!
//! Written to `<path>`: samples per thread (workers grouped by name prefix), then the functions
//! with the most samples at the top of the stack ("self"), then those with the most samples
//! anywhere in the stack ("total", each counted once per sample). Written to `<path>.folded`:
//! one line per distinct stack, `thread;root;...;leaf count`, the input of flame-graph tools.
//!
//! `libc` is not on the profiler's blocklist although its unwinder is not async-signal-safe:
//! most of an I/O workload's time is spent under libc's syscall wrappers, and dropping those
//! samples would hide it. A deadlock in the unwinder would show as the child's watchdog timeout.

/// The environment variable naming the report's path.
pub const VAR: &str = "SMOLSCALE_BENCH_PROFILE";

/// Samples per second and thread of CPU time.
#[cfg(feature = "profile")]
const FREQUENCY: i32 = 999;

/// Rows in each of the report's function tables.
#[cfg(feature = "profile")]
const TOP: usize = 60;

/// A running profile, written out by [`Profile::finish`].
pub struct Profile {
    #[cfg(feature = "profile")]
    running: Option<(std::path::PathBuf, pprof::ProfilerGuard<'static>)>,
}

impl Profile {
    /// Starts sampling if [`VAR`] is set.
    ///
    /// # Panics
    /// If [`VAR`] is set in a build without the `profile` feature, or the profiler can't start.
    pub fn start() -> Profile {
        let path = std::env::var_os(VAR).map(std::path::PathBuf::from);
        #[cfg(feature = "profile")]
        {
            let running = path.map(|path| {
                let guard = pprof::ProfilerGuardBuilder::default()
                    .frequency(FREQUENCY)
                    .blocklist(&["vdso"])
                    .build()
                    .unwrap_or_else(|err| panic!("{VAR}: could not start the profiler: {err}"));
                (path, guard)
            });
            Profile { running }
        }
        #[cfg(not(feature = "profile"))]
        {
            assert!(
                path.is_none(),
                "{VAR} is set, but this build has no profiler: build with \
                 `--features smolscale-bench/profile`"
            );
            Profile {}
        }
    }

    /// Stops sampling and writes the report, if one was started.
    pub fn finish(self) {
        #[cfg(feature = "profile")]
        if let Some((path, guard)) = self.running {
            let report = guard
                .report()
                .build()
                .unwrap_or_else(|err| panic!("{VAR}: could not build the report: {err}"));
            write_report(&path, &report)
                .unwrap_or_else(|err| panic!("{VAR}: writing {}: {err}", path.display()));
        }
    }
}

#[cfg(feature = "profile")]
fn write_report(path: &std::path::Path, report: &pprof::Report) -> std::io::Result<()> {
    use std::collections::{HashMap, HashSet};
    use std::fmt::Write as _;

    let mut threads: HashMap<String, isize> = HashMap::new();
    let mut leaf: HashMap<String, isize> = HashMap::new();
    let mut total: HashMap<String, isize> = HashMap::new();
    let mut folded = String::new();
    let mut samples = 0;
    for (stack, &count) in &report.data {
        samples += count;
        *threads
            .entry(thread_group(&stack.thread_name_or_id()))
            .or_default() += count;
        // Innermost first: frames[0] is the leaf, and within a frame the inlined callee comes
        // before its caller.
        let names: Vec<String> = (stack.frames.iter().flatten())
            .map(|symbol| symbol.name())
            .collect();
        if let Some(top) = names.first() {
            *leaf.entry(top.clone()).or_default() += count;
        }
        for name in names.iter().collect::<HashSet<_>>() {
            *total.entry(name.clone()).or_default() += count;
        }
        let _ = write!(folded, "{}", stack.thread_name_or_id());
        for name in names.iter().rev() {
            let _ = write!(folded, ";{}", name.replace(';', ":"));
        }
        let _ = writeln!(folded, " {count}");
    }

    let mut out = String::new();
    // The kernel checks the process's CPU-time timer at its scheduler tick, so the rate is at
    // most the tick rate (250 Hz here) for the whole process, whatever FREQUENCY asks.
    let _ = writeln!(
        out,
        "{samples} samples of the process's CPU time (asked: {FREQUENCY} Hz; the kernel's tick \
         bounds it)\n\nThe total table leaves out frames present in every sample (thread start-up).\n"
    );
    for (title, table, skip_everywhere) in [
        ("threads", &threads, false),
        ("self (top of the stack)", &leaf, false),
        ("total (anywhere in the stack)", &total, true),
    ] {
        let _ = writeln!(out, "## {title}");
        let mut rows: Vec<_> = table.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        for (name, &count) in (rows.into_iter())
            .filter(|&(_, &count)| !(skip_everywhere && count == samples))
            .take(TOP)
        {
            let share = 100.0 * count as f64 / samples.max(1) as f64;
            let _ = writeln!(out, "{share:6.2} % {count:7}  {name}");
        }
        out.push('\n');
    }
    std::fs::write(path, out)?;
    let mut folded_path = path.as_os_str().to_owned();
    folded_path.push(".folded");
    std::fs::write(folded_path, folded)
}

/// A thread's name without its trailing number, so a pool's workers add up in one row
/// (`smolscale-w3` → `smolscale-w`, `tokio-runtime-worker` unchanged).
#[cfg(feature = "profile")]
fn thread_group(name: &str) -> String {
    match name.trim_end_matches(|c: char| c.is_ascii_digit()) {
        "" => "(unnamed)".to_string(),
        prefix => prefix.to_string(),
    }
}
