//! The standard `process_*` metrics, read from `/proc/self` at scrape time,
//! with the names and HELP texts of the Prometheus client libraries.
//!
//! A scrape reads them with one system call: `/proc/self/stat` stays open
//! and is read again from offset 0 (the kernel regenerates it).
//!
//! - The number of open descriptors is the size `fstat` gives the open
//!   `/proc/self/fd` directory (Linux 6.2 and later; older kernels say 0,
//!   and the directory is listed instead). It is counted at most once a
//!   second: a scrape within a second of the count that came before gets
//!   that count. Prometheus scrapes every 15 s or more, so a real scrape
//!   always counts afresh; a burst of scrapes does not pay a system call
//!   each for a figure that cannot have meant more.
//! - The listing of older kernels parses `getdents64` records by hand on
//!   the directory kept open, rather than using `std::fs::read_dir`:
//!   `read_dir` opens the directory anew for each count (one more
//!   descriptor, counted too, and an open and a close) and allocates a
//!   path and an entry for each descriptor, while this lists from a fixed
//!   buffer with one `lseek` and a `getdents64` per 4 KiB of entries.
//! - The descriptor limit comes from `getrlimit` once, at start: it
//!   changes only through `setrlimit`, which this program never calls (a
//!   `prlimit --pid` from outside is seen after a restart).
//!
//! The two descriptors kept open are counted in `process_open_fds`, like
//! the one a fresh listing would open.

use crate::collector::Collector;
use crate::exposition::{Exposition, MetricType};
use crate::landing::{duration_text, Page};
use crate::sys;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest a count of open descriptors is reused for.
const FD_COUNT_FOR: Duration = Duration::from_secs(1);
/// [`ProcessCollector::fd_count`] before the first count, or when counting
/// failed.
const NO_COUNT: u64 = u64::MAX;

pub struct ProcessCollector {
    ticks_per_second: f64,
    page_size: f64,
    /// Boot time, Unix seconds (`btime` of /proc/stat); read once.
    boot_time: Option<f64>,
    /// `/proc/self/stat`, read with `pread` at offset 0.
    stat: Option<File>,
    /// `/proc/self/fd`: its size, or on older kernels its listing.
    fd_dir: Option<File>,
    /// One listing at a time: a directory has one read position.
    listing: Mutex<()>,
    /// The soft limit on open descriptors, read once.
    max_fds: Option<f64>,
    /// The last count of open descriptors, or [`NO_COUNT`], and when it
    /// was taken (nanoseconds since `created`).
    fd_count: AtomicU64,
    fd_counted_at: AtomicU64,
    created: Instant,
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
        let (ticks, page) = (
            sys::sysconf(libc::_SC_CLK_TCK),
            sys::sysconf(libc::_SC_PAGESIZE),
        );
        ProcessCollector {
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
            page_size: if page > 0 { page as f64 } else { 4096.0 },
            boot_time: fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|s| parse_boot_time(&s)),
            stat: File::open("/proc/self/stat").ok(),
            fd_dir: File::open("/proc/self/fd").ok(),
            listing: Mutex::new(()),
            max_fds: max_fds(),
            fd_count: AtomicU64::new(NO_COUNT),
            fd_counted_at: AtomicU64::new(0),
            created: Instant::now(),
        }
    }

    pub fn read(&self) -> ProcessStats {
        let mut stats = ProcessStats::default();
        let stat = LAST.with_borrow_mut(|last| {
            let n = self.stat.as_ref()?.read_at(&mut last.buffer, 0).ok()?;
            // The same text as the last read (the clock has not ticked
            // since): the same figures, without parsing it again.
            if last.stat.is_none() || !same_bytes(&last.buffer[..n], &last.text[..last.length]) {
                last.stat = parse_stat(&last.buffer[..n]);
                last.text[..n].copy_from_slice(&last.buffer[..n]);
                last.length = n;
            }
            last.stat
        });
        if let Some(stat) = stat {
            stats.cpu_seconds = Some((stat.utime + stat.stime) as f64 / self.ticks_per_second);
            stats.virtual_bytes = Some(stat.vsize as f64);
            stats.resident_bytes = Some(stat.rss_pages as f64 * self.page_size);
            stats.start_time = self
                .boot_time
                .map(|boot| boot + stat.start_ticks as f64 / self.ticks_per_second);
        }
        stats.open_fds = self.open_fds();
        stats.max_fds = self.max_fds;
        stats
    }

    /// The open descriptors: the last count when it is less than
    /// [`FD_COUNT_FOR`] old, else a new one.
    fn open_fds(&self) -> Option<f64> {
        let now = u64::try_from(self.created.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let at = self.fd_counted_at.load(Ordering::Acquire);
        let last = self.fd_count.load(Ordering::Acquire);
        if last != NO_COUNT && now.saturating_sub(at) < FD_COUNT_FOR.as_nanos() as u64 {
            return Some(last as f64);
        }
        let count = self.count_open_fds();
        // Two scrapes may count at once: either count will do.
        self.fd_count
            .store(count.map_or(NO_COUNT, |n| n as u64), Ordering::Release);
        self.fd_counted_at.store(now, Ordering::Release);
        count
    }

    /// The open descriptors, the directory's own included.
    fn count_open_fds(&self) -> Option<f64> {
        let dir = self.fd_dir.as_ref()?;
        // The directory itself is open: a size of 0 means an older kernel.
        match dir.metadata() {
            Ok(m) if m.len() > 0 => Some(m.len() as f64),
            _ => {
                let _one_at_a_time = self.listing.lock().unwrap_or_else(|e| e.into_inner());
                list_entries(dir).map(|n| n as f64)
            }
        }
    }
}

/// The entries of an open directory, `.` and `..` left out, listed from
/// its start.
fn list_entries(dir: &File) -> Option<usize> {
    sys::rewind(dir).ok()?;
    // u64 for the alignment of linux_dirent64.
    let mut buffer = [0u64; 512];
    let mut count = 0usize;
    loop {
        match sys::getdents64(dir, &mut buffer).ok()? {
            [] => return Some(count),
            records => count += count_dirents(records),
        }
    }
}

/// Counts the entries of a `getdents64` buffer, `.` and `..` left out.
/// linux_dirent64: d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1),
/// then the NUL-terminated name.
fn count_dirents(mut bytes: &[u8]) -> usize {
    let mut count = 0;
    while bytes.len() >= 19 {
        let length = usize::from(u16::from_ne_bytes([bytes[16], bytes[17]]));
        if length < 19 || length > bytes.len() {
            break;
        }
        let name = &bytes[19..length];
        let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
        if name != b"." && name != b".." {
            count += 1;
        }
        bytes = &bytes[length..];
    }
    count
}

/// The soft limit on open descriptors (what `Max open files` of
/// `/proc/self/limits` shows).
fn max_fds() -> Option<f64> {
    let soft = sys::open_files_limit().ok()?;
    Some(if soft == libc::RLIM_INFINITY {
        f64::INFINITY
    } else {
        soft as f64
    })
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    pub utime: u64,
    pub stime: u64,
    pub start_ticks: u64,
    pub vsize: u64,
    pub rss_pages: u64,
}

/// `/proc/self/stat`: the command name may hold spaces, parentheses and
/// bytes that are not UTF-8, so fields are counted from the last `)`.
/// Fields are separated by ASCII whitespace; a number is ASCII digits.
pub fn parse_stat(stat: &[u8]) -> Option<Stat> {
    // The name is at most 64 bytes (TASK_COMM_LEN is 16; kernel threads
    // may have up to 64) after a pid of at most 10 digits, and no field
    // after it holds a `)`: the last one is within the first 128 bytes.
    let close = stat[..stat.len().min(128)]
        .iter()
        .rposition(|&b| b == b')')?;
    let rest = &stat[close + 1..];
    // Field 3 (state) of proc(5) comes first; fields are read in order.
    const WANTED: [usize; 5] = [14, 15, 22, 23, 24];
    let mut values = [0u64; WANTED.len()];
    let (mut field, mut wanted, mut at) = (3, 0, 0);
    while wanted < WANTED.len() {
        while at < rest.len() && rest[at].is_ascii_whitespace() {
            at += 1;
        }
        if at == rest.len() {
            return None;
        }
        let start = at;
        while at < rest.len() && !rest[at].is_ascii_whitespace() {
            at += 1;
        }
        if field == WANTED[wanted] {
            values[wanted] = parse_u64(&rest[start..at])?;
            wanted += 1;
        }
        field += 1;
    }
    let [utime, stime, start_ticks, vsize, rss_pages] = values;
    Some(Stat {
        utime,
        stime,
        start_ticks,
        vsize,
        rss_pages,
    })
}

/// ASCII digits (after an optional `+`, as `str::parse` takes) as a u64.
fn parse_u64(text: &[u8]) -> Option<u64> {
    let digits = text.strip_prefix(b"+").unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
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

/// One `process_*` family: what it is and where its value comes from.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    value: fn(&ProcessStats) -> Option<f64>,
}

/// The families, in the order they are written.
const FAMILIES: [Family; 6] = [
    Family {
        name: "process_cpu_seconds_total",
        help: "Total user and system CPU time spent in seconds.",
        kind: MetricType::Counter,
        value: |stats| stats.cpu_seconds,
    },
    Family {
        name: "process_resident_memory_bytes",
        help: "Resident memory size in bytes.",
        kind: MetricType::Gauge,
        value: |stats| stats.resident_bytes,
    },
    Family {
        name: "process_virtual_memory_bytes",
        help: "Virtual memory size in bytes.",
        kind: MetricType::Gauge,
        value: |stats| stats.virtual_bytes,
    },
    Family {
        name: "process_start_time_seconds",
        help: "Start time of the process since unix epoch in seconds.",
        kind: MetricType::Gauge,
        value: |stats| stats.start_time,
    },
    Family {
        name: "process_open_fds",
        help: "Number of open file descriptors.",
        kind: MetricType::Gauge,
        value: |stats| stats.open_fds,
    },
    Family {
        name: "process_max_fds",
        help: "Maximum number of open file descriptors.",
        kind: MetricType::Gauge,
        value: |stats| stats.max_fds,
    },
];

/// The HELP and TYPE lines of [`FAMILIES`], which never change: rendered
/// once, copied at each scrape.
fn headers() -> &'static [String; 6] {
    static HEADERS: std::sync::OnceLock<[String; 6]> = std::sync::OnceLock::new();
    HEADERS.get_or_init(|| {
        FAMILIES.each_ref().map(|family| {
            let mut out = Exposition::new();
            out.family(family.name, family.help, family.kind);
            out.into_string()
        })
    })
}

/// Writes the families for `stats`: what [`Exposition::single`] writes for
/// each, with the constant lines copied and the values (whole numbers of
/// bytes and descriptors, hundredths of seconds from clock ticks) written
/// from their digits.
pub fn render(stats: &ProcessStats, out: &mut Exposition) {
    for (family, header) in FAMILIES.iter().zip(headers()) {
        out.append_rendered(header);
        if let Some(value) = (family.value)(stats) {
            out.append_sample_hundredths(family.name, value);
        }
    }
}

/// `a == b`, eight bytes at a time: the static build's byte-wise `bcmp`
/// costs seven instructions a byte, more than parsing the line again.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    a.len() == b.len()
        && a_words.remainder() == b_words.remainder()
        && a_words.zip(b_words).all(|(x, y)| word(x) == word(y))
}

/// What a thread read and wrote at its last scrape, so that the next one
/// repeats none of the work whose input has not changed: each thread its
/// own, so that no lock is shared between the HTTP loops (and a scrape
/// allocates nothing).
struct Last {
    /// `/proc/self/stat` as read now,
    buffer: [u8; STAT_BYTES],
    /// and as read when `stat` was parsed from it.
    text: [u8; STAT_BYTES],
    length: usize,
    stat: Option<Stat>,
    /// The whole section as last written, for the values in `values`
    /// (`None`: a family without a sample): copied at once when none has
    /// changed. Empty when nothing is kept.
    section: String,
    values: [Option<u64>; FAMILIES.len()],
}

/// The room kept for [`Last::section`] (the six families are ~1 KB).
const SECTION_BYTES: usize = 2048;

/// The most of `/proc/self/stat` read (the line is ~300 bytes).
const STAT_BYTES: usize = 1024;
thread_local! {
    static LAST: std::cell::RefCell<Last> = std::cell::RefCell::new(Last {
        buffer: [0; STAT_BYTES],
        text: [0; STAT_BYTES],
        length: 0,
        stat: None,
        section: String::with_capacity(SECTION_BYTES),
        values: [None; FAMILIES.len()],
    });
}

/// [`render`], or the section this thread wrote last time when no value
/// has changed since (most scrapes: the clock ticks every 10 ms, and
/// memory, start time and limits rarely or never change).
fn render_reusing(stats: &ProcessStats, out: &mut Exposition) {
    LAST.with_borrow_mut(|last| {
        let values = FAMILIES
            .each_ref()
            .map(|family| (family.value)(stats).map(f64::to_bits));
        if !last.section.is_empty() && last.values == values {
            out.append_rendered(&last.section);
            return;
        }
        let start = out.as_str().len();
        render(stats, out);
        let written = &out.as_str()[start..];
        last.section.clear();
        if written.len() <= SECTION_BYTES {
            last.section.push_str(written);
            last.values = values;
        }
    });
}

impl Collector for ProcessCollector {
    fn collect(&self, out: &mut Exposition) {
        render_reusing(&self.read(), out);
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
    fn the_copied_headers_give_the_families_single_writes() {
        let all = ProcessStats {
            cpu_seconds: Some(0.25),
            resident_bytes: Some(1536.0 * 1024.0),
            virtual_bytes: Some(9_830_400.0),
            start_time: Some(1_763_790_000.5),
            open_fds: Some(7.0),
            max_fds: Some(f64::INFINITY),
        };
        let some = ProcessStats {
            cpu_seconds: Some(1e-7),
            open_fds: Some(3.0),
            ..ProcessStats::default()
        };
        // What ticks of 1/100 s give: the digits path.
        let ticks = ProcessStats {
            cpu_seconds: Some(12_345.0 / 100.0),
            start_time: Some(1_763_790_000.0 + 4_242.0 / 100.0),
            virtual_bytes: Some(0.0),
            ..ProcessStats::default()
        };
        for stats in [all, some, ticks, ProcessStats::default()] {
            let mut want = Exposition::new();
            for family in &FAMILIES {
                want.single(
                    family.name,
                    family.help,
                    family.kind,
                    (family.value)(&stats),
                );
            }
            let mut got = Exposition::new();
            render(&stats, &mut got);
            assert_eq!(got.as_str(), want.as_str());
        }
    }

    /// Lines copied from the last scrape say what writing them anew says,
    /// whatever changed in between.
    #[test]
    fn a_reused_section_is_what_render_writes() {
        let stats = |cpu: Option<f64>, rss: f64| ProcessStats {
            cpu_seconds: cpu,
            resident_bytes: Some(rss),
            virtual_bytes: Some(9_830_400.0),
            start_time: Some(1_763_790_000.5),
            open_fds: Some(7.0),
            max_fds: Some(1024.0),
        };
        for stats in [
            stats(Some(0.25), 1536.0),
            stats(Some(0.25), 1536.0),
            stats(Some(0.26), 1536.0),
            stats(None, 2048.0),
            stats(Some(1e-7), 2048.0),
            ProcessStats::default(),
            stats(Some(0.25), 1536.0),
        ] {
            let mut want = Exposition::new();
            render(&stats, &mut want);
            let mut got = Exposition::new();
            render_reusing(&stats, &mut got);
            assert_eq!(got.as_str(), want.as_str());
        }
    }

    #[test]
    fn same_bytes_is_slice_equality() {
        let text = b"4242 (a) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 5 0 0 20 0 3 0 123456";
        for end in 0..text.len() {
            let mut other = text[..end].to_vec();
            assert!(same_bytes(&text[..end], &other));
            assert!(!same_bytes(&text[..end], &text[..end.saturating_sub(1)]) || end == 0);
            if let Some(last) = other.last_mut() {
                *last ^= 1;
                assert!(!same_bytes(&text[..end], &other));
            }
            if end > 8 {
                other[end - 1] ^= 1;
                other[3] ^= 2;
                assert!(!same_bytes(&text[..end], &other));
            }
        }
    }

    #[test]
    fn stat_with_a_hostile_command_name() {
        let line = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 5 0 0 20 0 3 0 123456 9830400 380 \
                    18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(line.as_bytes()),
            Some(Stat {
                utime: 17,
                stime: 5,
                start_ticks: 123456,
                vsize: 9830400,
                rss_pages: 380
            })
        );
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b"1 (x) S 1 2"), None);
        // A command name that is not UTF-8, and what str::parse would say
        // of each field.
        let mut odd = b"7 (\xff\xfe)".to_vec();
        odd.extend_from_slice(&line.as_bytes()[line.rfind(')').unwrap() + 1..]);
        assert_eq!(parse_stat(&odd).map(|s| s.utime), Some(17));
        for field in [
            "18446744073709551615",
            "18446744073709551616",
            "+3",
            "+",
            "",
            "-1",
            "1x",
        ] {
            assert_eq!(parse_u64(field.as_bytes()), field.parse().ok(), "{field:?}");
        }
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
    fn the_limit_and_the_descriptors_match_what_proc_lists() {
        let collector = ProcessCollector::new();
        let limits = fs::read_to_string("/proc/self/limits").unwrap();
        assert_eq!(collector.read().max_fds, parse_max_fds(&limits));
        // Other tests open and close descriptors meanwhile: compare while
        // this test holds still, retrying until two listings agree.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let listed = fs::read_dir("/proc/self/fd").unwrap().count() as f64;
            let counted = collector.read().open_fds.unwrap();
            let again = fs::read_dir("/proc/self/fd").unwrap().count() as f64;
            // A fresh listing also counts the descriptor it lists with.
            if listed == again && counted == listed - 1.0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{listed} / {counted} / {again}"
            );
        }
    }

    #[test]
    fn the_listing_of_older_kernels_counts_what_read_dir_lists() {
        let dir = File::open("/proc/self/fd").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let listed = fs::read_dir("/proc/self/fd").unwrap().count();
            let counted = list_entries(&dir).unwrap();
            let again = fs::read_dir("/proc/self/fd").unwrap().count();
            // Both see `dir`; read_dir also sees its own descriptor.
            if listed == again && counted == listed - 1 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{listed} / {counted} / {again}"
            );
        }
        let tmp = std::env::temp_dir().join(format!("lxe-dirents-{}", std::process::id()));
        fs::create_dir(&tmp).unwrap();
        for name in ["a", "b", "c"] {
            fs::write(tmp.join(name), "").unwrap();
        }
        let counted = list_entries(&File::open(&tmp).unwrap());
        fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(counted, Some(3));
    }

    #[test]
    fn dirents_are_counted_without_dot_and_dotdot() {
        let entry = |name: &str| {
            let length = (19 + name.len() + 1).next_multiple_of(8);
            let mut e = vec![0u8; length];
            e[16..18].copy_from_slice(&(length as u16).to_ne_bytes());
            e[19..19 + name.len()].copy_from_slice(name.as_bytes());
            e
        };
        let bytes: Vec<u8> = [".", "..", "0", "1", "255"]
            .iter()
            .flat_map(|n| entry(n))
            .collect();
        assert_eq!(count_dirents(&bytes), 3);
        // A truncated or corrupt record ends the count, not the process.
        assert_eq!(count_dirents(&bytes[..bytes.len() - 1]), 2);
        assert_eq!(count_dirents(&[0u8; 18]), 0);
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
