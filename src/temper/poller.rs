//! The background threads: one scanner that finds devices (at start and every
//! rescan interval), and one poller per open device that owns it, reads it
//! every poll interval and keeps its latest reading in the shared state.
//!
//! The state's lock is never held across USB I/O. Each change of the state
//! (a device found or gone, a reading, an error) and each rescan (readings
//! age) is handed, under the lock, to the collector's publisher, which
//! renders the families there: a scrape only copies that text and never
//! waits on a device.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::decode::{decode, version_string, Value};
use super::device::{query_reading, query_version, ProtocolError};
use super::models::{is_supported, lookup, unsupported_family, Model};
use super::transport::{Backend, Candidate, OpenError, Transport};
use super::Timing;
use crate::sync::{lock, Stop};

/// Stack of each TEMPer thread: they hold a few small buffers.
const THREAD_STACK: usize = 256 * 1024;

/// An identified, open device.
pub(crate) struct Device {
    pub phy: String,
    pub version: String,
    /// What the model is sold as.
    pub product: &'static str,
    /// The last reading, `None` when the last attempt failed.
    pub reading: Option<Reading>,
}

pub(crate) struct Reading {
    pub at: Instant,
    pub values: Vec<Value>,
}

#[derive(Default)]
pub(crate) struct State {
    /// Identified devices by node path.
    pub devices: BTreeMap<String, Device>,
    /// Nodes that a thread owns (open, identified or not). Only that thread
    /// talks to the node; the scanner skips it until the thread has ended.
    pub claimed: BTreeSet<String>,
    /// Failed exchanges by phy; kept after a device is gone so the counter
    /// never goes backwards.
    pub errors: BTreeMap<String, u64>,
}

/// What renders and publishes the state after a change.
pub(crate) type Publisher = Box<dyn Fn(&State) + Send + Sync>;

/// Everything the threads and the collector share.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub stop: Stop,
    pub timing: Timing,
    /// Keys of the log lines already written once.
    logged: Mutex<HashSet<String>>,
    publisher: OnceLock<Publisher>,
}

impl Shared {
    pub fn new(timing: Timing) -> Shared {
        Shared {
            state: Mutex::new(State::default()),
            stop: Stop::default(),
            timing,
            logged: Mutex::new(HashSet::new()),
            publisher: OnceLock::new(),
        }
    }

    /// Sets what is called after each change (once, before any thread runs).
    pub(crate) fn set_publisher(&self, publisher: Publisher) {
        let _ = self.publisher.set(publisher);
    }

    /// The state changed (or time passed): publish it. Called with the lock
    /// held, so that publications come in the order of the changes.
    fn changed(&self, state: &State) {
        if let Some(publish) = self.publisher.get() {
            publish(state);
        }
    }

    /// True the first time `key` is seen (until [`Shared::forget`]).
    fn first_time(&self, key: String) -> bool {
        lock(&self.logged).insert(key)
    }

    fn forget(&self, key: &str) {
        lock(&self.logged).remove(key);
    }

    fn count_error(&self, phy: &str) {
        let mut state = lock(&self.state);
        *state.errors.entry(phy.to_string()).or_insert(0) += 1;
        self.changed(&state);
    }

    fn release(&self, path: &str) {
        let mut state = lock(&self.state);
        let was_identified = state.devices.remove(path).is_some();
        state.claimed.remove(path);
        if was_identified {
            self.changed(&state);
        }
    }
}

/// The `phy` label of a candidate: `HID_PHYS`, or the node path when sysfs
/// did not say (unique all the same).
pub(crate) fn phy_of(c: &Candidate) -> String {
    c.phy.clone().unwrap_or_else(|| c.path.clone())
}

/// Starts the scanner thread. It scans at once, then every `rescan`.
pub(crate) fn spawn_scanner(shared: Arc<Shared>, mut backend: Box<dyn Backend>, rescan: Duration) {
    let spawned = std::thread::Builder::new()
        .name("temper-scan".into())
        .stack_size(THREAD_STACK)
        .spawn(move || loop {
            scan(&shared, backend.as_mut());
            // Readings age even when nothing else happens.
            shared.changed(&lock(&shared.state));
            if shared.stop.sleep(rescan) {
                break;
            }
        });
    if let Err(e) = spawned {
        crate::error!("TEMPer: cannot start the device scanner thread: {e}");
    }
}

/// Whether this candidate is a TEMPer node we read; logs once about the
/// ones we recognise but do not read.
pub(crate) fn wanted(shared: &Shared, c: &Candidate) -> bool {
    let id = format!("{:04x}:{:04x}", c.vendor_id, c.product_id);
    if let Some(family) = unsupported_family(c.vendor_id, c.product_id) {
        if shared.first_time(format!("unsupported {id}")) {
            crate::info!(
                "TEMPer: {family} device {id} found ({}); this family uses another command set \
                 and is not supported",
                c.path
            );
        }
        return false;
    }
    if !is_supported(c.vendor_id, c.product_id) {
        return false;
    }
    if c.interface != 1 {
        if shared.first_time(format!("interface {}", c.path)) {
            crate::debug!(
                "TEMPer: {} is interface {} of {id} (the keyboard side): not read",
                c.path,
                c.interface
            );
        }
        return false;
    }
    true
}

fn scan(shared: &Arc<Shared>, backend: &mut dyn Backend) {
    let candidates = match backend.enumerate() {
        Ok(list) => {
            shared.forget("enumerate");
            list
        }
        Err(e) => {
            if shared.first_time("enumerate".into()) {
                crate::warn!("TEMPer: cannot list HID devices: {e}");
            }
            return;
        }
    };
    for c in candidates {
        if shared.stop.is_stopped() {
            return;
        }
        if !wanted(shared, &c) || lock(&shared.state).claimed.contains(&c.path) {
            continue;
        }
        let open_key = format!("open {}", c.path);
        match backend.open(&c) {
            Ok(transport) => {
                shared.forget(&open_key);
                lock(&shared.state).claimed.insert(c.path.clone());
                spawn_poller(shared, transport, c);
            }
            Err(e) => {
                if shared.first_time(open_key) {
                    log_open_error(&c, &e);
                }
            }
        }
    }
}

/// One clear line about a node that cannot be opened.
pub(crate) fn log_open_error(c: &Candidate, e: &OpenError) {
    let id = format!("{:04x}:{:04x}", c.vendor_id, c.product_id);
    match e {
        OpenError::PermissionDenied(why) => crate::warn!(
            "TEMPer: cannot open {} (TEMPer {id} at {}): {why}. The exporter needs read and write \
             access to /dev/hidraw*: run it as root, or add a hotplug (OpenWrt) or udev rule that \
             gives its user access to the node",
            c.path,
            phy_of(c)
        ),
        OpenError::Other(why) => crate::warn!(
            "TEMPer: cannot open {} (TEMPer {id} at {}): {why}; will retry at each rescan",
            c.path,
            phy_of(c)
        ),
    }
}

fn spawn_poller(shared: &Arc<Shared>, transport: Box<dyn Transport>, c: Candidate) {
    let name = format!("temper-{}", c.path.rsplit('/').next().unwrap_or("device"));
    let path = c.path.clone();
    let thread_shared = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name(name)
        .stack_size(THREAD_STACK)
        .spawn(move || run_device(&thread_shared, transport, &c));
    if let Err(e) = spawned {
        crate::error!("TEMPer: cannot start a thread for {path}: {e}");
        shared.release(&path);
    }
}

/// Version query → model row, logging once about an unknown version string.
pub(crate) fn identify(
    ctx_once: &dyn Fn(String) -> bool,
    t: &mut dyn Transport,
    c: &Candidate,
    timing: &Timing,
) -> Result<(String, &'static Model), String> {
    let raw = query_version(t, timing).map_err(|e| e.to_string())?;
    let version = version_string(&raw);
    if version.is_empty() {
        return Err(format!("the version reply {raw:02x?} holds no text"));
    }
    let model = lookup(c.vendor_id, c.product_id, &version).ok_or_else(|| {
        format!(
            "{:04x}:{:04x} is not in the model table",
            c.vendor_id, c.product_id
        )
    })?;
    if model.is_family_default()
        && ctx_once(format!(
            "version {:04x}:{:04x} {version}",
            c.vendor_id, c.product_id
        ))
    {
        crate::warn!(
            "TEMPer: unknown version string {version:?} on {:04x}:{:04x} at {} ({}); reading it \
             as a {}. Please report this version string",
            c.vendor_id,
            c.product_id,
            phy_of(c),
            c.path,
            model.product
        );
    }
    Ok((version, model))
}

/// The life of one open device, on its own thread: identified, registered,
/// then read until it fails or the collector is dropped (closing the node).
fn run_device(shared: &Shared, mut transport: Box<dyn Transport>, c: &Candidate) {
    let t = transport.as_mut();
    if let Some((version, model)) = identify_device(shared, t, c) {
        register(shared, c, version, model);
        poll_device(shared, t, c, model);
    }
    drop(transport);
    shared.release(&c.path);
}

/// [`identify`], with a failure counted and logged once until it works.
fn identify_device(
    shared: &Shared,
    t: &mut dyn Transport,
    c: &Candidate,
) -> Option<(String, &'static Model)> {
    let (phy, path) = (phy_of(c), c.path.as_str());
    let identify_key = format!("identify {path}");
    match identify(&|k| shared.first_time(k), t, c, &shared.timing) {
        Ok(found) => {
            shared.forget(&identify_key);
            Some(found)
        }
        Err(e) => {
            shared.count_error(&phy);
            if shared.first_time(identify_key) {
                crate::warn!(
                    "TEMPer: {path} ({phy}) did not answer the version query: {e}; closed, \
                     will try again at each rescan"
                );
            }
            None
        }
    }
}

/// Lists an identified device (without a reading yet) and publishes that.
fn register(shared: &Shared, c: &Candidate, version: String, model: &'static Model) {
    let (phy, path) = (phy_of(c), c.path.as_str());
    crate::info!(
        "TEMPer: found {} version {version:?} at {phy} ({path})",
        model.product
    );
    let mut state = lock(&shared.state);
    state.errors.entry(phy.clone()).or_insert(0);
    state.devices.insert(
        path.to_string(),
        Device {
            phy,
            version,
            product: model.product,
            reading: None,
        },
    );
    shared.changed(&state);
}

/// Reads the device every poll interval until it fails for good or the
/// collector stops.
fn poll_device(shared: &Shared, t: &mut dyn Transport, c: &Candidate, model: &'static Model) {
    let (phy, path) = (phy_of(c), c.path.as_str());
    // A device that keeps failing is closed once per rescan: said once, until
    // it gives a reading again.
    let closed_key = format!("closed {path}");
    // The first reading after opening may be stale: it is taken and dropped.
    let mut warm_up = true;
    let mut timeouts = 0;
    while !shared.stop.is_stopped() {
        let result = query_reading(t, model, &shared.timing);
        let now = Instant::now();
        match result {
            Ok(_) if warm_up => {
                warm_up = false;
                continue;
            }
            Ok(reply) => {
                timeouts = 0;
                shared.forget(&closed_key);
                let values = decode(model, &reply);
                let mut state = lock(&shared.state);
                if let Some(d) = state.devices.get_mut(path) {
                    d.reading = Some(Reading { at: now, values });
                }
                shared.changed(&state);
            }
            Err(e) => {
                {
                    // One step, so no render sees the error without the
                    // reading gone.
                    let mut state = lock(&shared.state);
                    *state.errors.entry(phy.clone()).or_insert(0) += 1;
                    if let Some(d) = state.devices.get_mut(path) {
                        d.reading = None;
                    }
                    shared.changed(&state);
                }
                let fatal = match e {
                    ProtocolError::Io(_) => true,
                    ProtocolError::Timeout(_) => {
                        timeouts += 1;
                        timeouts >= shared.timing.max_timeouts
                    }
                };
                if fatal && !shared.first_time(closed_key.clone()) {
                    crate::debug!("TEMPer: {phy} ({path}): {e}; closed again");
                    break;
                } else if fatal {
                    crate::warn!(
                        "TEMPer: {} at {phy} ({path}): {e}; closed, it is opened again when a \
                         rescan finds it",
                        model.product
                    );
                    break;
                }
                crate::debug!("TEMPer: {phy} ({path}): {e}");
            }
        }
        warm_up = false;
        if shared.stop.sleep(shared.timing.poll_interval) {
            break;
        }
    }
}
