//! An HTTP/1.1 response and its bytes on the wire.

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
        let mut out = Vec::with_capacity(160 + if head_only { 0 } else { self.body.len() });
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\nServer: linxdot-exporter/{}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            self.status,
            reason_phrase(self.status),
            env!("CARGO_PKG_VERSION"),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            let _ = write!(out, "{name}: {value}\r\n");
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
    }
}
