//! The LoRa collector: starts the capture thread, renders the `lora_*`
//! families from the state (the thread publishes them when they change),
//! and writes the landing page's "LoRa radio" section.

use std::sync::Arc;
use std::time::SystemTime;

use super::capture::{self, lock, Shared};
use super::gwmp::{eui_text, Crc, Invalid, Kind, TxError, DATARATES};
use super::state::{Histogram, State};
use super::*;
use crate::collector::Collector;
use crate::exposition::{Exposition, MetricType};
use crate::landing::{duration_text, reading_text, Mark, Page};

pub struct LoraCollector {
    shared: Arc<Shared>,
    config: Config,
}

impl LoraCollector {
    /// Starts the capture thread; the socket is opened there (and opened
    /// again while it cannot be), so this fails only without a thread.
    pub fn start(config: Config) -> std::io::Result<LoraCollector> {
        let shared = Arc::new(Shared::new(render_text)?);
        capture::spawn(Arc::clone(&shared), config.clone())?;
        Ok(LoraCollector { shared, config })
    }

    /// The LoRa families alone, as one exposition body.
    pub fn render(&self) -> String {
        self.shared.section.current().to_string()
    }
}

impl Drop for LoraCollector {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

impl Collector for LoraCollector {
    fn collect(&self, out: &mut Exposition) {
        out.append_rendered(&self.shared.section.current());
    }

    fn status(&self, page: &mut Page) {
        status(&lock(&self.shared.state), &self.config, page);
    }
}

fn render_text(state: &State) -> String {
    let mut out = Exposition::new();
    render(state, &mut out);
    out.into_string()
}

fn histogram(out: &mut Exposition, name: &'static str, help: &str, h: &Histogram) {
    let mut family = out.family(name, help, MetricType::Histogram);
    for (le, count) in h.cumulative() {
        family.sample_suffixed("_bucket", &[("le", le)], count as f64);
    }
    family.sample_suffixed("_sum", &[], h.sum);
    family.sample_suffixed("_count", &[], h.count() as f64);
}

/// The `lora_*` families of a state.
pub fn render(s: &State, out: &mut Exposition) {
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    out.single(
        CAPTURE_UP,
        "Whether the GWMP capture socket is open and reading (0: no CAP_NET_RAW, no interface)",
        MetricType::Gauge,
        Some(flag(s.capture.up)),
    );
    out.single(
        CAPTURE_DROPPED,
        "GWMP datagrams the kernel dropped before the exporter read them",
        MetricType::Counter,
        Some(s.dropped as f64),
    );
    let mut gateways: Vec<String> = s.gateways.iter().map(eui_text).collect();
    gateways.sort_unstable();
    let mut f = out.family(
        GATEWAY_INFO,
        "Gateway EUI seen in a packet forwarder's datagram (at most 16)",
        MetricType::Gauge,
    );
    for gateway in &gateways {
        f.sample(&[("gateway_id", gateway)], 1.0);
    }
    let mut f = out.family(
        DATAGRAMS,
        "GWMP datagrams seen between the packet forwarder and its server, by type",
        MetricType::Counter,
    );
    for kind in Kind::ALL {
        f.sample(&[("type", kind.label())], s.datagrams[kind as usize] as f64);
    }
    let mut f = out.family(
        INVALID,
        "Captured datagrams on the GWMP ports that are not valid GWMP, by reason",
        MetricType::Counter,
    );
    for reason in Invalid::ALL {
        f.sample(
            &[("reason", reason.label())],
            s.invalid[reason as usize] as f64,
        );
    }
    out.single(
        FORWARDER_LAST_SEEN,
        "Unix time of the packet forwarder's last PUSH_DATA or PULL_DATA",
        MetricType::Gauge,
        s.forwarder_last_seen,
    );
    histogram(
        out,
        PUSH_ACK_LATENCY,
        "Time from a PUSH_DATA to its PUSH_ACK (same token, same forwarder address)",
        &s.latency,
    );
    let mut f = out.family(
        RX_PACKETS,
        "Radio packets in the forwarder's rxpk arrays, by CRC status and datarate",
        MetricType::Counter,
    );
    for crc in Crc::ALL {
        for (i, datarate) in DATARATES.iter().enumerate() {
            let n = s.rx[crc as usize][i];
            if n > 0 {
                f.sample(&[("crc", crc.label()), ("datarate", datarate)], n as f64);
            }
        }
    }
    histogram(
        out,
        RX_RSSI,
        "RSSI of the radio packets received with a valid CRC, in dBm",
        &s.rssi,
    );
    histogram(
        out,
        RX_SNR,
        "SNR of the LoRa packets received with a valid CRC, in dB",
        &s.snr,
    );
    for (i, (name, _, help)) in FORWARDER_COUNTERS.iter().enumerate() {
        out.single(name, help, MetricType::Counter, Some(s.forwarder_totals[i]));
    }
    let last = s.last_stat.as_ref().map(|(stat, _)| stat);
    out.single(
        PUSH_ACK_RATIO,
        "Share of the forwarder's PUSH_DATA acknowledged in its last stat interval (ackr / 100)",
        MetricType::Gauge,
        last.and_then(|stat| stat.ackr).map(|ackr| ackr / 100.0),
    );
    out.single(
        CONCENTRATOR_TEMPERATURE,
        "Concentrator temperature in the forwarder's last stat, in degrees Celsius",
        MetricType::Gauge,
        last.and_then(|stat| stat.temp),
    );
    let mut f = out.family(
        TX_ACK,
        "TX_ACK datagrams from the forwarder, by the error it reported for a downlink",
        MetricType::Counter,
    );
    for error in TxError::ALL {
        f.sample(
            &[("error", error.label())],
            s.tx_acks[error as usize] as f64,
        );
    }
}

fn ago(at: SystemTime) -> String {
    let age = SystemTime::now().duration_since(at).unwrap_or_default();
    format!("{} ago", duration_text(age))
}

/// The landing page's "LoRa radio" lines.
fn status(s: &State, config: &Config, page: &mut Page) {
    let section = page.section("LoRa radio");
    let ports: Vec<String> = config.ports.iter().map(u16::to_string).collect();
    let on = format!("{}, UDP {}", config.interface, ports.join(","));
    match (&s.capture.up, &s.capture.problem) {
        (true, _) => section.marked("Capture", &format!("on {on}"), Mark::Good),
        (false, Some(problem)) => {
            section.marked("Capture", &format!("off ({problem}) on {on}"), Mark::Bad)
        }
        (false, None) => section.row("Capture", &format!("starting on {on}")),
    };
    let last_seen = s
        .forwarder_last_seen
        .map(|unix| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs_f64(unix.max(0.0)));
    match last_seen {
        Some(at) => section.row("Forwarder last seen", &ago(at)),
        None => section.marked("Forwarder last seen", "never", Mark::Bad),
    };
    match &s.last_stat {
        None => {
            section.row("Last forwarder stat", "none yet");
        }
        Some((stat, at)) => {
            let count = |key| {
                stat.counter(key)
                    .map_or("–".to_string(), |n| format!("{n}"))
            };
            section.row(
                "Packets heard / forwarded",
                &format!("{} / {} (stat {})", count("rxnb"), count("rxfw"), ago(*at)),
            );
            let share = match (stat.counter("rxok"), stat.counter("rxnb")) {
                (Some(ok), Some(all)) if all > 0.0 => format!("{:.0} %", 100.0 * ok / all),
                _ => "–".to_string(),
            };
            section.row("CRC ok", &share);
            match stat.ackr {
                Some(ackr) if ackr < 50.0 => {
                    section.marked("Acknowledged", &format!("{ackr:.0} %"), Mark::Bad)
                }
                Some(ackr) => section.row("Acknowledged", &format!("{ackr:.0} %")),
                None => section.row("Acknowledged", "–"),
            };
            section.row("Concentrator", &reading_text(stat.temp, "°C"));
        }
    }
    match &s.last_tx_error {
        Some((error, at)) => section.marked(
            "Last TX error",
            &format!("{} {}", error.label(), ago(*at)),
            Mark::Bad,
        ),
        None => section.row("Last TX error", "none"),
    };
}
