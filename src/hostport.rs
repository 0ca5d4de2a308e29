//! `HOST[:PORT]`, parsed one way for the dashboard of `-o`/`--host` and the
//! targets of `/probe?target=`. A leaf: it imports nothing of the crate.
//!
//! HOST is a dotted-quad IPv4 address, an IPv6 address in brackets
//! (`[::1]`, `[::1]:18080`; a bare `::1` is refused with a message saying
//! so), or a DNS host name (letters, digits, `-`, `_`; labels of 1..63
//! bytes). PORT is 1..65535. Anything that could make the dashboard client
//! talk to something other than `http://HOST:PORT/` is refused: a scheme, a
//! path, a query, userinfo, a zone index, spaces. A name whose last label is
//! all digits (`127.1`, `2130706433`) is refused too: the C resolver would
//! read it as an IPv4 address, and it would then dodge the address patterns
//! of `/probe`'s allow-list.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest `HOST[:PORT]` accepted, in bytes (a 253-byte name and a port).
pub(crate) const MAX_BYTES: usize = 260;
/// The port of a `HOST` that names none (the dashboard's).
pub(crate) const DEFAULT_PORT: u16 = 80;

/// The host part of a target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// An address; an IPv4-mapped IPv6 address is kept as the IPv4 one it
    /// reaches.
    Ip(IpAddr),
    /// A host name, lowercased, without a trailing dot.
    Name(String),
}

/// A valid `HOST[:PORT]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub host: Host,
    /// The port given, if any.
    pub port: Option<u16>,
}

impl HostPort {
    /// The port connected to.
    pub(crate) fn effective_port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_PORT)
    }

    /// `HOST:PORT` as given to the dashboard client (`http://` + this).
    pub fn authority(&self) -> String {
        self.to_string()
    }

    /// The same target always gives the same key (the port made explicit).
    pub fn key(&self) -> String {
        HostPort {
            host: self.host.clone(),
            port: Some(self.effective_port()),
        }
        .to_string()
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]")?,
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}")?,
            Host::Name(n) => f.write_str(n)?,
        }
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

/// Why a `HOST[:PORT]` was refused (a `/probe` 400 body, a start error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadTarget(pub String);

impl fmt::Display for BadTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad<T>(why: impl Into<String>) -> Result<T, BadTarget> {
    Err(BadTarget(why.into()))
}

/// Parses `HOST[:PORT]`.
pub fn parse(text: &str) -> Result<HostPort, BadTarget> {
    if text.is_empty() {
        return bad("the target is empty: give HOST[:PORT]");
    }
    if text.len() > MAX_BYTES {
        return bad(format!("the target is longer than {MAX_BYTES} bytes"));
    }
    if text.contains("://") {
        return bad("the target is a URL: give HOST[:PORT] without a scheme");
    }
    if text.contains(['/', '?', '#', '\\']) {
        return bad("the target has a path or query: give HOST[:PORT] only");
    }
    if text.contains('@') {
        return bad("the target has credentials (user@): give HOST[:PORT] only");
    }
    if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return bad(format!(
            "the target contains a space or control character ({:?})",
            c
        ));
    }
    let (host, port) = split_host_port(text)?;
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok(HostPort {
        host: parse_host(host)?,
        port,
    })
}

fn parse_port(text: &str) -> Result<u16, BadTarget> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return bad(format!("'{text}' is not a port (1-65535)"));
    }
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => bad(format!("'{text}' is not a port (1-65535)")),
    }
}

/// `[v6]`, `[v6]:port`, `host`, `host:port`; the host still raw.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), BadTarget> {
    if let Some(rest) = text.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return bad("an '[' without its ']'");
        };
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => return bad("text after ']' that is not ':PORT'"),
            },
        };
        return Ok((text.get(..inside.len() + 2).unwrap_or(text), port));
    }
    match text.matches(':').count() {
        0 => Ok((text, None)),
        1 => {
            let (h, p) = text.split_once(':').unwrap_or((text, ""));
            Ok((h, Some(p)))
        }
        _ if text.parse::<Ipv6Addr>().is_ok() => bad(format!(
            "'{text}' is an IPv6 address: write it in brackets, '[{text}]' (with a port, '[{text}]:PORT')"
        )),
        _ => bad("an IPv6 address must be in brackets, e.g. [fd00::1]:80"),
    }
}

/// A host as returned by [`split_host_port`] (brackets kept for IPv6).
pub(crate) fn parse_host(text: &str) -> Result<Host, BadTarget> {
    if let Some(inside) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        if inside.contains('%') {
            return bad("an IPv6 zone index (%...) is not accepted");
        }
        return match inside.parse::<Ipv6Addr>() {
            Ok(a) => Ok(Host::Ip(canonical(IpAddr::V6(a)))),
            Err(_) => bad(format!("'{inside}' is not an IPv6 address")),
        };
    }
    if text.is_empty() {
        return bad("the target has no host");
    }
    if let Ok(a) = text.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(a)));
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.len() > 253 {
        return bad("the host name is longer than 253 bytes");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return bad(format!(
                "'{text}' is not a host name (empty or overlong label)"
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return bad(format!(
                "'{text}' is not a host name (only letters, digits, '-', '_' and '.')"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad(format!(
                "'{text}' is not a host name (a label starts or ends with '-')"
            ));
        }
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return bad(format!(
            "'{text}' is neither a dotted-quad IPv4 address nor a host name"
        ));
    }
    Ok(Host::Name(name.to_ascii_lowercase()))
}

/// An IPv4-mapped IPv6 address is the IPv4 address it reaches.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One parser for `-o` and `/probe`: IPv6 in brackets with or without a
    /// port, ports 1-65535, a bare IPv6 address refused with the way to
    /// write it.
    #[test]
    fn ipv6_in_brackets_and_ports_in_range() {
        for (text, shown) in [
            ("[::1]:18080", "[::1]:18080"),
            ("[::1]", "[::1]"),
            ("[fd00::7]:1", "[fd00::7]:1"),
            ("h:65535", "h:65535"),
        ] {
            assert_eq!(parse(text).map(|h| h.to_string()), Ok(shown.into()));
        }
        for (text, want) in [
            (
                "::1",
                "'::1' is an IPv6 address: write it in brackets, '[::1]'",
            ),
            (
                "fd00::7",
                "'fd00::7' is an IPv6 address: write it in brackets, '[fd00::7]'",
            ),
            ("h:0", "'0' is not a port (1-65535)"),
            ("h:65536", "'65536' is not a port (1-65535)"),
            ("h:abc", "'abc' is not a port (1-65535)"),
            ("[::1]:", "'' is not a port (1-65535)"),
        ] {
            let e = parse(text).unwrap_err().0;
            assert!(e.starts_with(want), "{text}: {e}");
        }
    }
}
