//! One connection's request/response cycle, driven by readiness: read what
//! the socket has, answer every whole request head in order, write what the
//! socket takes, and say what to wait for next and until when.
//!
//! Invariants: nothing here blocks (the socket is non-blocking); a
//! connection is in exactly one phase at a time, each with its deadline:
//! - **head**: reading a request head; the deadline is absolute, counted
//!   from the end of the previous answer (or the accept), however slowly
//!   bytes trickle in; at most [`MAX_HEAD_BYTES`] are held unanswered;
//! - **flush**: writing answers, in request order; the deadline counts
//!   from the first answer of the batch;
//! - **drain**: the answer is out and the write side shut; what the client
//!   still sends is read and dropped, briefly and boundedly, so that unread
//!   bytes do not turn the close into a reset that destroys the answer.
//!
//! Only the thread holding a connection touches it. A step on the
//! readiness loop never runs a handler that may wait ([`Handler::waits`]):
//! it stops before that head, with nothing consumed, and says
//! [`Next::Defer`]; the handler thread that takes the connection over
//! answers it with [`Connection::resume`].

use crate::request::{parse_buffered, HeadError, MAX_HEAD_BYTES};
use crate::response::{Reply, Response};
use crate::{Handler, ServerConfig};
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The most bytes drained from a closing connection.
const DRAIN_MAX: usize = 256 * 1024;
/// The most output buffer a connection keeps between answers, so that a
/// keep-alive scrape reuses it instead of allocating another.
const KEEP_OUTPUT_BYTES: usize = 16 * 1024;
/// Answers to pipelined requests are queued up to about this many bytes
/// before they are written.
const BATCH_BYTES: usize = 64 * 1024;

/// What to do with a connection after a step.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Wait for the socket until `until`. `evictable`: the connection has
    /// no answer in flight, so it may be closed to make room for another.
    Wait {
        until: Instant,
        evictable: bool,
    },
    /// The head at the front needs a handler that may wait: step the
    /// connection again, with [`Connection::resume`], on a thread that may
    /// wait.
    Defer,
    Close,
}

/// What [`Connection::queue_answers`] did.
enum Queued {
    /// No whole head is buffered.
    Nothing,
    /// Answers are in `output`; the phase is `Flush`.
    Answers,
    /// The first whole head needs a handler that may wait, and this step
    /// may not run it.
    Defer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Flush { close_after: bool },
    Drain { drained: usize },
}

/// The buffers of one thread that steps connections, kept and reused so
/// that a request answered from them allocates nothing.
pub(crate) struct Buffers {
    /// What one read takes, [`MAX_HEAD_BYTES`] long.
    scratch: Box<[u8]>,
    /// The body a handler writes with [`Reply::body`]. It is sent from
    /// here, after the head in the connection's output (one `writev`, no
    /// copy), and only what the socket does not take is copied into the
    /// output. `body_pending`: it belongs to the last answer queued and is
    /// not all out yet (never so between two steps); `body_sent`: how much
    /// of it is.
    body: String,
    body_pending: bool,
    body_sent: usize,
}

impl Buffers {
    pub fn new() -> Buffers {
        Buffers {
            scratch: vec![0u8; MAX_HEAD_BYTES].into_boxed_slice(),
            body: String::new(),
            body_pending: false,
            body_sent: 0,
        }
    }
}

/// What a step needs from the server.
pub(crate) struct Context<'a> {
    pub handler: &'a dyn Handler,
    pub config: &'a ServerConfig,
    pub buffers: &'a mut Buffers,
    /// This step may run a handler that waits ([`Handler::waits`]).
    pub may_wait: bool,
    /// Connections handed to the handler threads and not settled yet, at
    /// most `max_waiting`: a head that needs a handler thread is handed
    /// over only if it gets a place here, else answered 503.
    pub waiting: &'a AtomicUsize,
    pub max_waiting: usize,
}

impl Context<'_> {
    /// Takes a place among the [`waiting`](Context::waiting) connections,
    /// if one is left; whoever settles the connection gives it back.
    fn reserve_handler(&self) -> bool {
        self.waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max_waiting).then_some(n + 1)
            })
            .is_ok()
    }
}

pub(super) struct Connection {
    stream: TcpStream,
    /// Bytes received and not answered yet: the current head, perhaps
    /// followed by pipelined ones.
    input: Vec<u8>,
    /// Answers not written yet, from `written` on.
    output: Vec<u8>,
    written: usize,
    served: usize,
    phase: Phase,
    /// The deadline of the current phase.
    until: Instant,
    /// The socket may hold bytes not read yet.
    readable: bool,
    /// The client has shut its side.
    eof: bool,
    /// When the head at the front was handed to a handler thread.
    deferred_at: Option<Instant>,
}

impl Connection {
    pub fn new(stream: TcpStream, now: Instant, config: &ServerConfig) -> Connection {
        Connection {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            served: 0,
            phase: Phase::Head,
            until: now + config.head_timeout,
            readable: false,
            eof: false,
            deferred_at: None,
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    /// What to wait for now, without doing anything.
    pub fn waiting(&self) -> Next {
        Next::Wait {
            until: self.until,
            // An answer in flight is not given up for another client.
            evictable: !matches!(self.phase, Phase::Flush { .. }),
        }
    }

    /// The socket is ready (for reading, writing, or both: the phase knows
    /// which it needs): does all that can be done without blocking.
    pub fn ready(&mut self, ctx: &mut Context<'_>, now: Instant) -> Next {
        self.readable = true;
        self.advance(ctx, now)
    }

    /// Goes on from a [`Next::Defer`], on a thread that may wait.
    pub fn resume(&mut self, ctx: &mut Context<'_>, now: Instant) -> Next {
        self.advance(ctx, now)
    }

    /// The phase's deadline has passed.
    pub fn expired(&mut self, ctx: &mut Context<'_>, now: Instant) -> Next {
        match self.phase {
            // An idle keep-alive connection, or a client that never spoke.
            Phase::Head if self.input.is_empty() => Next::Close,
            Phase::Head => {
                self.queue_error(
                    Response::text(408, "request head not received in time"),
                    now,
                    ctx,
                );
                self.advance(ctx, now)
            }
            Phase::Flush { .. } | Phase::Drain { .. } => Next::Close,
        }
    }

    fn advance(&mut self, ctx: &mut Context<'_>, now: Instant) -> Next {
        loop {
            match self.phase {
                Phase::Flush { close_after } => match self.flush(ctx.buffers) {
                    Err(_) => return Next::Close,
                    Ok(false) => return self.waiting(),
                    Ok(true) if close_after => self.start_drain(now, ctx.config.drain_for),
                    Ok(true) => {
                        self.phase = Phase::Head;
                        self.until = now + ctx.config.head_timeout;
                    }
                },
                Phase::Drain { drained } => {
                    return match self.drain(&mut ctx.buffers.scratch, drained) {
                        Some(drained) => {
                            self.phase = Phase::Drain { drained };
                            self.waiting()
                        }
                        None => Next::Close,
                    }
                }
                Phase::Head => {
                    match self.queue_answers(ctx, now) {
                        Queued::Answers => continue,
                        Queued::Defer => return Next::Defer,
                        Queued::Nothing => {}
                    }
                    // No whole head is buffered.
                    if self.input.len() >= MAX_HEAD_BYTES {
                        self.queue_error(Response::text(431, "request head too large"), now, ctx);
                    } else if self.eof {
                        if self.input.is_empty() {
                            return Next::Close;
                        }
                        self.queue_error(
                            Response::text(408, "request head not received in time"),
                            now,
                            ctx,
                        );
                    } else if !self.readable {
                        return self.waiting();
                    } else if self.fill(&mut ctx.buffers.scratch).is_err() {
                        return Next::Close;
                    }
                }
            }
        }
    }

    /// Answers the whole heads at the front of `input`, in order, into
    /// `output`, up to the first one whose handler may wait if this step may
    /// not run it (that head stays in `input`, for the next step).
    fn queue_answers(&mut self, ctx: &mut Context<'_>, now: Instant) -> Queued {
        let mut queued = false;
        while self.output.len() < BATCH_BYTES {
            let received = self.deferred_at.unwrap_or(now);
            let Some((end, parsed)) = parse_buffered(&mut self.input, received) else {
                break;
            };
            // The body of the answer before goes first.
            take_pending_body(&mut self.output, ctx.buffers);
            let was_empty = self.output.is_empty();
            let keep_alive = match parsed {
                Ok(request) => {
                    let waits = !ctx.may_wait && ctx.handler.waits(&request);
                    if waits && queued {
                        // Those answers first; this head at the next step.
                        break;
                    }
                    if waits && ctx.reserve_handler() {
                        self.deferred_at = Some(now);
                        return Queued::Defer;
                    }
                    self.deferred_at = None;
                    let keep_alive = request.wants_keep_alive()
                        && !request.has_body()
                        && self.served + 1 < ctx.config.max_requests_per_connection;
                    let mut reply = Reply::new(&mut ctx.buffers.body);
                    match waits {
                        true => reply.send(
                            Response::text(
                                503,
                                "too many requests waiting for a handler thread; try again",
                            )
                            .with_header("Retry-After", "1"),
                        ),
                        false => ctx.handler.respond(&request, &mut reply),
                    }
                    let head_only = request.method == "HEAD";
                    let pending = reply.write_head_into(&mut self.output, head_only, keep_alive);
                    ctx.buffers.body_pending = pending;
                    ctx.buffers.body_sent = 0;
                    keep_alive
                }
                Err(e) => {
                    error_response(e).write_into(&mut self.output, false, false);
                    false
                }
            };
            if was_empty {
                self.until = now + ctx.config.write_timeout;
            }
            self.served += 1;
            self.input.drain(..end);
            queued = true;
            if !keep_alive {
                self.phase = Phase::Flush { close_after: true };
                return Queued::Answers;
            }
        }
        if !queued {
            return Queued::Nothing;
        }
        self.phase = Phase::Flush { close_after: false };
        Queued::Answers
    }

    /// Queues an error answer after which the connection closes.
    fn queue_error(&mut self, response: Response, now: Instant, ctx: &Context<'_>) {
        if self.output.is_empty() {
            self.until = now + ctx.config.write_timeout;
        }
        response.write_into(&mut self.output, false, false);
        self.phase = Phase::Flush { close_after: true };
    }

    /// Reads once into `input`, at most up to [`MAX_HEAD_BYTES`] held.
    fn fill(&mut self, scratch: &mut [u8]) -> io::Result<()> {
        let want = scratch.len().min(MAX_HEAD_BYTES - self.input.len());
        match (&self.stream).read(&mut scratch[..want]) {
            Ok(0) => {
                self.eof = true;
                self.readable = false;
            }
            Ok(n) => {
                self.input.extend_from_slice(&scratch[..n]);
                // A short read emptied the socket; readiness says when there is more.
                if n < want {
                    self.readable = false;
                }
            }
            Err(e) => match failure(&e) {
                Failure::NotReady => self.readable = false,
                Failure::Interrupted => {}
                Failure::Fatal => return Err(e),
            },
        }
        Ok(())
    }

    /// Copies what is left of a pending body (see [`Buffers::body`]) into
    /// the output, after the head it belongs to.
    fn take_pending_body(&mut self, buffers: &mut Buffers) {
        take_pending_body(&mut self.output, buffers);
    }

    /// Writes what the socket takes, the output and then a pending body:
    /// true when everything is out. What is left of the body when the
    /// socket is full is copied into the output.
    fn flush(&mut self, buffers: &mut Buffers) -> io::Result<bool> {
        let result = self.write_out(buffers);
        match result {
            Ok(false) => self.take_pending_body(buffers),
            _ => buffers.body_pending = false,
        }
        if let Ok(true) = result {
            // Kept for the next answer, unless it grew large (a big answer,
            // a pipelined batch): then it is not held while idle.
            self.output.clear();
            if self.output.capacity() > KEEP_OUTPUT_BYTES {
                self.output = Vec::new();
            }
            self.written = 0;
        }
        result
    }

    fn write_out(&mut self, buffers: &mut Buffers) -> io::Result<bool> {
        loop {
            let head = &self.output[self.written..];
            let body = match buffers.body_pending {
                true => &buffers.body.as_bytes()[buffers.body_sent..],
                false => &[][..],
            };
            let wrote = match (head.is_empty(), body.is_empty()) {
                (true, true) => return Ok(true),
                (false, true) => (&self.stream).write(head),
                (true, false) => (&self.stream).write(body),
                (false, false) => {
                    (&self.stream).write_vectored(&[IoSlice::new(head), IoSlice::new(body)])
                }
            };
            match wrote {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let from_head = n.min(head.len());
                    self.written += from_head;
                    buffers.body_sent += n - from_head;
                }
                Err(e) => match failure(&e) {
                    Failure::NotReady => return Ok(false),
                    Failure::Interrupted => {}
                    Failure::Fatal => return Err(e),
                },
            }
        }
    }

    fn start_drain(&mut self, now: Instant, drain_for: Duration) {
        let _ = self.stream.shutdown(Shutdown::Write);
        self.input = Vec::new();
        self.phase = Phase::Drain { drained: 0 };
        self.until = now + drain_for;
    }

    /// Reads and drops what the client sends; `None` once the connection
    /// can close (the client closed, or enough was drained).
    fn drain(&mut self, scratch: &mut [u8], mut drained: usize) -> Option<usize> {
        if self.eof {
            return None;
        }
        loop {
            match (&self.stream).read(scratch) {
                Ok(0) => return None,
                Ok(n) => {
                    drained += n;
                    if drained >= DRAIN_MAX {
                        return None;
                    }
                }
                Err(e) => match failure(&e) {
                    Failure::NotReady => return Some(drained),
                    Failure::Interrupted => {}
                    Failure::Fatal => return None,
                },
            }
        }
    }
}

/// [`Connection::take_pending_body`], on the output alone (while the
/// input is borrowed by a request).
fn take_pending_body(output: &mut Vec<u8>, buffers: &mut Buffers) {
    if std::mem::take(&mut buffers.body_pending) {
        output.extend_from_slice(&buffers.body.as_bytes()[buffers.body_sent..]);
    }
}

/// What a failed read or write on the non-blocking socket means.
enum Failure {
    /// Nothing to read, or no room to write: wait for readiness.
    NotReady,
    /// A signal came first: try again now.
    Interrupted,
    /// The connection is broken: close it.
    Fatal,
}

fn failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::WouldBlock => Failure::NotReady,
        io::ErrorKind::Interrupted => Failure::Interrupted,
        _ => Failure::Fatal,
    }
}

fn error_response(e: HeadError) -> Response {
    match e {
        HeadError::TooLarge => Response::text(431, "request head too large"),
        HeadError::Malformed(why) => Response::text(400, why),
        HeadError::UnsupportedVersion => Response::text(505, "only HTTP/1.0 and HTTP/1.1"),
    }
}
