//! What the miner collector (and each `/probe` session) needs to reach a
//! dashboard.

use crate::secret::Secret;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `HOST` or `HOST:PORT`, as the dashboard is reached.
    pub host: String,
    pub username: String,
    pub password: Secret,
    pub plain_credentials: bool,
    pub refresh_interval: Duration,
    pub timeout: Duration,
}
