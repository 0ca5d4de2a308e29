//! A minimal HTTP/1.1 client for the tests: raw request bytes in, the
//! answer's status, head and body out. It reads until the server closes, so
//! a request should say `Connection: close` (or be the last of a pipeline).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long [`connect`] waits for a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`read_all`] waits for each read.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One answer: the status code (0 when the status line did not parse), the
/// head without its final blank line, and the body (lossy UTF-8).
#[derive(Debug)]
pub struct HttpAnswer {
    /// The status code, e.g. 200; 0 when the status line did not parse.
    pub status: u16,
    /// The status line and the headers, lines ended by CRLF, no final blank line.
    pub head: String,
    /// Everything after the head's blank line.
    pub body: String,
}

impl HttpAnswer {
    /// The value of the first header `name` (any case), trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// A TCP connection to `addr`, within [`CONNECT_TIMEOUT`]; panics if refused.
pub fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).expect("connect")
}

/// The raw bytes the server sends until it closes the connection (or a read
/// waits longer than [`READ_TIMEOUT`]).
pub fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    bytes
}

/// `GET path` on a new connection with `Connection: close`.
pub fn get(addr: SocketAddr, path: &str) -> HttpAnswer {
    http_request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"),
    )
}

/// Sends raw request text and reads the answer until the server closes.
pub fn http_request(addr: SocketAddr, raw: &str) -> HttpAnswer {
    http_request_bytes(addr, raw.as_bytes())
}

/// Sends raw request bytes and reads the answer until the server closes.
pub fn http_request_bytes(addr: SocketAddr, raw: &[u8]) -> HttpAnswer {
    let mut stream = connect(addr);
    stream.write_all(raw).expect("send request");
    parse_answer(&read_all(&mut stream))
}

/// Splits answer bytes at the first blank line into head and body. Several
/// pipelined answers stay in the body of the first; see [`split_answers`].
pub fn parse_answer(bytes: &[u8]) -> HttpAnswer {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    HttpAnswer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// Splits a stream of answers (pipelined, on one connection) by their
/// Content-Length; panics on a partial head, a missing Content-Length or a
/// truncated body.
pub fn split_answers(mut bytes: &[u8]) -> Vec<HttpAnswer> {
    let mut answers = Vec::new();
    while !bytes.is_empty() {
        let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            panic!("a partial head: {:?}", String::from_utf8_lossy(bytes));
        };
        let head = parse_answer(&bytes[..end + 4]);
        let length: usize = head
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .expect("Content-Length");
        let total = end + 4 + length;
        assert!(total <= bytes.len(), "a truncated body");
        answers.push(parse_answer(&bytes[..total]));
        bytes = &bytes[total..];
    }
    answers
}
