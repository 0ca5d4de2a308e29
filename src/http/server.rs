//! The server's public face: its configuration, the handler it calls, and
//! starting and stopping it. How it works is in [`super::reactor`] (the
//! readiness loop), [`super::connection`] (one connection's cycle),
//! [`super::deadline`] (timeouts) and [`super::listen`] (the socket).
//!
//! Invariant: the handler is the only code that sees a request, and it is
//! called from a worker thread with a whole, parsed head; it never waits
//! for a client.

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
    /// Worker threads: they run handlers and move bytes; no client can
    /// hold one while it is idle or slow.
    pub threads: usize,
    /// The longest a client may take to send a whole request head, and the
    /// longest an idle keep-alive connection is kept.
    pub head_timeout: Duration,
    /// The longest a client may take to receive an answer.
    pub write_timeout: Duration,
    /// The most connections open at once; when full, a new connection
    /// replaces the one that has waited longest without an answer in
    /// flight.
    pub max_connections: usize,
    /// The most requests answered on one connection.
    pub max_requests_per_connection: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            threads: 4,
            head_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_connections: 128,
            max_requests_per_connection: 1000,
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

    /// Stops the workers after the step each is making; connections still
    /// open are closed when the last worker has gone.
    pub fn stop(&self) {
        self.reactor.stop();
    }
}

/// Starts the worker threads on `listener`.
pub fn serve(
    listener: TcpListener,
    handler: impl Handler,
    config: ServerConfig,
) -> io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let threads = config.threads.max(1);
    let reactor = Arc::new(Reactor::new(listener, Box::new(handler), config)?);
    for index in 0..threads {
        let worker = Arc::clone(&reactor);
        let spawned = thread::Builder::new()
            .name(format!("http-worker-{index}"))
            .stack_size(128 * 1024)
            .spawn(move || worker.run());
        if let Err(e) = spawned {
            reactor.stop();
            return Err(e);
        }
    }
    Ok(ServerHandle {
        local_addr,
        reactor,
    })
}
