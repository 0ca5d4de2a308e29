//! `GET /probe?target=HOST[:PORT]`: one exporter polls the dashboards of a
//! whole fleet, in the multi-target style of blackbox_exporter.
//!
//! A probe goes through these gates, in order, and nothing is sent to the
//! target (no connection, no DNS query) before the last one:
//!
//! 1. the `target` parameter is exactly `HOST[:PORT]` ([`target`]), else 400;
//! 2. it matches a `--probe-allow` pattern ([`allow`]), else 403;
//! 3. there are credentials for it ([`credentials`]), else 403;
//! 4. fewer than [`Config::max_in_flight`] probes are running, else 503
//!    at once (not queued: Prometheus retries at the next scrape, and a
//!    queue would only turn the overload into timeouts).
//!
//! Each target has its own session (a [`DashboardClient`]: login, cookies,
//! re-login on 401, login back-off), its own lock and its own `miner_*`
//! counters. Sessions live in a cache of at most
//! [`Config::max_sessions`] targets; one unused for
//! [`Config::session_idle`] is dropped, and when the cache is full the
//! least recently used goes, so memory is bounded however many distinct
//! targets are asked for. Nothing runs between probes: idle sessions are
//! swept when a probe comes.
//!
//! The poll itself runs on a thread of its own while the request's handler
//! thread (`/probe` waits, so it is answered off the HTTP loop) waits for
//! it until the probe's deadline: the scrape timeout Prometheus announces
//! (`X-Prometheus-Scrape-Timeout-Seconds`) minus [`MARGIN`], capped by
//! `--timeout`, counted from when the request was in: a probe that waited
//! for a handler thread past it sends nothing to the miner. At the
//! deadline the answer is `probe_success 0` with a `timeout` poll error;
//! the poll finishes in the background (its in-flight slot held until
//! then) so that a late login is not wasted.

pub mod allow;
mod config;
pub mod credentials;
pub mod target;

use crate::exposition::{Exposition, MetricType, CONTENT_TYPE};
use crate::health::{Health, Voice};
use crate::http::{Request, Response};
use crate::log::Level;
use crate::miner::client::{DashboardClient, PollError};
use crate::miner::system::parse_system;
use crate::miner::{self, MinerState};
use crate::sync::lock;
use allow::AllowList;
use credentials::{CredentialStore, Credentials};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use target::{Host, Target};

pub use config::{Config, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE};

/// Taken off Prometheus's scrape timeout, so that the answer arrives in time.
pub const MARGIN: Duration = Duration::from_millis(500);
/// The shortest deadline a probe gets.
pub const MIN_BUDGET: Duration = Duration::from_millis(50);

/// One target's session: the client (its lock is the target's lock) and
/// the state its `miner_*` families are rendered from.
struct Session {
    credentials: Arc<Credentials>,
    client: Mutex<DashboardClient>,
    state: Mutex<TargetState>,
}

struct TargetState {
    miner: MinerState,
    /// So that a lasting trouble is logged once.
    health: Health,
}

struct Entry {
    session: Arc<Session>,
    last_used: Instant,
}

/// A probe slot, given back when the poll thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The `/probe` route.
pub struct Prober {
    config: Config,
    credentials: CredentialStore,
    sessions: Mutex<HashMap<String, Entry>>,
    in_flight: Arc<AtomicUsize>,
}

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

impl Prober {
    pub fn new(config: Config) -> Prober {
        let credentials = CredentialStore::new(
            config.default_credentials.clone(),
            config.credentials_file.clone(),
        );
        Prober {
            config,
            credentials,
            sessions: Mutex::new(HashMap::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// `/probe` off: every request is answered 404 with how to turn it on.
    pub fn off() -> Prober {
        Prober {
            config: Config::new(AllowList::default()),
            credentials: CredentialStore::empty(),
            sessions: Mutex::new(HashMap::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Logs what is on, and makes SIGHUP re-read the credentials file.
    pub fn announce(&self) {
        if self.config.allow.is_empty() {
            crate::info!("probe: /probe is off (no --probe-allow pattern)");
            return;
        }
        let patterns: Vec<String> = self.config.allow.0.iter().map(|p| p.to_string()).collect();
        crate::info!("probe: /probe allows {}", patterns.join(" "));
        for w in self.credentials.warnings() {
            crate::warn!("probe: {w}");
        }
        if self.config.default_credentials.is_none() && !self.credentials.has_file() {
            crate::warn!(
                "probe: no credentials (-u and -p, or --probe-credentials): every probe will be refused"
            );
        }
        if self.credentials.has_file() {
            if let Err(e) = credentials::install_sighup_handler() {
                crate::warn!("probe: SIGHUP will not re-read the credentials file: {e}");
            }
        }
    }

    pub fn is_enabled(&self) -> bool {
        !self.config.allow.is_empty()
    }

    /// How many probes hold a slot (their poll thread still runs).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// How many sessions are cached.
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Answers `GET /probe`.
    pub fn handle(&self, request: &Request) -> Response {
        if !self.is_enabled() {
            return Response::text(
                404,
                "/probe is off: start the exporter with --probe-allow PATTERN \
                 (or PROBE_ALLOW) naming the miners it may poll",
            );
        }
        if request.method != "GET" && request.method != "HEAD" {
            return Response::text(405, "method not allowed").with_header("Allow", "GET, HEAD");
        }
        self.credentials.reload_if_requested();
        let target = match target::target_param(request.query.as_deref())
            .and_then(|t| target::parse_target(&t))
        {
            Ok(t) => t,
            Err(e) => return Response::text(400, &format!("bad target: {e}")),
        };
        if !self.config.allow.allows(&target) {
            crate::debug!("probe: refused {target}: not allowed");
            return Response::text(
                403,
                &format!(
                    "target {target} matches no --probe-allow pattern; nothing was sent to it"
                ),
            );
        }
        let Some(credentials) = self.credentials.for_target(&target) else {
            return Response::text(
                403,
                &format!(
                    "no credentials for target {target}: give -u and -p, or a \
                     --probe-credentials entry that matches it"
                ),
            );
        };
        if matches!(target.host, Host::Ip(IpAddr::V6(_))) {
            return Response::text(
                501,
                &format!(
                    "target {target}: the dashboard client cannot connect to an IPv6 \
                     address literal; give a host name that resolves to it"
                ),
            );
        }
        let deadline_budget = budget(
            request.header("x-prometheus-scrape-timeout-seconds"),
            self.config.timeout,
        );
        match self.probe(&target, credentials, request.received, deadline_budget) {
            Some(body) => Response::new(200, CONTENT_TYPE, body),
            None => Response::text(
                503,
                &format!(
                    "too many probes in flight (at most {}); try again",
                    self.config.max_in_flight
                ),
            ),
        }
    }

    /// Takes a slot, or `None` when all are taken.
    fn take_slot(&self) -> Option<Slot> {
        let max = self.config.max_in_flight;
        self.in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(&self.in_flight)))
    }

    /// The cached session of `target`, or a new one; sweeps idle sessions
    /// and keeps the cache within its cap.
    fn session(&self, target: &Target, credentials: Arc<Credentials>) -> Arc<Session> {
        let key = target.key();
        let now = Instant::now();
        let mut cache = lock(&self.sessions);
        let idle = self.config.session_idle;
        cache.retain(|_, e| now.duration_since(e.last_used) < idle);
        if let Some(entry) = cache.get_mut(&key) {
            // A reloaded credentials file may have changed them: new session.
            if *entry.session.credentials == *credentials {
                entry.last_used = now;
                return Arc::clone(&entry.session);
            }
            cache.remove(&key);
        }
        while cache.len() >= self.config.max_sessions.max(1) {
            let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            cache.remove(&oldest);
        }
        let mut client = DashboardClient::new(&miner::Config {
            host: target.authority(),
            username: credentials.username.clone(),
            password: credentials.password.clone(),
            plain_credentials: credentials.plain,
            refresh_interval: self.config.refresh_interval,
            timeout: self.config.timeout,
        });
        client.set_timeout(self.config.timeout);
        let session = Arc::new(Session {
            credentials,
            client: Mutex::new(client),
            state: Mutex::new(TargetState {
                miner: MinerState::default(),
                health: Health::new(Voice {
                    who: format!("probe {target}"),
                    first_good: None,
                    failed: Level::Warn,
                    recovered: "dashboard answers well",
                }),
            }),
        });
        cache.insert(
            key,
            Entry {
                session: Arc::clone(&session),
                last_used: now,
            },
        );
        session
    }

    /// Polls `target` within `budget` from `received` (when the request
    /// was in, so that a wait for a handler thread counts); `None` when no
    /// slot is free.
    fn probe(
        &self,
        target: &Target,
        credentials: Arc<Credentials>,
        received: Instant,
        budget: Duration,
    ) -> Option<String> {
        let slot = self.take_slot()?;
        let deadline = received + budget;
        let session = self.session(target, credentials);
        let result = if Instant::now() >= deadline {
            // It waited for a handler thread until Prometheus gave up on
            // it: nothing is sent to the miner.
            drop(slot);
            Err(PollError::Timeout)
        } else {
            poll_within(&session, slot, deadline)
        };
        let seconds = received.elapsed().as_secs_f64();
        let mut state = lock(&session.state);
        state.health.observe(miner::outcome(&result));
        let success = result.is_ok();
        state.miner.record(result, seconds);
        let mut out = Exposition::new();
        miner::render(&state.miner, &mut out);
        // Rendered: the snapshot is not kept between probes.
        state.miner.forget_snapshot();
        drop(state);
        out.single(
            "probe_duration_seconds",
            "Returns how long the probe took to complete in seconds",
            MetricType::Gauge,
            Some(seconds),
        );
        out.single(
            "probe_success",
            "Displays whether or not the probe was a success",
            MetricType::Gauge,
            Some(if success { 1.0 } else { 0.0 }),
        );
        Some(out.into_string())
    }
}

/// Polls the session's miner on a thread of its own, waiting for it until
/// `deadline`; the thread holds `slot` until the poll ends.
fn poll_within(
    session: &Arc<Session>,
    slot: Slot,
    deadline: Instant,
) -> Result<miner::system::SystemInfo, PollError> {
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
