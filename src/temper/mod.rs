//! PCsensor TEMPer USB thermometers and hygrometers.
//!
//! # Design
//!
//! * [`models`]: the supported models as a table (VID:PID, version prefix,
//!   reply layout, decoder, sensor names); [`decode`]: bytes → readings;
//!   [`device`]: the byte protocol (drain, version query, read query, all
//!   with timeouts); [`transport`]: the [`Backend`]/[`Transport`] traits and
//!   the hidapi backend; [`sysfs`]: the `phy` label from `HID_PHYS`.
//! * Threads: one scanner enumerates hidraw nodes at start and every rescan
//!   interval and opens the TEMPer ones (USB interface 1 only). Each opened
//!   node gets its own poller thread, which owns the node (no other thread
//!   ever talks to it), identifies it with the version query and then reads
//!   it every poll interval into a shared snapshot, stamped with the time of
//!   the read. A failed read clears the device's reading (no stale values).
//!   An I/O error, or [`Timing::max_timeouts`] read timeouts in a row, closes
//!   the node with one log line and ends the thread; the next rescan opens
//!   the node again if it is still (or again) there.
//! * The collector renders the snapshot and never touches USB, so a scrape
//!   takes no longer than copying a few numbers, whatever the devices do. A
//!   reading older than [`Timing::stale_after`] (a device stuck in a read) is
//!   not rendered.
//!
//! # Metrics
//!
//! `temper_temperature_celsius` and `temper_humidity_rh` keep the upstream
//! (yrro/temper-exporter) names, HELP texts and labels `name`, `phy`,
//! `version`; devices are sorted by `phy` (digit runs compared as numbers),
//! and within a device the samples follow the model table (internal, then
//! external). `name` is `internal`/`external` on two-sensor devices, empty on
//! single-sensor ones, `internal`/`external`/`external2` on the three-sensor
//! TEMPerNTC, and always `internal`/`external` on the TEMPerX (whatever is
//! plugged in: a sensor that reports `4E 20` gives no sample). New:
//! `temper_devices` (devices open and identified now) and
//! `temper_read_errors_total{phy}` (failed exchanges; kept after a device is
//! unplugged so the counter never goes backwards).
//!
//! Calibration: every `--temper-offset`/`--temper-humidity-offset` matching
//! the phy and name (`*`: any name) is added to the reading; humidity is then
//! clamped to 0..100.

pub mod decode;
pub mod device;
pub mod models;
mod poller;
pub mod sysfs;
pub mod transport;

use std::cmp::Ordering;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::collector::Collector;
use crate::config::{Quantity, SensorOffset, TemperConfig};
use crate::exposition::{Exposition, MetricType};

use poller::{lock, Ctx};
pub use transport::{Backend, Candidate, HidapiBackend, OpenError, Transport, TransportError};

/// Where the real backend finds `HID_PHYS`.
pub const SYSFS_ROOT: &str = "/sys";

/// The clocks of the TEMPer threads. [`Timing::default`] is what the exporter
/// uses; the tests shorten them.
#[derive(Clone, Debug)]
pub struct Timing {
    /// Time between two readings of one device.
    pub poll_interval: Duration,
    /// How long a read waits for the (first) report of a reply.
    pub read_timeout: Duration,
    /// How long a read waits for the second report of a two-report reply.
    pub follow_up_timeout: Duration,
    /// How long a read waits while draining stale reports.
    pub drain_timeout: Duration,
    /// A reading older than this is not rendered.
    pub stale_after: Duration,
    /// Read timeouts in a row after which a device is closed and re-opened.
    pub max_timeouts: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll_interval: Duration::from_secs(5),
            read_timeout: Duration::from_secs(1),
            follow_up_timeout: Duration::from_millis(250),
            drain_timeout: Duration::from_millis(10),
            // Three poll intervals plus the time of two slow reads.
            stale_after: Duration::from_secs(17),
            max_timeouts: 3,
        }
    }
}

pub const TEMPERATURE: &str = "temper_temperature_celsius";
pub const HUMIDITY: &str = "temper_humidity_rh";
pub const DEVICES: &str = "temper_devices";
pub const READ_ERRORS: &str = "temper_read_errors_total";

pub struct TemperCollector {
    ctx: Arc<Ctx>,
    offsets: Vec<SensorOffset>,
}

impl TemperCollector {
    /// The real thing: hidapi over `/dev/hidraw*`, background threads
    /// started (none when TEMPer support is disabled; the families are still
    /// written, empty).
    pub fn start(config: &TemperConfig) -> TemperCollector {
        if !config.enabled {
            return TemperCollector {
                ctx: Arc::new(Ctx::new(Timing::default())),
                offsets: Vec::new(),
            };
        }
        Self::with_backend(
            config,
            Box::new(HidapiBackend::new(SYSFS_ROOT)),
            Timing::default(),
        )
    }

    /// The same collector over any backend (the tests use a simulated bus).
    pub fn with_backend(
        config: &TemperConfig,
        backend: Box<dyn Backend>,
        timing: Timing,
    ) -> TemperCollector {
        let ctx = Arc::new(Ctx::new(timing));
        poller::spawn_scanner(Arc::clone(&ctx), backend, config.rescan_interval);
        TemperCollector {
            ctx,
            offsets: config.offsets.clone(),
        }
    }

    /// The TEMPer families alone, as one exposition body.
    pub fn render(&self) -> String {
        let mut out = Exposition::new();
        self.collect(&mut out);
        out.into_string()
    }
}

impl Drop for TemperCollector {
    /// Stops the threads (each at its next wake-up; none is waited for).
    fn drop(&mut self) {
        self.ctx.stop.stop();
    }
}

/// A reading with its calibration applied: every matching offset is added;
/// humidity is then clamped to 0..100.
pub fn calibrate(
    offsets: &[SensorOffset],
    phy: &str,
    name: &str,
    quantity: Quantity,
    value: f64,
) -> f64 {
    let mut value = value;
    for o in offsets.iter().filter(|o| o.matches(phy, name, quantity)) {
        value += o.delta;
    }
    match quantity {
        Quantity::Humidity => value.clamp(0.0, 100.0),
        Quantity::Temperature => value,
    }
}

/// Orders strings with digit runs compared as numbers (`1.9` < `1.10`,
/// `hidraw9` < `hidraw10`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let la = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let lb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, ra) = a.split_at(la);
                let (nb, rb) = b.split_at(lb);
                let strip = |n: &[u8]| -> usize { n.iter().take_while(|c| **c == b'0').count() };
                let (ta, tb) = (&na[strip(na)..], &nb[strip(nb)..]);
                let order = ta
                    .len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(tb))
                    .then_with(|| la.cmp(&lb));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

struct Row {
    phy: String,
    version: String,
    at: Instant,
    values: Vec<decode::Value>,
}

impl Collector for TemperCollector {
    fn collect(&self, out: &mut Exposition) {
        let now = Instant::now();
        let stale_after = self.ctx.timing.stale_after;
        let (mut rows, open, mut errors) = {
            let state = lock(&self.ctx.state);
            let rows: Vec<Row> = state
                .devices
                .values()
                .filter_map(|d| {
                    let r = d.reading.as_ref()?;
                    (now.saturating_duration_since(r.at) <= stale_after).then(|| Row {
                        phy: d.phy.clone(),
                        version: d.version.clone(),
                        at: r.at,
                        values: r.values.clone(),
                    })
                })
                .collect();
            let errors: Vec<(String, u64)> =
                state.errors.iter().map(|(k, v)| (k.clone(), *v)).collect();
            (rows, state.devices.len(), errors)
        };
        // Newest first within a phy, then one row per phy: a device plugged
        // back in on a new node before its old poller noticed the unplug
        // must not give duplicate series.
        rows.sort_by(|a, b| natural_cmp(&a.phy, &b.phy).then_with(|| b.at.cmp(&a.at)));
        rows.dedup_by(|later, first| later.phy == first.phy);
        errors.sort_by(|a, b| natural_cmp(&a.0, &b.0));

        for (family, help, quantity) in [
            (TEMPERATURE, "Temperature reading", Quantity::Temperature),
            (HUMIDITY, "Relative humidity reading", Quantity::Humidity),
        ] {
            let mut f = out.family(family, help, MetricType::Gauge);
            for row in &rows {
                for v in row.values.iter().filter(|v| v.quantity == quantity) {
                    let value = calibrate(&self.offsets, &row.phy, v.name, quantity, v.value);
                    f.sample(
                        &[
                            ("name", v.name),
                            ("phy", &row.phy),
                            ("version", &row.version),
                        ],
                        value,
                    );
                }
            }
        }
        out.family(
            DEVICES,
            "Number of TEMPer USB devices open and identified now",
            MetricType::Gauge,
        )
        .sample(&[], open as f64);
        let mut f = out.family(
            READ_ERRORS,
            "Failed exchanges with a TEMPer device (I/O errors, timeouts, no version reply)",
            MetricType::Counter,
        );
        for (phy, count) in &errors {
            f.sample(&[("phy", phy)], *count as f64);
        }
    }
}

/// `--list-sensors`: prints each recognised device with a fresh reading to
/// stdout; 0 when at least one device gave a reading, else 1 (with a hint).
pub fn list_sensors(config: &TemperConfig) -> i32 {
    let mut backend = HidapiBackend::new(SYSFS_ROOT);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    list_sensors_with(config, &mut backend, &Timing::default(), &mut out)
}

/// [`list_sensors`] over any backend, writing to `out`.
pub fn list_sensors_with(
    config: &TemperConfig,
    backend: &mut dyn Backend,
    timing: &Timing,
    out: &mut dyn Write,
) -> i32 {
    match list_devices(config, backend, timing, out) {
        Ok(0) => {
            let _ = writeln!(
                out,
                "No TEMPer device could be read. If one is plugged in: the exporter needs read \
                 and write access to /dev/hidraw* (run it as root, or add a hotplug/udev rule), \
                 and only these USB IDs are supported: {}.",
                supported_ids()
            );
            1
        }
        Ok(_) => 0,
        // stdout is gone (closed pipe): nothing more to say.
        Err(_) => 1,
    }
}

/// Prints every recognised device; returns how many gave a reading.
fn list_devices(
    config: &TemperConfig,
    backend: &mut dyn Backend,
    timing: &Timing,
    out: &mut dyn Write,
) -> std::io::Result<usize> {
    let mut candidates = match backend.enumerate() {
        Ok(list) => list,
        Err(e) => {
            writeln!(out, "Cannot list HID devices: {e}")?;
            return Ok(0);
        }
    };
    candidates.sort_by(|a, b| {
        natural_cmp(&poller::phy_of(a), &poller::phy_of(b))
            .then_with(|| natural_cmp(&a.path, &b.path))
    });
    let scratch = Ctx::new(timing.clone());
    let mut read = 0;
    for c in candidates {
        let id = format!("{:04x}:{:04x}", c.vendor_id, c.product_id);
        let phy = poller::phy_of(&c);
        let path = &c.path;
        if let Some(family) = models::unsupported_family(c.vendor_id, c.product_id) {
            if c.interface != 0 {
                writeln!(
                    out,
                    "{path}: {family} ({id}) at {phy}: not supported (another command set)"
                )?;
            }
            continue;
        }
        if !poller::wanted(&scratch, &c) {
            continue;
        }
        let mut transport = match backend.open(&c) {
            Ok(t) => t,
            Err(e) => {
                writeln!(out, "{path}: TEMPer {id} at {phy}: cannot open: {e}")?;
                if matches!(e, OpenError::PermissionDenied(_)) {
                    writeln!(
                        out,
                        "  run as root, or add a hotplug/udev rule that gives access to /dev/hidraw*"
                    )?;
                }
                continue;
            }
        };
        let t = transport.as_mut();
        let (version, model) = match poller::identify(&|_| true, t, &c, timing) {
            Ok(found) => found,
            Err(e) => {
                writeln!(out, "{path}: TEMPer {id} at {phy}: {e}")?;
                continue;
            }
        };
        writeln!(
            out,
            "{path}: {} ({id}), version {version:?}, phy {phy}",
            model.product
        )?;
        // The first reading after opening may be stale: take it, drop it.
        let _ = device::query_reading(t, model, timing);
        match device::query_reading(t, model, timing) {
            Ok(reply) => {
                let values = decode::decode(model, &reply);
                if values.is_empty() {
                    writeln!(out, "  no sensor reported a value")?;
                }
                for v in values {
                    let (what, unit) = match v.quantity {
                        Quantity::Temperature => ("temperature", "°C"),
                        Quantity::Humidity => ("humidity", "%RH"),
                    };
                    let label = if v.name.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", v.name)
                    };
                    let shown = calibrate(&config.offsets, &phy, v.name, v.quantity, v.value);
                    let note = if shown == v.value {
                        String::new()
                    } else {
                        format!(" (raw {:.2}, calibrated)", v.value)
                    };
                    writeln!(out, "  {what}{label}: {shown:.2} {unit}{note}")?;
                }
                read += 1;
            }
            Err(e) => writeln!(out, "  no reading: {e}")?,
        }
    }
    Ok(read)
}

fn supported_ids() -> String {
    let mut ids: Vec<String> = models::MODELS
        .iter()
        .map(|m| format!("{:04x}:{:04x}", m.vendor_id, m.product_id))
        .collect();
    ids.dedup();
    ids.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut phys = vec![
            "usb-3f980000.usb-1.10/input1",
            "usb-3f980000.usb-1.9/input1",
            "usb-3f980000.usb-1.3/input1",
            "/dev/hidraw10",
            "/dev/hidraw9",
            "usb-3f980000.usb-1.03/input1",
        ];
        phys.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            phys,
            [
                "/dev/hidraw9",
                "/dev/hidraw10",
                "usb-3f980000.usb-1.3/input1",
                "usb-3f980000.usb-1.03/input1",
                "usb-3f980000.usb-1.9/input1",
                "usb-3f980000.usb-1.10/input1",
            ]
        );
        assert_eq!(natural_cmp("a", "a"), Ordering::Equal);
        assert_eq!(natural_cmp("a", "ab"), Ordering::Less);
    }

    #[test]
    fn calibration_adds_every_match_then_clamps_humidity() {
        let offsets = vec![
            SensorOffset::parse("p1:external=-1.5", Quantity::Temperature).unwrap(),
            SensorOffset::parse("p1:*=0.25", Quantity::Temperature).unwrap(),
            SensorOffset::parse("p1:=5", Quantity::Humidity).unwrap(),
        ];
        let t = Quantity::Temperature;
        let h = Quantity::Humidity;
        assert_eq!(calibrate(&offsets, "p1", "external", t, 20.0), 18.75);
        assert_eq!(calibrate(&offsets, "p1", "internal", t, 20.0), 20.25);
        assert_eq!(calibrate(&offsets, "p2", "external", t, 20.0), 20.0);
        assert_eq!(calibrate(&offsets, "p1", "", h, 50.0), 55.0);
        assert_eq!(calibrate(&offsets, "p1", "", h, 97.0), 100.0);
        assert_eq!(calibrate(&offsets, "p2", "", h, -3.0), 0.0);
        // No offset: the value is untouched, bit for bit.
        assert_eq!(
            calibrate(&offsets, "p2", "", t, 25.980000000000004),
            25.980000000000004
        );
    }
}
