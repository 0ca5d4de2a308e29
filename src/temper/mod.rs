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
//! * Files by role: [`TemperCollector`] (`collector.rs`) starts the scanner
//!   over a backend and renders the snapshot; `list.rs` is the
//!   `--list-sensors` report; `poller.rs` the scanner and poller threads.
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

mod collector;
mod config;
pub mod decode;
pub mod device;
mod list;
pub mod models;
mod poller;
pub mod sysfs;
pub mod transport;

use std::cmp::Ordering;
use std::time::Duration;

pub use config::{Config, Quantity, SensorOffset};

pub use collector::TemperCollector;
pub use list::{list_sensors, list_sensors_with};
pub use transport::{Backend, Candidate, HidapiBackend, OpenError, Transport, TransportError};

/// Where the real backend finds `HID_PHYS`.
pub(crate) const SYSFS_ROOT: &str = "/sys";

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

impl Timing {
    /// The exporter's clocks for one reading every `interval` (the default
    /// is every 5 s): a reading goes stale after three intervals plus the
    /// time of two slow reads.
    pub fn every(interval: Duration) -> Timing {
        let default = Timing::default();
        Timing {
            poll_interval: interval,
            stale_after: interval * 3 + default.read_timeout * 2,
            ..default
        }
    }
}

pub(crate) const TEMPERATURE: &str = "temper_temperature_celsius";
pub(crate) const HUMIDITY: &str = "temper_humidity_rh";
pub(crate) const DEVICES: &str = "temper_devices";
pub(crate) const READ_ERRORS: &str = "temper_read_errors_total";

/// A reading with its calibration applied: every matching offset is added;
/// humidity is then clamped to 0..100.
pub(crate) fn calibrate(
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
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_interval_gives_the_default_clocks() {
        let every_5 = Timing::every(Duration::from_secs(5));
        let default = Timing::default();
        assert_eq!(every_5.poll_interval, default.poll_interval);
        assert_eq!(every_5.stale_after, default.stale_after);
        assert_eq!(
            Timing::every(Duration::from_secs(60)).stale_after,
            Duration::from_secs(182)
        );
    }

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
