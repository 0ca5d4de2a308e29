//! A small HTTP/1.1 server on `std` and `libc`: enough to serve scrapes,
//! bounded against slow and hostile clients, and asleep in the kernel
//! while nothing happens. It knows nothing about metrics: what it needs
//! from the program is a [`Handler`] and, if it wants the server's log
//! lines, a [`set_log_hook`].
//!
//! - this file: the [`Handler`] the server calls and its [`ServerConfig`];
//! - [`listen`]: the listening socket and non-blocking accepts;
//! - [`reactor`]: the readiness loops (one per core, each over its own
//!   epoll set);
//! - [`pool`]: the hand-off of requests that may wait to the handler threads;
//! - [`connection`]: one connection's request/response cycle;
//! - [`deadline`]: the per-connection deadlines and the timer behind them;
//! - [`request`], [`response`]: the bytes of a request head and an answer;
//! - [`server`]: starting and stopping;
//! - [`sys`]: every system call `std` does not make, the crate's only
//!   `unsafe` code.
//!
//! Invariant: the handler is the only code that sees a request, and it is
//! called with a whole, parsed head; it never waits for a client. It is
//! called on the readiness loop unless [`Handler::waits`] says it may wait
//! for something else, in which case it runs on one of the handler
//! threads.
#![deny(unsafe_code)]

macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::log($crate::Level::Debug, format_args!($($arg)*)) };
}
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::log($crate::Level::Info, format_args!($($arg)*)) };
}
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::log($crate::Level::Warn, format_args!($($arg)*)) };
}
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::log($crate::Level::Error, format_args!($($arg)*)) };
}

mod connection;
mod deadline;
mod digits;
mod listen;
mod log;
mod pool;
mod reactor;
pub mod request;
pub mod response;
mod server;
#[allow(unsafe_code)]
mod sys;

pub use digits::Digits;
pub use listen::bind;
pub use log::{set_log_hook, Level, LogHook};
pub use request::Request;
pub use response::{Reply, Response};
pub use server::{serve, ServerHandle};

use std::time::Duration;

/// What answers a parsed request. The server knows nothing else about it.
pub trait Handler: Send + Sync + 'static {
    /// The answer to `request`.
    fn handle(&self, request: &Request) -> Response;

    /// Writes the answer to `request` into `reply`; what the server calls.
    /// The default sends what [`handle`](Handler::handle) returns. A
    /// handler on a hot path writes its body with [`Reply::body`] instead,
    /// into a buffer the server reuses, and allocates nothing.
    fn respond(&self, request: &Request, reply: &mut Reply<'_>) {
        reply.send(self.handle(request));
    }

    /// Whether answering `request` may wait (for another server, say). Such
    /// a request is answered on a handler thread, so that the readiness
    /// loop goes on serving everyone else; the rest are answered on the
    /// loop, with no hand-off. The default: nothing waits.
    fn waits(&self, _request: &Request) -> bool {
        false
    }
}

impl<F> Handler for F
where
    F: Fn(&Request) -> Response + Send + Sync + 'static,
{
    fn handle(&self, request: &Request) -> Response {
        self(request)
    }
}

/// The most readiness loops [`ServerConfig::default`] starts, however many
/// cores there are.
pub const MAX_DEFAULT_LOOPS: usize = 4;

/// One readiness loop per core this process may run on (its CPU affinity
/// counts: a server pinned to one core gets one loop), at most
/// [`MAX_DEFAULT_LOOPS`].
pub fn default_loops() -> usize {
    sys::allowed_cpus()
        .map_or(1, |cpus| cpus.len())
        .min(MAX_DEFAULT_LOOPS)
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Readiness-loop threads: they accept, read, answer what does not
    /// wait and write, each for its share of the connections.
    pub loops: usize,
    /// With one loop per core this process may run on (and more than one
    /// core), each loop runs on its own core only. Left to itself, the
    /// scheduler often wakes a loop on the core of the thread that woke it,
    /// so two loops share one core while the other idles (on a 2-core
    /// machine with this on: 1.6× the scrapes/s at 2 connections, 1.0–1.1×
    /// at 4, and a p99 of 0.25 ms instead of 1.5 at 16 connections).
    pub pin_loops: bool,
    /// Handler threads: they answer the requests whose handler may wait
    /// ([`Handler::waits`]), at most this many at once; the others queue.
    /// Everything else runs on the readiness loops.
    pub threads: usize,
    /// The longest a client may take to send a whole request head, and the
    /// longest an idle keep-alive connection is kept.
    pub head_timeout: Duration,
    /// The longest a client may take to receive an answer.
    pub write_timeout: Duration,
    /// After the last answer on a connection, how long what the client
    /// still sends is read and dropped (at most 256 KiB), so that unread
    /// bytes do not turn the close into a reset that destroys the answer.
    pub drain_for: Duration,
    /// The most connections open at once; when full, a new connection
    /// replaces the one that has waited longest without an answer in
    /// flight.
    pub max_connections: usize,
    /// The most requests answered on one connection.
    pub max_requests_per_connection: usize,
    /// The most requests handed to the handler threads at once, running or
    /// queued; one more is answered 503 on the spot, so that requests that
    /// wait can never hold every connection slot.
    pub max_waiting: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            loops: default_loops(),
            pin_loops: true,
            threads: 4,
            head_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            drain_for: Duration::from_millis(500),
            max_connections: 128,
            max_requests_per_connection: 1000,
            max_waiting: 64,
        }
    }
}
