//! One probe's poll and its deadline: the scrape timeout Prometheus
//! announces minus [`MARGIN`], capped by `--timeout`. The poll runs on a
//! thread of its own that holds the probe's slot; at the deadline the
//! probe answers without it and the poll finishes in the background.

use super::sessions::Session;
use super::slots::Slot;
use crate::miner::client::PollError;
use crate::miner::system::{parse_system, SystemInfo};
use crate::sync::lock;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Taken off Prometheus's scrape timeout, so that the answer arrives in time.
pub(crate) const MARGIN: Duration = Duration::from_millis(500);
/// The shortest deadline a probe gets.
pub(crate) const MIN_BUDGET: Duration = Duration::from_millis(50);

/// How long a probe may take: the announced scrape timeout minus
/// [`MARGIN`] (or half of it, if that is more), at most `cap`.
pub fn budget(scrape_timeout: Option<&str>, cap: Duration) -> Duration {
    let announced = scrape_timeout
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| {
            let v = v.min(86_400.0);
            Duration::from_secs_f64((v - MARGIN.as_secs_f64()).max(v / 2.0))
        });
    announced.map_or(cap, |a| a.min(cap)).max(MIN_BUDGET)
}

/// Polls the session's miner on a thread of its own, waiting for it until
/// `deadline`; the thread holds `slot` until the poll ends.
pub(super) fn poll_within(
    session: &Arc<Session>,
    slot: Slot,
    deadline: Instant,
) -> Result<SystemInfo, PollError> {
    let (tx, rx) = mpsc::channel();
    let worker_session = Arc::clone(session);
    let spawned = std::thread::Builder::new()
        .name("probe".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let _slot = slot;
            let mut client = lock(&worker_session.client);
            // Waited out a previous probe of the same target.
            if Instant::now() >= deadline {
                return;
            }
            let result = client
                .fetch_system()
                .and_then(|body| parse_system(&body).map_err(PollError::Parse));
            let _ = tx.send(result);
        });
    match spawned {
        Ok(_) => match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result,
            Err(_) => Err(PollError::Timeout),
        },
        Err(e) => Err(PollError::Connection(format!(
            "cannot start a probe thread: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_follows_the_scrape_timeout() {
        let cap = Duration::from_secs(5);
        let ms = |h: Option<&str>| budget(h, cap).as_millis();
        assert_eq!(ms(None), 5000);
        assert_eq!(ms(Some("10")), 5000);
        assert_eq!(ms(Some("3")), 2500);
        assert_eq!(ms(Some(" 2.5 ")), 2000);
        assert_eq!(ms(Some("0.6")), 300);
        assert_eq!(ms(Some("0.01")), 50);
        for junk in ["", "x", "-1", "0", "NaN", "inf", "1e400"] {
            assert_eq!(ms(Some(junk)), 5000, "{junk}");
        }
        assert_eq!(ms(Some("1e300")), 5000);
    }
}
