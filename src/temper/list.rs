//! `--list-sensors`: each recognised device with a fresh reading, for a
//! person at a terminal. Runs in the foreground, without the collector.

use std::io::Write;

use super::poller::{self, Shared};
use super::{calibrate, decode, device, models, natural_cmp};
use super::{Backend, HidapiBackend, OpenError, Timing, SYSFS_ROOT};
use super::{Config, Quantity};

/// `--list-sensors`: prints each recognised device with a fresh reading to
/// stdout; 0 when at least one device gave a reading, else 1 (with a hint).
pub fn list_sensors(config: &Config) -> i32 {
    let mut backend = HidapiBackend::new(SYSFS_ROOT);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    list_sensors_with(config, &mut backend, &Timing::default(), &mut out)
}

/// [`list_sensors`] over any backend, writing to `out`.
pub fn list_sensors_with(
    config: &Config,
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
    config: &Config,
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
    let scratch = Shared::new(timing.clone());
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
