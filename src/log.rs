//! Levelled log lines to stderr, appended to a log file, or handed to the
//! system log with a priority per level.
//!
//! [`Target::Stderr`] (the default) and a log file get
//! `2026-11-22T05:01:02Z INFO message`. Under a service manager the level
//! should become the line's priority, so that `logread` or `journalctl -p`
//! can tell an error from chatter:
//!
//! - [`Target::Syslog`]: syslog(3), facility daemon, ident
//!   `linxdot-exporter`, with the PID (OpenWrt's procd would otherwise log
//!   every stderr line as `daemon.err`);
//! - [`Target::Journal`]: stderr lines with the `<N>` prefix that journald
//!   (and sd-daemon(3)) read as the priority (systemd's SyslogLevelPrefix=).
//!
//! Both leave out the timestamp: the system log adds its own. Debug lines
//! are written only when debug is on. Nothing here ever sees a password:
//! callers log names and outcomes, not credentials.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The first `max` bytes of `bytes`, escaped so that a log line stays one
/// line of printable ASCII.
pub fn escape_start(bytes: &[u8], max: usize) -> String {
    let mut out: String = bytes
        .iter()
        .take(max)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > max {
        out.push('…');
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }

    /// The syslog(3) priority of this level: debug, info, warning, err.
    pub fn priority(self) -> libc::c_int {
        match self {
            Level::Debug => libc::LOG_DEBUG,
            Level::Info => libc::LOG_INFO,
            Level::Warn => libc::LOG_WARNING,
            Level::Error => libc::LOG_ERR,
        }
    }
}

/// Where log lines go when there is no log file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// `TIMESTAMP LEVEL message` on stderr.
    #[default]
    Stderr,
    /// syslog(3), facility daemon, priority by level.
    Syslog,
    /// `<N>LEVEL message` on stderr: journald's priority prefix.
    Journal,
}

impl Target {
    /// The spellings the command line accepts, for its error message.
    pub(crate) const NAMES: &'static str = "stderr, syslog or journal";

    pub fn parse(text: &str) -> Option<Target> {
        match text.trim() {
            "stderr" => Some(Target::Stderr),
            "syslog" => Some(Target::Syslog),
            "journal" => Some(Target::Journal),
            _ => None,
        }
    }
}

static DEBUG: AtomicBool = AtomicBool::new(false);
static SINK: OnceLock<Sink> = OnceLock::new();

enum Sink {
    Write(Mutex<Box<dyn Write + Send>>, Target),
    Syslog,
}

/// Sets where lines go and whether debug lines are written: to the log file
/// when there is one, else to `target`. Called once at start; lines logged
/// before it go to stderr through `eprint!` (captured by the test harness).
pub fn init_to(log_file: Option<&Path>, target: Target, debug: bool) -> std::io::Result<()> {
    DEBUG.store(debug, Ordering::Relaxed);
    let sink = match (log_file, target) {
        (Some(path), _) => Sink::Write(
            Mutex::new(Box::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
            Target::Stderr,
        ),
        (None, Target::Syslog) => {
            crate::sys::openlog(c"linxdot-exporter");
            Sink::Syslog
        }
        (None, target) => Sink::Write(Mutex::new(Box::new(std::io::stderr())), target),
    };
    let _ = SINK.set(sink);
    Ok(())
}

/// [`init_to`] with [`Target::Stderr`].
pub fn init(log_file: Option<&Path>, debug: bool) -> std::io::Result<()> {
    init_to(log_file, Target::Stderr, debug)
}

/// One line as `target` writes it (with its newline); [`Target::Syslog`]
/// gets the text handed to syslog(3), which adds the rest.
pub(crate) fn format_line(target: Target, level: Level, now: SystemTime, message: &str) -> String {
    match target {
        Target::Stderr => format!("{} {} {message}\n", utc_timestamp(now), level.as_str()),
        Target::Journal => format!("<{}>{} {message}\n", level.priority(), level.as_str()),
        Target::Syslog => format!("{} {message}", level.as_str()),
    }
}

fn syslog(level: Level, text: String) {
    // A NUL inside would cut the line short: spell it out instead.
    let text = std::ffi::CString::new(text.replace('\0', "\\0")).unwrap_or_default();
    crate::sys::syslog(libc::LOG_DAEMON | level.priority(), &text);
}

pub(crate) fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

pub fn log(level: Level, message: std::fmt::Arguments<'_>) {
    if level == Level::Debug && !debug_enabled() {
        return;
    }
    let message = message.to_string();
    let now = SystemTime::now();
    match SINK.get() {
        Some(Sink::Write(sink, target)) => {
            let line = format_line(*target, level, now, &message);
            let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
            let _ = sink.write_all(line.as_bytes());
            let _ = sink.flush();
        }
        Some(Sink::Syslog) => syslog(level, format_line(Target::Syslog, level, now, &message)),
        // No init (the binary always calls it first): the library in a test.
        // `eprint!` goes through the test harness's capture, which shows the
        // lines of a failing test only (threads inherit the capture).
        None => eprint!("{}", format_line(Target::Stderr, level, now, &message)),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC.
pub(crate) fn utc_timestamp(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Debug, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Info, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Warn, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::log($crate::log::Level::Error, format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn escaped_starts_are_one_printable_line() {
        assert_eq!(escape_start(b"\x02\x00ab\"\n", 16), "\\x02\\x00ab\\\"\\n");
        assert_eq!(escape_start(b"abcdef", 3), "abc…");
    }

    #[test]
    fn timestamps() {
        let at = |s| utc_timestamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_323_509), "2026-11-22T04:58:29Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        // syslog.h: LOG_ERR 3, LOG_WARNING 4, LOG_INFO 6, LOG_DEBUG 7;
        // facility daemon is 3 << 3, so logread shows daemon.err etc.
        let priorities: Vec<_> = [Level::Debug, Level::Info, Level::Warn, Level::Error]
            .iter()
            .map(|l| (l.priority(), libc::LOG_DAEMON | l.priority()))
            .collect();
        assert_eq!(priorities, [(7, 31), (6, 30), (4, 28), (3, 27)]);
    }

    #[test]
    fn each_target_formats_its_line() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_323_509);
        let line = |t, l| format_line(t, l, now, "listening on [::]:8061");
        assert_eq!(
            line(Target::Stderr, Level::Info),
            "2026-11-22T04:58:29Z INFO listening on [::]:8061\n"
        );
        assert_eq!(
            line(Target::Journal, Level::Debug),
            "<7>DEBUG listening on [::]:8061\n"
        );
        assert_eq!(
            line(Target::Journal, Level::Info),
            "<6>INFO listening on [::]:8061\n"
        );
        assert_eq!(
            line(Target::Journal, Level::Warn),
            "<4>WARN listening on [::]:8061\n"
        );
        assert_eq!(
            line(Target::Journal, Level::Error),
            "<3>ERROR listening on [::]:8061\n"
        );
        assert_eq!(
            line(Target::Syslog, Level::Warn),
            "WARN listening on [::]:8061"
        );
    }

    #[test]
    fn targets_parse_by_name() {
        assert_eq!(Target::parse("stderr"), Some(Target::Stderr));
        assert_eq!(Target::parse("syslog"), Some(Target::Syslog));
        assert_eq!(Target::parse(" journal "), Some(Target::Journal));
        assert_eq!(Target::parse("Syslog"), None);
        assert_eq!(Target::parse(""), None);
        assert_eq!(Target::default(), Target::Stderr);
    }
}
