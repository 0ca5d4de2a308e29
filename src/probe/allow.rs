//! Target patterns: the `--probe-allow` list and the keys of the
//! credentials file.
//!
//! A pattern is one of
//! - an address (`10.0.0.7`, `[fd00::7]`, `fd00::7`) or a CIDR block
//!   (`10.0.0.0/24`, `fd00::/64`);
//! - a host name (`miner-1.lan`), matched case-insensitively;
//! - a host glob (`*.miners.lan`, `miner-*.lan`), where `*` stands for any
//!   run of characters inside one label (never a `.`);
//!
//! each optionally followed by `:PORT` (IPv6 in brackets then:
//! `[fd00::/64]:8080`). Without a port the pattern allows any port of the
//! hosts it names; with one, only that port (a target without a port is
//! port 80).
//!
//! Nothing is resolved to decide: a target given as a host name matches
//! only name and glob patterns, a target given as an address only address
//! and CIDR patterns. So `--probe-allow 10.0.0.0/24` does not allow
//! `miner-1.lan` even if that name resolves into 10.0.0.0/24, and no DNS
//! query is ever sent for a target that is then refused.

use super::target::{canonical, Host, Target};
use std::fmt;
use std::net::IpAddr;

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    /// The network address (host bits cleared) and the prefix length.
    Net(IpAddr, u8),
    /// Lowercased, without a trailing dot.
    Name(String),
    /// Lowercased labels, each a glob.
    Glob(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    host: HostPattern,
    port: Option<u16>,
    /// As written, for logs.
    text: String,
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let t = text.trim();
        let bad = |why: &str| Err(format!("'{text}' is not a target pattern: {why}"));
        if t.is_empty() {
            return bad("it is empty");
        }
        if t.contains("://") || t.contains(['/', '@', '?', '#']) && !looks_like_cidr(t) {
            return bad("give an address, CIDR, host name or *.glob, optionally with :PORT");
        }
        // Split off the port: `[...]:P`, `a.b.c.d[/n]:P`, `name:P`; a bare
        // IPv6 address or block (two colons or more) has none.
        let (host, port) = if let Some(rest) = t.strip_prefix('[') {
            match rest.split_once(']') {
                Some((inside, "")) => (inside, None),
                Some((inside, after)) => match after.strip_prefix(':') {
                    Some(p) => (inside, Some(p)),
                    None => return bad("text after ']' that is not ':PORT'"),
                },
                None => return bad("an '[' without its ']'"),
            }
        } else if t.matches(':').count() == 1 {
            let (h, p) = t.split_once(':').unwrap_or((t, ""));
            (h, Some(p))
        } else {
            (t, None)
        };
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => return bad("the port is not 1-65535"),
            },
        };
        let host = match parse_host_pattern(host) {
            Ok(h) => h,
            Err(why) => return bad(&why),
        };
        Ok(Pattern {
            host,
            port,
            text: t.to_string(),
        })
    }

    pub fn matches(&self, target: &Target) -> bool {
        if self.port.is_some_and(|p| p != target.effective_port()) {
            return false;
        }
        match (&self.host, &target.host) {
            (HostPattern::Net(net, len), Host::Ip(ip)) => in_net(*ip, *net, *len),
            (HostPattern::Name(n), Host::Name(name)) => n == name,
            (HostPattern::Glob(labels), Host::Name(name)) => {
                let parts: Vec<&str> = name.split('.').collect();
                parts.len() == labels.len()
                    && labels.iter().zip(parts).all(|(g, l)| glob_match(g, l))
            }
            _ => false,
        }
    }
}

fn looks_like_cidr(t: &str) -> bool {
    t.matches('/').count() == 1 && !t.contains(['@', '?', '#']) && !t.contains("://")
}

fn parse_host_pattern(host: &str) -> Result<HostPattern, String> {
    if let Some((addr, len)) = host.split_once('/') {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{addr}' is not an IP address"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len: u8 = match len.parse::<u8>() {
            Ok(n) if n <= max && len.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("'/{len}' is not a prefix length 0-{max}")),
        };
        let (ip, len) = match (ip, canonical(ip)) {
            // ::ffff:a.b.c.d/n with n >= 96 is an IPv4 block.
            (IpAddr::V6(_), v4 @ IpAddr::V4(_)) if len >= 96 => (v4, len - 96),
            _ => (ip, len),
        };
        return Ok(HostPattern::Net(mask(ip, len), len));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        let ip = canonical(ip);
        return Ok(HostPattern::Net(ip, if ip.is_ipv4() { 32 } else { 128 }));
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if name.is_empty() || name.len() > 253 {
        return Err("empty or overlong host".into());
    }
    let mut glob = false;
    for label in name.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_*".contains(&b))
        {
            return Err("not an address, CIDR, host name or glob".into());
        }
        glob |= label.contains('*');
    }
    if glob {
        Ok(HostPattern::Glob(
            name.split('.').map(str::to_string).collect(),
        ))
    } else if name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        Err("neither a dotted-quad IPv4 address nor a host name".into())
    } else {
        Ok(HostPattern::Name(name))
    }
}

fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    ip.is_ipv4() == net.is_ipv4() && mask(ip, len) == net
}

/// `*` matches any run of bytes (possibly none); everything else itself.
fn glob_match(glob: &str, text: &str) -> bool {
    let (g, t) = (glob.as_bytes(), text.as_bytes());
    let (mut gi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if gi < g.len() && g[gi] == b'*' {
            star = Some((gi, ti));
            gi += 1;
        } else if gi < g.len() && g[gi] == t[ti] {
            gi += 1;
            ti += 1;
        } else if let Some((sg, st)) = star {
            gi = sg + 1;
            ti = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|b| *b == b'*')
}

/// The `--probe-allow` patterns. Empty: `/probe` is off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList(pub Vec<Pattern>);

impl AllowList {
    /// Each text may hold several patterns separated by spaces (the
    /// environment variable's form).
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<AllowList, String> {
        let mut patterns = Vec::new();
        for text in texts {
            for word in text.as_ref().split_whitespace() {
                patterns.push(Pattern::parse(word)?);
            }
        }
        Ok(AllowList(patterns))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn allows(&self, target: &Target) -> bool {
        self.0.iter().any(|p| p.matches(target))
    }
}

#[cfg(test)]
mod tests {
    use super::super::target::parse_target;
    use super::*;

    fn allows(patterns: &[&str], target: &str) -> bool {
        AllowList::parse(patterns)
            .unwrap()
            .allows(&parse_target(target).unwrap())
    }

    #[test]
    fn pattern_table() {
        // (patterns, target, allowed)
        let table: &[(&[&str], &str, bool)] = &[
            (&["10.0.0.0/24"], "10.0.0.7", true),
            (&["10.0.0.0/24"], "10.0.0.7:8080", true),
            (&["10.0.0.0/24"], "10.0.1.7", false),
            (&["10.0.0.9/24"], "10.0.0.7", true),
            (&["10.0.0.7"], "10.0.0.7", true),
            (&["10.0.0.7"], "10.0.0.8", false),
            (&["10.0.0.7:80"], "10.0.0.7", true),
            (&["10.0.0.7:80"], "10.0.0.7:8080", false),
            (&["10.0.0.0/24:8080"], "10.0.0.7:8080", true),
            (&["10.0.0.0/24:8080"], "10.0.0.7", false),
            (&["0.0.0.0/0"], "192.0.2.1", true),
            (&["0.0.0.0/0"], "[::1]", false),
            (&["::/0"], "[fd00::1]", true),
            (&["fd00::/64"], "[fd00::1]:80", true),
            (&["[fd00::/64]:80"], "[fd00::1]", true),
            (&["[fd00::/64]:80"], "[fd00::1]:81", false),
            (&["fd00::/64"], "[fd00:0:0:1::1]", false),
            (&["[::1]"], "[::1]:9", true),
            (&["10.1.2.3"], "[::ffff:10.1.2.3]", true),
            (&["::ffff:10.0.0.0/104"], "10.0.0.9", true),
            (&["miner-1.lan"], "MINER-1.lan", true),
            (&["miner-1.lan."], "miner-1.lan", true),
            (&["miner-1.lan"], "miner-2.lan", false),
            (&["miner-1.lan:81"], "miner-1.lan:81", true),
            (&["miner-1.lan:81"], "miner-1.lan", false),
            (&["*.miners.lan"], "a7.miners.lan", true),
            (&["*.miners.lan"], "miners.lan", false),
            (&["*.miners.lan"], "a.b.miners.lan", false),
            (&["*.miners.lan"], "a.miners.lan.evil", false),
            (&["miner-*.lan"], "miner-12.lan", true),
            (&["miner*.lan"], "miner.lan", true),
            (&["miner-*.lan"], "xminer-1.lan", false),
            (&["*"], "miner", true),
            (&["*"], "miner.lan", false),
            // Names never match address patterns, nor addresses name patterns.
            (&["0.0.0.0/0", "::/0"], "localhost", false),
            (&["*.*.*.*"], "10.0.0.1", false),
            (&["localhost"], "127.0.0.1", false),
            (&[], "10.0.0.1", false),
            (&["a.lan b.lan"], "b.lan", true),
        ];
        for (patterns, target, want) in table {
            assert_eq!(allows(patterns, target), *want, "{patterns:?} {target}");
        }
    }

    #[test]
    fn bad_patterns() {
        for text in [
            "",
            "http://10.0.0.1",
            "10.0.0.0/33",
            "10.0.0.0/x",
            "fd00::/129",
            "10.0.0.0/8/8",
            "a@b",
            "host/path",
            "10.0.0.1:0",
            "10.0.0.1:99999",
            "[fd00::1",
            "[fd00::1]x",
            "a..b",
            "a b\u{0}",
            "127.1",
            "mü.lan",
        ] {
            assert!(Pattern::parse(text).is_err(), "{text:?} was accepted");
        }
        assert!(Pattern::parse("x/y").unwrap_err().contains("'x/y'"));
    }

    #[test]
    fn glob_cases() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("**", "abc"));
        assert!(!glob_match("a", "ab"));
    }
}
