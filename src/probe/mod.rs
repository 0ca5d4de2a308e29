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
//! Each target has its own session ([`sessions`]: a dashboard client with login, cookies,
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
//!
//! By role: [`config`] the settings, [`target`] the parameter, [`allow`]
//! the patterns, [`credentials`] the credentials file, `slots` the
//! in-flight cap, `sessions` the session cache, `poll` the deadline and the
//! poll thread, and this file the handler.

pub mod allow;
mod config;
pub mod credentials;
mod poll;
mod sessions;
mod slots;
pub mod target;

use crate::exposition::{Exposition, MetricType, CONTENT_TYPE};
use crate::http::{Request, Response};
use crate::miner::{self, client::PollError};
use crate::sync::lock;
use allow::AllowList;
use credentials::{CredentialStore, Credentials};
use poll::poll_within;
use sessions::Sessions;
use slots::Slots;
use std::sync::Arc;
use std::time::{Duration, Instant};
use target::Target;

pub use poll::budget;

pub use config::Config;

/// The `/probe` route.
pub struct Prober {
    config: Config,
    credentials: CredentialStore,
    sessions: Sessions,
    slots: Slots,
}

impl Prober {
    pub fn new(config: Config) -> Prober {
        let credentials = CredentialStore::new(
            config.default_credentials.clone(),
            config.credentials_file.clone(),
        );
        let max_in_flight = config.max_in_flight;
        Prober {
            config,
            credentials,
            sessions: Sessions::default(),
            slots: Slots::new(max_in_flight),
        }
    }

    /// `/probe` off: every request is answered 404 with how to turn it on.
    pub fn off() -> Prober {
        Prober {
            config: Config::new(AllowList::default()),
            credentials: CredentialStore::empty(),
            sessions: Sessions::default(),
            slots: Slots::new(0),
        }
    }

    /// Logs what is on, and makes SIGHUP re-read the credentials file.
    pub(crate) fn announce(&self) {
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

    pub(crate) fn is_enabled(&self) -> bool {
        !self.config.allow.is_empty()
    }

    /// How many probes hold a slot (their poll thread still runs).
    pub fn in_flight(&self) -> usize {
        self.slots.taken()
    }

    /// How many sessions are cached.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
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
        if let Err(e) = miner::dialable(&target) {
            return Response::text(501, &format!("target {target}: {e}"));
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
        let slot = self.slots.take()?;
        let deadline = received + budget;
        let session = self.sessions.get(&self.config, target, credentials);
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
