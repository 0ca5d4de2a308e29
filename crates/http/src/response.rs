//! An HTTP/1.1 response and its bytes on the wire.

use crate::digits::Digits;
use std::io::{self, Write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// Extra headers, e.g. `Allow`.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A short plain-text answer, e.g. for errors.
    pub fn text(status: u16, body: &str) -> Self {
        let mut text = body.to_string();
        text.push('\n');
        Response::new(status, "text/plain; charset=utf-8", text)
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The head and, unless `head_only`, the body, in one buffer so that it
    /// leaves in as few packets as possible.
    pub fn to_bytes(&self, head_only: bool, keep_alive: bool) -> Vec<u8> {
        let extra: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum();
        let body = if head_only { 0 } else { self.body.len() };
        let mut out = Vec::with_capacity(160 + self.content_type.len() + extra + body);
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(Digits::new(self.status.into()).as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
        out.extend_from_slice(
            concat!(
                "\r\nServer: linxdot-exporter/",
                env!("CARGO_PKG_VERSION"),
                "\r\nContent-Type: "
            )
            .as_bytes(),
        );
        out.extend_from_slice(self.content_type.as_bytes());
        out.extend_from_slice(b"\r\nContent-Length: ");
        out.extend_from_slice(Digits::new(self.body.len() as u64).as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(if keep_alive {
            b"Connection: keep-alive\r\n\r\n"
        } else {
            b"Connection: close\r\n\r\n"
        });
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }

    pub fn write_to(
        &self,
        out: &mut impl Write,
        head_only: bool,
        keep_alive: bool,
    ) -> io::Result<()> {
        out.write_all(&self.to_bytes(head_only, keep_alive))?;
        out.flush()
    }
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_on_the_wire() {
        let r = Response::text(405, "method not allowed").with_header("Allow", "GET, HEAD");
        let v = env!("CARGO_PKG_VERSION");
        let head = format!(
            "HTTP/1.1 405 Method Not Allowed\r\nServer: linxdot-exporter/{v}\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\nAllow: GET, HEAD\r\n"
        );
        assert_eq!(
            String::from_utf8(r.to_bytes(false, false)).unwrap(),
            format!("{head}Connection: close\r\n\r\nmethod not allowed\n")
        );
        assert_eq!(
            String::from_utf8(r.to_bytes(true, true)).unwrap(),
            format!("{head}Connection: keep-alive\r\n\r\n")
        );
        let empty = Response::new(200, "text/plain", "");
        assert_eq!(
            String::from_utf8(empty.to_bytes(false, true)).unwrap(),
            format!(
                "HTTP/1.1 200 OK\r\nServer: linxdot-exporter/{v}\r\nContent-Type: text/plain\r\n\
                 Content-Length: 0\r\nConnection: keep-alive\r\n\r\n"
            )
        );
        let big = Response::new(200, "x", vec![b'a'; 123_456]);
        let bytes = big.to_bytes(true, false);
        assert!(String::from_utf8(bytes)
            .unwrap()
            .contains("\r\nContent-Length: 123456\r\n"));
    }
}
