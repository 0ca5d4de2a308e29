//! Command-line flags and environment variables → one [`Config`].
//!
//! The flags and variables of the two exporters this one replaces keep their
//! spelling, meaning and defaults; a flag beats its variable. Errors name the
//! culprit and never echo a password.
//!
//! Three steps: [`flags`] defines every flag once; `args` reads the command
//! line and the environment into the text each flag was given; [`parse`]
//! turns those texts into a [`Config`].

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

mod args;
pub mod flags;
mod parse;

pub use flags::{help, Flag, FLAGS};
pub use parse::parse;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const MAX_THREAD_COUNT: usize = 64;

/// A password: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Which reading a calibration offset applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    Temperature,
    Humidity,
}

/// `PHY:NAME=DELTA`: add DELTA to the reading of sensor NAME (`internal`,
/// `external`, empty for single-sensor devices, `*` for all) of the device at
/// PHY. PHY may itself contain colons: the name is after the last one.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorOffset {
    pub phy: String,
    pub name: String,
    pub quantity: Quantity,
    pub delta: f64,
}

impl SensorOffset {
    pub fn parse(text: &str, quantity: Quantity) -> Result<Self, String> {
        let bad = || {
            format!(
                "'{text}' is not PHY:NAME=DELTA (e.g. 'usb-3f980000.usb-1.4/input1:external=-1.5')"
            )
        };
        let (target, delta_text) = text.rsplit_once('=').ok_or_else(bad)?;
        let (phy, name) = target.rsplit_once(':').ok_or_else(bad)?;
        let delta: f64 = delta_text.trim().parse().map_err(|_| bad())?;
        if phy.is_empty() {
            return Err(format!(
                "'{text}' has no PHY before ':' (--list-sensors shows each sensor's phy)"
            ));
        }
        // "inf" and "NaN" parse as floats, but no calibration adds them.
        if !delta.is_finite() {
            return Err(format!(
                "'{text}': the offset '{}' is not a finite number",
                delta_text.trim()
            ));
        }
        Ok(SensorOffset {
            phy: phy.to_string(),
            name: name.to_string(),
            quantity,
            delta,
        })
    }

    /// Whether this offset applies to sensor `name` of the device at `phy`.
    pub fn matches(&self, phy: &str, name: &str, quantity: Quantity) -> bool {
        self.quantity == quantity && self.phy == phy && (self.name == "*" || self.name == name)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TemperConfig {
    pub enabled: bool,
    /// `--temper-interval`: how often each device is read and the bus
    /// scanned for plugged or unplugged devices (one clock for both).
    pub rescan_interval: Duration,
    pub offsets: Vec<SensorOffset>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MinerConfig {
    /// `HOST` or `HOST:PORT`, as the dashboard is reached.
    pub host: String,
    pub username: String,
    pub password: Secret,
    pub plain_credentials: bool,
    pub refresh_interval: Duration,
    pub timeout: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub log_file: Option<PathBuf>,
    /// Where lines go without a log file.
    pub log_target: crate::log::Target,
    pub debug: bool,
    /// `None` when username or password is missing: the miner collector is off.
    pub miner: Option<MinerConfig>,
    /// The host the miner collector would use (also when it is off).
    pub host: String,
    /// Why the miner collector is off, for the start-up log line: a
    /// warning, unless it is [`MINER_NOT_ASKED`].
    pub miner_off_reason: Option<&'static str>,
    /// `None`: `::`, falling back to `0.0.0.0` where the host has no IPv6.
    pub bind_address: Option<IpAddr>,
    pub port: u16,
    pub bind_v6only: Option<bool>,
    pub thread_count: usize,
    pub temper: TemperConfig,
    /// `/probe`: its allow-list, credentials and limits.
    pub probe: crate::probe::ProbeConfig,
    /// Things to log once logging has started.
    pub warnings: Vec<String>,
}

/// Why the miner collector is off when none of `-o`, `-u`, `-p` (nor their
/// variables) was given: nobody asked for it (the start-up line is info).
pub const MINER_NOT_ASKED: &str = "no username and password";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Action {
    Run(Box<Config>),
    ListSensors(Box<Config>),
    Help,
    Version,
}

/// A bad command line or environment: one line, exit status 2.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads an environment variable; empty counts as unset.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
