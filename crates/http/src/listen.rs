//! Listening and accepting: the socket the server is reached on, and taking
//! connections off it without ever blocking.
//!
//! Invariant: every stream this module hands out is non-blocking, close-on-
//! exec and has Nagle off, so the readiness loop can never be stalled by
//! one of them and an answer leaves as soon as it is written.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};

use crate::sys;

/// Binds the listening socket. `None` as address: `::` (dual stack where the
/// OS allows it), or `0.0.0.0` where the host has no IPv6. `v6only` sets
/// IPV6_V6ONLY on an IPv6 socket; `None` leaves the OS default.
pub fn bind(address: Option<IpAddr>, port: u16, v6only: Option<bool>) -> io::Result<TcpListener> {
    match address {
        Some(ip) => bind_exact(SocketAddr::new(ip, port), v6only),
        None => match bind_exact(
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
            v6only,
        ) {
            Ok(listener) => Ok(listener),
            Err(e) if is_no_ipv6(&e) => {
                info!("no IPv6 on this host ({e}); listening on 0.0.0.0 instead");
                bind_exact(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port), None)
            }
            Err(e) => Err(e),
        },
    }
}

fn is_no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL) | Some(libc::EPROTONOSUPPORT)
    )
}

fn bind_exact(address: SocketAddr, v6only: Option<bool>) -> io::Result<TcpListener> {
    match (address, v6only) {
        (SocketAddr::V6(v6), Some(only)) => bind_v6_with_option(v6, only),
        _ => TcpListener::bind(address),
    }
}

/// std cannot set IPV6_V6ONLY before `bind`, so this socket is made by hand.
fn bind_v6_with_option(address: std::net::SocketAddrV6, v6only: bool) -> io::Result<TcpListener> {
    sys::listen_v6(address, v6only)
}

/// Takes one waiting connection, or `WouldBlock` when there is none. The
/// listener must be non-blocking.
pub(super) fn accept(listener: &TcpListener) -> io::Result<TcpStream> {
    let stream = sys::accept(listener)?;
    // A connection already reset by its client may refuse this; it fails
    // on its first read instead.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Whether an accept error is about one connection only (take the next),
/// rather than the process (out of descriptors or memory: back off).
pub(super) fn is_transient(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
        || matches!(
            e.raw_os_error(),
            Some(libc::ECONNABORTED) | Some(libc::EPROTO) | Some(libc::EPERM)
        )
}
