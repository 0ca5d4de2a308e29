//! A background thread polls the dashboard once at start and then every
//! refresh interval into a shared state; scrapes render the last good
//! snapshot and never wait on the dashboard. A failed poll drops the
//! snapshot, so no value outlives the poll that read it.

use super::client::{DashboardClient, PollError, Reason};
use super::system::{parse_system, SystemInfo};
use crate::config::MinerConfig;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Default)]
pub(super) struct MinerState {
    pub snapshot: Option<SystemInfo>,
    pub last_success_unix: Option<f64>,
    pub last_poll_seconds: Option<f64>,
    /// When the last poll ended, and the last good one.
    pub last_poll_at: Option<Instant>,
    pub last_success_at: Option<Instant>,
    /// Why the last poll failed; `None` after a good one.
    pub last_error: Option<PollError>,
    /// Failed polls, by [`Reason`] (indexed by its discriminant).
    pub errors: [u64; Reason::ALL.len()],
    pub polls: u64,
}

/// Starts the poller thread; the first poll begins at once.
pub(super) fn spawn(config: MinerConfig) -> std::io::Result<Arc<Mutex<MinerState>>> {
    let state = Arc::new(Mutex::new(MinerState::default()));
    let shared = Arc::clone(&state);
    thread::Builder::new()
        .name("miner-poller".into())
        .stack_size(256 * 1024)
        .spawn(move || poll_forever(config, &shared))?;
    Ok(state)
}

fn poll_forever(config: MinerConfig, state: &Mutex<MinerState>) {
    crate::info!(
        "miner: polling http://{} every {}s as user '{}'{}",
        config.host,
        config.refresh_interval.as_secs_f64(),
        config.username,
        if config.plain_credentials {
            " (plain credentials)"
        } else {
            ""
        }
    );
    let mut client = DashboardClient::new(&config);
    let mut last_complaint: Option<String> = None;
    let mut first_poll = true;
    let mut next = Instant::now();
    loop {
        let started = Instant::now();
        let result = client
            .fetch_system()
            .and_then(|body| parse_system(&body).map_err(PollError::Parse));
        let seconds = started.elapsed().as_secs_f64();
        let complaint = match &result {
            Ok(info) if info.problems.is_empty() => None,
            Ok(info) => Some(format!(
                "dashboard answer incomplete: {}",
                info.problems.join("; ")
            )),
            Err(e) => Some(e.to_string()),
        };
        // One line when the trouble starts or changes, one when it ends.
        // Waiting out a login backoff is the failed login already logged, not
        // news (its text counts down, so it would be a new line every poll).
        let backing_off = matches!(result, Err(PollError::LoginBackoff(_)));
        if backing_off {
            crate::debug!("miner: {}", complaint.as_deref().unwrap_or(""));
        } else if first_poll || complaint != last_complaint {
            match (&complaint, &result) {
                (Some(c), Ok(_)) => crate::warn!("miner: {c}"),
                (Some(c), Err(_)) => crate::error!("miner: {c}"),
                (None, _) if last_complaint.is_some() => {
                    crate::info!("miner: dashboard data complete again")
                }
                (None, _) => crate::info!("miner: first poll good"),
            }
            last_complaint = complaint;
        }
        first_poll = false;
        {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            s.last_poll_seconds = Some(seconds);
            s.last_poll_at = Some(Instant::now());
            s.polls += 1;
            match result {
                Ok(info) => {
                    s.snapshot = Some(info);
                    s.last_success_unix = Some(unix_now());
                    s.last_success_at = s.last_poll_at;
                    s.last_error = None;
                }
                Err(e) => {
                    s.snapshot = None;
                    s.errors[e.reason() as usize] += 1;
                    s.last_error = Some(e);
                }
            }
        }
        // Fixed ticks; a poll that overran skips the ticks it missed.
        next += config.refresh_interval;
        let now = Instant::now();
        while next <= now {
            next += config.refresh_interval;
        }
        thread::sleep(next - now);
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}
