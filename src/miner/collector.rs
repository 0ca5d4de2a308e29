//! The miner collector: the upstream families (`miner_exporter_info` and
//! four gauges, byte-compatible) and the exporter's own poll health,
//! rendered from the poller's state by the poller when each poll ends;
//! a scrape copies the text.

use super::client::Reason;
use super::poller::{self, MinerState};
use super::system::{self, Label, NumberField, INFO_FIELDS};
use super::Config;
use crate::collector::{Collector, Rendered};
use crate::exposition::{round_decimals, Exposition, MetricType};
use crate::landing::{duration_text, reading_text, Mark, Page};
use crate::sync::{lock, Stop};
use std::sync::{Arc, Mutex, MutexGuard};

/// One upstream gauge, read from one number of the dashboard's JSON.
pub struct Gauge {
    pub metric: &'static str,
    /// The number of the snapshot it shows.
    pub field: NumberField,
    pub help: &'static str,
    /// Rounded to 3 decimals, as upstream did.
    pub rounded: bool,
    /// What the landing page calls it, and its unit.
    pub label: &'static str,
    pub unit: &'static str,
}

/// The upstream gauges, in the order they are written.
pub(crate) const UPSTREAM_GAUGES: [Gauge; 4] = [
    Gauge {
        metric: "miner_cpu_temp",
        field: system::CPU_TEMP,
        help: "CPU temperature",
        rounded: false,
        label: "CPU temperature",
        unit: "°C",
    },
    Gauge {
        metric: "miner_cpu_usage",
        field: system::CPU_USAGE,
        help: "CPU utilization",
        rounded: true,
        label: "CPU usage",
        unit: "%",
    },
    Gauge {
        metric: "miner_mem_usage",
        field: system::MEMORY_USAGE,
        help: "Memory utilization",
        rounded: true,
        label: "Memory used",
        unit: "%",
    },
    Gauge {
        metric: "miner_sto_usage",
        field: system::STORAGE_USAGE,
        help: "Storage utilization",
        rounded: true,
        label: "Storage used",
        unit: "%",
    },
];

pub struct MinerCollector {
    state: Arc<Mutex<MinerState>>,
    /// The dashboard's URL, as the landing page names it.
    url: String,
    /// Ends the poller thread when the collector goes.
    stop: Arc<Stop>,
    /// The families as the last poll left them.
    section: Arc<Rendered>,
}

impl MinerCollector {
    /// Starts the poller thread; the first poll begins at once.
    pub fn start(config: Config) -> std::io::Result<MinerCollector> {
        let section = Arc::new(Rendered::new(render_text(&MinerState::default())));
        let published = Arc::clone(&section);
        let on_poll = Box::new(move |s: &MinerState| published.publish(render_text(s)));
        let url = format!("http://{}/", config.host);
        let poller = poller::spawn(config, on_poll)?;
        Ok(MinerCollector {
            url,
            state: poller.state,
            stop: poller.stop,
            section,
        })
    }

    fn lock(&self) -> MutexGuard<'_, MinerState> {
        lock(&self.state)
    }
}

impl Drop for MinerCollector {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

impl Collector for MinerCollector {
    fn collect(&self, out: &mut Exposition) {
        out.append_rendered(&self.section.current());
    }

    fn status(&self, page: &mut Page) {
        let s = self.lock();
        let snapshot = s.snapshot.as_ref();
        let identity = |get: Label| snapshot.and_then(get);
        if let Some(name) = identity(|snap| snap.animal_name.as_deref()) {
            page.set_name(name);
        }
        let section = page.section("Miner");
        let rows: [(&str, Label); 4] = [
            ("Name", |snap| snap.animal_name.as_deref()),
            ("Model", |snap| snap.model_name.as_deref()),
            ("Region", |snap| snap.region.as_deref()),
            ("Firmware", |snap| snap.firmware.as_deref()),
        ];
        for (label, get) in rows {
            section.row(label, identity(get).unwrap_or("–"));
        }
        for gauge in &UPSTREAM_GAUGES {
            let value = snapshot.and_then(gauge.field.get);
            section.row(gauge.label, &reading_text(value, gauge.unit));
        }
        let ago = |at: Option<std::time::Instant>| at.map(|at| duration_text(at.elapsed()));
        section.row("Dashboard", &self.url);
        match (&s.last_error, ago(s.last_poll_at)) {
            (_, None) => section.row("Dashboard poll", "not done yet"),
            (None, Some(ago)) => {
                section.marked("Dashboard poll", &format!("good, {ago} ago"), Mark::Good)
            }
            (Some(e), Some(ago)) => section.marked(
                "Dashboard poll",
                &format!("failed {ago} ago ({}): {e}", e.reason().label()),
                Mark::Bad,
            ),
        };
        if let Some(snap) = s.snapshot.as_ref().filter(|snap| !snap.problems.is_empty()) {
            section.marked("Incomplete answer", &snap.problems.join("; "), Mark::Bad);
        }
        if s.last_error.is_some() {
            let last = ago(s.last_success_at).map_or("never".to_string(), |a| format!("{a} ago"));
            section.row("Last good poll", &last);
        }
    }
}

/// The miner families for a state, as the text a [`Rendered`] publishes.
fn render_text(s: &MinerState) -> String {
    let mut text = Exposition::new();
    render(s, &mut text);
    text.into_string()
}

/// The `miner_*` families of one dashboard, as `/metrics` and `/probe`
/// both write them.
pub fn render(s: &MinerState, out: &mut Exposition) {
    let snapshot = s.snapshot.as_ref();

    let mut info = out.family(
        "miner_exporter_info",
        "Miner Information",
        MetricType::Gauge,
    );
    if let Some(snapshot) = snapshot {
        let labels: Vec<(&str, &str)> = INFO_FIELDS
            .iter()
            .map(|f| (f.key, (f.get)(snapshot).unwrap_or("")))
            .collect();
        info.sample(&labels, 1.0);
    }
    for gauge in &UPSTREAM_GAUGES {
        let value = snapshot.and_then(gauge.field.get);
        let value = if gauge.rounded {
            value.map(|v| round_decimals(v, 3))
        } else {
            value
        };
        out.single(gauge.metric, gauge.help, MetricType::Gauge, value);
    }
    out.single(
        "miner_up",
        "Whether the last poll of the miner dashboard gave good data (1) or not (0)",
        MetricType::Gauge,
        Some(if snapshot.is_some() { 1.0 } else { 0.0 }),
    );
    out.single(
        "miner_last_success_timestamp_seconds",
        "Unix time of the last good poll of the miner dashboard",
        MetricType::Gauge,
        s.last_success_unix,
    );
    out.single(
        "miner_poll_duration_seconds",
        "How long the last poll of the miner dashboard took",
        MetricType::Gauge,
        s.last_poll_seconds,
    );
    let mut errors = out.family(
        "miner_poll_errors_total",
        "Failed polls of the miner dashboard, by reason",
        MetricType::Counter,
    );
    for (reason, count) in Reason::ALL.iter().zip(s.errors) {
        errors.sample(&[("reason", reason.label())], count as f64);
    }
}
