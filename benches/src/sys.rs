//! What the operating system says about this process and machine: CPU time used and how often
//! threads went to sleep (for "CPU per round trip", "sleeps per round trip" and the idle cost),
//! the number of threads (for the idle scenario) and the CPU model and core count recorded with
//! every result.
//!
//! Linux only: CPU time and sleeps come from `getrusage(RUSAGE_SELF)` (user + system time and
//! voluntary context switches, summed over all threads of the process), the thread count from
//! the `Threads:` line of `/proc/self/status`, the resident set size from `/proc/self/statm`,
//! and the CPU model from `/proc/cpuinfo`.

use std::time::Duration;

/// What `getrusage(RUSAGE_SELF)` says about every thread of this process so far.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Voluntary context switches: how many times a thread went to sleep (a park, a futex wait,
    /// an `epoll_wait` or a `sleep` that blocked). Every wake-up a scheduler sends is paid for by
    /// one of these, so per operation it counts the wake-ups the work needed.
    pub sleeps: u64,
}

impl std::ops::Sub for Usage {
    type Output = Usage;

    fn sub(self, earlier: Usage) -> Usage {
        Usage {
            cpu: self.cpu.saturating_sub(earlier.cpu),
            sleeps: self.sleeps.saturating_sub(earlier.sleeps),
        }
    }
}

/// CPU time and sleeps of every thread of this process so far.
pub fn usage() -> Usage {
    rusage(libc::RUSAGE_SELF)
}

/// CPU time and sleeps of the calling thread so far.
pub fn thread_usage() -> Usage {
    rusage(libc::RUSAGE_THREAD)
}

fn rusage(who: libc::c_int) -> Usage {
    // SAFETY: `rusage` is plain old data, so all-zero bytes are a valid value, and getrusage
    // only writes into the struct we pass it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let rc = libc::getrusage(who, &mut usage);
        assert_eq!(
            rc,
            0,
            "getrusage failed: {}",
            std::io::Error::last_os_error()
        );
        usage
    };
    let of = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    Usage {
        cpu: of(usage.ru_utime) + of(usage.ru_stime),
        sleeps: u64::try_from(usage.ru_nvcsw).unwrap_or(0),
    }
}

/// Threads alive in this process now.
pub fn thread_count() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("/proc/self/status has a Threads: line")
}

/// Bytes of this process resident in memory now: the second field of `/proc/self/statm`
/// (resident pages) times the page size.
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("reading /proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse().ok())
        .expect("/proc/self/statm has a resident field");
    // SAFETY: sysconf only reads a configuration value.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page_size).expect("a positive page size")
}

/// The CPU model name, as `/proc/cpuinfo` gives it.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// CPUs this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
