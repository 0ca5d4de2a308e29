//! The `target` of a `/probe` request: percent-decoded from the raw query,
//! then checked to be exactly `HOST[:PORT]` and nothing else by
//! [`crate::hostport`], the parser `-o` uses too.
//!
//! HOST is a dotted-quad IPv4 address, an IPv6 address in brackets, or a DNS
//! host name (letters, digits, `-`, `_`; labels of 1..63 bytes). Anything
//! that could make the dashboard client talk to something other than
//! `http://HOST:PORT/` is refused: a scheme, a path, a query, userinfo, a
//! zone index, spaces. A name whose last label is all digits (`127.1`,
//! `2130706433`) is refused too: the C resolver would read it as an IPv4
//! address, and it would then dodge the address patterns of the allow-list.

pub(crate) use crate::hostport::canonical;
pub use crate::hostport::{parse as parse_target, BadTarget, Host, HostPort as Target};

/// The longest query string looked at, in bytes.
pub(crate) const MAX_QUERY_BYTES: usize = 2048;

fn bad<T>(why: impl Into<String>) -> Result<T, BadTarget> {
    Err(BadTarget(why.into()))
}

/// Decodes `%XX` escapes and `+` (a space in a form-encoded query). A `%`
/// not followed by two hex digits is an error, not a literal.
pub(crate) fn percent_decode(raw: &str) -> Result<Vec<u8>, BadTarget> {
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
pub(crate) fn target_param(query: Option<&str>) -> Result<String, BadTarget> {
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
