//! Everything `/probe` needs from the command line.

use super::allow::AllowList;
use super::credentials::{self, Credentials, CredentialsFile};
use std::path::PathBuf;
use std::time::Duration;

pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 64;
pub(crate) const DEFAULT_MAX_SESSIONS: usize = 256;
pub(crate) const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(10 * 60);

/// `/probe`'s settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub allow: AllowList,
    /// `--probe-credentials`: its path and what it held when it was read
    /// (once, at start; SIGHUP reads it again).
    pub credentials_file: Option<(PathBuf, CredentialsFile)>,
    /// `-u` and `-p`/`--password-file`, if both were given.
    pub default_credentials: Option<Credentials>,
    /// `--timeout`: the longest a probe takes, and each dashboard request.
    pub timeout: Duration,
    /// The base of the login back-off (`--refresh_interval`).
    pub refresh_interval: Duration,
    pub max_in_flight: usize,
    pub max_sessions: usize,
    pub session_idle: Duration,
}

impl Config {
    pub fn new(allow: AllowList) -> Config {
        Config {
            allow,
            credentials_file: None,
            default_credentials: None,
            timeout: Duration::from_secs(5),
            refresh_interval: Duration::from_secs(60),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_sessions: DEFAULT_MAX_SESSIONS,
            session_idle: DEFAULT_SESSION_IDLE,
        }
    }

    /// Reads the `--probe-credentials` file (and the password files it
    /// names): a bad one is an error at start.
    pub fn read_credentials_file(&mut self, path: PathBuf) -> Result<(), String> {
        let file = credentials::load_file(&path)?;
        self.credentials_file = Some((path, file));
        Ok(())
    }
}

/// `/probe` off: no pattern, and the default limits.
impl Default for Config {
    fn default() -> Config {
        Config::new(AllowList::default())
    }
}
