//! Every system call of the server that `std` does not make for it: the
//! epoll set, the deadline timer, the stop signal, accepting without
//! blocking, and the one socket `std` cannot set up (an IPv6 listener with
//! `IPV6_V6ONLY` chosen before `bind`). This is the one module of the crate
//! allowed `unsafe`; each block says why it is sound, and each function
//! hands back owned descriptors or plain values, so that callers stay safe
//! code.

use std::io;
use std::net::{SocketAddrV6, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// `r`, or the OS error when a libc call returned a negative value.
fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Takes over a descriptor a libc call just returned (or its error).
fn owned(r: libc::c_int) -> io::Result<OwnedFd> {
    let fd = check(r)?;
    // SAFETY: `fd` was just returned by the kernel as a new descriptor that
    // nothing else owns; the OwnedFd closes it once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

// --- sockets -----------------------------------------------------------------

/// A listening IPv6 socket with `IPV6_V6ONLY` set to `v6only` before
/// `bind`, and `SO_REUSEADDR` as `std` sets it.
pub fn listen_v6(address: SocketAddrV6, v6only: bool) -> io::Result<TcpListener> {
    // SAFETY: socket(2) with constant arguments.
    let fd =
        owned(unsafe { libc::socket(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    set_int_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, v6only.into())?;
    // SAFETY: sockaddr_in6 is plain data; all zeroes is a valid value.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_port = address.port().to_be();
    sa.sin6_addr.s6_addr = address.ip().octets();
    sa.sin6_scope_id = address.scope_id();
    let sa_len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    // SAFETY: a socket this function owns and a fully initialised
    // sockaddr_in6 whose size is passed along.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_in6).cast(),
            sa_len,
        )
    })?;
    // SAFETY: listen(2) on a bound socket this function owns.
    check(unsafe { libc::listen(fd.as_raw_fd(), 1024) })?;
    Ok(TcpListener::from(fd))
}

fn set_int_option(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: an open socket, and a pointer to a c_int with its size.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            len,
        )
    })
    .map(drop)
}

/// Takes one waiting connection, non-blocking and close-on-exec, or
/// `WouldBlock` when there is none (the listener must be non-blocking).
pub fn accept(listener: &TcpListener) -> io::Result<TcpStream> {
    // SAFETY: accept4 with no address buffer on an open listener; the
    // descriptor it returns is new and taken over at once.
    let fd = owned(unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    Ok(TcpStream::from(fd))
}

// --- epoll ------------------------------------------------------------------

/// One readiness event as the kernel hands it over.
pub type Event = libc::epoll_event;
/// Readable.
pub const IN: u32 = libc::EPOLLIN as u32;
/// Writable.
pub const OUT: u32 = libc::EPOLLOUT as u32;
/// Edge-triggered.
pub const EDGE: u32 = libc::EPOLLET as u32;
/// Disabled after one event until re-armed.
pub const ONE_SHOT: u32 = libc::EPOLLONESHOT as u32;

/// An empty event, to fill an event buffer with.
pub const fn no_event() -> Event {
    libc::epoll_event { events: 0, u64: 0 }
}

/// The token an event was registered with.
pub fn token(event: &Event) -> u64 {
    // A copy: the struct is packed on some targets.
    event.u64
}

pub fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: epoll_create1 with a constant flag.
    owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
}

/// What [`epoll_control`] does.
#[derive(Clone, Copy)]
pub enum Control {
    Add,
    Modify,
}

pub fn epoll_control(
    epoll: BorrowedFd<'_>,
    op: Control,
    fd: BorrowedFd<'_>,
    events: u32,
    token: u64,
) -> io::Result<()> {
    let op = match op {
        Control::Add => libc::EPOLL_CTL_ADD,
        Control::Modify => libc::EPOLL_CTL_MOD,
    };
    let mut event = libc::epoll_event { events, u64: token };
    // SAFETY: two open descriptors and a fully initialised event.
    check(unsafe { libc::epoll_ctl(epoll.as_raw_fd(), op, fd.as_raw_fd(), &mut event) }).map(drop)
}

/// Sleeps until there are events (no timeout); fills the front of `events`
/// and says how many. Interruptions are retried.
pub fn epoll_wait(epoll: BorrowedFd<'_>, events: &mut [Event]) -> usize {
    let room = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
    loop {
        // SAFETY: room for `room` events at `events`.
        let n = unsafe { libc::epoll_wait(epoll.as_raw_fd(), events.as_mut_ptr(), room, -1) };
        if let Ok(n @ 1..) = usize::try_from(n) {
            return n;
        }
    }
}

// --- timerfd and eventfd -----------------------------------------------------

/// A non-blocking timerfd on the monotonic clock (the clock `Instant` reads).
pub fn timer_create() -> io::Result<OwnedFd> {
    // SAFETY: timerfd_create with constant arguments.
    owned(unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    })
}

/// Arms the timer to fire once after `wait`, or disarms it when `wait` is
/// zero.
pub fn timer_set(timer: BorrowedFd<'_>, wait: Duration) -> io::Result<()> {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            // `as _`: time_t, whose width musl changed (the name is deprecated there).
            tv_sec: wait.as_secs() as _,
            tv_nsec: wait.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: an open timerfd and a fully initialised itimerspec; the old
    // value is not asked for.
    check(unsafe { libc::timerfd_settime(timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) })
        .map(drop)
}

/// A non-blocking eventfd starting at zero.
pub fn event_create() -> io::Result<OwnedFd> {
    // SAFETY: eventfd with constant arguments.
    owned(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })
}

/// Reads a timerfd's or eventfd's 8-byte counter, resetting it; nothing
/// happens when it is zero (the descriptor is non-blocking).
pub fn counter_take(fd: BorrowedFd<'_>) {
    let mut value = [0u8; 8];
    // SAFETY: reads at most 8 bytes into an 8-byte buffer.
    unsafe { libc::read(fd.as_raw_fd(), value.as_mut_ptr().cast(), 8) };
}

/// Adds one to an eventfd's counter, making it readable.
pub fn counter_add(fd: BorrowedFd<'_>) {
    let one = 1u64.to_ne_bytes();
    // SAFETY: writes 8 bytes from an 8-byte buffer.
    unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), 8) };
}

// --- cores -------------------------------------------------------------------

/// The CPUs this thread may run on (its affinity mask), lowest first, or
/// `None` when the kernel does not say. `std::thread::available_parallelism`
/// gives their number and also reads cgroup quotas, which costs the binary
/// ~20 KiB.
pub fn allowed_cpus() -> Option<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel writes at most size_of::<cpu_set_t>() bytes into
    // `set`; CPU_ISSET only reads it, for CPUs below CPU_SETSIZE.
    unsafe {
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect();
        Some(cpus).filter(|cpus| !cpus.is_empty())
    }
}

/// Lets the calling thread run on `cpu` only.
pub fn run_only_on(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: cpu_set_t is plain data, all zeroes the empty set; CPU_SET
    // writes the bit of `cpu`, below CPU_SETSIZE (checked above); the
    // kernel only reads `set`; 0 is the calling thread.
    let r = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether `fd` becomes readable within `wait` (for tests).
#[cfg(test)]
pub fn readable_within(fd: BorrowedFd<'_>, wait: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as libc::c_int) == 1 }
}
