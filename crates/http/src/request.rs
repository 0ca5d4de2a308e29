//! Finding and parsing one HTTP/1.x request head, within limits. The bytes
//! come from [`crate::connection`], which reads at most [`MAX_HEAD_BYTES`].
//!
//! Only the head is read: this server has no routes that take a body, so a
//! request that announces one is answered and its connection closed.

use std::time::Instant;

/// The largest request head (request line and headers) accepted.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// The most header lines accepted.
pub const MAX_HEADERS: usize = 64;

/// A parsed request head. It borrows the bytes it was parsed from (the
/// connection's input buffer), so that parsing allocates nothing.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path of the target, without the query.
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// `(major, minor)`: (1, 0) or (1, 1).
    pub version: (u8, u8),
    /// The header lines, checked, names lowercased, up to the blank line:
    /// [`headers`](Request::headers) splits them.
    header_lines: &'a str,
    /// The first value of each header the server itself reads, found
    /// while the head was checked.
    known: [Option<&'a str>; KNOWN.len()],
    /// When the whole head was in: the step of the connection that found
    /// it (for a head handed to a handler thread, the step on the loop), so
    /// that a handler can count the wait for a thread against its own
    /// deadline.
    pub received: Instant,
}

/// Two requests are equal when they say the same: the same method, target,
/// version, headers (names and trimmed values, in order) and time, however
/// their lines ended.
impl PartialEq for Request<'_> {
    fn eq(&self, other: &Self) -> bool {
        (
            self.method,
            self.path,
            self.query,
            self.version,
            self.received,
        ) == (
            other.method,
            other.path,
            other.query,
            other.version,
            other.received,
        ) && self.headers().eq(other.headers())
    }
}

impl Eq for Request<'_> {}

impl<'a> Request<'a> {
    /// The headers in order: names lowercased, values trimmed.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.header_lines
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(name, value)| (name, value.trim_matches([' ', '\t'])))
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        match KNOWN.iter().position(|k| k.eq_ignore_ascii_case(name)) {
            Some(i) => self.known[i],
            None => self
                .headers()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v),
        }
    }

    /// Whether the client wants the connection kept open after this answer.
    pub fn wants_keep_alive(&self) -> bool {
        let tokens = |v: &str, t: &str| v.split(',').any(|x| x.trim().eq_ignore_ascii_case(t));
        let connection = self.known[CONNECTION].unwrap_or("");
        if connection.is_empty() {
            // The usual case: no `Connection` header, the version's default.
            return self.version != (1, 0);
        }
        match self.version {
            (1, 0) => tokens(connection, "keep-alive"),
            _ => !tokens(connection, "close"),
        }
    }

    /// Whether the request announces a body (which is never read).
    pub fn has_body(&self) -> bool {
        self.known[TRANSFER_ENCODING].is_some()
            || self.known[CONTENT_LENGTH].is_some_and(|v| v.trim() != "0")
    }
}

/// Why a head is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum HeadError {
    /// The head is larger than [`MAX_HEAD_BYTES`] or has too many headers: 431.
    TooLarge,
    /// Not an HTTP/1.x request head: 400, with a short reason.
    Malformed(&'static str),
    /// HTTP/2 or any other version than 1.0 and 1.1: 505.
    UnsupportedVersion,
}

/// The index just past the blank line that ends a head, searching from
/// `from`: the definition [`parse_buffered`] finds the end by (tests).
#[cfg(test)]
fn find_head_end(buffer: &[u8], from: usize) -> Option<usize> {
    let newlines = buffer.get(from..)?.iter().enumerate();
    for (i, _) in newlines.filter(|(_, &b)| b == b'\n') {
        let i = from + i;
        match (buffer.get(i + 1), buffer.get(i + 2)) {
            (Some(b'\n'), _) => return Some(i + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(i + 3),
            _ => {}
        }
    }
    None
}

/// The ASCII bytes that may be in a token (a method, a header name), one
/// bit each (0..64, 64..128): RFC 9110 5.6.2.
const TOKEN: [u64; 2] = {
    let mut bits = [0u64; 2];
    let mut b = 0u8;
    while b < 128 {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            )
        {
            bits[(b >> 6) as usize] |= 1 << (b & 63);
        }
        b += 1;
    }
    bits
};

fn is_token_char(b: u8) -> bool {
    b < 128 && TOKEN[usize::from(b >> 6)] >> (b & 63) & 1 == 1
}

/// Whether `b` may be in a header value: no control character but the tab.
fn is_value_byte(b: u8) -> bool {
    (b >= b' ' && b != 0x7f) || b == b'\t'
}

/// The headers the server reads itself, lowercase: their first values are
/// kept while the head is checked, so that no lookup scans the head again.
const KNOWN: [&str; 4] = ["connection", "content-length", "transfer-encoding", "host"];
const CONNECTION: usize = 0;
const CONTENT_LENGTH: usize = 1;
const TRANSFER_ENCODING: usize = 2;
const HOST: usize = 3;

/// Which of [`KNOWN`] a lowercased header name is: told apart by length
/// first, so that most names are never compared byte by byte.
fn known_index(name: &[u8]) -> Option<usize> {
    let i = match name.len() {
        10 => CONNECTION,
        14 => CONTENT_LENGTH,
        17 => TRANSFER_ENCODING,
        4 => HOST,
        _ => return None,
    };
    (name == KNOWN[i].as_bytes()).then_some(i)
}

/// The next line of `bytes` from `*at` as a range (without its `\n` or
/// `\r\n`), and `*at` moved past it. At the end of `bytes`: when `whole`,
/// what is left is the last line (then an empty one); else `None`, the
/// line is not all in.
fn line_at(bytes: &[u8], at: &mut usize, whole: bool) -> Option<(usize, usize)> {
    let start = *at;
    let rest = &bytes[start.min(bytes.len())..];
    let mut end = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => start + i,
        None if whole => bytes.len(),
        None => return None,
    };
    *at = (end + 1).min(bytes.len());
    if end > start && bytes[end - 1] == b'\r' {
        end -= 1;
    }
    Some((start, end))
}

/// `start..end` of `bytes` without the spaces and tabs at either end.
fn trim(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && matches!(bytes[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    (start, end)
}

/// The header line at `at` when it is a good one: a token name,
/// lowercased in place, a colon, a value without control characters, up to
/// `\n` or `\r\n` (or, when `whole`, the end of `head`). `(colon, end of
/// the value, start of the next line)`. Every other line (the blank one, a
/// bad one, one not all in) is `None`.
fn plain_line(head: &mut [u8], at: usize, whole: bool) -> Option<(usize, usize, usize)> {
    let mut i = at;
    while let Some(&b) = head.get(i) {
        if !is_token_char(b) {
            break;
        }
        head[i] = b.to_ascii_lowercase();
        i += 1;
    }
    if i == at || head.get(i) != Some(&b':') {
        return None;
    }
    let colon = i;
    let len = head.len();
    i += 1;
    loop {
        let Some(&b) = head.get(i) else {
            return whole.then_some((colon, len, len));
        };
        if is_value_byte(b) {
            i += 1;
            continue;
        }
        return match (b, head.get(i + 1)) {
            (b'\n', _) => Some((colon, i, i + 1)),
            (b'\r', Some(b'\n')) => Some((colon, i, i + 2)),
            (b'\r', None) if whole => Some((colon, i, len)),
            _ => None,
        };
    }
}

/// What is wrong with the header line `start..end` (not blank), which
/// [`plain_line`] did not take.
fn line_error(head: &[u8], start: usize, end: usize) -> HeadError {
    let line = &head[start..end];
    if matches!(line[0], b' ' | b'\t') {
        return HeadError::Malformed("obsolete header line folding");
    }
    match line.iter().position(|&b| b == b':') {
        None => HeadError::Malformed("header line without a colon"),
        Some(colon) if colon == 0 || !line[..colon].iter().all(|&b| is_token_char(b)) => {
            HeadError::Malformed("bad header name")
        }
        Some(_) => HeadError::Malformed("control character in a header value"),
    }
}

/// What [`check_headers`] found: the trimmed value range of the first of
/// each [`KNOWN`] header, or what is wrong with the first bad line.
type Checked = Result<[Option<(usize, usize)>; KNOWN.len()], HeadError>;

/// The header lines from `at` to the blank line, checked in one pass over
/// their bytes, their names lowercased in place: where the head ends (just
/// past the blank line) and what [`Checked`] says. `whole`: the buffer is
/// a whole head, and its end counts as the blank line; else a buffer
/// without the blank line is `None` (not all in yet).
fn check_headers(head: &mut [u8], mut at: usize, whole: bool) -> Option<(usize, Checked)> {
    let mut known = [None; KNOWN.len()];
    let mut count = 0;
    let mut error = None;
    loop {
        if error.is_none() {
            if let Some((colon, end, next)) = plain_line(head, at, whole) {
                let start = std::mem::replace(&mut at, next);
                if count == MAX_HEADERS {
                    error = Some(HeadError::TooLarge);
                    continue;
                }
                count += 1;
                if let Some(i) = known_index(&head[start..colon]) {
                    if known[i].is_none() {
                        known[i] = Some(trim(head, colon + 1, end));
                    }
                }
                continue;
            }
        }
        let (start, end) = line_at(head, &mut at, whole)?;
        if start == end {
            return Some((at, error.map_or(Ok(known), Err)));
        }
        if error.is_none() {
            error = Some(line_error(head, start, end));
        }
    }
}

/// The request line of a buffered head, and where the header lines start;
/// `None` while its line is not all in (`whole`: see [`check_headers`]).
fn request_line(head: &[u8], whole: bool) -> Option<((usize, usize), usize)> {
    let mut at = 0;
    let mut line = line_at(head, &mut at, whole)?;
    if line.0 == line.1 {
        // RFC 9112 2.2: a server should ignore at least one empty line before the request line.
        line = line_at(head, &mut at, whole)?;
    }
    Some((line, at))
}

/// Parses a complete head (up to and including its blank line), in
/// `received` when it was. Header names are lowercased in `head` itself,
/// and the request borrows it. Which error a bad head gets, in this order:
/// not UTF-8; the request line; the first bad header line; the
/// `Content-Length`; a missing `Host`.
pub fn parse_head(head: &mut [u8], received: Instant) -> Result<Request<'_>, HeadError> {
    let Some(((line, headers_at), (_, checked))) =
        request_line(head, true).and_then(|(line, at)| {
            let checked = if line.0 == line.1 {
                // A blank request line ends the head.
                (at, Ok([None; KNOWN.len()]))
            } else {
                check_headers(head, at, true)?
            };
            Some(((line, at), checked))
        })
    else {
        unreachable!("a whole head is always parsed")
    };
    finish(head, line, headers_at, checked, received)
}

/// The first whole head at the front of `buffer`: where it ends and what it
/// parses to, as [`parse_head`] parses `&mut buffer[..end]`, but in one
/// pass over its bytes; `None` while the head is not all in.
pub(super) fn parse_buffered(
    buffer: &mut [u8],
    received: Instant,
) -> Option<(usize, Result<Request<'_>, HeadError>)> {
    let (line, headers_at) = request_line(buffer, false)?;
    let (end, checked) = if line.0 == line.1 {
        (headers_at, Ok([None; KNOWN.len()]))
    } else {
        check_headers(buffer, headers_at, false)?
    };
    let head = &buffer[..end];
    Some((end, finish(head, line, headers_at, checked, received)))
}

/// The method, target and version of a request line: exactly three
/// parts, split at single spaces (what `split(' ')` gives, in one pass).
fn split_request_line(line: &str) -> Option<(&str, &str, &str)> {
    let bytes = line.as_bytes();
    let first = bytes.iter().position(|&b| b == b' ')?;
    let second = first + 1 + bytes[first + 1..].iter().position(|&b| b == b' ')?;
    // Not `contains`: its `memchr` costs more than the loop over the few
    // bytes of a version.
    #[allow(clippy::manual_contains)]
    if bytes[second + 1..].iter().any(|&b| b == b' ') {
        return None;
    }
    Some((
        &line[..first],
        &line[first + 1..second],
        &line[second + 1..],
    ))
}

/// The request in a checked head: `line` is its request line, the header
/// lines start at `headers_at`.
fn finish(
    head: &[u8],
    line: (usize, usize),
    headers_at: usize,
    checked: Checked,
    received: Instant,
) -> Result<Request<'_>, HeadError> {
    let text =
        std::str::from_utf8(head).map_err(|_| HeadError::Malformed("request head is not UTF-8"))?;
    let (method, target, version) = split_request_line(&text[line.0..line.1])
        .ok_or(HeadError::Malformed("bad request line"))?;
    if method.is_empty() || !method.bytes().all(is_token_char) {
        return Err(HeadError::Malformed("bad method"));
    }
    let version = match version {
        "HTTP/1.1" => (1, 1),
        "HTTP/1.0" => (1, 0),
        v if v.starts_with("HTTP/") && v.len() > 5 => return Err(HeadError::UnsupportedVersion),
        _ => return Err(HeadError::Malformed("bad HTTP version")),
    };
    let origin_form = match target.as_bytes().first() {
        // Origin form, the usual one.
        Some(b'/') => target,
        _ => match target
            .strip_prefix("http://")
            .or_else(|| target.strip_prefix("https://"))
        {
            // Absolute form: keep the path part.
            Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => target,
        },
    };
    if !(origin_form.starts_with('/') || origin_form == "*")
        || origin_form.bytes().any(|b| b <= b' ' || b == 0x7f)
    {
        return Err(HeadError::Malformed("bad request target"));
    }
    let (path, query) = match origin_form.bytes().position(|b| b == b'?') {
        Some(i) => (&origin_form[..i], Some(&origin_form[i + 1..])),
        None => (origin_form, None),
    };
    let known = checked?.map(|range| range.map(|(start, end)| &text[start..end]));
    if let Some(length) = known[CONTENT_LENGTH] {
        if length.trim().parse::<u64>().is_err() {
            return Err(HeadError::Malformed("bad Content-Length"));
        }
    }
    if version == (1, 1) && known[HOST].is_none() {
        return Err(HeadError::Malformed("HTTP/1.1 request without Host"));
    }
    Ok(Request {
        method,
        path,
        query,
        version,
        header_lines: &text[headers_at..],
        known,
        received,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a copy of `s` (the request borrows it: leaked, for tests).
    fn parse(s: &str) -> Result<Request<'static>, HeadError> {
        parse_head(s.as_bytes().to_vec().leak(), Instant::now())
    }

    #[test]
    fn the_token_table_and_the_request_line_split_are_their_definitions() {
        for b in 0..=255u8 {
            let token = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_token_char(b), token, "{b}");
        }
        for line in [
            "GET / HTTP/1.1",
            "GET  / HTTP/1.1",
            "GET / HTTP/1.1 ",
            " GET / HTTP/1.1",
            "GET /",
            "GET",
            "",
            "  ",
            "a b c d",
            "a\tb c",
        ] {
            let mut parts = line.split(' ');
            let split = match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(m), Some(t), Some(v), None) => Some((m, t, v)),
                _ => None,
            };
            assert_eq!(split_request_line(line), split, "{line:?}");
        }
        for name in KNOWN
            .iter()
            .chain(&["hosts", "conection", "accept", "", "content-lengtH"])
        {
            let position = KNOWN.iter().position(|k| k == name);
            assert_eq!(known_index(name.as_bytes()), position, "{name}");
        }
    }

    /// `parse_buffered` ends a head where `find_head_end` does, and parses
    /// it as `parse_head` parses it cut there.
    #[test]
    fn one_pass_parses_what_the_head_cut_at_its_end_parses_to() {
        let heads = [
            "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept-Encoding: identity\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nHOST: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n",
            "\r\nGET / HTTP/1.0\n\n",
            "\n\nGET / HTTP/1.0\n\n",
            "\r\n\r\n",
            "\n\r\nX",
            "\r\n",
            "\n",
            "GET / HTTP/1.1\r\nHost: a\r\n\r",
            "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\x01\r\nX: \x7f\r\n\r\n",
            "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost a\r\nB:\r\n\r\n",
            "GET / HTTP/1.1\r\n:a\r\n\r\n",
            "GET / HTTP/1.1\r\nH(st: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: \t a b \t\r\nContent-Length: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: \u{e9}\r\n\r\n",
            "GET /\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\nHost: a\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\n",
            "GET / HTTP/1.1\r\nHost: a",
            "GET / HTTP/1.1\r\nHost: a\r\n\n",
            "GET http://x/m?q HTTP/1.1\r\nHost: a\r\n\r\n",
            "",
        ];
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "Host: a\r\n".repeat(MAX_HEADERS + 1)
        );
        let received = Instant::now();
        for head in heads.iter().copied().chain([many.as_str()]) {
            let mut buffered = head.as_bytes().to_vec();
            let found = parse_buffered(&mut buffered, received);
            let end = find_head_end(head.as_bytes(), 0);
            assert_eq!(found.as_ref().map(|(end, _)| *end), end, "{head:?}");
            if let (Some((_, request)), Some(end)) = (found, end) {
                let mut cut = head.as_bytes()[..end].to_vec();
                assert_eq!(request, parse_head(&mut cut, received), "{head:?}");
            }
        }
        // A whole head may end without its blank line, or in a bare CR.
        for (head, host) in [
            ("GET / HTTP/1.1\r\nHost: a\r", Some("a")),
            ("GET / HTTP/1.1\r\nHost: a", Some("a")),
            ("GET / HTTP/1.1\r\nHost:", Some("")),
        ] {
            let r = parse(head).map(|r| r.header("host"));
            assert_eq!(r, Ok(host), "{head:?}");
        }
        let mut bytes = b"GET / HTTP/1.1\r\nHost: a\rb".to_vec();
        assert_eq!(
            parse_head(&mut bytes, received).err(),
            Some(HeadError::Malformed("control character in a header value"))
        );
        // A non-UTF-8 head past the first blank line only fails parse_head.
        let mut bytes = b"GET / HTTP/1.0\r\n\r\n\xff".to_vec();
        assert!(parse_buffered(&mut bytes, received).unwrap().1.is_ok());
    }

    #[test]
    fn parses_a_scrape() {
        let r = parse(
            "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/plain;version=0.0.4\r\n\
             X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/metrics");
        assert_eq!(r.query, Some("x=1"));
        assert_eq!(r.version, (1, 1));
        assert_eq!(r.header("ACCEPT"), Some("text/plain;version=0.0.4"));
        assert!(r.wants_keep_alive());
        assert!(!r.has_body());
    }

    #[test]
    fn head_error_table() {
        let table: &[(&str, HeadError)] = &[
            (
                "GET /metrics\r\n\r\n",
                HeadError::Malformed("bad request line"),
            ),
            (
                "GET  /metrics HTTP/1.1\r\n\r\n",
                HeadError::Malformed("bad request line"),
            ),
            (
                "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
                HeadError::Malformed("bad method"),
            ),
            (
                "GET metrics HTTP/1.1\r\nHost: a\r\n\r\n",
                HeadError::Malformed("bad request target"),
            ),
            ("GET / HTTP/2.0\r\n\r\n", HeadError::UnsupportedVersion),
            (
                "GET / HTTX/1.1\r\n\r\n",
                HeadError::Malformed("bad HTTP version"),
            ),
            (
                "GET / HTTP/1.1\r\n\r\n",
                HeadError::Malformed("HTTP/1.1 request without Host"),
            ),
            (
                "GET / HTTP/1.1\r\nHost a\r\n\r\n",
                HeadError::Malformed("header line without a colon"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
                HeadError::Malformed("obsolete header line folding"),
            ),
            (
                "GET / HTTP/1.1\r\nHo st: a\r\n\r\n",
                HeadError::Malformed("bad header name"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n",
                HeadError::Malformed("control character in a header value"),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
                HeadError::Malformed("bad Content-Length"),
            ),
        ];
        for (head, want) in table {
            assert_eq!(parse(head).as_ref().err(), Some(want), "{head:?}");
        }
        assert_eq!(
            parse_head(&mut b"\xff\xfe / HTTP/1.1\r\n\r\n".to_vec(), Instant::now()).err(),
            Some(HeadError::Malformed("request head is not UTF-8"))
        );
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |s: &str| parse(s).unwrap().wants_keep_alive();
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!ka(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        ));
        assert!(ka("GET / HTTP/1.1\r\nHost: a\r\nConnection: TE\r\n\r\n"));
    }

    #[test]
    fn absolute_form_and_lax_line_ends() {
        let r = parse("GET http://x:8061/metrics HTTP/1.0\n\n").unwrap();
        assert_eq!(r.path, "/metrics");
        let r = parse("\r\nHEAD / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.method, "HEAD");
    }

    #[test]
    fn head_end_is_found_across_reads() {
        assert_eq!(find_head_end(b"GET / HTTP/1.0\r\n\r\nGET", 0), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.0\n\nX", 0), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.0\r\n", 0), None);
    }

    #[test]
    fn a_body_is_announced_by_a_length_above_zero_or_a_transfer_encoding() {
        let body = |extra: &str| {
            parse(&format!("POST / HTTP/1.1\r\nHost: a\r\n{extra}\r\n"))
                .unwrap()
                .has_body()
        };
        assert!(!body(""));
        assert!(!body("Content-Length: 0\r\n"));
        assert!(!body("Content-Length:  0 \r\n"));
        assert!(body("Content-Length: 5\r\n"));
        assert!(
            body("Content-Length: 00\r\n"),
            "not zero as written: closed"
        );
        assert!(body("Transfer-Encoding: chunked\r\n"));
        assert!(body("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"));
        // A body never keeps the connection open (the server does not read it).
        assert!(
            parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
                .unwrap()
                .wants_keep_alive()
        );
    }

    #[test]
    fn versions_targets_and_control_characters() {
        let table: &[(&str, HeadError)] = &[
            // A bare "HTTP/" names no version at all.
            (
                "GET / HTTP/\r\n\r\n",
                HeadError::Malformed("bad HTTP version"),
            ),
            ("GET / HTTP/3\r\n\r\n", HeadError::UnsupportedVersion),
            ("GET / HTTP/0.9\r\n\r\n", HeadError::UnsupportedVersion),
            (
                "GET / http/1.1\r\n\r\n",
                HeadError::Malformed("bad HTTP version"),
            ),
            (
                "GET /a\x01b HTTP/1.0\r\n\r\n",
                HeadError::Malformed("bad request target"),
            ),
            (
                "GET /a\tb HTTP/1.0\r\n\r\n",
                HeadError::Malformed("bad request target"),
            ),
            (
                "GET /a\x7fb HTTP/1.0\r\n\r\n",
                HeadError::Malformed("bad request target"),
            ),
            (
                "GET /a?\x00 HTTP/1.0\r\n\r\n",
                HeadError::Malformed("bad request target"),
            ),
            (
                " GET / HTTP/1.0\r\n\r\n",
                HeadError::Malformed("bad request line"),
            ),
            (" / HTTP/1.0\r\n\r\n", HeadError::Malformed("bad method")),
            (
                "GET / HTTP/1.0\r\nA: \x7f\r\n\r\n",
                HeadError::Malformed("control character in a header value"),
            ),
            (
                "GET / HTTP/1.0\r\n: a\r\n\r\n",
                HeadError::Malformed("bad header name"),
            ),
        ];
        for (head, want) in table {
            assert_eq!(parse(head).as_ref().err(), Some(want), "{head:?}");
        }
        // What is allowed right next to what is not.
        let r = parse("OPTIONS * HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.path, "*");
        let r = parse("GET /~a!$&'()*+,;=:@?b=%20~ HTTP/1.0\r\nA: tab\there ~\r\n\r\n").unwrap();
        assert_eq!((r.path, r.query), ("/~a!$&'()*+,;=:@", Some("b=%20~")));
        assert_eq!(r.header("a"), Some("tab\there ~"));
        let r = parse("GET https://x/ HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.path, "/");
        let r = parse("GET http://x HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.path, "/");
    }

    #[test]
    fn heads_may_mix_lf_and_crlf() {
        let head = "GET /m HTTP/1.1\nHost: a\r\nAccept: b\n\r\nNEXT";
        assert_eq!(find_head_end(head.as_bytes(), 0), Some(head.len() - 4));
        let r = parse(&head[..head.len() - 4]).unwrap();
        assert_eq!(r.path, "/m");
        assert_eq!(
            r.headers().collect::<Vec<_>>(),
            [("host", "a"), ("accept", "b")]
        );
        let head = "GET / HTTP/1.0\r\nA: b\r\n\nNEXT";
        assert_eq!(find_head_end(head.as_bytes(), 0), Some(head.len() - 4));
        assert_eq!(
            parse(&head[..head.len() - 4]).unwrap().header("a"),
            Some("b")
        );
        // A lone CR is not a line end.
        assert_eq!(find_head_end(b"GET / HTTP/1.0\r\r\r\r", 0), None);
        assert_eq!(find_head_end(b"\n\r", 0), None);
        // The search starts where it is told to.
        assert_eq!(find_head_end(b"\n\nGET / HTTP/1.0\n\n", 1), Some(18));
    }

    /// The headers the server reads itself are looked up like any other:
    /// the first one counts, in any case, trimmed.
    #[test]
    fn known_headers_are_the_first_of_their_name() {
        let r = parse(
            "GET / HTTP/1.1\r\nHOST: a \r\nconnection:\tclose\r\nHost: b\r\n\
             Content-Length: 0\r\nContent-Length: 7\r\nX-A: 1\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.header("host"), Some("a"));
        assert_eq!(r.header("Connection"), Some("close"));
        assert_eq!(r.header("content-LENGTH"), Some("0"));
        assert_eq!(r.header("transfer-encoding"), None);
        assert_eq!(r.header("x-a"), Some("1"));
        assert!(!r.wants_keep_alive());
        assert!(!r.has_body());
        let names: Vec<_> = r.headers().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "host",
                "connection",
                "host",
                "content-length",
                "content-length",
                "x-a"
            ]
        );
    }

    #[test]
    fn at_most_64_headers() {
        let mut head = String::from("GET / HTTP/1.0\r\n");
        for i in 0..MAX_HEADERS {
            head.push_str(&format!("X-{i}: {i}\r\n"));
        }
        assert_eq!(parse(&format!("{head}\r\n")).unwrap().headers().count(), 64);
        head.push_str("X-64: 64\r\n");
        assert_eq!(
            parse(&format!("{head}\r\n")).err(),
            Some(HeadError::TooLarge)
        );
    }
}
