//! The radio path: passive capture of the packet forwarder's Semtech UDP
//! (GWMP) traffic, never in its way.
//!
//! # Design
//!
//! * [`sys`]: every system call and all the `unsafe` of the capture: an
//!   `AF_PACKET`/`SOCK_DGRAM` socket bound to `--lora-interface`, with a
//!   classic BPF filter ([`bpf`]) so the kernel wakes the exporter only for
//!   UDP datagrams from or to a `--lora-port`, once per datagram on `lo`. The
//!   exporter never sends, never binds those ports, and the capture gets
//!   copies: nothing it does delays or alters the forwarder's traffic.
//! * [`packet`]: IP and UDP headers → a datagram (or `fragment`/`short`);
//!   [`gwmp`]: the datagram → GWMP (`short`, `version`, `type`, `json`);
//!   [`state`]: counters, histograms, the last `stat`, the gateway EUIs and
//!   the bounded PUSH_DATA → PUSH_ACK matcher.
//! * `capture.rs`: one thread that opens the socket (again every
//!   `--temper-interval` while it cannot: no `CAP_NET_RAW`, no interface),
//!   sleeps in `poll` until datagrams are queued, takes them all in, reads
//!   `PACKET_STATISTICS` for drops, and renders the families into the
//!   collector's [`Section`](crate::collector::Rendered) when something
//!   changed (at most every [`capture::PUBLISH_GAP`]). A scrape copies text.
//!   Trouble opening or keeping the socket is logged through a
//!   [`Health`](crate::health::Health): once when it starts or changes,
//!   once when it ends.
//! * `collector.rs`: [`LoraCollector`] starts the thread, renders, and adds
//!   the "LoRa radio" section of the landing page, from a copy the thread
//!   publishes with the families (`/` never waits for the state's lock).

pub mod bpf;
mod capture;
mod collector;
pub mod gwmp;
pub mod packet;
pub mod state;
// The capture's system calls: the one file of lora/ with `unsafe`.
#[allow(unsafe_code)]
mod sys;

use std::time::Duration;

pub use collector::{render, LoraCollector};

/// What the LoRa collector needs; `None` in the configuration (no
/// `--lora-port`) keeps it off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `--lora-interface`.
    pub interface: String,
    /// `--lora-port`: at most [`bpf::MAX_PORTS`], no duplicates, in order.
    pub ports: Vec<u16>,
    /// How often to try opening the capture again while it cannot be
    /// opened (`--temper-interval`'s clock).
    pub retry_interval: Duration,
}

impl Config {
    /// The ports as the log lines and the landing page name them: `1680,1700`.
    pub(crate) fn port_list(&self) -> String {
        let mut out = String::new();
        for port in &self.ports {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&port.to_string());
        }
        out
    }
}

/// `PORT[,PORT…]` → the port list; empty text → `None` (off).
pub fn parse_ports(text: &str) -> Result<Option<Vec<u16>>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut ports = Vec::new();
    for item in text.split(',') {
        let port = match item.trim().parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                return Err(format!(
                    "'{text}' is not a list of UDP ports (1-65535, comma-separated)"
                ))
            }
        };
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    if ports.len() > bpf::MAX_PORTS {
        return Err(format!(
            "'{text}' names {} ports; at most {} are captured",
            ports.len(),
            bpf::MAX_PORTS
        ));
    }
    Ok(Some(ports))
}

/// A network interface name as the kernel takes it.
pub fn check_interface(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() < 16
        && text != "."
        && text != ".."
        && !text.contains(|c: char| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "'{text}' is not a network interface name (1-15 characters, no '/', ':' or spaces)"
        ))
    }
}

/// The family names (dashboards and alerts are built on them).
pub const CAPTURE_UP: &str = "lora_capture_up";
pub const CAPTURE_DROPPED: &str = "lora_capture_dropped_total";
pub const GATEWAY_INFO: &str = "lora_gateway_info";
pub const DATAGRAMS: &str = "lora_gwmp_datagrams_total";
pub const INVALID: &str = "lora_gwmp_invalid_datagrams_total";
pub const FORWARDER_LAST_SEEN: &str = "lora_forwarder_last_seen_timestamp_seconds";
pub const PUSH_ACK_LATENCY: &str = "lora_push_ack_latency_seconds";
pub const RX_PACKETS: &str = "lora_rx_packets_total";
pub const RX_RSSI: &str = "lora_rx_rssi_dbm";
pub const RX_SNR: &str = "lora_rx_snr_db";
pub const PUSH_ACK_RATIO: &str = "lora_forwarder_push_ack_ratio";
pub const CONCENTRATOR_TEMPERATURE: &str = "lora_concentrator_temperature_celsius";
pub const TX_ACK: &str = "lora_tx_ack_total";

/// The sums of the `stat` counters: family, `stat` key, HELP.
pub const FORWARDER_COUNTERS: [(&str, &str, &str); 5] = [
    (
        "lora_forwarder_rx_packets_total",
        "rxnb",
        "Radio packets the forwarder received (sum of its stat rxnb)",
    ),
    (
        "lora_forwarder_rx_ok_packets_total",
        "rxok",
        "Radio packets the forwarder received with a valid CRC (sum of its stat rxok)",
    ),
    (
        "lora_forwarder_forwarded_packets_total",
        "rxfw",
        "Radio packets the forwarder forwarded upstream (sum of its stat rxfw)",
    ),
    (
        "lora_forwarder_downlink_datagrams_total",
        "dwnb",
        "Downlink datagrams the forwarder received from the server (sum of its stat dwnb)",
    ),
    (
        "lora_forwarder_tx_packets_total",
        "txnb",
        "Radio packets the forwarder emitted (sum of its stat txnb)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_ports(""), Ok(None));
        assert_eq!(parse_ports(" "), Ok(None));
        assert_eq!(parse_ports("1680"), Ok(Some(vec![1680])));
        assert_eq!(parse_ports("1680, 1700,1680"), Ok(Some(vec![1680, 1700])));
        let config = |ports: Vec<u16>| Config {
            interface: "lo".into(),
            ports,
            retry_interval: Duration::from_secs(1),
        };
        assert_eq!(config(vec![1680]).port_list(), "1680");
        assert_eq!(config(vec![1680, 1700, 1]).port_list(), "1680,1700,1");
        for bad in ["0", "65536", "x", "1680,", "1680;1700", "-1"] {
            assert!(parse_ports(bad).is_err(), "{bad}");
        }
        let seventeen: Vec<String> = (1..=17).map(|p| p.to_string()).collect();
        assert_eq!(
            parse_ports(&seventeen.join(",")),
            Err(format!(
                "'{}' names 17 ports; at most 16 are captured",
                seventeen.join(",")
            ))
        );
    }

    #[test]
    fn interfaces() {
        for good in [
            "lo",
            "eth0",
            "docker0",
            "br-lan",
            "wlan0.1",
            "a23456789012345",
        ] {
            assert_eq!(check_interface(good).as_deref(), Ok(good));
        }
        for bad in ["", "a234567890123456", "a/b", "a b", "..", "eth0:1"] {
            assert!(check_interface(bad).is_err(), "{bad}");
        }
    }
}
