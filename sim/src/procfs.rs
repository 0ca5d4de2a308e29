//! What /proc says about a child process (the exporter under test), and a
//! scrape that is timed on its own.

use crate::exporter::Exporter;
use crate::http::HttpAnswer;
use std::time::{Duration, Instant};

/// The memory bound every stress test holds the exporter to, in KiB.
pub const RSS_BOUND_KIB: u64 = 16 * 1024;
/// How long one scrape may take, whatever else is going on.
pub const SCRAPE_BOUND: Duration = Duration::from_secs(1);

/// A `kB` field of /proc/PID/status, e.g. `VmRSS`.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e} (did the exporter die?)"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The resident set of process `pid` (`VmRSS`), in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// How many descriptors process `pid` has open.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or_else(|e| panic!("read /proc/{pid}/fd: {e}"))
}

/// The soft `Max open files` limit of this (the test) process.
pub fn own_fd_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|soft| soft.parse().unwrap_or(usize::MAX))
        .expect("Max open files line")
}

/// Panics unless the exporter's resident set is under [`RSS_BOUND_KIB`].
pub fn assert_rss_bounded(exp: &Exporter, when: &str) -> u64 {
    let rss = rss_kib(exp.pid());
    assert!(
        rss < RSS_BOUND_KIB,
        "{when}: VmRSS {rss} KiB is over the bound of {RSS_BOUND_KIB} KiB"
    );
    rss
}

/// `GET path`, timed from connect to the last byte; panics if it took longer
/// than [`SCRAPE_BOUND`].
pub fn timed_get(exp: &Exporter, path: &str, when: &str) -> (HttpAnswer, Duration) {
    let started = Instant::now();
    let answer = exp.get(path);
    let took = started.elapsed();
    assert!(
        took < SCRAPE_BOUND,
        "{when}: GET {path} took {took:?} (bound {SCRAPE_BOUND:?})"
    );
    (answer, took)
}

/// A timed `/metrics` scrape that must be a 200 with a whole body.
pub fn timed_scrape(exp: &Exporter, when: &str) -> String {
    let (answer, _) = timed_get(exp, "/metrics", when);
    assert_eq!(answer.status, 200, "{when}: {}", answer.head);
    assert_complete(&answer, when);
    answer.body
}

/// The body is as long as announced and ends with a whole line.
pub fn assert_complete(answer: &HttpAnswer, when: &str) {
    let length: usize = answer
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{when}: no Content-Length in {}", answer.head));
    assert_eq!(answer.body.len(), length, "{when}: truncated body");
    assert!(answer.body.ends_with('\n'), "{when}: body ends mid-line");
}
