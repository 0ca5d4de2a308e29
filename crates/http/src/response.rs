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
        let mut out = Vec::new();
        self.write_into(&mut out, head_only, keep_alive);
        out
    }

    /// Appends what [`to_bytes`](Response::to_bytes) returns to `out`.
    pub fn write_into(&self, out: &mut Vec<u8>, head_only: bool, keep_alive: bool) {
        let head = Head {
            status: self.status,
            content_type: self.content_type,
            headers: &self.headers,
            length: self.body.len(),
            keep_alive,
        };
        head.write_into(out, if head_only { 0 } else { self.body.len() });
        if !head_only {
            out.extend_from_slice(&self.body);
        }
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

/// What follows the status line of a head, up to the content type.
macro_rules! after_status {
    () => {
        concat!(
            "\r\nServer: linxdot-exporter/",
            env!("CARGO_PKG_VERSION"),
            "\r\nContent-Type: "
        )
    };
}

/// The head of an answer.
struct Head<'a> {
    status: u16,
    content_type: &'static str,
    headers: &'a [(&'static str, String)],
    /// The body's length (also for an answer to HEAD, which leaves it out).
    length: usize,
    keep_alive: bool,
}

impl Head<'_> {
    /// Appends the head to `out`, with room for `body` more bytes.
    fn write_into(&self, out: &mut Vec<u8>, body: usize) {
        let extra: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum();
        let want = 160 + self.content_type.len() + extra + body;
        if out.capacity() - out.len() < want {
            // With room to spare: the next answer, a few bytes longer,
            // fits in a buffer that is kept and reused.
            out.reserve(want + want / 2);
        }
        if self.status == 200 {
            // A scrape's: what the pieces below spell, copied at once.
            out.extend_from_slice(concat!("HTTP/1.1 200 OK", after_status!()).as_bytes());
        } else {
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(Digits::new(self.status.into()).as_bytes());
            out.push(b' ');
            out.extend_from_slice(reason_phrase(self.status).as_bytes());
            out.extend_from_slice(after_status!().as_bytes());
        }
        out.extend_from_slice(self.content_type.as_bytes());
        out.extend_from_slice(b"\r\nContent-Length: ");
        out.extend_from_slice(Digits::new(self.length as u64).as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(if self.keep_alive {
            b"Connection: keep-alive\r\n\r\n"
        } else {
            b"Connection: close\r\n\r\n"
        });
    }
}

/// The answer to one request as a handler gives it ([`Handler::respond`]):
/// either a body written into a buffer the server keeps and reuses
/// ([`body`](Reply::body): once that buffer has grown, answering allocates
/// nothing), or a whole [`Response`] ([`send`](Reply::send)). A handler
/// that does neither answers 500.
///
/// [`Handler::respond`]: crate::Handler::respond
pub struct Reply<'a> {
    body: &'a mut String,
    status: u16,
    content_type: &'static str,
    response: Option<Response>,
}

impl<'a> Reply<'a> {
    /// A reply that writes its body into `body` (emptied first).
    pub fn new(body: &'a mut String) -> Reply<'a> {
        body.clear();
        Reply {
            body,
            status: 500,
            content_type: "text/plain; charset=utf-8",
            response: None,
        }
    }

    /// Answers `status` with a body of `content_type`: the body is what is
    /// written into the returned buffer (empty at first).
    pub fn body(&mut self, status: u16, content_type: &'static str) -> &mut String {
        self.status = status;
        self.content_type = content_type;
        self.response = None;
        self.body.clear();
        self.body
    }

    /// Answers with `response`.
    pub fn send(&mut self, response: Response) {
        self.response = Some(response);
    }

    /// The answer as a [`Response`] (which owns its body).
    pub fn into_response(self) -> Response {
        match self.response {
            Some(response) => response,
            None => Response::new(self.status, self.content_type, std::mem::take(self.body)),
        }
    }

    /// The head of the body written into the buffer (no extra headers).
    fn head(&self, keep_alive: bool) -> Head<'static> {
        Head {
            status: self.status,
            content_type: self.content_type,
            headers: &[],
            length: self.body.len(),
            keep_alive,
        }
    }

    /// Appends the answer's head to `out`, and its body too when it is a
    /// [`Response`]: true when a body written with [`body`](Reply::body)
    /// is still to be sent after it, from that buffer.
    pub(crate) fn write_head_into(
        &self,
        out: &mut Vec<u8>,
        head_only: bool,
        keep_alive: bool,
    ) -> bool {
        if let Some(response) = &self.response {
            response.write_into(out, head_only, keep_alive);
            return false;
        }
        self.head(keep_alive).write_into(out, 0);
        !head_only && !self.body.is_empty()
    }

    /// Appends the answer's bytes to `out`: what [`Response::write_into`]
    /// writes for [`into_response`](Reply::into_response).
    pub fn write_into(&self, out: &mut Vec<u8>, head_only: bool, keep_alive: bool) {
        if let Some(response) = &self.response {
            return response.write_into(out, head_only, keep_alive);
        }
        let room = if head_only { 0 } else { self.body.len() };
        self.head(keep_alive).write_into(out, room);
        if !head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
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
        // A reply's body written into the reused buffer: the same bytes as
        // the response it stands for.
        let mut buffer = String::from("left over");
        let mut reply = Reply::new(&mut buffer);
        reply
            .body(405, "text/plain; charset=utf-8")
            .push_str("method not allowed\n");
        let mut out = b"before".to_vec();
        reply.write_into(&mut out, false, false);
        let plain = Response::text(405, "method not allowed");
        assert_eq!(out[6..], plain.to_bytes(false, false)[..]);
        // The head alone, the body left in the buffer to send after it.
        let mut head = Vec::new();
        assert!(reply.write_head_into(&mut head, false, false));
        head.extend_from_slice(b"method not allowed\n");
        assert_eq!(head, plain.to_bytes(false, false));
        let mut head = Vec::new();
        assert!(!reply.write_head_into(&mut head, true, true));
        assert_eq!(head, plain.to_bytes(true, true));
        assert_eq!(reply.into_response(), plain);
        let mut reply = Reply::new(&mut buffer);
        reply.send(r.clone());
        let mut out = Vec::new();
        reply.write_into(&mut out, true, true);
        assert_eq!(out, r.to_bytes(true, true));
        let ok = Response::new(200, "t", "").to_bytes(false, true);
        let pieces = format!("HTTP/1.1 200 {}{}", reason_phrase(200), after_status!());
        assert!(ok.starts_with(pieces.as_bytes()));
        let big = Response::new(200, "x", vec![b'a'; 123_456]);
        let bytes = big.to_bytes(true, false);
        assert!(String::from_utf8(bytes)
            .unwrap()
            .contains("\r\nContent-Length: 123456\r\n"));
    }
}
