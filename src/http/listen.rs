//! Listening and accepting: the socket the server is reached on, and taking
//! connections off it without ever blocking.
//!
//! Invariant: every stream this module hands out is non-blocking, close-on-
//! exec and has Nagle off, so the readiness loop can never be stalled by
//! one of them and an answer leaves as soon as it is written.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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
                crate::info!("no IPv6 on this host ({e}); listening on 0.0.0.0 instead");
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

/// `r`, or the OS error when a libc call returned a negative value.
pub(super) fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// std cannot set IPV6_V6ONLY before `bind`, so this socket is made by hand.
fn bind_v6_with_option(address: std::net::SocketAddrV6, v6only: bool) -> io::Result<TcpListener> {
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // sockaddr is fully initialised and its size is passed along.
    unsafe {
        let fd = check(libc::socket(
            libc::AF_INET6,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
        ))?;
        let owned = OwnedFd::from_raw_fd(fd);
        let on: libc::c_int = 1;
        let only: libc::c_int = v6only.into();
        let int_len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        check(libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&on as *const libc::c_int).cast(),
            int_len,
        ))?;
        check(libc::setsockopt(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&only as *const libc::c_int).cast(),
            int_len,
        ))?;
        let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
        sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        sa.sin6_port = address.port().to_be();
        sa.sin6_addr.s6_addr = address.ip().octets();
        sa.sin6_scope_id = address.scope_id();
        let sa_len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        check(libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in6).cast(),
            sa_len,
        ))?;
        check(libc::listen(fd, 1024))?;
        Ok(TcpListener::from(owned))
    }
}

/// Takes one waiting connection, or `WouldBlock` when there is none. The
/// listener must be non-blocking.
pub(super) fn accept(listener: &TcpListener) -> io::Result<TcpStream> {
    // SAFETY: accept4 with no address buffer; the descriptor it returns is
    // new and owned by the stream built from it.
    let stream = unsafe {
        let fd = check(libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        ))?;
        TcpStream::from(OwnedFd::from_raw_fd(fd))
    };
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
