//! The server's public face: its configuration, the handler it calls, and
//! starting and stopping it. How it works is in [`super::reactor`] (the
//! readiness loop), [`super::pool`] (the hand-off to the handler threads),
//! [`super::connection`] (one connection's cycle), [`super::deadline`]
//! (timeouts) and [`super::listen`] (the socket).
//!
//! Invariant: the handler is the only code that sees a request, and it is
//! called with a whole, parsed head; it never waits for a client. It is
//! called on the readiness loop unless [`Handler::waits`] says it may wait
//! for something else, in which case it runs on one of the handler
//! threads.

use super::reactor::Reactor;
use super::request::Request;
use super::response::Response;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// What answers a parsed request. The server knows nothing else about it.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: &Request) -> Response;

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

#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Handler threads: they answer the requests whose handler may wait
    /// ([`Handler::waits`]), at most this many at once; the others queue.
    /// Everything else runs on the one readiness-loop thread.
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

/// A running server. Dropping the handle leaves it running; [`stop`] ends it.
///
/// [`stop`]: ServerHandle::stop
pub struct ServerHandle {
    local_addr: SocketAddr,
    reactor: Arc<Reactor>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the loop and the handler threads after the step each is
    /// making; connections still open are closed when the last of them has
    /// gone.
    pub fn stop(&self) {
        self.reactor.stop();
    }
}

/// Starts the readiness loop and the handler threads on `listener`.
pub fn serve(
    listener: TcpListener,
    handler: impl Handler,
    config: ServerConfig,
) -> io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let threads = config.threads.max(1);
    let reactor = Arc::new(Reactor::new(listener, Box::new(handler), config)?);
    let start = |name: String, run: fn(&Reactor)| {
        let reactor = Arc::clone(&reactor);
        thread::Builder::new()
            .name(name)
            .stack_size(128 * 1024)
            .spawn(move || run(&reactor))
            .map(drop)
    };
    let started = (0..threads)
        .try_for_each(|index| start(format!("http-handler-{index}"), Reactor::run_handlers))
        .and_then(|()| start("http-loop".into(), Reactor::run));
    if let Err(e) = started {
        reactor.stop();
        return Err(e);
    }
    Ok(ServerHandle {
        local_addr,
        reactor,
    })
}
