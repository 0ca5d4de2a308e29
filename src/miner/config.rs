//! What the miner collector (and each `/probe` session) needs to reach a
//! dashboard.

use crate::hostport::{Host, HostPort};
use crate::secret::Secret;
use std::net::IpAddr;
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

/// Whether the dashboard client can connect to `host`. minreq 3.0.0 reads
/// a URL's host up to its first ':' (src/http_url.rs), so an IPv6 literal
/// (`http://[::1]:80/`) never reaches the resolver whole: refused here with
/// the way out, instead of failing at every poll as "name not known".
pub fn dialable(host: &HostPort) -> Result<(), String> {
    match host.host {
        Host::Ip(IpAddr::V6(_)) => Err(
            "the dashboard client cannot connect to an IPv6 address literal; \
             give a host name that resolves to it"
                .into(),
        ),
        _ => Ok(()),
    }
}
