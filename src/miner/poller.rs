//! A background thread polls the dashboard once at start and then every
//! refresh interval into a shared state, and hands the state to a callback
//! (the collector renders it there) when each poll ends; scrapes never wait
//! on the dashboard. A failed poll drops the snapshot, so no value outlives
//! the poll that read it.

use super::client::{DashboardClient, PollError, Reason};
use super::system::{parse_system, SystemInfo};
use super::Config;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the `miner_*` families are rendered from: the last poll's outcome
/// and the counters of one dashboard (the local one, or a `/probe` target).
#[derive(Default)]
pub struct MinerState {
    pub(super) snapshot: Option<SystemInfo>,
    pub(super) last_success_unix: Option<f64>,
    pub(super) last_poll_seconds: Option<f64>,
    /// When the last poll ended, and the last good one.
    pub(super) last_poll_at: Option<Instant>,
    pub(super) last_success_at: Option<Instant>,
    /// Why the last poll failed; `None` after a good one.
    pub(super) last_error: Option<PollError>,
    /// Failed polls, by [`Reason`] (indexed by its discriminant).
    pub(super) errors: [u64; Reason::ALL.len()],
    pub(super) polls: u64,
}

impl MinerState {
    /// Takes in one finished poll that took `seconds`.
    pub fn record(&mut self, result: Result<SystemInfo, PollError>, seconds: f64) {
        self.last_poll_seconds = Some(seconds);
        self.last_poll_at = Some(Instant::now());
        self.polls += 1;
        match result {
            Ok(info) => {
                self.snapshot = Some(info);
                self.last_success_unix = Some(unix_now());
                self.last_success_at = self.last_poll_at;
                self.last_error = None;
            }
            Err(e) => {
                self.snapshot = None;
                self.errors[e.reason() as usize] += 1;
                self.last_error = Some(e);
            }
        }
    }

    /// Drops the last snapshot once it has been rendered (`/probe` keeps
    /// no dashboard data between probes: each records a poll, then renders).
    pub fn forget_snapshot(&mut self) {
        self.snapshot = None;
    }
}

/// What the poller calls with the state, under its lock, after each poll.
pub(super) type OnPoll = Box<dyn Fn(&MinerState) + Send>;

/// Starts the poller thread; the first poll begins at once.
pub(super) fn spawn(config: Config, on_poll: OnPoll) -> std::io::Result<Arc<Mutex<MinerState>>> {
    let state = Arc::new(Mutex::new(MinerState::default()));
    let shared = Arc::clone(&state);
    thread::Builder::new()
        .name("miner-poller".into())
        .stack_size(256 * 1024)
        .spawn(move || poll_forever(config, &shared, &on_poll))?;
    Ok(state)
}

fn poll_forever(config: Config, state: &Mutex<MinerState>, on_poll: &OnPoll) {
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
            s.record(result, seconds);
            // Under the lock: whoever sees the poll counted sees its result.
            on_poll(&s);
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
