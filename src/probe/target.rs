//! The `target` of a `/probe` request: percent-decoded from the raw query,
//! then checked to be exactly `HOST[:PORT]` and nothing else.
//!
//! HOST is a dotted-quad IPv4 address, an IPv6 address in brackets, or a DNS
//! host name (letters, digits, `-`, `_`; labels of 1..63 bytes). Anything
//! that could make the dashboard client talk to something other than
//! `http://HOST:PORT/` is refused: a scheme, a path, a query, userinfo, a
//! zone index, spaces. A name whose last label is all digits (`127.1`,
//! `2130706433`) is refused too: the C resolver would read it as an IPv4
//! address, and it would then dodge the address patterns of the allow-list.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest `target` value accepted, in bytes (a 253-byte name and a port).
pub const MAX_TARGET_BYTES: usize = 260;
/// The longest query string looked at, in bytes.
pub const MAX_QUERY_BYTES: usize = 2048;
/// The port of a target that names none.
pub const DEFAULT_PORT: u16 = 80;

/// The host part of a target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// An address; an IPv4-mapped IPv6 address is kept as the IPv4 one it
    /// reaches.
    Ip(IpAddr),
    /// A host name, lowercased, without a trailing dot.
    Name(String),
}

/// A valid probe target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub host: Host,
    /// The port given, if any.
    pub port: Option<u16>,
}

impl Target {
    /// The port connected to.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_PORT)
    }

    /// `HOST:PORT` as given to the dashboard client (`http://` + this).
    pub fn authority(&self) -> String {
        self.to_string()
    }

    /// The same target always gives the same key (the port made explicit).
    pub fn key(&self) -> String {
        Target {
            host: self.host.clone(),
            port: Some(self.effective_port()),
        }
        .to_string()
    }
}

impl fmt::Display for Target {
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

/// Why a request's target was refused (the 400 body says this).
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

/// Decodes `%XX` escapes and `+` (a space in a form-encoded query). A `%`
/// not followed by two hex digits is an error, not a literal.
pub fn percent_decode(raw: &str) -> Result<Vec<u8>, BadTarget> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (
                    bytes.get(i + 1).and_then(|b| hex(*b)),
                    bytes.get(i + 2).and_then(|b| hex(*b)),
                ) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => return bad("a '%' in the query is not followed by two hex digits"),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The one `target` parameter of a raw query string, decoded.
pub fn target_param(query: Option<&str>) -> Result<String, BadTarget> {
    let query = query.unwrap_or("");
    if query.len() > MAX_QUERY_BYTES {
        return bad(format!(
            "the query string is longer than {MAX_QUERY_BYTES} bytes"
        ));
    }
    let mut found: Option<Vec<u8>> = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(name)? != b"target" {
            continue;
        }
        if found.is_some() {
            return bad("more than one 'target' parameter");
        }
        found = Some(percent_decode(value)?);
    }
    let Some(bytes) = found else {
        return bad("no 'target' parameter: ask for /probe?target=HOST[:PORT]");
    };
    String::from_utf8(bytes).or_else(|_| bad("the target is not valid UTF-8"))
}

/// Parses `HOST[:PORT]`.
pub fn parse_target(text: &str) -> Result<Target, BadTarget> {
    if text.is_empty() {
        return bad("the target is empty: give HOST[:PORT]");
    }
    if text.len() > MAX_TARGET_BYTES {
        return bad(format!(
            "the target is longer than {MAX_TARGET_BYTES} bytes"
        ));
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
    Ok(Target {
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
        _ => bad("an IPv6 address must be in brackets, e.g. [fd00::1]:80"),
    }
}

/// A host as returned by [`split_host_port`] (brackets kept for IPv6).
pub fn parse_host(text: &str) -> Result<Host, BadTarget> {
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
pub fn canonical(ip: IpAddr) -> IpAddr {
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

    fn target(query: &str) -> Result<Target, BadTarget> {
        parse_target(&target_param(Some(query))?)
    }

    #[test]
    fn good_targets() {
        let table: &[(&str, &str, &str)] = &[
            ("target=10.0.0.7", "10.0.0.7", "10.0.0.7:80"),
            ("target=10.0.0.7:8080", "10.0.0.7:8080", "10.0.0.7:8080"),
            ("target=Miner-1.LAN", "miner-1.lan", "miner-1.lan:80"),
            ("target=miner-1.lan.:81", "miner-1.lan:81", "miner-1.lan:81"),
            (
                "target=%5Bfd00%3A%3A1%5D%3A8080",
                "[fd00::1]:8080",
                "[fd00::1]:8080",
            ),
            ("target=[::1]", "[::1]", "[::1]:80"),
            ("target=[::ffff:10.1.2.3]:80", "10.1.2.3:80", "10.1.2.3:80"),
            ("module=x&target=miner_2", "miner_2", "miner_2:80"),
            ("ta%72get=h1", "h1", "h1:80"),
        ];
        for (query, shown, key) in table {
            let t = target(query).unwrap_or_else(|e| panic!("{query}: {e}"));
            assert_eq!(t.to_string(), *shown, "{query}");
            assert_eq!(t.key(), *key, "{query}");
        }
    }

    #[test]
    fn bad_targets_say_why() {
        let long = format!("target={}", "a".repeat(300));
        let long_label = format!("target={}.lan", "a".repeat(64));
        let table: &[(&str, &str)] = &[
            ("", "no 'target' parameter"),
            ("targets=x", "no 'target' parameter"),
            ("target=", "empty"),
            ("target=a&target=b", "more than one"),
            ("target=http://10.0.0.1", "URL"),
            ("target=http%3A%2F%2F10.0.0.1", "URL"),
            ("target=10.0.0.1/info/system", "path"),
            ("target=10.0.0.1%3Fx", "path"),
            ("target=admin:pw@10.0.0.1", "credentials"),
            ("target=admin%40evil", "credentials"),
            ("target=%FF%FE", "UTF-8"),
            ("target=%zz", "two hex digits"),
            ("target=%4", "two hex digits"),
            ("target=a+b", "space"),
            ("target=a%00b", "control"),
            ("target=fd00::1", "brackets"),
            ("target=[fd00::1", "']'"),
            ("target=[fd00::1]x", "':PORT'"),
            ("target=[fe80::1%25eth0]", "zone"),
            ("target=[10.0.0.1]", "not an IPv6"),
            ("target=10.0.0.1:0", "not a port"),
            ("target=10.0.0.1:65536", "not a port"),
            ("target=10.0.0.1:", "not a port"),
            ("target=10.0.0.1:+80", "space"),
            ("target=:80", "no host"),
            ("target=127.1", "neither"),
            ("target=2130706433", "neither"),
            ("target=010.0.0.1", "neither"),
            ("target=a..b", "label"),
            ("target=-a.lan", "'-'"),
            ("target=a*.lan", "only letters"),
            ("target=münchen.lan", "only letters"),
            (&long, "longer than"),
            (&long_label, "label"),
        ];
        for (query, want) in table {
            match target(query) {
                Ok(t) => panic!("{query:?} was accepted as {t}"),
                Err(e) => assert!(e.0.contains(want), "{query:?}: {e} (want {want:?})"),
            }
        }
        let huge = "x=".to_string() + &"a".repeat(MAX_QUERY_BYTES);
        assert!(target_param(Some(&huge)).unwrap_err().0.contains("query"));
        assert!(target_param(None).is_err());
    }
}
