//! A background thread polls the dashboard once at start and then every
//! refresh interval into a shared state, and hands the state to a callback
//! (the collector renders it there) when each poll ends; scrapes never wait
//! on the dashboard. A failed poll drops the snapshot, so no value outlives
//! the poll that read it.

use super::client::{DashboardClient, PollError, Reason};
use super::system::{parse_system, SystemInfo};
use super::Config;
use crate::health::{Health, Outcome, Voice};
use crate::log::Level;
use crate::sync::{lock, Stop};
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
    pub(crate) fn forget_snapshot(&mut self) {
        self.snapshot = None;
    }
}

/// What one poll's result means for the poller's health (the miner poller
/// and `/probe` judge alike).
pub fn outcome(result: &Result<SystemInfo, PollError>) -> Outcome {
    match result {
        Ok(info) if info.problems.is_empty() => Outcome::Good,
        Ok(info) => Outcome::Degraded(format!(
            "dashboard answer incomplete: {}",
            info.problems.join("; ")
        )),
        // Waiting out a login back-off is the failed login already logged.
        Err(e @ PollError::LoginBackoff(_)) => Outcome::Waiting(e.to_string()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// What the poller calls with the state, under its lock, after each poll.
pub(super) type OnPoll = Box<dyn Fn(&MinerState) + Send>;

/// The poller's shared state and its stop.
pub(super) struct Poller {
    pub state: Arc<Mutex<MinerState>>,
    pub stop: Arc<Stop>,
}

/// Starts the poller thread; the first poll begins at once. It ends within
/// a poll once `stop` is stopped.
pub(super) fn spawn(config: Config, on_poll: OnPoll) -> std::io::Result<Poller> {
    let poller = Poller {
        state: Arc::new(Mutex::new(MinerState::default())),
        stop: Arc::new(Stop::default()),
    };
    let (state, stop) = (Arc::clone(&poller.state), Arc::clone(&poller.stop));
    thread::Builder::new()
        .name("miner-poller".into())
        .stack_size(256 * 1024)
        .spawn(move || poll_until_stopped(config, &state, &on_poll, &stop))?;
    Ok(poller)
}

fn poll_until_stopped(config: Config, state: &Mutex<MinerState>, on_poll: &OnPoll, stop: &Stop) {
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
    let mut health = Health::new(Voice {
        who: "miner".into(),
        first_good: Some("first poll good"),
        failed: Level::Error,
        recovered: "dashboard data complete again",
    });
    let mut next = Instant::now();
    while !stop.is_stopped() {
        let started = Instant::now();
        let result = client
            .fetch_system()
            .and_then(|body| parse_system(&body).map_err(PollError::Parse));
        let seconds = started.elapsed().as_secs_f64();
        health.observe(outcome(&result));
        {
            let mut s = lock(state);
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
        stop.sleep(next - now);
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn pollers_running() -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim() == "miner-poller")
            .count()
    }

    /// Stopped, the poller ends while it waits for its next tick (an hour
    /// away here), not at it.
    #[test]
    fn the_poller_stops_when_asked() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = Config {
            host: format!("127.0.0.1:{port}"),
            username: "u".into(),
            password: Secret::new("p".into()),
            plain_credentials: false,
            refresh_interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(1),
        };
        let before = pollers_running();
        let poller = spawn(config, Box::new(|_| {})).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock(&poller.state).polls == 0 {
            assert!(Instant::now() < deadline, "no first poll");
            thread::sleep(Duration::from_millis(10));
        }
        assert!(pollers_running() > before);
        poller.stop.stop();
        while pollers_running() > before {
            assert!(Instant::now() < deadline, "the poller did not stop");
            thread::sleep(Duration::from_millis(10));
        }
    }
}
