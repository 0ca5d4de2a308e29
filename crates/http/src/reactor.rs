//! The readiness loops: each loop thread sleeps in `epoll_wait` on its own
//! epoll set and makes every step that cannot wait for the connections
//! registered there: reading, parsing, answering from handlers that do not
//! wait, writing. The first loop's set also holds the listener and the
//! deadline timer, so that loop also accepts (handing each new connection
//! to the loops in turn) and expires; every set holds the stop signal. A
//! head whose handler may wait ([`Handler::waits`]) is handed, with its
//! connection, to the handler threads ([`crate::pool`]).
//!
//! [`ServerConfig::loops`] loops (by default one per core, at most four):
//! a scrape is a few microseconds of work, so one loop per core keeps
//! every core busy under load, while a connection belongs to one loop's
//! set (no thundering herd: a readiness wakes exactly one thread), and
//! with one loop per core each keeps to its own core
//! ([`ServerConfig::pin_loops`]). Sharing
//! one epoll set between threads only adds wake-ups and a run queue longer
//! than the cores (the tail latency on a 2-core box was 5× the single
//! thread's).
//!
//! Invariants:
//! - A connection is either *armed* (in its table slot, its deadline in the
//!   slot) or *held* (taken out of its slot by the loop, or by a handler
//!   thread it was handed to); only the holder touches it. It is registered
//!   once, edge-triggered: an event for an armed connection makes the loop
//!   its holder; an event for a held one is noted in the slot, and the
//!   holder steps the connection again before it puts it back (both under
//!   the slot's lock), so no readiness is lost and no connection is stepped
//!   by two threads.
//! - The loop never waits for anything but the kernel: idle, slow and
//!   hostile clients hold a table slot, never a thread, and a handler that
//!   may wait runs on a handler thread; at most
//!   [`ServerConfig::max_waiting`] connections are handed over at once (one
//!   more request that would wait is answered 503), so they never hold
//!   every slot. The table has
//!   [`ServerConfig::max_connections`] slots; when all are taken, a new
//!   connection takes the slot of the connection waiting longest without
//!   an answer in flight.
//! - Every armed connection's deadline is covered by the [`Timer`]; when it
//!   fires, the loop scans the slots for what is due.
//! - Nothing wakes a thread but a client, a deadline, a hand-off or
//!   [`stop`]: with no traffic and no open connection, the process sleeps in
//!   the kernel.
//!
//! [`stop`]: crate::ServerHandle::stop
//! [`Handler::waits`]: crate::Handler::waits

use crate::connection::{Buffers, Connection, Context, Next};
use crate::deadline::Timer;
use crate::listen;
use crate::pool::Queue;
use crate::sys::{self, Control, Event};
use crate::{Handler, ServerConfig};
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const LISTENER: u64 = u64::MAX;
const TIMER: u64 = u64::MAX - 1;
const STOP: u64 = u64::MAX - 2;
/// How long accepting pauses after the process ran out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The most connections taken in one turn, so that accepting does not
/// starve the clients already in.
const ACCEPT_BATCH: usize = 64;
/// The most events taken from the kernel at once.
const EVENT_BATCH: usize = 32;

/// An epoll set.
struct Poller {
    fd: OwnedFd,
}

impl Poller {
    fn new() -> io::Result<Poller> {
        Ok(Poller {
            fd: sys::epoll_create()?,
        })
    }

    fn add(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> io::Result<()> {
        sys::epoll_control(self.fd.as_fd(), Control::Add, fd, events, token)
    }

    fn rearm(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> io::Result<()> {
        sys::epoll_control(self.fd.as_fd(), Control::Modify, fd, events, token)
    }

    /// Sleeps until there are events; fills the front of `events` with
    /// them and says how many.
    fn wait(&self, events: &mut [Event]) -> usize {
        sys::epoll_wait(self.fd.as_fd(), events)
    }
}

/// The listener and the timer: one event per readiness, re-armed when
/// handled (so that a paused listener stays quiet).
const ONE_SHOT: u32 = sys::IN | sys::ONE_SHOT;
/// A connection: an event each time bytes arrive or room to write frees
/// up, so it is registered once and never re-armed.
const EDGES: u32 = sys::IN | sys::OUT | sys::EDGE;

/// One connection's place in the table.
#[derive(Default)]
struct Slot {
    /// Bumped each time the slot is freed, so that an event for a closed
    /// connection never reaches the next one in the slot.
    generation: u32,
    /// `Some` while armed; `None` while free or held.
    connection: Option<Box<Connection>>,
    /// The armed connection's deadline.
    until: Option<Instant>,
    /// The armed connection has no answer in flight.
    evictable: bool,
    /// An event came while the connection was held: its holder steps it
    /// again before putting it back.
    missed: bool,
}

impl Slot {
    /// Takes the armed connection out: it is held from now on.
    fn take(&mut self) -> Option<Box<Connection>> {
        self.until = None;
        self.connection.take()
    }

    fn free(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.connection = None;
        self.until = None;
        self.missed = false;
    }
}

fn token(index: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | index as u64
}

/// Everything the loop and the handler threads share.
pub(super) struct Reactor {
    /// One epoll set per loop; the first also holds the listener and the
    /// timer.
    pollers: Box<[Poller]>,
    /// The loop the next connection goes to, modulo the number of loops.
    next_loop: AtomicUsize,
    listener: TcpListener,
    /// An eventfd, readable (and never read) once the server stops.
    stop_fd: OwnedFd,
    stopped: AtomicBool,
    /// The connection table, one lock per slot: a request touches only its
    /// own connection's lock.
    slots: Box<[Mutex<Slot>]>,
    /// Slots without a connection.
    free: Mutex<Vec<usize>>,
    timer: Timer,
    /// Accepting is paused until then (the process ran out of descriptors).
    listener_paused: Mutex<Option<Instant>>,
    handler: Box<dyn Handler>,
    /// Held connections for the handler threads.
    deferred: Queue<(usize, Box<Connection>)>,
    /// Connections handed to the handler threads and not settled yet, at
    /// most [`ServerConfig::max_waiting`]: a loop takes a place before it
    /// hands a connection over, the handler thread gives it back.
    waiting: AtomicUsize,
    config: ServerConfig,
    last_accept_error_log: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Reactor {
    pub fn new(
        listener: TcpListener,
        handler: Box<dyn Handler>,
        config: ServerConfig,
    ) -> io::Result<Reactor> {
        listener.set_nonblocking(true)?;
        let pollers = (0..config.loops.max(1))
            .map(|_| Poller::new())
            .collect::<io::Result<Box<[Poller]>>>()?;
        let poller = &pollers[0];
        let timer = Timer::new()?;
        let stop_fd = sys::event_create()?;
        poller.add(listener.as_fd(), ONE_SHOT, LISTENER)?;
        poller.add(timer.fd(), ONE_SHOT, TIMER)?;
        // Level-triggered and never read: once written, the loop wakes up
        // and leaves.
        for poller in &pollers {
            poller.add(stop_fd.as_fd(), sys::IN, STOP)?;
        }
        let capacity = config.max_connections.max(1);
        Ok(Reactor {
            pollers,
            next_loop: AtomicUsize::new(0),
            listener,
            stop_fd,
            stopped: AtomicBool::new(false),
            slots: (0..capacity).map(|_| Mutex::default()).collect(),
            free: Mutex::new((0..capacity).rev().collect()),
            timer,
            listener_paused: Mutex::new(None),
            handler,
            deferred: Queue::new(),
            waiting: AtomicUsize::new(0),
            config,
            last_accept_error_log: Mutex::new(None),
        })
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.deferred.stop();
        sys::counter_add(self.stop_fd.as_fd());
    }

    /// Readiness loop `index` (below [`ServerConfig::loops`]), until the
    /// server stops.
    pub fn run(&self, index: usize) {
        let poller = &self.pollers[index % self.pollers.len()];
        let mut buffers = Buffers::new();
        let mut events = [sys::no_event(); EVENT_BATCH];
        while !self.stopped.load(Ordering::SeqCst) {
            let n = poller.wait(&mut events);
            for event in &events[..n] {
                match sys::token(event) {
                    STOP => return,
                    LISTENER => self.accept(),
                    TIMER => self.expire(&mut buffers),
                    token => self.ready(token, &mut buffers),
                }
            }
        }
    }

    /// A handler thread: answers the heads handed over by the loop, until
    /// the server stops.
    pub fn run_handlers(&self) {
        let mut buffers = Buffers::new();
        while let Some((index, mut connection)) = self.deferred.pop() {
            let mut ctx = self.context(&mut buffers, true);
            let next = connection.resume(&mut ctx, Instant::now());
            self.settle(index, connection, next, &mut buffers, true);
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn context<'a>(&'a self, buffers: &'a mut Buffers, may_wait: bool) -> Context<'a> {
        Context {
            handler: &*self.handler,
            config: &self.config,
            buffers,
            may_wait,
            waiting: &self.waiting,
            max_waiting: self.config.max_waiting,
        }
    }

    /// A connection's event: the step it can make now.
    fn ready(&self, token: u64, buffers: &mut Buffers) {
        let index = (token & u64::from(u32::MAX)) as usize;
        let generation = (token >> 32) as u32;
        let connection = match self.slots.get(index).map(lock) {
            Some(mut slot) if slot.generation == generation => {
                let connection = slot.take();
                // Held (by a handler thread): its holder steps it again.
                slot.missed = connection.is_none();
                connection
            }
            // Closed since the event was queued.
            _ => None,
        };
        if let Some(mut connection) = connection {
            let next = connection.ready(&mut self.context(buffers, false), Instant::now());
            self.settle(index, connection, next, buffers, false);
        }
    }

    /// Puts a held connection back, waiting until its deadline, hands it
    /// to the handler threads, or closes it. An event missed while it was
    /// held makes it step again first. `may_wait`: this is a handler thread.
    fn settle(
        &self,
        index: usize,
        mut connection: Box<Connection>,
        mut next: Next,
        buffers: &mut Buffers,
        may_wait: bool,
    ) {
        loop {
            let (until, evictable) = match next {
                Next::Wait { until, evictable } => (until, evictable),
                Next::Defer => {
                    // Still held: the handler thread that takes it settles
                    // it (its place in `waiting` was taken when it said so).
                    self.deferred.push((index, connection));
                    return;
                }
                Next::Close => {
                    lock(&self.slots[index]).free();
                    self.release(index);
                    drop(connection);
                    return;
                }
            };
            let mut slot = lock(&self.slots[index]);
            if std::mem::take(&mut slot.missed) {
                drop(slot);
                let mut ctx = self.context(buffers, may_wait);
                next = connection.ready(&mut ctx, Instant::now());
                continue;
            }
            slot.connection = Some(connection);
            slot.until = Some(until);
            slot.evictable = evictable;
            drop(slot);
            self.timer.arm_for(until);
            return;
        }
    }

    /// Frees a slot; with the last connection gone and the listener not
    /// paused, no deadline is pending: the timer is disarmed (under the
    /// free list's lock, before any new connection can arm it).
    fn release(&self, index: usize) {
        let mut free = lock(&self.free);
        free.push(index);
        if free.len() == self.slots.len() && lock(&self.listener_paused).is_none() {
            self.timer.disarm();
        }
    }

    /// The listener is readable: takes the waiting connections.
    fn accept(&self) {
        for _ in 0..ACCEPT_BATCH {
            match listen::accept(&self.listener) {
                Ok(stream) => self.admit(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if listen::is_transient(&e) => {}
                Err(e) => {
                    // Out of descriptors, say: pause accepting, not spin.
                    self.log_accept_error(&e);
                    let until = Instant::now() + ACCEPT_BACKOFF;
                    *lock(&self.listener_paused) = Some(until);
                    self.timer.arm_for(until);
                    return;
                }
            }
        }
        self.rearm_listener();
    }

    fn rearm_listener(&self) {
        if let Err(e) = self.pollers[0].rearm(self.listener.as_fd(), ONE_SHOT, LISTENER) {
            error!("http: cannot wait for connections: {e}");
        }
    }

    fn log_accept_error(&self, e: &io::Error) {
        let mut last = lock(&self.last_accept_error_log);
        if last.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
            warn!("http: accept failed: {e}");
            *last = Some(Instant::now());
        }
    }

    /// A free slot, or the slot of the armed connection that has waited
    /// longest without an answer in flight, its connection closed.
    fn room(&self) -> Option<usize> {
        if let Some(index) = lock(&self.free).pop() {
            return Some(index);
        }
        // A victim may move on between the scan and the take: look again,
        // a few times.
        for _ in 0..4 {
            let victim = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(index, slot)| {
                    let slot = lock(slot);
                    let until = slot.until.filter(|_| slot.evictable)?;
                    Some((until, index, slot.generation))
                })
                .min()?;
            let (_, index, generation) = victim;
            let mut slot = lock(&self.slots[index]);
            // Unless it moved on since the scan: then look again.
            if slot.generation == generation && slot.evictable {
                if let Some(connection) = slot.take() {
                    slot.free();
                    drop(slot);
                    debug!("http: closing the connection idle longest, for a new one");
                    drop(connection);
                    return Some(index);
                }
            }
        }
        None
    }

    /// A new connection into the table, making room if it is full.
    fn admit(&self, stream: std::net::TcpStream) {
        let Some(index) = self.room() else {
            debug!("http: every connection has an answer in flight; refusing a new one");
            return;
        };
        let connection = Box::new(Connection::new(stream, Instant::now(), &self.config));
        let Next::Wait {
            until, evictable, ..
        } = connection.waiting()
        else {
            unreachable!("a new connection waits for its first head")
        };
        let mut slot = lock(&self.slots[index]);
        let token = token(index, slot.generation);
        // Under the slot's lock: the connection is in place before any event.
        let next = self.next_loop.fetch_add(1, Ordering::Relaxed);
        let poller = &self.pollers[next % self.pollers.len()];
        let added = poller.add(connection.fd(), EDGES, token);
        slot.connection = Some(connection);
        slot.until = Some(until);
        slot.evictable = evictable;
        if let Err(e) = added {
            warn!("http: cannot wait for a new connection: {e}");
            let connection = slot.take();
            slot.free();
            drop(slot);
            self.release(index);
            drop(connection);
            return;
        }
        drop(slot);
        self.timer.arm_for(until);
    }

    /// The timer fired: every connection whose deadline has passed gets its
    /// last step, a paused listener is resumed, and the timer is armed for
    /// the earliest deadline left.
    fn expire(&self, buffers: &mut Buffers) {
        // First, so that a deadline recorded during the scan re-arms it.
        self.timer.fired();
        let now = Instant::now();
        let mut earliest: Option<Instant> = None;
        let mut due = Vec::new();
        for (index, slot) in self.slots.iter().enumerate() {
            let mut slot = lock(slot);
            match slot.until {
                Some(until) if until <= now => {
                    if let Some(connection) = slot.take() {
                        due.push((index, connection));
                    }
                }
                Some(until) => earliest = Some(earliest.map_or(until, |e| e.min(until))),
                None => {}
            }
        }
        let resume_listener = {
            let mut paused = lock(&self.listener_paused);
            match *paused {
                Some(until) if until <= now => {
                    *paused = None;
                    true
                }
                Some(until) => {
                    earliest = Some(earliest.map_or(until, |e| e.min(until)));
                    false
                }
                None => false,
            }
        };
        if let Some(at) = earliest {
            self.timer.arm_for(at);
        }
        if let Err(e) = self.pollers[0].rearm(self.timer.fd(), ONE_SHOT, TIMER) {
            error!("http: cannot wait for deadlines: {e}");
        }
        if resume_listener {
            self.rearm_listener();
        }
        for (index, mut connection) in due {
            let next = connection.expired(&mut self.context(buffers, false), now);
            self.settle(index, connection, next, buffers, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_collide_with_the_special_ones() {
        let highest = token(u32::MAX as usize - 3, u32::MAX);
        assert!(highest < STOP && STOP < TIMER && TIMER < LISTENER);
    }
}
