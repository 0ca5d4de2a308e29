//! The listener, a fixed set of worker threads, and the rules that keep idle,
//! slow or hostile clients from starving a scrape.
//!
//! - One acceptor thread puts new connections on a *pending* stack. Workers
//!   take the oldest connection whose whole request head has already arrived
//!   (looked at with `MSG_PEEK`, not read), else the **newest**: a scrape is
//!   not queued behind a thousand idle connections, nor buried under
//!   slowloris clients that keep reconnecting, and real clients are served
//!   in turn when there are more of them than workers. The stack is
//!   bounded; when it is full the oldest pending connection without a whole
//!   head is closed.
//! - A worker reading a request head has an absolute deadline
//!   ([`ServerConfig::head_timeout`]), however slowly the bytes trickle in.
//! - A watchdog thread watches the workers: while connections are pending
//!   and no worker is free, it closes the connection of the worker that has
//!   waited longest for a request head, once that wait exceeds
//!   [`ServerConfig::evict_after`]. Real clients send their request at once;
//!   idle and slowloris clients lose their slot to whoever is waiting.
//! - Keep-alive is honoured only while nobody is waiting for a worker.
//! - Every write has a timeout; the answer is written in one buffer.

use super::request::{find_head_end, parse_head, read_head, HeadError, Request, MAX_HEAD_BYTES};
use super::response::Response;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

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
    pub threads: usize,
    /// The longest a client may take to send a whole request head, and the
    /// longest an idle keep-alive connection is kept.
    pub head_timeout: Duration,
    pub write_timeout: Duration,
    /// A worker's wait for a head after which it may be taken for a pending
    /// connection.
    pub evict_after: Duration,
    /// The most connections waiting for a worker.
    pub max_pending: usize,
    /// The most requests answered on one connection.
    pub max_requests_per_connection: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            threads: 4,
            head_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            evict_after: Duration::from_millis(200),
            max_pending: 128,
            max_requests_per_connection: 1000,
        }
    }
}

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

/// std cannot set IPV6_V6ONLY before `bind`, so this socket is made by hand.
fn bind_v6_with_option(address: std::net::SocketAddrV6, v6only: bool) -> io::Result<TcpListener> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let check = |r: libc::c_int| {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    };
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

struct Pending {
    stream: TcpStream,
    since: Instant,
}

/// A worker's connection while it waits for a request head.
struct Waiting {
    stream: Arc<TcpStream>,
    since: Instant,
}

struct Shared {
    config: ServerConfig,
    pending: Mutex<VecDeque<Pending>>,
    wake: Condvar,
    slots: Vec<Mutex<Option<Waiting>>>,
    idle_workers: AtomicUsize,
    stop: AtomicBool,
    handler: Box<dyn Handler>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running server. Dropping the handle leaves it running; [`stop`] ends it.
///
/// [`stop`]: ServerHandle::stop
pub struct ServerHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and lets the workers end after their current request.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
        // Unblock the acceptor.
        let _ =
            TcpStream::connect_timeout(&loopback_of(self.local_addr), Duration::from_millis(200));
    }
}

fn loopback_of(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::from(([127, 0, 0, 1], addr.port())),
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

/// Starts the acceptor, the workers and the watchdog.
pub fn serve(
    listener: TcpListener,
    handler: impl Handler,
    config: ServerConfig,
) -> io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let threads = config.threads.max(1);
    let shared = Arc::new(Shared {
        slots: (0..threads).map(|_| Mutex::new(None)).collect(),
        config,
        pending: Mutex::new(VecDeque::new()),
        wake: Condvar::new(),
        idle_workers: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        handler: Box::new(handler),
    });
    for index in 0..threads {
        let shared = Arc::clone(&shared);
        spawn(&format!("http-worker-{index}"), move || {
            worker(&shared, index)
        })?;
    }
    {
        let shared = Arc::clone(&shared);
        spawn("http-watchdog", move || watchdog(&shared))?;
    }
    {
        let shared = Arc::clone(&shared);
        spawn("http-acceptor", move || acceptor(&listener, &shared))?;
    }
    Ok(ServerHandle { local_addr, shared })
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    thread::Builder::new()
        .name(name.to_string())
        .stack_size(128 * 1024)
        .spawn(f)
        .map(|_| ())
}

fn acceptor(listener: &TcpListener, shared: &Shared) {
    let mut scratch = vec![0u8; MAX_HEAD_BYTES];
    let mut last_error_log: Option<Instant> = None;
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let _ = stream.set_nodelay(true);
                let mut pending = lock(&shared.pending);
                pending.push_back(Pending {
                    stream,
                    since: Instant::now(),
                });
                while pending.len() > shared.config.max_pending {
                    // The oldest that has not sent a whole request (or, if
                    // all have, the oldest). Dropping closes it.
                    let victim = pending
                        .iter()
                        .position(|p| readiness(&p.stream, &mut scratch) != Readiness::HeadReady)
                        .unwrap_or(0);
                    pending.remove(victim);
                }
                drop(pending);
                shared.wake.notify_one();
            }
            Err(e) => {
                // Out of descriptors, say: log at most once a minute, back off a little.
                if last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    crate::warn!("http: accept failed: {e}");
                    last_error_log = Some(Instant::now());
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn watchdog(shared: &Shared) {
    let tick =
        (shared.config.evict_after / 4).clamp(Duration::from_millis(5), Duration::from_millis(50));
    while !shared.stop.load(Ordering::SeqCst) {
        thread::sleep(tick);
        let waiting_clients = !lock(&shared.pending).is_empty();
        if !waiting_clients || shared.idle_workers.load(Ordering::SeqCst) > 0 {
            continue;
        }
        let mut oldest: Option<(usize, Instant)> = None;
        for (index, slot) in shared.slots.iter().enumerate() {
            if let Some(waiting) = lock(slot).as_ref() {
                if waiting.since.elapsed() >= shared.config.evict_after
                    && oldest.is_none_or(|(_, t)| waiting.since < t)
                {
                    oldest = Some((index, waiting.since));
                }
            }
        }
        if let Some((index, _)) = oldest {
            let mut slot = lock(&shared.slots[index]);
            // The worker may have moved on to another head since the scan.
            if slot
                .as_ref()
                .is_some_and(|w| w.since.elapsed() >= shared.config.evict_after)
            {
                let waiting = slot.take().expect("checked just above");
                crate::debug!(
                    "http: closing a connection that sent no request in time, for a waiting one"
                );
                let _ = waiting.stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// What a pending connection has sent so far, seen without reading it.
#[derive(Debug, PartialEq, Eq)]
enum Readiness {
    /// A whole request head is waiting in the socket buffer.
    HeadReady,
    /// Nothing yet, or part of a head.
    NotYet,
    /// The client has gone.
    Gone,
}

fn readiness(stream: &TcpStream, scratch: &mut [u8]) -> Readiness {
    use std::os::fd::AsRawFd;
    // SAFETY: recv into a buffer of the length given; MSG_PEEK leaves the
    // bytes in the socket and MSG_DONTWAIT never blocks.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            scratch.as_mut_ptr().cast(),
            scratch.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => Readiness::Gone,
        n if n > 0 => {
            let seen = &scratch[..n as usize];
            // A full buffer is as far as a head may go: answer it (431) now.
            if seen.len() == scratch.len() || find_head_end(seen, 0).is_some() {
                Readiness::HeadReady
            } else {
                Readiness::NotYet
            }
        }
        _ => match io::Error::last_os_error().kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Readiness::NotYet,
            _ => Readiness::Gone,
        },
    }
}

/// The next connection for a worker: the oldest one whose request head has
/// fully arrived (fair to real clients under load), else the newest one (a
/// scrape that just connected is not queued behind idle connections).
fn next_connection(shared: &Shared, scratch: &mut [u8]) -> Option<TcpStream> {
    let mut pending = lock(&shared.pending);
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return None;
        }
        // Connections that waited longer than a head may take are dropped.
        pending.retain(|p| p.since.elapsed() < shared.config.head_timeout);
        let mut i = 0;
        while i < pending.len() {
            match readiness(&pending[i].stream, scratch) {
                Readiness::HeadReady => return pending.remove(i).map(|p| p.stream),
                Readiness::Gone => drop(pending.remove(i)),
                Readiness::NotYet => i += 1,
            }
        }
        if let Some(p) = pending.pop_back() {
            return Some(p.stream);
        }
        shared.idle_workers.fetch_add(1, Ordering::SeqCst);
        pending = shared.wake.wait(pending).unwrap_or_else(|e| e.into_inner());
        shared.idle_workers.fetch_sub(1, Ordering::SeqCst);
    }
}

fn worker(shared: &Shared, index: usize) {
    // The buffer readiness checks peek into, one per worker for its life.
    let mut scratch = vec![0u8; MAX_HEAD_BYTES];
    while let Some(stream) = next_connection(shared, &mut scratch) {
        serve_connection(shared, index, stream);
    }
}

fn serve_connection(shared: &Shared, index: usize, stream: TcpStream) {
    // Shared with the watchdog, which may shut it down from its side.
    let stream = Arc::new(stream);
    let config = &shared.config;
    if stream
        .set_write_timeout(Some(config.write_timeout))
        .is_err()
    {
        return;
    }
    let mut buffer = Vec::new();
    for served in 1..=config.max_requests_per_connection {
        let head = {
            *lock(&shared.slots[index]) = Some(Waiting {
                stream: Arc::clone(&stream),
                since: Instant::now(),
            });
            let head = read_head(&stream, &mut buffer, Instant::now() + config.head_timeout);
            *lock(&shared.slots[index]) = None;
            head
        };
        let (response, head_only, keep_alive) = match head.and_then(|h| parse_head(&h)) {
            Ok(request) => {
                let keep_alive = request.wants_keep_alive()
                    && !request.has_body()
                    && served < config.max_requests_per_connection
                    && lock(&shared.pending).is_empty();
                (
                    shared.handler.handle(&request),
                    request.method == "HEAD",
                    keep_alive,
                )
            }
            Err(HeadError::Closed) => return,
            Err(HeadError::Incomplete) => (
                Response::text(408, "request head not received in time"),
                false,
                false,
            ),
            Err(HeadError::TooLarge) => {
                (Response::text(431, "request head too large"), false, false)
            }
            Err(HeadError::Malformed(why)) => (Response::text(400, why), false, false),
            Err(HeadError::UnsupportedVersion) => (
                Response::text(505, "only HTTP/1.0 and HTTP/1.1"),
                false,
                false,
            ),
        };
        if response
            .write_to(&mut &*stream, head_only, keep_alive)
            .is_err()
        {
            return;
        }
        if !keep_alive {
            linger_close(&stream);
            return;
        }
    }
}

/// Closes after the client has had the answer: shut the write side, then
/// read (and discard) what the client still sends, briefly and boundedly, so
/// that unread bytes do not turn the close into a reset that could destroy
/// the answer in flight.
fn linger_close(mut stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_millis(100);
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    while drained < 256 * 1024 {
        let now = Instant::now();
        if now >= deadline || stream.set_read_timeout(Some(deadline - now)).is_err() {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    let _ = stream.flush();
}
