//! The capture thread: open the socket (or say once what is missing and try
//! again every retry interval), then sleep in `poll` until the kernel has
//! queued matching datagrams, take them all in, read the drop counter, and
//! publish the families when something changed. It wakes for nothing else
//! (no timer runs while nothing changes), but once a retry interval after a
//! capture reopened after trouble, to say that it works again. Dropping the
//! collector wakes it through an eventfd, and it ends, closing the socket.

use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::gwmp::{self, Invalid};
use super::packet::{self, NotWhole};
use super::state::{Capture, State, Status};
use super::sys::{self, OpenError, Packet, Socket, Waker, Woken};
use super::{bpf, Config};
use crate::collector::Rendered;
use crate::health::{Health, Outcome, Voice};
use crate::log::escape_start;
use crate::log::Level;
use crate::sync::{lock, Stop};

/// Publications of a busy capture are at least this far apart (each one
/// renders the families): a flood costs a render per gap, not per datagram.
pub const PUBLISH_GAP: Duration = Duration::from_millis(50);
/// Datagrams taken in under one hold of the state's lock.
const BATCH: usize = 256;
/// The largest IP packet (an IPv6 datagram of 65535 bytes and its header).
const BUFFER: usize = 65_535 + 40;
/// How many bytes of a malformed datagram its log line shows.
const LOGGED_BYTES: usize = 48;
const THREAD_STACK: usize = 256 * 1024;

/// What the capture thread and the collector share.
pub(super) struct Shared {
    /// The capture thread's; held while it takes in a batch of datagrams.
    pub state: Mutex<State>,
    pub section: Rendered,
    /// The landing page's copy, published with the families.
    pub status: Mutex<Status>,
    pub render: fn(&State) -> String,
    stop: Stop,
    /// Wakes the thread out of `poll` to stop.
    waker: Waker,
}

impl Shared {
    pub fn new(render: fn(&State) -> String) -> std::io::Result<Shared> {
        let state = State::default();
        Ok(Shared {
            section: Rendered::new(render(&state)),
            status: Mutex::new(state.status()),
            state: Mutex::new(state),
            render,
            stop: Stop::default(),
            waker: Waker::new()?,
        })
    }

    /// Ends the thread at its next wake-up (it is woken now).
    pub fn stop(&self) {
        self.stop.stop();
        self.waker.wake();
    }

    fn publish(&self, state: &State) {
        self.section.publish((self.render)(state));
        *lock(&self.status) = state.status();
    }

    fn set_capture(&self, capture: Capture) {
        let mut state = lock(&self.state);
        if state.capture != capture {
            state.capture = capture;
            self.publish(&state);
        }
    }
}

pub(super) fn spawn(shared: Arc<Shared>, config: Config) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("lora-capture".into())
        .stack_size(THREAD_STACK)
        .spawn(move || run(&shared, &config))?;
    Ok(())
}

/// The one warning for a capture that cannot open, and the landing page's
/// short form of it.
fn complaint(e: &OpenError, config: &Config) -> (String, String) {
    let interface = &config.interface;
    let (why, short) = match e {
        OpenError::Privilege(_) => (
            "the exporter lacks CAP_NET_RAW (run it as root, or give it the capability: \
             AmbientCapabilities=CAP_NET_RAW in a systemd drop-in, --cap-add NET_RAW for a \
             container)"
                .to_string(),
            "no CAP_NET_RAW".to_string(),
        ),
        OpenError::Interface(_) => (
            format!("there is no network interface '{interface}' (--lora-interface)"),
            format!("no interface '{interface}'"),
        ),
        OpenError::Other(..) => (e.to_string(), e.to_string()),
    };
    let text = format!(
        "cannot capture GWMP on {interface}: {why}; lora_capture_up is 0, everything else is \
         served; trying again every {}s",
        config.retry_interval.as_secs_f64()
    );
    (text, short)
}

fn run(shared: &Shared, config: &Config) {
    let program = bpf::program(&config.ports);
    let mut health = Health::new(Voice {
        who: "LoRa".into(),
        first_good: None,
        failed: Level::Warn,
        recovered: "the capture works again",
    });
    let mut logged = [false; Invalid::ALL.len()];
    let mut buffer: Vec<u8> = Vec::new();
    let mut announced = false;
    loop {
        match Socket::open(&config.interface, &program) {
            Ok(socket) => {
                if !announced {
                    announced = true;
                    crate::info!(
                        "LoRa: capturing GWMP on {}, UDP ports {}",
                        config.interface,
                        config.port_list()
                    );
                }
                shared.set_capture(Capture {
                    up: true,
                    problem: None,
                });
                buffer.resize(BUFFER, 0);
                let failed = read(
                    shared,
                    &socket,
                    &mut buffer,
                    &mut logged,
                    &mut health,
                    config,
                );
                drop(socket);
                let Some(e) = failed else {
                    return;
                };
                // An interface that is down lets the socket open and fails it
                // at once: said once, like a failed open.
                health.observe(Outcome::Failed(format!(
                    "the capture on {} failed: {e}; lora_capture_up is 0, opening it again \
                     every {}s",
                    config.interface,
                    config.retry_interval.as_secs_f64()
                )));
                shared.set_capture(Capture {
                    up: false,
                    problem: Some(format!("capture failed: {e}")),
                });
            }
            Err(e) => {
                let (text, short) = complaint(&e, config);
                health.observe(Outcome::Failed(text));
                shared.set_capture(Capture {
                    up: false,
                    problem: Some(short),
                });
            }
        }
        if shared.stop.sleep(config.retry_interval) {
            return;
        }
    }
}

/// Reads until stopped (`None`) or until the socket fails. A capture counts
/// as good once it has read a datagram or stayed open for a retry interval
/// (its health then hears so: after trouble, that is said once).
fn read(
    shared: &Shared,
    socket: &Socket,
    buffer: &mut [u8],
    logged: &mut [bool; Invalid::ALL.len()],
    health: &mut Health,
    config: &Config,
) -> Option<std::io::Error> {
    let mut dirty = false;
    let mut published = Instant::now() - PUBLISH_GAP;
    let mut settled_at = Some(Instant::now() + config.retry_interval);
    loop {
        let publish_in = dirty.then(|| PUBLISH_GAP.saturating_sub(published.elapsed()));
        let settle_in = settled_at.map(|at| at.saturating_duration_since(Instant::now()));
        let timeout = match (publish_in, settle_in) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let woken = match sys::wait(socket, &shared.waker, timeout) {
            Ok(woken) => woken,
            Err(e) => return Some(e),
        };
        if shared.stop.is_stopped() {
            return None;
        }
        let mut taken = 0;
        if matches!(woken, Woken::Packets | Woken::SocketError) {
            let mut state = lock(&shared.state);
            while taken < BATCH {
                match socket.receive(buffer) {
                    Ok(Some(packet)) => {
                        take(&mut state, &packet, logged);
                        taken += 1;
                    }
                    Ok(None) => break,
                    Err(e) => return Some(e),
                }
            }
            match socket.statistics() {
                Ok(0) => {}
                Ok(dropped) => state.dropped += dropped,
                Err(e) => return Some(e),
            }
            if woken == Woken::SocketError && taken == 0 {
                return Some(std::io::Error::other("the socket reported an error"));
            }
            dirty = true;
        }
        if settled_at.is_some_and(|at| taken > 0 || Instant::now() >= at) {
            settled_at = None;
            health.observe(Outcome::Good);
        }
        if dirty && published.elapsed() >= PUBLISH_GAP {
            shared.publish(&lock(&shared.state));
            published = Instant::now();
            dirty = false;
        }
    }
}

/// Takes one captured packet into the state.
fn take(state: &mut State, packet: &Packet<'_>, logged: &mut [bool; Invalid::ALL.len()]) {
    if packet.loopback_outgoing {
        return;
    }
    // `what` is written out only for the one warning per reason: no text is
    // made for each invalid datagram of a flood.
    let mut invalid = |state: &mut State, reason: Invalid, what: &dyn Display, bytes: &[u8]| {
        state.count_invalid(reason);
        let seen = &mut logged[reason as usize];
        if !*seen {
            *seen = true;
            crate::warn!(
                "LoRa: {what} is not valid GWMP ({}); first bytes: \"{}\". Logged once per \
                 reason; lora_gwmp_invalid_datagrams_total counts every one",
                reason.label(),
                escape_start(bytes, LOGGED_BYTES)
            );
        }
    };
    if packet.truncated {
        let what = "a packet longer than the largest IP datagram";
        return invalid(state, Invalid::Short, &what, packet.data);
    }
    let udp = match packet::udp(packet.data) {
        Ok(udp) => udp,
        Err(NotWhole::Fragment) => {
            let what = "an IP fragment (the datagram is not whole in one packet)";
            return invalid(state, Invalid::Fragment, &what, packet.data);
        }
        Err(NotWhole::Short) => {
            let what = "a packet whose IP or UDP header does not hold together";
            return invalid(state, Invalid::Short, &what, packet.data);
        }
    };
    let (from, to) = (udp.source, udp.destination);
    match gwmp::parse(udp.payload) {
        Ok(datagram) => {
            if let Err(reason) = state.record(&datagram, udp.source, udp.destination, packet.at) {
                // Counted by `record`; said once here.
                let seen = &mut logged[reason as usize];
                if !*seen {
                    *seen = true;
                    crate::warn!(
                        "LoRa: a datagram from {from} to {to} comes from a gateway EUI beyond \
                         the first {} ({}); not counted. Logged once; \
                         lora_gwmp_invalid_datagrams_total counts every one",
                        super::state::MAX_GATEWAYS,
                        reason.label()
                    );
                }
            }
        }
        Err(malformed) => {
            let detail = &malformed.detail;
            invalid(
                state,
                malformed.reason,
                &format_args!("a datagram from {from} to {to} ({detail})"),
                udp.payload,
            );
        }
    }
}
