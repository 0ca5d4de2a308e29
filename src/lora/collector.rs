//! The LoRa collector: starts the capture thread, renders the `lora_*`
//! families from the state (the thread publishes them when they change),
//! and writes the landing page's "LoRa radio" section.

use std::sync::Arc;
use std::time::SystemTime;

use super::capture::{self, Shared};
use super::gwmp::{eui_text, Crc, Invalid, Kind, TxError, DATARATES};
use super::state::{Histogram, State, Status};
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
        // The published copy: the state's lock may be held for a batch.
        let published = lock(&self.shared.status).clone();
        status(&published, &self.config, page);
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

/// A counter family with one sample per value of its one label, every
/// value always present.
fn by_label(
    out: &mut Exposition,
    name: &'static str,
    help: &str,
    label: &str,
    values: &[&str],
    counts: &[u64],
) {
    let mut family = out.family(name, help, MetricType::Counter);
    for (value, count) in values.iter().zip(counts) {
        family.sample(&[(label, value)], *count as f64);
    }
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
    by_label(
        out,
        DATAGRAMS,
        "GWMP datagrams seen between the packet forwarder and its server, by type",
        "type",
        &Kind::LABELS,
        &s.datagrams,
    );
    by_label(
        out,
        INVALID,
        "Captured datagrams on the GWMP ports that are not valid GWMP, by reason",
        "reason",
        &Invalid::LABELS,
        &s.invalid,
    );
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
    by_label(
        out,
        TX_ACK,
        "TX_ACK datagrams from the forwarder, by the error it reported for a downlink",
        "error",
        &TxError::LABELS,
        &s.tx_acks,
    );
}

fn ago(at: SystemTime) -> String {
    let age = SystemTime::now().duration_since(at).unwrap_or_default();
    format!("{} ago", duration_text(age))
}

/// A share in percent, or a dash.
fn percent(share: Option<f64>) -> String {
    share.map_or("–".to_string(), |p| format!("{p:.0} %"))
}

/// The landing page's "LoRa radio" lines.
fn status(s: &Status, config: &Config, page: &mut Page) {
    let section = page.section("LoRa radio");
    let on = format!("on {}, UDP {}", config.interface, config.port_list());
    let (capture, mark) = match (s.capture.up, &s.capture.problem) {
        (true, _) => (on, Mark::Good),
        (false, Some(problem)) => (format!("off ({problem}) {on}"), Mark::Bad),
        (false, None) => (format!("starting {on}"), Mark::Plain),
    };
    section.marked("Capture", &capture, mark);
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
            // In Stat::COUNTERS order.
            let [heard, ok, forwarded, ..] = stat.counters;
            let count = |n: Option<f64>| n.map_or("–".to_string(), |n| format!("{n}"));
            section.row(
                "Packets heard / forwarded",
                &format!(
                    "{} / {} (stat {})",
                    count(heard),
                    count(forwarded),
                    ago(*at)
                ),
            );
            let share = match (ok, heard) {
                (Some(ok), Some(all)) if all > 0.0 => Some(100.0 * ok / all),
                _ => None,
            };
            section.row("CRC ok", &percent(share));
            let low = stat.ackr.is_some_and(|ackr| ackr < 50.0);
            let mark = if low { Mark::Bad } else { Mark::Plain };
            section.marked("Acknowledged", &percent(stat.ackr), mark);
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

    /// `/` is answered on the HTTP loop, beside `/metrics`: the landing page
    /// must not wait for the state lock, which the capture thread holds
    /// while it parses a batch of datagrams. It reads what was published.
    #[test]
    fn the_landing_page_never_waits_for_the_capture_state() {
        let shared = Arc::new(Shared::new(render_text).unwrap());
        let collector = LoraCollector {
            shared: Arc::clone(&shared),
            config: Config {
                interface: "lo".into(),
                ports: vec![1680],
                retry_interval: std::time::Duration::from_secs(1),
            },
        };
        let held = lock(&shared.state);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut page = Page::new();
                collector.status(&mut page);
                let _ = tx.send(page.render());
            });
            let page = rx.recv_timeout(std::time::Duration::from_secs(5));
            drop(held);
            let page = page.expect("the landing page waited for the capture thread's state lock");
            assert!(page.contains("LoRa radio"), "{page}");
            assert!(page.contains("starting on lo, UDP 1680"), "{page}");
        });
    }

    /// Each line of the "LoRa radio" section, with its mark, from a status.
    #[test]
    fn the_landing_page_lines_and_their_marks() {
        use super::super::gwmp::Stat;
        let config = Config {
            interface: "lo".into(),
            ports: vec![1680, 1700],
            retry_interval: std::time::Duration::from_secs(1),
        };
        let page = |s: &Status| {
            let mut page = Page::new();
            status(s, &config, &mut page);
            page.render()
        };
        let fresh = page(&Status::default());
        for want in [
            "<th>Capture</th><td>starting on lo, UDP 1680,1700</td>",
            "<th>Forwarder last seen</th><td class=\"bad\">never</td>",
            "<th>Last forwarder stat</th><td>none yet</td>",
            "<th>Last TX error</th><td>none</td>",
        ] {
            assert!(fresh.contains(want), "{want} in\n{fresh}");
        }
        let now = SystemTime::now();
        let stat = Stat {
            counters: [Some(8.0), Some(6.0), Some(5.0), None, None],
            ackr: Some(40.0),
            temp: None,
        };
        let busy = page(&Status {
            capture: super::super::state::Capture {
                up: false,
                problem: Some("no CAP_NET_RAW".into()),
            },
            forwarder_last_seen: None,
            last_stat: Some((stat, now)),
            last_tx_error: Some((TxError::TooLate, now)),
        });
        for want in [
            "<th>Capture</th><td class=\"bad\">off (no CAP_NET_RAW) on lo, UDP 1680,1700</td>",
            "<td>8 / 5 (stat 0 s ago)</td>",
            "<th>CRC ok</th><td>75 %</td>",
            "<th>Acknowledged</th><td class=\"bad\">40 %</td>",
            "<th>Last TX error</th><td class=\"bad\">too_late 0 s ago</td>",
        ] {
            assert!(busy.contains(want), "{want} in\n{busy}");
        }
        let healthy = page(&Status {
            capture: super::super::state::Capture {
                up: true,
                problem: None,
            },
            forwarder_last_seen: None,
            last_stat: Some((
                Stat {
                    counters: [Some(0.0), None, None, None, None],
                    ackr: Some(50.0),
                    temp: None,
                },
                now,
            )),
            last_tx_error: None,
        });
        for want in [
            "<th>Capture</th><td class=\"good\">on lo, UDP 1680,1700</td>",
            "<td>0 / – (stat 0 s ago)</td>",
            "<th>CRC ok</th><td>–</td>",
            "<th>Acknowledged</th><td>50 %</td>",
        ] {
            assert!(healthy.contains(want), "{want} in\n{healthy}");
        }
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
