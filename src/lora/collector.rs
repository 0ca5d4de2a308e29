//! The LoRa collector: starts the capture thread, renders the `lora_*`
//! families from the state (the thread publishes them when they change),
//! and writes the landing page's "LoRa radio" section.

use std::sync::Arc;
use std::time::SystemTime;

use super::capture::{self, Shared};
use super::gwmp::{eui_text, Crc, Invalid, Kind, TxError, DATARATES};
use super::state::{Histogram, State};
use super::*;
use crate::collector::Collector;
use crate::exposition::{Exposition, MetricType};
use crate::landing::{duration_text, reading_text, Mark, Page};
use crate::sync::lock;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Before any datagram: every family's HELP and TYPE, the fixed label
    /// sets at zero, the histograms empty, the three "absent before" gauges
    /// without a sample.
    #[test]
    fn the_families_of_a_fresh_state_byte_for_byte() {
        let want = "\
# HELP lora_capture_up Whether the GWMP capture socket is open and reading (0: no CAP_NET_RAW, no interface)
# TYPE lora_capture_up gauge
lora_capture_up 0.0
# HELP lora_capture_dropped_total GWMP datagrams the kernel dropped before the exporter read them
# TYPE lora_capture_dropped_total counter
lora_capture_dropped_total 0.0
# HELP lora_gateway_info Gateway EUI seen in a packet forwarder's datagram (at most 16)
# TYPE lora_gateway_info gauge
# HELP lora_gwmp_datagrams_total GWMP datagrams seen between the packet forwarder and its server, by type
# TYPE lora_gwmp_datagrams_total counter
lora_gwmp_datagrams_total{type=\"push_data\"} 0.0
lora_gwmp_datagrams_total{type=\"push_ack\"} 0.0
lora_gwmp_datagrams_total{type=\"pull_data\"} 0.0
lora_gwmp_datagrams_total{type=\"pull_resp\"} 0.0
lora_gwmp_datagrams_total{type=\"pull_ack\"} 0.0
lora_gwmp_datagrams_total{type=\"tx_ack\"} 0.0
# HELP lora_gwmp_invalid_datagrams_total Captured datagrams on the GWMP ports that are not valid GWMP, by reason
# TYPE lora_gwmp_invalid_datagrams_total counter
lora_gwmp_invalid_datagrams_total{reason=\"short\"} 0.0
lora_gwmp_invalid_datagrams_total{reason=\"version\"} 0.0
lora_gwmp_invalid_datagrams_total{reason=\"type\"} 0.0
lora_gwmp_invalid_datagrams_total{reason=\"json\"} 0.0
lora_gwmp_invalid_datagrams_total{reason=\"fragment\"} 0.0
lora_gwmp_invalid_datagrams_total{reason=\"too_many_gateways\"} 0.0
# HELP lora_forwarder_last_seen_timestamp_seconds Unix time of the packet forwarder's last PUSH_DATA or PULL_DATA
# TYPE lora_forwarder_last_seen_timestamp_seconds gauge
# HELP lora_push_ack_latency_seconds Time from a PUSH_DATA to its PUSH_ACK (same token, same forwarder address)
# TYPE lora_push_ack_latency_seconds histogram
lora_push_ack_latency_seconds_bucket{le=\"0.001\"} 0.0
lora_push_ack_latency_seconds_bucket{le=\"0.005\"} 0.0
lora_push_ack_latency_seconds_bucket{le=\"0.01\"} 0.0
lora_push_ack_latency_seconds_bucket{le=\"0.05\"} 0.0
lora_push_ack_latency_seconds_bucket{le=\"0.1\"} 0.0
lora_push_ack_latency_seconds_bucket{le=\"0.5\"} 0.0
lora_push_ack_latency_seconds_bucket{le=\"1\"} 0.0
lora_push_ack_latency_seconds_bucket{le=\"+Inf\"} 0.0
lora_push_ack_latency_seconds_sum 0.0
lora_push_ack_latency_seconds_count 0.0
# HELP lora_rx_packets_total Radio packets in the forwarder's rxpk arrays, by CRC status and datarate
# TYPE lora_rx_packets_total counter
# HELP lora_rx_rssi_dbm RSSI of the radio packets received with a valid CRC, in dBm
# TYPE lora_rx_rssi_dbm histogram
lora_rx_rssi_dbm_bucket{le=\"-130\"} 0.0
lora_rx_rssi_dbm_bucket{le=\"-120\"} 0.0
lora_rx_rssi_dbm_bucket{le=\"-110\"} 0.0
lora_rx_rssi_dbm_bucket{le=\"-100\"} 0.0
lora_rx_rssi_dbm_bucket{le=\"-90\"} 0.0
lora_rx_rssi_dbm_bucket{le=\"-80\"} 0.0
lora_rx_rssi_dbm_bucket{le=\"-70\"} 0.0
lora_rx_rssi_dbm_bucket{le=\"-60\"} 0.0
lora_rx_rssi_dbm_bucket{le=\"-50\"} 0.0
lora_rx_rssi_dbm_bucket{le=\"+Inf\"} 0.0
lora_rx_rssi_dbm_sum 0.0
lora_rx_rssi_dbm_count 0.0
# HELP lora_rx_snr_db SNR of the LoRa packets received with a valid CRC, in dB
# TYPE lora_rx_snr_db histogram
lora_rx_snr_db_bucket{le=\"-20\"} 0.0
lora_rx_snr_db_bucket{le=\"-15\"} 0.0
lora_rx_snr_db_bucket{le=\"-10\"} 0.0
lora_rx_snr_db_bucket{le=\"-5\"} 0.0
lora_rx_snr_db_bucket{le=\"0\"} 0.0
lora_rx_snr_db_bucket{le=\"5\"} 0.0
lora_rx_snr_db_bucket{le=\"10\"} 0.0
lora_rx_snr_db_bucket{le=\"+Inf\"} 0.0
lora_rx_snr_db_sum 0.0
lora_rx_snr_db_count 0.0
# HELP lora_forwarder_rx_packets_total Radio packets the forwarder received (sum of its stat rxnb)
# TYPE lora_forwarder_rx_packets_total counter
lora_forwarder_rx_packets_total 0.0
# HELP lora_forwarder_rx_ok_packets_total Radio packets the forwarder received with a valid CRC (sum of its stat rxok)
# TYPE lora_forwarder_rx_ok_packets_total counter
lora_forwarder_rx_ok_packets_total 0.0
# HELP lora_forwarder_forwarded_packets_total Radio packets the forwarder forwarded upstream (sum of its stat rxfw)
# TYPE lora_forwarder_forwarded_packets_total counter
lora_forwarder_forwarded_packets_total 0.0
# HELP lora_forwarder_downlink_datagrams_total Downlink datagrams the forwarder received from the server (sum of its stat dwnb)
# TYPE lora_forwarder_downlink_datagrams_total counter
lora_forwarder_downlink_datagrams_total 0.0
# HELP lora_forwarder_tx_packets_total Radio packets the forwarder emitted (sum of its stat txnb)
# TYPE lora_forwarder_tx_packets_total counter
lora_forwarder_tx_packets_total 0.0
# HELP lora_forwarder_push_ack_ratio Share of the forwarder's PUSH_DATA acknowledged in its last stat interval (ackr / 100)
# TYPE lora_forwarder_push_ack_ratio gauge
# HELP lora_concentrator_temperature_celsius Concentrator temperature in the forwarder's last stat, in degrees Celsius
# TYPE lora_concentrator_temperature_celsius gauge
# HELP lora_tx_ack_total TX_ACK datagrams from the forwarder, by the error it reported for a downlink
# TYPE lora_tx_ack_total counter
lora_tx_ack_total{error=\"none\"} 0.0
lora_tx_ack_total{error=\"too_late\"} 0.0
lora_tx_ack_total{error=\"too_early\"} 0.0
lora_tx_ack_total{error=\"collision_packet\"} 0.0
lora_tx_ack_total{error=\"collision_beacon\"} 0.0
lora_tx_ack_total{error=\"tx_freq\"} 0.0
lora_tx_ack_total{error=\"tx_power\"} 0.0
lora_tx_ack_total{error=\"gps_unlocked\"} 0.0
lora_tx_ack_total{error=\"other\"} 0.0
";
        assert_eq!(render_text(&State::default()), want);
    }

    /// The families in order, each named by its constant.
    #[test]
    fn the_families_name_themselves_as_the_issue_says() {
        let text = render_text(&State::default());
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        let mut want = vec![
            CAPTURE_UP,
            CAPTURE_DROPPED,
            GATEWAY_INFO,
            DATAGRAMS,
            INVALID,
            FORWARDER_LAST_SEEN,
            PUSH_ACK_LATENCY,
            RX_PACKETS,
            RX_RSSI,
            RX_SNR,
        ];
        want.extend(FORWARDER_COUNTERS.iter().map(|(name, _, _)| *name));
        want.extend([PUSH_ACK_RATIO, CONCENTRATOR_TEMPERATURE, TX_ACK]);
        assert_eq!(families, want);
    }
}
