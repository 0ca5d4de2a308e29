//! The miner collector: a background thread polls the dashboard once at
//! start and then every refresh interval; scrapes render the last good
//! snapshot and never wait on the dashboard. A failed poll drops the
//! snapshot, so no value outlives the poll that read it.

pub mod client;
pub mod system;

use crate::collector::Collector;
use crate::config::MinerConfig;
use crate::exposition::{round_decimals, Exposition, MetricType};
use client::{DashboardClient, PollError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use system::{parse_system, SystemInfo, INFO_KEYS};

/// The upstream families: (metric, JSON key, HELP, rounded to 3 decimals).
const UPSTREAM_GAUGES: [(&str, &str, &str, bool); 4] = [
    ("miner_cpu_temp", "cpu_temp", "CPU temperature", false),
    ("miner_cpu_usage", "cpu_usage", "CPU utilization", true),
    (
        "miner_mem_usage",
        "memory_usage",
        "Memory utilization",
        true,
    ),
    (
        "miner_sto_usage",
        "storage_usage",
        "Storage utilization",
        true,
    ),
];

/// What the `miner_*` families are rendered from: the last poll's outcome
/// and the counters of one dashboard (the local one, or a probed target).
#[derive(Default)]
pub struct MinerState {
    snapshot: Option<SystemInfo>,
    last_success_unix: Option<f64>,
    last_poll_seconds: Option<f64>,
    errors: [u64; PollError::REASONS.len()],
    polls: u64,
}

impl MinerState {
    /// Takes in one finished poll that took `seconds`.
    pub fn record(&mut self, result: Result<SystemInfo, PollError>, seconds: f64) {
        self.last_poll_seconds = Some(seconds);
        self.polls += 1;
        match result {
            Ok(info) => {
                self.snapshot = Some(info);
                self.last_success_unix = Some(unix_now());
            }
            Err(e) => {
                self.snapshot = None;
                let i = PollError::REASONS
                    .iter()
                    .position(|r| *r == e.reason())
                    .unwrap_or(0);
                self.errors[i] += 1;
            }
        }
    }

    /// Drops the last snapshot once it has been rendered (`/probe` keeps
    /// no dashboard data between probes: each records a poll, then renders).
    pub fn forget_snapshot(&mut self) {
        self.snapshot = None;
    }
}

pub struct MinerCollector {
    state: Arc<Mutex<MinerState>>,
}

impl MinerCollector {
    /// Starts the poller thread; the first poll begins at once.
    pub fn start(config: MinerConfig) -> std::io::Result<MinerCollector> {
        let state = Arc::new(Mutex::new(MinerState::default()));
        let shared = Arc::clone(&state);
        thread::Builder::new()
            .name("miner-poller".into())
            .stack_size(256 * 1024)
            .spawn(move || poll_forever(config, &shared))?;
        Ok(MinerCollector { state })
    }

    /// How many polls have finished, good or bad.
    pub fn polls_completed(&self) -> u64 {
        self.lock().polls
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MinerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
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
        state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(result, seconds);
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

impl Collector for MinerCollector {
    fn collect(&self, out: &mut Exposition) {
        render(&self.lock(), out);
    }
}

/// The `miner_*` families of one dashboard, as `/metrics` and `/probe`
/// both write them.
pub fn render(s: &MinerState, out: &mut Exposition) {
    let snapshot = s.snapshot.as_ref();

    let mut info = out.family(
        "miner_exporter_info",
        "Miner Information",
        MetricType::Gauge,
    );
    if let Some(snapshot) = snapshot {
        let labels: Vec<(&str, &str)> = INFO_KEYS
            .iter()
            .zip(&snapshot.info)
            .map(|(k, v)| (*k, v.as_deref().unwrap_or("")))
            .collect();
        info.sample(&labels, 1.0);
    }
    for (metric, key, help, rounded) in UPSTREAM_GAUGES {
        let value = snapshot.and_then(|s| s.number(key));
        let value = if rounded {
            value.map(|v| round_decimals(v, 3))
        } else {
            value
        };
        out.single(metric, help, MetricType::Gauge, value);
    }
    out.single(
        "miner_up",
        "Whether the last poll of the miner dashboard gave good data (1) or not (0)",
        MetricType::Gauge,
        Some(if snapshot.is_some() { 1.0 } else { 0.0 }),
    );
    out.single(
        "miner_last_success_timestamp_seconds",
        "Unix time of the last good poll of the miner dashboard",
        MetricType::Gauge,
        s.last_success_unix,
    );
    out.single(
        "miner_poll_duration_seconds",
        "How long the last poll of the miner dashboard took",
        MetricType::Gauge,
        s.last_poll_seconds,
    );
    let mut errors = out.family(
        "miner_poll_errors_total",
        "Failed polls of the miner dashboard, by reason",
        MetricType::Counter,
    );
    for (reason, count) in PollError::REASONS.iter().zip(s.errors) {
        errors.sample(&[("reason", reason)], count as f64);
    }
}
