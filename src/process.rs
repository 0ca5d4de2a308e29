//! The standard `process_*` metrics, read from `/proc/self` at scrape time,
//! with the names and HELP texts of the Prometheus client libraries.

use crate::collector::Collector;
use crate::exposition::{Exposition, MetricType};
use crate::landing::{duration_text, Page};
use std::fs;
use std::time::Duration;

pub struct ProcessCollector {
    ticks_per_second: f64,
    page_size: f64,
    /// Boot time, Unix seconds (`btime` of /proc/stat); read once.
    boot_time: Option<f64>,
}

/// What one reading of `/proc/self` found.
#[derive(Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<f64>,
    pub virtual_bytes: Option<f64>,
    pub start_time: Option<f64>,
    pub open_fds: Option<f64>,
    pub max_fds: Option<f64>,
}

impl ProcessCollector {
    pub fn new() -> Self {
        // SAFETY: sysconf has no preconditions.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        ProcessCollector {
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_size: if page > 0 { page as f64 } else { 4096.0 },
            boot_time: fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|s| parse_boot_time(&s)),
        }
    }

    pub fn read(&self) -> ProcessStats {
        let mut stats = ProcessStats::default();
        if let Some(stat) = fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| parse_stat(&s))
        {
            stats.cpu_seconds = Some((stat.utime + stat.stime) as f64 / self.ticks_per_second);
            stats.virtual_bytes = Some(stat.vsize as f64);
            stats.resident_bytes = Some(stat.rss_pages as f64 * self.page_size);
            stats.start_time = self
                .boot_time
                .map(|boot| boot + stat.start_ticks as f64 / self.ticks_per_second);
        }
        stats.open_fds = fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as f64);
        stats.max_fds = fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|s| parse_max_fds(&s));
        stats
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, PartialEq)]
pub struct Stat {
    pub utime: u64,
    pub stime: u64,
    pub start_ticks: u64,
    pub vsize: u64,
    pub rss_pages: u64,
}

/// `/proc/self/stat`: the command name may hold spaces and parentheses, so
/// fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state) of proc(5).
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        start_ticks: field(22)?,
        vsize: field(23)?,
        rss_pages: field(24)?,
    })
}

pub fn parse_boot_time(proc_stat: &str) -> Option<f64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit on the `Max open files` line of `/proc/self/limits`.
pub fn parse_max_fds(limits: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        Some(f64::INFINITY)
    } else {
        soft.parse().ok()
    }
}

impl Collector for ProcessCollector {
    fn collect(&self, out: &mut Exposition) {
        let stats = self.read();
        let families: [(&str, &str, MetricType, Option<f64>); 6] = [
            (
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                MetricType::Counter,
                stats.cpu_seconds,
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                MetricType::Gauge,
                stats.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                MetricType::Gauge,
                stats.virtual_bytes,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                MetricType::Gauge,
                stats.start_time,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                MetricType::Gauge,
                stats.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                MetricType::Gauge,
                stats.max_fds,
            ),
        ];
        for (name, help, kind, value) in families {
            out.single(name, help, kind, value);
        }
    }

    fn status(&self, page: &mut Page) {
        let stats = self.read();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let section = page.section("Exporter");
        if let Some(start) = stats.start_time {
            let up = Duration::from_secs_f64((now - start).max(0.0));
            section.row("Uptime", &duration_text(up));
        }
        if let Some(rss) = stats.resident_bytes {
            section.row("Memory (resident)", &format!("{:.1} MiB", rss / 1048576.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_command_name() {
        let line = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 5 0 0 20 0 3 0 123456 9830400 380 \
                    18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                utime: 17,
                stime: 5,
                start_ticks: 123456,
                vsize: 9830400,
                rss_pages: 380
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn limits_and_btime() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_max_fds(limits), Some(1024.0));
        assert_eq!(
            parse_max_fds("Max open files  unlimited unlimited files"),
            Some(f64::INFINITY)
        );
        assert_eq!(
            parse_boot_time("cpu 1 2\nbtime 1763790000\nprocesses 5\n"),
            Some(1763790000.0)
        );
    }

    #[test]
    fn reads_this_process() {
        let stats = ProcessCollector::new().read();
        assert!(stats.resident_bytes.unwrap() > 0.0);
        assert!(stats.open_fds.unwrap() >= 3.0);
        let start = stats.start_time.unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            start <= now + 1.0 && start > now - 86_400.0,
            "{start} vs {now}"
        );
    }
}
