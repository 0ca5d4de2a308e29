//! A simulated USB bus of TEMPer devices behind the collector's `Backend` and
//! `Transport` traits (the ones the hidapi backend implements). The devices
//! speak the byte protocol: they answer the version and read queries with
//! 8-byte reports queued for `read_timeout`, which waits for a report at most
//! the given milliseconds and returns `Ok(0)` after that, like hidraw.
//!
//! Misbehaviour on demand: stale reports queued at open, late reports slipped
//! in before a reply, ignored version queries, silence, reads that hang past
//! their timeout, unplugging (pending and later I/O fails), permission denied.
//! Each device also checks that no two calls overlap and that it is never open
//! twice at once.
//!
//! ```no_run
//! use linxdot_exporter::temper::Config as TemperConfig;
//! use linxdot_exporter::temper::{TemperCollector, Timing};
//! use linxdot_sim::hid::{version16, wait_for, Behaviour, SimBus, MICRODIA_7401};
//!
//! let bus = SimBus::new();
//! // A TEMPer2: its 16-byte version reply, then the 8-byte reading reply.
//! let dev = bus.plug(
//!     "/dev/hidraw0",
//!     MICRODIA_7401,
//!     1,
//!     "usb-sim-1/input1",
//!     Behaviour::new(&version16("TEMPer2_M12_V1.3", b' '), "80 04 15 A0 14 A0"),
//! );
//! let config = TemperConfig {
//!     enabled: true,
//!     rescan_interval: std::time::Duration::from_secs(1),
//!     offsets: vec![],
//! };
//! let c = TemperCollector::with_backend(&config, bus.backend(), Timing::default());
//! wait_for(&c, "a reading", |body| body.contains(" 20.625\n"));
//! bus.unplug("/dev/hidraw0");
//! assert_eq!(dev.overlaps(), 0);
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use linxdot_exporter::temper::{
    Backend, Candidate, OpenError, TemperCollector, Transport, TransportError,
};

use crate::wait;

/// Microdia 0c45:7401 (TEMPer, TEMPer1, TEMPer2, TEMPerNTC).
pub const MICRODIA_7401: (u16, u16) = (0x0c45, 0x7401);
/// Microdia 0c45:7402 (TEMPerHUM).
pub const MICRODIA_7402: (u16, u16) = (0x0c45, 0x7402);
/// PCsensor 413d:2107 (TEMPerGold, TEMPerX).
pub const PCSENSOR_413D: (u16, u16) = (0x413d, 0x2107);
/// QinHeng 1a86:e025 (TEMPerGold, TEMPer1F, TEMPer2, TEMPerHUM).
pub const QINHENG_E025: (u16, u16) = (0x1a86, 0xe025);
/// PCsensor 3553:a001 (TEMPerGold, TEMPer1F, TEMPer2, TEMPerHUM).
pub const PCSENSOR_3553: (u16, u16) = (0x3553, 0xa001);
/// 1130:660c: the HidTEMPer family, which the exporter knows but does not read.
pub const HIDTEMPER_660C: (u16, u16) = (0x1130, 0x660c);

/// The query for the version (firmware name) reply: report id 0 and 8 bytes.
pub const VERSION_QUERY: [u8; 9] = [0x00, 0x01, 0x86, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00];
/// How many writes a device records for the tests to look at.
pub const MAX_RECORDED_WRITES: usize = 32;

/// The query for a reading.
pub const READ_QUERY: [u8; 9] = [0x00, 0x01, 0x80, 0x33, 0x01, 0x00, 0x00, 0x00, 0x00];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `"80 04 15 A0"` → bytes.
pub fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

/// A version reply of 16 bytes (two reports): `text` padded with `pad`
/// (devices pad with spaces or with zeros).
pub fn version16(text: &str, pad: u8) -> Vec<u8> {
    let mut v = text.as_bytes().to_vec();
    v.resize(16, pad);
    v
}

/// Splits bytes into 8-byte reports, the last one padded with zeros.
pub fn reports(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .chunks(8)
        .map(|c| {
            let mut r = c.to_vec();
            r.resize(8, 0);
            r
        })
        .collect()
}

/// What a device does. Tests change it while the device runs.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// The version reply (any length; sent as 8-byte reports).
    pub version: Vec<u8>,
    /// The reports answering one read query.
    pub reading: Vec<Vec<u8>>,
    /// Queued when the device is opened, before anything is asked.
    pub stale_at_open: Vec<Vec<u8>>,
    /// Slipped in before the reply to the next query, once.
    pub late: Vec<Vec<u8>>,
    /// This many version queries are not answered.
    pub ignore_version_queries: usize,
    /// Read queries are not answered.
    pub silent: bool,
    /// Every read blocks this long, whatever its timeout, then returns `Ok(0)`.
    pub hang: Option<Duration>,
}

impl Behaviour {
    /// Answers the version query with `version` and every read query with
    /// `reading` (hex bytes, e.g. `"80 04 15 A0"`); no misbehaviour.
    pub fn new(version: &[u8], reading: &str) -> Behaviour {
        Behaviour {
            version: version.to_vec(),
            reading: reports(&hex(reading)),
            stale_at_open: Vec::new(),
            late: Vec::new(),
            ignore_version_queries: 0,
            silent: false,
            hang: None,
        }
    }
}

struct DeviceState {
    behaviour: Behaviour,
    queue: VecDeque<Vec<u8>>,
    plugged: bool,
    writes: Vec<Vec<u8>>,
}

/// [`SimDevice::waiting_read`]: what a waiting read waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitingRead {
    /// A read that hangs ([`Behaviour::hang`]) whatever its timeout.
    Hanging,
    /// A read with this timeout, waiting for a reply.
    Timeout(Duration),
}

const HANGING: u64 = u64::MAX;

/// One physical device. Unplugged for good once unplugged (plugging "it"
/// back in makes a new one, as the kernel does).
pub struct SimDevice {
    state: Mutex<DeviceState>,
    wake: Condvar,
    busy: AtomicUsize,
    /// The read waiting now: 0 none, [`HANGING`] a hanging one, else its
    /// timeout in milliseconds plus one.
    waiting: AtomicU64,
    overlaps: AtomicUsize,
    live: AtomicUsize,
    max_live: AtomicUsize,
    opens: AtomicUsize,
}

impl SimDevice {
    /// A device, plugged in, behaving as `behaviour` says.
    pub fn new(behaviour: Behaviour) -> Arc<SimDevice> {
        Arc::new(SimDevice {
            state: Mutex::new(DeviceState {
                behaviour,
                queue: VecDeque::new(),
                plugged: true,
                writes: Vec::new(),
            }),
            wake: Condvar::new(),
            busy: AtomicUsize::new(0),
            waiting: AtomicU64::new(0),
            overlaps: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            max_live: AtomicUsize::new(0),
            opens: AtomicUsize::new(0),
        })
    }

    /// Changes its behaviour while it runs (wakes any waiting read).
    pub fn change(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut lock(&self.state).behaviour);
        self.wake.notify_all();
    }

    fn unplug(&self) {
        lock(&self.state).plugged = false;
        self.wake.notify_all();
    }

    /// The writes so far (the first [`MAX_RECORDED_WRITES`]), in order.
    pub fn writes(&self) -> Vec<Vec<u8>> {
        lock(&self.state).writes.clone()
    }

    /// How many of the recorded writes were exactly `command`.
    pub fn count_writes(&self, command: &[u8]) -> usize {
        lock(&self.state)
            .writes
            .iter()
            .filter(|w| w.as_slice() == command)
            .count()
    }

    /// How many times it was opened.
    pub fn opens(&self) -> usize {
        self.opens.load(Ordering::SeqCst)
    }

    /// Calls that ran while another call on the device was running.
    pub fn overlaps(&self) -> usize {
        self.overlaps.load(Ordering::SeqCst)
    }

    /// The read that is waiting now, if any: one that hangs
    /// ([`Behaviour::hang`]), or one waiting for a reply that is not there
    /// yet, with its timeout. Tests wait for this before acting "in the
    /// middle of a read".
    pub fn waiting_read(&self) -> Option<WaitingRead> {
        match self.waiting.load(Ordering::SeqCst) {
            0 => None,
            HANGING => Some(WaitingRead::Hanging),
            ms => Some(WaitingRead::Timeout(Duration::from_millis(ms - 1))),
        }
    }

    /// The most handles open at once.
    pub fn max_open_at_once(&self) -> usize {
        self.max_live.load(Ordering::SeqCst)
    }

    fn enter(&self) -> Busy<'_> {
        if self.busy.fetch_add(1, Ordering::SeqCst) > 0 {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        Busy(self)
    }
}

struct Busy<'a>(&'a SimDevice);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An open handle.
pub struct SimTransport {
    device: Arc<SimDevice>,
}

impl SimTransport {
    fn open(device: Arc<SimDevice>) -> SimTransport {
        device.opens.fetch_add(1, Ordering::SeqCst);
        let live = device.live.fetch_add(1, Ordering::SeqCst) + 1;
        device.max_live.fetch_max(live, Ordering::SeqCst);
        {
            let mut s = lock(&device.state);
            let stale = s.behaviour.stale_at_open.clone();
            s.queue.extend(stale);
        }
        SimTransport { device }
    }
}

impl Drop for SimTransport {
    fn drop(&mut self) {
        self.device.live.fetch_sub(1, Ordering::SeqCst);
    }
}

fn gone() -> TransportError {
    TransportError("hidapi error: unexpected poll error (device disconnected)".into())
}

impl Transport for SimTransport {
    fn write(&mut self, data: &[u8]) -> Result<usize, TransportError> {
        let _busy = self.device.enter();
        let mut s = lock(&self.device.state);
        if !s.plugged {
            return Err(gone());
        }
        // Only the first ones are kept, so that a simulated device read for
        // hours (the soak, the benchmarks) does not grow without bound.
        if s.writes.len() < MAX_RECORDED_WRITES {
            s.writes.push(data.to_vec());
        }
        let late = std::mem::take(&mut s.behaviour.late);
        s.queue.extend(late);
        if data == VERSION_QUERY {
            if s.behaviour.ignore_version_queries > 0 {
                s.behaviour.ignore_version_queries -= 1;
            } else {
                let replies = reports(&s.behaviour.version);
                s.queue.extend(replies);
            }
        } else if data == READ_QUERY && !s.behaviour.silent {
            let replies = s.behaviour.reading.clone();
            s.queue.extend(replies);
        }
        drop(s);
        self.device.wake.notify_all();
        Ok(data.len())
    }

    fn read_timeout(&mut self, buf: &mut [u8], timeout_ms: i32) -> Result<usize, TransportError> {
        let _busy = self.device.enter();
        assert!(timeout_ms >= 0, "a read without a timeout: {timeout_ms}");
        let hang = lock(&self.device.state).behaviour.hang;
        if let Some(hang) = hang {
            self.device.waiting.store(HANGING, Ordering::SeqCst);
            std::thread::sleep(hang);
            self.device.waiting.store(0, Ordering::SeqCst);
            return Ok(0);
        }
        let deadline = Instant::now() + Duration::from_millis(timeout_ms as u64);
        let mut s = lock(&self.device.state);
        loop {
            if !s.plugged {
                return Err(gone());
            }
            if let Some(report) = s.queue.pop_front() {
                let n = report.len().min(buf.len());
                buf[..n].copy_from_slice(&report[..n]);
                return Ok(n);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(0);
            }
            self.device
                .waiting
                .store(timeout_ms as u64 + 1, Ordering::SeqCst);
            s = match self.device.wake.wait_timeout(s, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
            self.device.waiting.store(0, Ordering::SeqCst);
        }
    }
}

struct Node {
    candidate: Candidate,
    device: Arc<SimDevice>,
    deny: bool,
}

#[derive(Default)]
struct BusState {
    nodes: Vec<Node>,
    enumerations: usize,
}

/// The bus the tests plug devices into; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct SimBus {
    state: Arc<Mutex<BusState>>,
}

impl SimBus {
    /// An empty bus.
    pub fn new() -> SimBus {
        SimBus::default()
    }

    /// Plugs a device in as hidraw node `path`, USB interface `interface`.
    pub fn plug(
        &self,
        path: &str,
        vid_pid: (u16, u16),
        interface: i32,
        phy: &str,
        behaviour: Behaviour,
    ) -> Arc<SimDevice> {
        let device = SimDevice::new(behaviour);
        lock(&self.state).nodes.push(Node {
            candidate: Candidate {
                path: path.to_string(),
                vendor_id: vid_pid.0,
                product_id: vid_pid.1,
                interface,
                phy: Some(phy.to_string()),
            },
            device: Arc::clone(&device),
            deny: false,
        });
        device
    }

    /// Unplugs node `path`: open handles fail from now on.
    pub fn unplug(&self, path: &str) {
        let mut s = lock(&self.state);
        for node in s.nodes.iter().filter(|n| n.candidate.path == path) {
            node.device.unplug();
        }
        s.nodes.retain(|n| n.candidate.path != path);
    }

    /// Opening node `path` fails with "permission denied" while `deny`.
    pub fn set_denied(&self, path: &str, deny: bool) {
        for node in lock(&self.state)
            .nodes
            .iter_mut()
            .filter(|n| n.candidate.path == path)
        {
            node.deny = deny;
        }
    }

    /// How many times the bus was enumerated (the collector's scans).
    pub fn enumerations(&self) -> usize {
        lock(&self.state).enumerations
    }

    /// The bus as the collector's backend (shares this bus).
    pub fn backend(&self) -> Box<dyn Backend> {
        Box::new(self.clone())
    }
}

impl Backend for SimBus {
    fn enumerate(&mut self) -> Result<Vec<Candidate>, String> {
        let mut s = lock(&self.state);
        s.enumerations += 1;
        Ok(s.nodes.iter().map(|n| n.candidate.clone()).collect())
    }

    fn open(&mut self, candidate: &Candidate) -> Result<Box<dyn Transport>, OpenError> {
        let s = lock(&self.state);
        let node = s
            .nodes
            .iter()
            .find(|n| n.candidate.path == candidate.path)
            .ok_or_else(|| OpenError::Other("No such file or directory (os error 2)".into()))?;
        if node.deny {
            return Err(OpenError::PermissionDenied(
                "Permission denied (os error 13)".into(),
            ));
        }
        Ok(Box::new(SimTransport::open(Arc::clone(&node.device))))
    }
}

/// Renders the collector every 5 ms until `done(body)` holds; returns that
/// body. Panics after 10 s with the last body.
pub fn wait_for(c: &TemperCollector, what: &str, done: impl Fn(&str) -> bool) -> String {
    wait::poll(what, Duration::from_secs(10), wait::POLL_EVERY, || {
        let body = c.render();
        if done(&body) {
            Ok(body)
        } else {
            Err(body)
        }
    })
}
