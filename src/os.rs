//! What the operating system says a worker thread is doing: blocked in the kernel, or runnable
//! and how much CPU time it has had. Linux only (`/proc` and the thread's CPU clock); elsewhere
//! nothing is known. And the one thing asked of it: a short time slice for async-io's reactor
//! thread ([`set_slice`]).
//!
//! The balancer asks this about a worker whose poll has lasted the stuck threshold, to tell a
//! blocked or CPU-bound poll (a replacement thread restores parallelism) from one whose thread
//! merely waits for a CPU: on an oversubscribed machine or a CPU-throttled container a
//! preempted worker looks exactly like a stuck one, and a replacement thread only adds one
//! more runnable thread to share the same cores. On a 2-core VM one 5.8 ms preemption during
//! TCP echo started a third worker that stayed for the whole run (BENCHMARKS.md, tuning log 15).

use std::time::Duration;

/// A thread's state as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadState {
    /// Sleeping or waiting in the kernel (not runnable).
    Blocked,
    /// Running or waiting for a CPU, having run for `cpu_ns` nanoseconds in all, counted to the
    /// nanosecond up to the moment of the look (see [`thread_state`]).
    Runnable { cpu_ns: u64 },
    /// Not known (not Linux, `/proc` not mounted, the thread gone).
    Unknown,
}

/// The calling thread's kernel id, or 0 if it can't be known.
pub(crate) fn current_tid() -> u32 {
    #[cfg(target_os = "linux")]
    {
        // `/proc/thread-self` links to `<pid>/task/<tid>`.
        std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|link| link.file_name()?.to_str()?.parse().ok())
            .unwrap_or(0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// The time slices Linux accepts for a thread of the fair class (`sched_setattr`'s
/// `sched_runtime`, Linux 6.12 and later; it clamps anything else into this range).
pub(crate) const SLICE_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_micros(100)..=Duration::from_millis(100);

/// Asks the kernel for time slices of `slice` (within [`SLICE_RANGE`]) on thread `tid` of this
/// process. Returns `Ok(false)` where it leaves the thread alone: a real-time policy, or a
/// system other than Linux. Kernels before 6.12 accept the request and ignore the slice.
///
/// Why: [`Builder::reactor_slice`](crate::Builder::reactor_slice) (BENCHMARKS.md, tuning log 50).
pub(crate) fn set_slice(tid: u32, slice: Duration) -> std::io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        linux::set_slice(tid, slice)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (tid, slice);
        Ok(false)
    }
}

/// The ids of this process's threads named `name` (Linux: `/proc/self/task/*/comm`; elsewhere
/// none).
pub(crate) fn threads_named(name: &str) -> Vec<u32> {
    #[cfg(target_os = "linux")]
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        return tasks
            .flatten()
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.trim_end() == name)
            })
            .filter_map(|task| task.file_name().to_str()?.parse().ok())
            .collect();
    }
    let _ = name;
    Vec::new()
}

/// The only `unsafe` code in the crate: three system calls, two of them made through
/// `libc::syscall` (neither std nor rustix wraps them), one through `libc::clock_gettime`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod linux {
    use std::time::Duration;

    /// `struct sched_attr` as Linux 3.14 defined it (`SCHED_ATTR_SIZE_VER0`). Later kernels
    /// accept it (they treat the fields it lacks as zero) and write no more than its size.
    #[repr(C)]
    #[derive(Default)]
    struct SchedAttr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
    }

    /// The CPU time thread `tid` of this process has had, in nanoseconds, up to now: its
    /// CPU clock, read with `clock_gettime`. `None` if the thread is gone.
    pub(super) fn thread_cpu_ns(tid: u32) -> Option<u64> {
        // Ids are under `PID_MAX_LIMIT` (2^22); from 2^28 on the shift below would lose bits
        // and name another clock (0 names the calling thread's own).
        if tid == 0 || tid >= 1 << 28 {
            return None;
        }
        let tid = libc::clockid_t::try_from(tid).ok()?;
        // A thread's CPU clock id, as the kernel's ABI defines it (`MAKE_THREAD_CPUCLOCK` in
        // `include/linux/posix-timers.h`; glibc's and musl's `pthread_getcpuclockid` compute
        // the same from the thread id): the complement of the id, shifted by three bits, with
        // `CPUCLOCK_PERTHREAD_MASK` (4) and `CPUCLOCK_SCHED` (2) set. The kernel accepts it
        // only for a thread of the calling process, and counts up to the nanosecond the
        // slice the thread is running right now.
        const PER_THREAD_SCHED: libc::clockid_t = 4 | 2;
        clock_ns((!tid << 3) | PER_THREAD_SCHED)
    }

    /// `clock`'s time, in nanoseconds; `None` if the kernel refuses the clock id.
    fn clock_ns(clock: libc::clockid_t) -> Option<u64> {
        let mut time = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `clock_gettime` writes one `struct timespec` to `time`, a live, exclusively
        // borrowed `libc::timespec`, and nothing else; a clock id that names no clock (a
        // thread's that isn't one of ours) makes it fail with EINVAL, writing nothing.
        if unsafe { libc::clock_gettime(clock, &mut time) } != 0 {
            return None;
        }
        let secs = u64::try_from(time.tv_sec).ok()?;
        let nanos = u64::try_from(time.tv_nsec).ok()?;
        Some(secs * 1_000_000_000 + nanos)
    }

    #[cfg(test)]
    #[test]
    fn the_clock_of_a_thread_id_is_that_threads_cpu_clock() {
        let own = || clock_ns(libc::CLOCK_THREAD_CPUTIME_ID).expect("this thread's own clock");
        let tid = super::current_tid();
        assert_ne!(tid, 0, "/proc/thread-self names this thread");
        // Interleaved with this thread's own CPU clock, to the nanosecond: the clock computed
        // from the id is this thread's, and it counts the slice running now.
        for _ in 0..100 {
            let before = thread_cpu_ns(tid).expect("this thread's clock");
            let own_now = own();
            let after = thread_cpu_ns(tid).expect("this thread's clock");
            assert!(
                before <= own_now && own_now <= after,
                "{before} <= {own_now} <= {after}"
            );
        }
        // Thread ids stay under `PID_MAX_LIMIT`, 2^22.
        assert_eq!(thread_cpu_ns(1 << 22), None, "no such thread");
        assert_eq!(thread_cpu_ns(0), None, "0 is no thread");
        assert_eq!(
            thread_cpu_ns(1 << 30),
            None,
            "no thread has an id that large"
        );
    }

    const SIZE: u32 = 48;
    const _: () = assert!(std::mem::size_of::<SchedAttr>() == SIZE as usize);

    const SCHED_OTHER: u32 = 0;
    const SCHED_BATCH: u32 = 3;
    /// Kept as found: only a privileged thread may clear it.
    const SCHED_FLAG_RESET_ON_FORK: u64 = 1;

    pub(super) fn set_slice(tid: u32, slice: Duration) -> std::io::Result<bool> {
        let tid = libc::pid_t::try_from(tid).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        let mut attr = SchedAttr::default();
        // SAFETY: `sched_getattr(tid, attr, SIZE, 0)` writes at most `SIZE` bytes (the size we
        // pass) to `attr`, a live, exclusively borrowed `repr(C)` struct of exactly that size,
        // laid out as the kernel's version-0 `struct sched_attr`.
        let got = unsafe {
            libc::syscall(
                libc::SYS_sched_getattr,
                tid,
                &mut attr as *mut SchedAttr,
                SIZE,
                0,
            )
        };
        if got != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if !matches!(attr.policy, SCHED_OTHER | SCHED_BATCH) {
            return Ok(false);
        }
        // Policy, nice value and reset-on-fork as they are: only the slice changes.
        attr.size = SIZE;
        attr.flags &= SCHED_FLAG_RESET_ON_FORK;
        attr.runtime = u64::try_from(slice.as_nanos()).unwrap_or(u64::MAX);
        attr.deadline = 0;
        attr.period = 0;
        // SAFETY: `sched_setattr(tid, attr, 0)` reads `attr.size` (= `SIZE`) bytes from `attr`,
        // a live `repr(C)` struct of exactly that size, and writes nothing.
        let set =
            unsafe { libc::syscall(libc::SYS_sched_setattr, tid, &attr as *const SchedAttr, 0) };
        if set != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(true)
    }
}

/// The state of thread `tid` of this process (0: unknown).
///
/// The state letter comes from `/proc/self/task/<tid>/stat`, the CPU time from the thread's
/// CPU clock (`clock_gettime`), which the kernel brings up to date for a thread running at
/// that moment. `/proc`'s own figure (`schedstat`) is credited only at scheduler ticks, 4 ms
/// apart at 250 Hz: a look shorter than several ticks could credit a preempted thread with a
/// whole tick, or a spinning one with nothing, so with it a runnable thread took a 20 ms
/// window to judge, and a worker held by a CPU loop got its replacement 25-30 ms after its
/// poll began (BENCHMARKS.md, tuning log 57).
pub(crate) fn thread_state(tid: u32) -> ThreadState {
    #[cfg(target_os = "linux")]
    if tid != 0 {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) {
            return parse(&stat, || linux::thread_cpu_ns(tid));
        }
    }
    let _ = tid;
    ThreadState::Unknown
}

/// Reads the state letter of `/proc/.../stat` (the field after the parenthesised name, which
/// may itself contain spaces and parentheses); asks `cpu_ns` for the CPU time of a runnable
/// thread only.
fn parse(stat: &str, cpu_ns: impl FnOnce() -> Option<u64>) -> ThreadState {
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next());
    match state {
        // R: running or on a run queue. Without its CPU time (the thread exited between the
        // two looks) nothing is known.
        Some("R") => cpu_ns().map_or(ThreadState::Unknown, |cpu_ns| ThreadState::Runnable {
            cpu_ns,
        }),
        None => ThreadState::Unknown,
        // S (sleeping), D (uninterruptible, disk), T/t (stopped, traced) and the rest: not
        // going to run until something else happens.
        Some(_) => ThreadState::Blocked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_state_after_a_name_with_spaces_and_parentheses() {
        let no_clock = || panic!("a thread that isn't runnable has its CPU time read");
        let stat = "4242 (smolscale (w) 1) S 1 4242 4242 0 -1 4194368 98 0 0 0 3 1 0 0 20";
        assert_eq!(parse(stat, no_clock), ThreadState::Blocked);
        let stat = "4242 (smolscale-w1) R 1 4242 4242 0 -1 4194368 98 0 0 0 3 1 0 0 20";
        assert_eq!(
            parse(stat, || Some(367037029)),
            ThreadState::Runnable { cpu_ns: 367037029 }
        );
        assert_eq!(parse(stat, || None), ThreadState::Unknown);
        assert_eq!(parse("garbage", no_clock), ThreadState::Unknown);
        let stat = "4242 (smolscale-w1) D 1 4242";
        assert_eq!(parse(stat, no_clock), ThreadState::Blocked);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sees_a_sleeping_thread_blocked_and_a_spinning_one_runnable() {
        use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
        use std::sync::Arc;
        use std::time::{Duration, Instant};

        let me = current_tid();
        assert_ne!(me, 0, "/proc/thread-self names this thread");
        assert!(matches!(thread_state(me), ThreadState::Runnable { .. }));

        // A thread asleep in the kernel.
        let tid = Arc::new(AtomicU32::new(0));
        let sleeper = {
            let tid = tid.clone();
            std::thread::spawn(move || {
                tid.store(current_tid(), Ordering::SeqCst);
                std::thread::park_timeout(Duration::from_secs(60));
            })
        };
        let start = Instant::now();
        let sleeping = loop {
            let id = tid.load(Ordering::SeqCst);
            if id != 0 && thread_state(id) == ThreadState::Blocked {
                break true;
            }
            if start.elapsed() > Duration::from_secs(30) {
                break false;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        sleeper.thread().unpark();
        sleeper.join().unwrap();
        assert!(sleeping, "a parked thread was never seen blocked");

        // A thread spinning: runnable, and its CPU time grows.
        let stop = Arc::new(AtomicBool::new(false));
        let tid = Arc::new(AtomicU32::new(0));
        let spinner = {
            let (stop, tid) = (stop.clone(), tid.clone());
            std::thread::spawn(move || {
                tid.store(current_tid(), Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        while tid.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let cpu = |id| match thread_state(id) {
            ThreadState::Runnable { cpu_ns } => cpu_ns,
            other => panic!("a spinning thread reported {other:?}"),
        };
        let id = tid.load(Ordering::SeqCst);
        let first = cpu(id);
        let start = Instant::now();
        let grew = loop {
            if cpu(id) > first {
                break true;
            }
            if start.elapsed() > Duration::from_secs(30) {
                break false;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        stop.store(true, Ordering::Relaxed);
        spinner.join().unwrap();
        assert!(grew, "a spinning thread's CPU time never grew");
    }
}
