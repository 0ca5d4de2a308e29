//! The byte protocol over one open [`Transport`]: drain, version query, read
//! query. Every read has a timeout; replies are checked before use.

use std::time::{Duration, Instant};

use super::models::Model;
use super::transport::{Transport, TransportError};
use super::Timing;

/// Report id `00`, then `01 86 FF 01 00 00 00 00`.
pub const VERSION_QUERY: [u8; 9] = [0x00, 0x01, 0x86, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00];
/// Report id `00`, then `01 80 33 01 00 00 00 00`.
pub const READ_QUERY: [u8; 9] = [0x00, 0x01, 0x80, 0x33, 0x01, 0x00, 0x00, 0x00, 0x00];
/// The size of every report these devices send.
pub(crate) const REPORT_LEN: usize = 8;
/// The first byte of every reading report (version reports are ASCII).
const READING_MARK: u8 = 0x80;
/// At most this many stale reports are thrown away in one drain.
const MAX_DRAIN: usize = 64;
/// At most this many unexpected reports are skipped while waiting for a reply.
const MAX_SKIPPED: usize = 8;
/// How many times the version query is sent before giving up.
pub(crate) const VERSION_ATTEMPTS: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// The device failed: it is gone or broken, close it.
    Io(String),
    /// No (usable) reply in time.
    Timeout(&'static str),
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtocolError::Io(m) => write!(f, "I/O error: {m}"),
            ProtocolError::Timeout(what) => write!(f, "no {what} in time"),
        }
    }
}

impl From<TransportError> for ProtocolError {
    fn from(e: TransportError) -> Self {
        ProtocolError::Io(e.0)
    }
}

/// Milliseconds for hidapi's `read_timeout`, at least 1 (0 would not wait,
/// -1 would wait for ever).
pub(crate) fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX).max(1)
}

/// Throws away the reports already queued (a reading nobody collected, the
/// keyboard-less half of an earlier reply). Returns how many.
pub fn drain(t: &mut dyn Transport, timing: &Timing) -> Result<usize, ProtocolError> {
    let mut buf = [0u8; 64];
    let mut count = 0;
    while count < MAX_DRAIN {
        if t.read_timeout(&mut buf, millis(timing.drain_timeout))? == 0 {
            break;
        }
        count += 1;
    }
    Ok(count)
}

/// Reads one report accepted by `wanted`, skipping others, until `deadline`.
/// `Ok(None)` on timeout.
fn read_report(
    t: &mut dyn Transport,
    deadline: Instant,
    wanted: impl Fn(&[u8]) -> bool,
) -> Result<Option<Vec<u8>>, ProtocolError> {
    let mut buf = [0u8; 64];
    for _ in 0..=MAX_SKIPPED {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let n = t.read_timeout(&mut buf, millis(left))?;
        if n == 0 {
            return Ok(None);
        }
        let report = buf.get(..n).unwrap_or(&buf[..]);
        if wanted(report) {
            return Ok(Some(report.to_vec()));
        }
        crate::debug!("TEMPer: skipped an unexpected report {:02x?}", report);
    }
    Ok(None)
}

/// Appends one report, cut to 8 bytes. A short report leaves the reply
/// short, so the fields in the missing bytes read as absent.
fn append_report(reply: &mut Vec<u8>, report: &[u8]) {
    let take = report.len().min(REPORT_LEN);
    reply.extend_from_slice(&report[..take]);
}

fn is_version_report(report: &[u8]) -> bool {
    report.first().is_some_and(|b| *b != READING_MARK)
}

/// Drains, then sends the version query (up to [`VERSION_ATTEMPTS`] times)
/// and returns the raw 16 reply bytes (two reports).
pub(crate) fn query_version(
    t: &mut dyn Transport,
    timing: &Timing,
) -> Result<Vec<u8>, ProtocolError> {
    for attempt in 1..=VERSION_ATTEMPTS {
        drain(t, timing)?;
        t.write(&VERSION_QUERY)?;
        let deadline = Instant::now() + timing.read_timeout;
        let Some(first) = read_report(t, deadline, |r| {
            is_version_report(r) && r.first().is_some_and(u8::is_ascii_alphanumeric)
        })?
        else {
            crate::debug!("TEMPer: version query attempt {attempt}: no reply");
            continue;
        };
        let deadline = Instant::now() + timing.read_timeout;
        let Some(second) = read_report(t, deadline, is_version_report)? else {
            crate::debug!("TEMPer: version query attempt {attempt}: only half a reply");
            continue;
        };
        let mut reply = Vec::with_capacity(2 * REPORT_LEN);
        append_report(&mut reply, &first);
        // A short first report cannot be followed by the second at 8.
        reply.resize(REPORT_LEN, 0);
        append_report(&mut reply, &second);
        return Ok(reply);
    }
    Err(ProtocolError::Timeout("version reply"))
}

/// Drains, sends the read query and returns the reply: the model's number of
/// reports, report `k` at bytes `8k..8k+8`. A missing later report leaves the
/// reply short (its fields then read as absent); a missing first report is a
/// timeout.
pub(crate) fn query_reading(
    t: &mut dyn Transport,
    model: &Model,
    timing: &Timing,
) -> Result<Vec<u8>, ProtocolError> {
    drain(t, timing)?;
    t.write(&READ_QUERY)?;
    let is_reading = |r: &[u8]| r.first() == Some(&READING_MARK);
    let deadline = Instant::now() + timing.read_timeout;
    let first = read_report(t, deadline, is_reading)?.ok_or(ProtocolError::Timeout("reading"))?;
    let mut reply = Vec::with_capacity(model.reports * REPORT_LEN);
    append_report(&mut reply, &first);
    for _ in 1..model.reports {
        if reply.len() % REPORT_LEN != 0 {
            // After a short report the offsets of the next one would be
            // wrong: stop here.
            break;
        }
        let deadline = Instant::now() + timing.follow_up_timeout;
        match read_report(t, deadline, is_reading)? {
            Some(report) => append_report(&mut reply, &report),
            None => {
                crate::debug!("TEMPer: the second report of a reading did not come");
                break;
            }
        }
    }
    Ok(reply)
}
