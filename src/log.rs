//! Levelled log lines to stderr, or appended to a log file.
//!
//! Each line: `2026-11-22T05:01:02Z INFO message`. Debug lines are written
//! only when debug is on. Nothing here ever sees a password: callers log
//! names and outcomes, not credentials.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

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
}

static DEBUG: AtomicBool = AtomicBool::new(false);
static SINK: OnceLock<Mutex<Box<dyn Write + Send>>> = OnceLock::new();

/// Sets where lines go and whether debug lines are written. Called once at
/// start; lines logged before it go to stderr.
pub fn init(log_file: Option<&Path>, debug: bool) -> std::io::Result<()> {
    DEBUG.store(debug, Ordering::Relaxed);
    let sink: Box<dyn Write + Send> = match log_file {
        Some(path) => Box::new(OpenOptions::new().create(true).append(true).open(path)?),
        None => Box::new(std::io::stderr()),
    };
    let _ = SINK.set(Mutex::new(sink));
    Ok(())
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

pub fn log(level: Level, message: std::fmt::Arguments<'_>) {
    if level == Level::Debug && !debug_enabled() {
        return;
    }
    let line = format!(
        "{} {} {}\n",
        utc_timestamp(SystemTime::now()),
        level.as_str(),
        message
    );
    match SINK.get() {
        Some(sink) => {
            let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
            let _ = sink.write_all(line.as_bytes());
            let _ = sink.flush();
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC.
pub fn utc_timestamp(time: SystemTime) -> String {
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
    fn timestamps() {
        let at = |s| utc_timestamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_323_509), "2026-11-22T04:58:29Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
    }
}
