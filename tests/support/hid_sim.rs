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

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use linxdot_exporter::temper::{Backend, Candidate, OpenError, Transport, TransportError};

pub const VERSION_QUERY: [u8; 9] = [0x00, 0x01, 0x86, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00];
/// How many writes a device records for the tests to look at.
pub const MAX_RECORDED_WRITES: usize = 32;

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

/// One physical device. Unplugged for good once unplugged (plugging "it"
/// back in makes a new one, as the kernel does).
pub struct SimDevice {
    state: Mutex<DeviceState>,
    wake: Condvar,
    busy: AtomicUsize,
    overlaps: AtomicUsize,
    live: AtomicUsize,
    max_live: AtomicUsize,
    opens: AtomicUsize,
}

impl SimDevice {
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
            overlaps: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            max_live: AtomicUsize::new(0),
            opens: AtomicUsize::new(0),
        })
    }

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

    pub fn count_writes(&self, command: &[u8]) -> usize {
        lock(&self.state)
            .writes
            .iter()
            .filter(|w| w.as_slice() == command)
            .count()
    }

    pub fn opens(&self) -> usize {
        self.opens.load(Ordering::SeqCst)
    }

    /// Calls that ran while another call on the device was running.
    pub fn overlaps(&self) -> usize {
        self.overlaps.load(Ordering::SeqCst)
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
            std::thread::sleep(hang);
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
            s = match self.device.wake.wait_timeout(s, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
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

    pub fn enumerations(&self) -> usize {
        lock(&self.state).enumerations
    }

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

/// Renders the collector until `done` holds (or fails after 10 s); returns
/// that body.
pub fn wait_for(
    c: &linxdot_exporter::temper::TemperCollector,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = c.render();
        if done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last body:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
