//! Command-line flags and environment variables → one [`Config`].
//!
//! The flags and variables of the two exporters this one replaces keep their
//! spelling, meaning and defaults; a flag beats its variable. Errors name the
//! culprit and never echo a password.
//!
//! Three steps: [`flags`] defines every flag once, with how it applies;
//! `args` reads the command line and the environment into the text each
//! flag was given; [`parse`] applies each flag (its default, then what it
//! was given) to a `Draft`, which `finish`es into a [`Config`] made of the
//! features' own config types. This module depends on the features; no
//! feature depends on it.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

mod args;
mod draft;
pub mod flags;
mod parse;

pub use flags::{help, Flag, FLAGS};
pub use parse::parse;

pub use crate::build_info::VERSION;
pub(crate) const MAX_THREAD_COUNT: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub log_file: Option<PathBuf>,
    /// Where lines go without a log file.
    pub log_target: crate::log::Target,
    pub debug: bool,
    /// `None` when username or password is missing: the miner collector is off.
    pub miner: Option<crate::miner::Config>,
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
    pub temper: crate::temper::Config,
    /// `/probe`: its allow-list, credentials and limits.
    pub probe: crate::probe::Config,
    /// The LoRa capture; `None` (no `--lora-port`) keeps it off.
    pub lora: Option<crate::lora::Config>,
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

/// One value and the name to blame when it is bad: the flag's `long`
/// spelling, or its environment variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Given {
    pub text: String,
    pub from: &'static str,
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
