//! The `Config` being built: each flag's `apply` (in [`super::flags`])
//! writes its field here, from the flag's default first and then from what
//! was given; [`Draft::finish`] joins what needs two flags (the miner's
//! credentials, `/probe`'s defaults). The value checks each flag uses are
//! here too, each error naming the flag or variable the value came from.

use super::{Action, Config, ConfigError, Given, MAX_THREAD_COUNT};
use crate::hostport;
use crate::log;
use crate::lora;
use crate::miner;
use crate::probe::{self, credentials::Credentials};
use crate::secret::Secret;
use crate::temper::{self, Quantity, SensorOffset};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `--host`'s default: the dashboard of the miner the exporter runs on.
pub const LOCAL_DASHBOARD: &str = "127.0.0.1";

/// `--help` or `--version`: the run ends before anything else is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Help,
    Version,
}

/// Every field a flag sets. Fields of flags with a default start at a
/// placeholder: the default is applied before any given value.
#[derive(Default)]
pub struct Draft {
    pub exit: Option<Exit>,
    pub list_sensors: bool,
    pub log_file: Option<PathBuf>,
    pub log_target: log::Target,
    pub debug: bool,
    pub host: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub warnings: Vec<String>,
    pub plain_credentials: bool,
    pub refresh_interval: Duration,
    pub timeout: Duration,
    pub port: u16,
    pub bind_address: Option<IpAddr>,
    pub bind_v6only: Option<bool>,
    pub thread_count: usize,
    pub no_temper: bool,
    pub temper_interval: Duration,
    pub offsets: Vec<SensorOffset>,
    pub probe: probe::Config,
    /// `--lora-port`; `None` (no port): the LoRa capture is off.
    pub lora_ports: Option<Vec<u16>>,
    pub lora_interface: String,
}

impl Draft {
    /// The [`Action`] the applied flags ask for.
    pub fn finish(self) -> Action {
        match self.exit {
            Some(Exit::Help) => return Action::Help,
            Some(Exit::Version) => return Action::Version,
            None => {}
        }
        // A dashboard other than the local one was named: without
        // credentials, that is a warning at start.
        let host_named = self.host != LOCAL_DASHBOARD;
        let (miner, miner_off_reason) = match (self.username, self.password) {
            (Some(username), Some(password)) => (
                Some(miner::Config {
                    host: self.host.clone(),
                    username,
                    password,
                    plain_credentials: self.plain_credentials,
                    refresh_interval: self.refresh_interval,
                    timeout: self.timeout,
                }),
                None,
            ),
            (None, Some(_)) => (None, Some("no username (-u or MINER_USERNAME)")),
            (Some(_), None) => (
                None,
                Some("no password (-p, --password-file, MINER_PASSWORD or MINER_PASSWORD_FILE)"),
            ),
            (None, None) if host_named => (
                None,
                Some("no username and password (-u, and -p or --password-file)"),
            ),
            (None, None) => (None, Some(super::MINER_NOT_ASKED)),
        };
        let mut probe = self.probe;
        probe.default_credentials = miner.as_ref().map(|m| Credentials {
            username: m.username.clone(),
            password: m.password.clone(),
            plain: m.plain_credentials,
        });
        probe.timeout = self.timeout;
        probe.refresh_interval = self.refresh_interval;
        let config = Box::new(Config {
            log_file: self.log_file,
            log_target: self.log_target,
            debug: self.debug,
            miner,
            host: self.host,
            miner_off_reason,
            bind_address: self.bind_address,
            port: self.port,
            bind_v6only: self.bind_v6only,
            thread_count: self.thread_count,
            temper: temper::Config {
                enabled: !self.no_temper,
                rescan_interval: self.temper_interval,
                offsets: self.offsets,
            },
            probe,
            lora: self.lora_ports.map(|ports| lora::Config {
                interface: self.lora_interface,
                ports,
                // A late interface is looked for as often as a late sensor.
                retry_interval: self.temper_interval,
            }),
            warnings: self.warnings,
        });
        if self.list_sensors {
            Action::ListSensors(config)
        } else {
            Action::Run(config)
        }
    }
}

fn err<T>(message: String) -> Result<T, ConfigError> {
    Err(ConfigError(message))
}

/// A check that returns its own message, named after where the value came from.
pub fn named<T>(v: &Given, result: Result<T, String>) -> Result<T, ConfigError> {
    result.map_err(|e| ConfigError(format!("{}: {e}", v.from)))
}

pub fn log_target(v: &Given) -> Result<log::Target, ConfigError> {
    match log::Target::parse(&v.text) {
        Some(target) => Ok(target),
        None => err(format!(
            "{}: '{}' is not {}",
            v.from,
            v.text,
            log::Target::NAMES
        )),
    }
}

pub fn host(v: &Given) -> Result<String, ConfigError> {
    let text = &v.text;
    if text.trim().is_empty() || text.contains(['/', ' ', '?', '#', '@']) {
        // Named after the flag also when MINER_HOST gave it, as always.
        return err(format!(
            "--host: '{text}' is not a host name, address or HOST:PORT"
        ));
    }
    // The parser of /probe's targets: the port 1-65535, IPv6 in brackets.
    // A bare IPv6 address would be told to use brackets, which the dashboard
    // client cannot dial either: it is judged in brackets, so the message
    // names what works.
    let bracketed;
    let text_to_parse = match text.parse::<std::net::Ipv6Addr>() {
        Ok(_) => {
            bracketed = format!("[{text}]");
            &bracketed
        }
        Err(_) => text,
    };
    let checked = hostport::parse(text_to_parse).map_err(|e| e.to_string());
    match checked.and_then(|host| miner::dialable(&host).map(|()| host)) {
        Ok(host) => Ok(host.to_string()),
        Err(e) => err(format!("--host: '{text}': {e}")),
    }
}

/// The longest interval accepted: a year, in seconds.
const MAX_INTERVAL_SECS: f64 = 86_400.0 * 365.0;

/// At least a tenth of a second, at most a year.
pub fn interval(v: &Given) -> Result<Duration, ConfigError> {
    let min = 0.1;
    match v.text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > MAX_INTERVAL_SECS => err(format!(
            "{}: '{}' seconds is more than a year ({MAX_INTERVAL_SECS} s)",
            v.from, v.text
        )),
        // NaN fails both comparisons, +inf the second.
        Ok(s) if s >= min && s <= MAX_INTERVAL_SECS => Ok(Duration::from_secs_f64(s)),
        _ => err(format!(
            "{}: '{}' is not a number of seconds from {min} up",
            v.from, v.text
        )),
    }
}

/// `--timeout`'s range.
pub(crate) const TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 1..=3600;

pub fn timeout(v: &Given) -> Result<Duration, ConfigError> {
    match v.text.trim().parse::<u64>() {
        Ok(s) if TIMEOUT_SECS.contains(&s) => Ok(Duration::from_secs(s)),
        _ => err(format!(
            "{}: '{}' is not a whole number of seconds from {} to {}",
            v.from,
            v.text,
            TIMEOUT_SECS.start(),
            TIMEOUT_SECS.end()
        )),
    }
}

/// A TCP port; 0 asks the OS for a free one (the log line names it).
pub fn port(v: &Given) -> Result<u16, ConfigError> {
    match v.text.trim().parse::<u16>() {
        Ok(p) => Ok(p),
        _ => err(format!(
            "{}: '{}' is not a TCP port (0-65535)",
            v.from, v.text
        )),
    }
}

pub fn address(v: &Given) -> Result<IpAddr, ConfigError> {
    let bare = v.text.trim().trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().map_err(|_| {
        ConfigError(format!(
            "{}: '{}' is not an IPv4 or IPv6 address",
            v.from, v.text
        ))
    })
}

pub(crate) fn zero_or_one(v: &Given) -> Result<bool, ConfigError> {
    match v.text.as_str() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => err(format!("{}: '{other}' is not 0 or 1", v.from)),
    }
}

pub fn thread_count(v: &Given) -> Result<usize, ConfigError> {
    match v.text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREAD_COUNT).contains(&n) => Ok(n),
        _ => err(format!(
            "{}: '{}' is not a whole number from 1 to {MAX_THREAD_COUNT}",
            v.from, v.text
        )),
    }
}

pub(crate) fn sensor_offset(v: &Given, quantity: Quantity) -> Result<SensorOffset, ConfigError> {
    named(v, SensorOffset::parse(&v.text, quantity))
}
