//! Starting and stopping the server: the threads, and the handle that
//! stops them. How it works is in [`crate::reactor`] (the readiness loops),
//! [`crate::pool`] (the hand-off to the handler threads),
//! [`crate::connection`] (one connection's cycle), [`crate::deadline`]
//! (timeouts) and [`crate::listen`] (the socket).

use crate::reactor::Reactor;
use crate::sys;
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
    let cores = if config.pin_loops {
        sys::allowed_cpus().unwrap_or_default()
    } else {
        Vec::new()
    };
    let cores = loop_cores(&cores, loops);
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
            (0..loops).try_for_each(|index| {
                let core = cores.get(index).copied();
                start(
                    "http-loop".into(),
                    Box::new(move |r| {
                        if let Some(core) = core {
                            if let Err(e) = sys::run_only_on(core) {
                                debug!("http: loop {index} cannot keep to core {core}: {e}");
                            }
                        }
                        r.run(index)
                    }),
                )
            })
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

/// The core of each loop, in loop order: with exactly one loop per core
/// the process may run on, and more than one, loop `i` keeps to the `i`-th
/// of them; otherwise none (the scheduler places the loops: a core of its
/// own for each cannot be had, and pinning two loops to one core, or
/// leaving a core without a loop, would only be worse than its choice).
fn loop_cores(allowed: &[usize], loops: usize) -> &[usize] {
    if loops > 1 && allowed.len() == loops {
        allowed
    } else {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use super::loop_cores;

    #[test]
    fn each_loop_keeps_to_a_core_only_with_one_loop_per_core() {
        let cases: &[(&[usize], usize, &[usize])] = &[
            (&[0, 1], 2, &[0, 1]),
            (&[2, 5, 7], 3, &[2, 5, 7]),
            (&[0, 1, 2, 3], 4, &[0, 1, 2, 3]),
            // One loop: the scheduler's to place.
            (&[3], 1, &[]),
            (&[0, 1], 1, &[]),
            // Fewer loops than cores, or more: no core of its own for each.
            (&[0, 1, 2, 3, 4, 5], 4, &[]),
            (&[0, 1], 3, &[]),
            // The kernel did not say, or pinning is off.
            (&[], 2, &[]),
        ];
        for &(allowed, loops, want) in cases {
            assert_eq!(
                loop_cores(allowed, loops),
                want,
                "{allowed:?}, {loops} loops"
            );
        }
    }
}
