//! The TEMPer collector: starts the scanner over a backend (hidapi, or the
//! tests' simulated bus); the TEMPer threads render the families whenever
//! the shared state changes, and a scrape copies that text. It never
//! touches USB itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::poller::{self, Shared, State};
use super::{calibrate, decode, natural_cmp, Backend, HidapiBackend, Timing, SYSFS_ROOT};
use super::{Config, Quantity, SensorOffset};
use super::{DEVICES, HUMIDITY, READ_ERRORS, TEMPERATURE};
use crate::collector::{Collector, Rendered};
use crate::exposition::{Exposition, MetricType};
use crate::landing::{reading_text, Page};
use crate::sync::lock;

pub struct TemperCollector {
    shared: Arc<Shared>,
    offsets: Vec<SensorOffset>,
    /// The families as the TEMPer threads last rendered them.
    section: Arc<Rendered>,
}

impl TemperCollector {
    /// The real thing: hidapi over `/dev/hidraw*`, background threads
    /// started, every device read and the bus rescanned each
    /// `--temper-interval`. (Whether it runs at all is the collector list's
    /// business: `--no-temper` acts there, not here.)
    pub fn start(config: &Config) -> TemperCollector {
        Self::with_backend(
            config,
            Box::new(HidapiBackend::new(SYSFS_ROOT)),
            Timing::every(config.rescan_interval),
        )
    }

    /// The same collector over any backend (the tests use a simulated bus).
    pub fn with_backend(
        config: &Config,
        backend: Box<dyn Backend>,
        timing: Timing,
    ) -> TemperCollector {
        let offsets = config.offsets.clone();
        let stale_after = timing.stale_after;
        let section = Arc::new(Rendered::new(render(
            &State::default(),
            &offsets,
            stale_after,
        )));
        let shared = Arc::new(Shared::new(timing));
        let (published, render_offsets) = (Arc::clone(&section), offsets.clone());
        shared.set_publisher(Box::new(move |state| {
            published.publish(render(state, &render_offsets, stale_after))
        }));
        poller::spawn_scanner(Arc::clone(&shared), backend, config.rescan_interval);
        TemperCollector {
            shared,
            offsets,
            section,
        }
    }

    /// The TEMPer families alone, as one exposition body.
    pub fn render(&self) -> String {
        self.section.current().to_string()
    }
}

impl Drop for TemperCollector {
    /// Stops the threads (each at its next wake-up; none is waited for).
    fn drop(&mut self) {
        self.shared.stop.stop();
    }
}

struct Row {
    phy: String,
    version: String,
    product: &'static str,
    at: Instant,
    values: Vec<decode::Value>,
}

/// What one scrape or page view renders, copied out of the shared state.
struct Snapshot {
    /// One row per phy with a fresh reading, in phy order.
    rows: Vec<Row>,
    /// Devices open and identified now.
    open: usize,
    /// Failed exchanges by phy, in phy order.
    errors: Vec<(String, u64)>,
}

impl Snapshot {
    /// The state now: readings older than `stale_after` are left out.
    fn of(state: &State, stale_after: Duration) -> Snapshot {
        let now = Instant::now();
        let (mut rows, open, mut errors) = {
            let rows: Vec<Row> = state
                .devices
                .values()
                .filter_map(|d| {
                    let r = d.reading.as_ref()?;
                    (now.saturating_duration_since(r.at) <= stale_after).then(|| Row {
                        phy: d.phy.clone(),
                        version: d.version.clone(),
                        product: d.product,
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
        Snapshot { rows, open, errors }
    }
}

impl Collector for TemperCollector {
    fn collect(&self, out: &mut Exposition) {
        out.append_rendered(&self.section.current());
    }

    /// One line per sensor: model and name, phy, temperature, humidity.
    fn status(&self, page: &mut Page) {
        let snapshot = Snapshot::of(&lock(&self.shared.state), self.shared.timing.stale_after);
        status(snapshot, &self.offsets, page);
    }
}

/// The TEMPer families for a state, now.
fn render(state: &State, offsets: &[SensorOffset], stale_after: Duration) -> String {
    let mut text = Exposition::new();
    let out = &mut text;
    {
        let Snapshot { rows, open, errors } = Snapshot::of(state, stale_after);
        for (family, help, quantity) in [
            (TEMPERATURE, "Temperature reading", Quantity::Temperature),
            (HUMIDITY, "Relative humidity reading", Quantity::Humidity),
        ] {
            let mut f = out.family(family, help, MetricType::Gauge);
            for row in &rows {
                for v in row.values.iter().filter(|v| v.quantity == quantity) {
                    let value = calibrate(offsets, &row.phy, v.name, quantity, v.value);
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
    text.into_string()
}

/// The landing page's lines for a snapshot.
fn status(snapshot: Snapshot, offsets: &[SensorOffset], page: &mut Page) {
    {
        let Snapshot { rows, open, .. } = snapshot;
        let section = page.section("TEMPer sensors");
        if rows.is_empty() {
            section.text("No TEMPer sensor is giving readings.");
        }
        for row in &rows {
            let mut names: Vec<&str> = row.values.iter().map(|v| v.name).collect();
            names.dedup();
            for name in names {
                let readings: Vec<String> =
                    [(Quantity::Temperature, "°C"), (Quantity::Humidity, "%RH")]
                        .into_iter()
                        .filter_map(|(quantity, unit)| {
                            let v = row
                                .values
                                .iter()
                                .find(|v| v.name == name && v.quantity == quantity)?;
                            let value = calibrate(offsets, &row.phy, name, quantity, v.value);
                            Some(reading_text(Some(value), unit))
                        })
                        .collect();
                let label = match name {
                    "" => row.product.to_string(),
                    name => format!("{} {name}", row.product),
                };
                section.detailed(&label, &row.phy, &readings.join(" · "));
            }
        }
        if open > rows.len() {
            section.text(&format!(
                "{} open device(s) without a fresh reading.",
                open - rows.len()
            ));
        }
    }
}
