//! Starting and stopping the server: the threads, and the handle that
//! stops them. How it works is in [`crate::reactor`] (the readiness loops),
//! [`crate::pool`] (the hand-off to the handler threads),
//! [`crate::connection`] (one connection's cycle), [`crate::deadline`]
//! (timeouts) and [`crate::listen`] (the socket).

use crate::reactor::Reactor;
use crate::{Handler, ServerConfig};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;

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

    /// Stops the loops and the handler threads after the step each is
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
    let loops = config.loops.max(1);
    let reactor = Arc::new(Reactor::new(listener, Box::new(handler), config)?);
    let start = |name: String, run: Box<dyn FnOnce(&Reactor) + Send>| {
        let reactor = Arc::clone(&reactor);
        thread::Builder::new()
            .name(name)
            .stack_size(128 * 1024)
            .spawn(move || run(&reactor))
            .map(drop)
    };
    let started = (0..threads)
        .try_for_each(|index| {
            start(
                format!("http-handler-{index}"),
                Box::new(Reactor::run_handlers),
            )
        })
        // Every loop thread has the same name: which loop a connection
        // landed on is of no concern to anyone.
        .and_then(|()| {
            (0..loops)
                .try_for_each(|index| start("http-loop".into(), Box::new(move |r| r.run(index))))
        });
    if let Err(e) = started {
        reactor.stop();
        return Err(e);
    }
    Ok(ServerHandle {
        local_addr,
        reactor,
    })
}
