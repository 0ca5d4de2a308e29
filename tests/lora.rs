//! The LoRa collector over the real kernel: the binary captures on `lo`
//! while these tests play a packet forwarder and a gateway over real UDP.
//! They need `CAP_NET_RAW` (root); without it they say so and pass, except
//! under `CI=true`, where they fail. Each test uses its own ports, so tests
//! running in parallel never see each other's datagrams.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use linxdot_sim::exporter::Exporter;
use linxdot_sim::gwmp::{self, Forwarder, ForwarderKnobs, Gateway, GatewayKnobs};
use linxdot_sim::promtool::check_metrics;
use linxdot_sim::skip::skip;
use linxdot_sim::text::sample;

const EUI: [u8; 8] = [0xAA, 0x55, 0x5A, 0x00, 0x00, 0x00, 0x01, 0x01];
const WAIT: Duration = Duration::from_secs(10);

/// True when the capture can run here; otherwise says why (and fails in CI).
fn privileged(test: &str) -> bool {
    match gwmp::can_capture() {
        Ok(()) => true,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: {why} (CI=true: the LoRa capture tests must run)")
        }
        Err(why) => {
            skip(test, &why);
            false
        }
    }
}

/// The exporter capturing `ports` on `lo`, once its capture is up.
fn exporter(ports: &str) -> Exporter {
    let exp = Exporter::start(&["--lora-port", ports], &[]);
    exp.scrape_until(WAIT, |b| sample(b, "lora_capture_up") == Some(1.0));
    exp
}

/// The `lora_*` sample lines of a scrape, without the two whose values are
/// clock readings (checked on their own).
fn lora_lines(body: &str) -> String {
    body.lines()
        .filter(|l| l.starts_with("lora_"))
        .filter(|l| !l.starts_with("lora_forwarder_last_seen_timestamp_seconds "))
        .filter(|l| !l.starts_with("lora_push_ack_latency_seconds_sum "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn udp(bind: &str) -> UdpSocket {
    let socket = UdpSocket::bind(bind).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
}

fn datagrams(body: &str, kind: &str) -> Option<f64> {
    sample(
        body,
        &format!("lora_gwmp_datagrams_total{{type=\"{kind}\"}}"),
    )
}

fn invalid(body: &str, reason: &str) -> Option<f64> {
    sample(
        body,
        &format!("lora_gwmp_invalid_datagrams_total{{reason=\"{reason}\"}}"),
    )
}

/// One counter line per label value, with its count, in order.
fn counter_lines<const N: usize>(
    metric: &str,
    label: &str,
    values: [&str; N],
    counts: [u64; N],
) -> String {
    values
        .iter()
        .zip(counts)
        .map(|(v, n)| format!("{metric}{{{label}=\"{v}\"}} {n}.0\n"))
        .collect()
}

/// All six types, zero unless given.
fn type_lines(counts: [u64; 6]) -> String {
    let kinds = [
        "push_data",
        "push_ack",
        "pull_data",
        "pull_resp",
        "pull_ack",
        "tx_ack",
    ];
    counter_lines("lora_gwmp_datagrams_total", "type", kinds, counts)
}

fn invalid_lines(counts: [u64; 6]) -> String {
    let reasons = [
        "short",
        "version",
        "type",
        "json",
        "fragment",
        "too_many_gateways",
    ];
    counter_lines(
        "lora_gwmp_invalid_datagrams_total",
        "reason",
        reasons,
        counts,
    )
}

fn tx_lines(counts: [u64; 9]) -> String {
    let errors = [
        "none",
        "too_late",
        "too_early",
        "collision_packet",
        "collision_beacon",
        "tx_freq",
        "tx_power",
        "gps_unlocked",
        "other",
    ];
    counter_lines("lora_tx_ack_total", "error", errors, counts)
}

fn buckets(name: &str, les: &[&str], counts: &[u64], count: u64) -> String {
    let mut out: String = les
        .iter()
        .zip(counts)
        .map(|(le, n)| format!("{name}_bucket{{le=\"{le}\"}} {n}.0\n"))
        .collect();
    out.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {count}.0\n"));
    out
}

const LATENCY_LE: [&str; 7] = ["0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1"];
const RSSI_LE: [&str; 9] = [
    "-130", "-120", "-110", "-100", "-90", "-80", "-70", "-60", "-50",
];
const SNR_LE: [&str; 7] = ["-20", "-15", "-10", "-5", "0", "5", "10"];

/// The whole exchange of a forwarder with its gateway, datagram by
/// datagram, and every `lora_*` value after it.
#[test]
fn a_scripted_exchange_gives_exact_counters_and_buckets() {
    if !privileged("a_scripted_exchange_gives_exact_counters_and_buckets") {
        return;
    }
    let port = 23101;
    let exp = exporter(&port.to_string());
    let gateway = udp(&format!("127.0.0.1:{port}"));
    let (up, down) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"));
    let server: SocketAddr = gateway.local_addr().unwrap();
    let mut buffer = [0u8; 2048];
    let before = gwmp::unix_now();

    down.send_to(&gwmp::pull_data(2, 1, EUI), server).unwrap();
    let (_, down_addr) = gateway.recv_from(&mut buffer).unwrap();
    gateway.send_to(&gwmp::pull_ack(2, 1), down_addr).unwrap();

    let rx = [
        gwmp::rxpk(1, "SF7BW125", -65.0, 7.5),
        gwmp::rxpk(-1, "SF12BW125", -121.0, -12.0),
        gwmp::rxpk(0, "50000", -80.0, 0.0),
        r#"{"stat":1,"modu":"LORA","datr":"SF9BW125","rsig":[{"ant":0,"chan":1,"rssic":-105,"lsnr":-8.0}]}"#.to_string(),
    ];
    let stat = gwmp::stat(4, 2, 3, 75.0, 1, 1, Some(47.25));
    let json = format!("{{\"rxpk\":[{}],\"stat\":{stat}}}", rx.join(","));
    let pushed = Instant::now();
    up.send_to(&gwmp::push_data(2, 0x0102, EUI, &json), server)
        .unwrap();
    let (_, up_addr) = gateway.recv_from(&mut buffer).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    gateway
        .send_to(&gwmp::push_ack(2, 0x0102), up_addr)
        .unwrap();
    let latency = pushed.elapsed();
    assert!(
        latency > Duration::from_millis(11) && latency < Duration::from_millis(49),
        "the machine stalled: the ack went {latency:?} after the push, so its bucket is not the 0.05 one"
    );

    gateway
        .send_to(
            &gwmp::pull_resp(2, 7, r#"{"txpk":{"imme":true,"freq":869.525}}"#),
            down_addr,
        )
        .unwrap();
    down.recv_from(&mut buffer).unwrap();
    down.send_to(&gwmp::tx_ack(2, 7, EUI, None), server)
        .unwrap();

    let body = exp.scrape_until(WAIT, |b| datagrams(b, "tx_ack") == Some(1.0));
    let mut want = String::from("lora_capture_up 1.0\nlora_capture_dropped_total 0.0\n");
    want.push_str("lora_gateway_info{gateway_id=\"AA555A0000000101\"} 1.0\n");
    want.push_str(&type_lines([1, 1, 1, 1, 1, 1]));
    want.push_str(&invalid_lines([0; 6]));
    want.push_str(&buckets(
        "lora_push_ack_latency_seconds",
        &LATENCY_LE,
        &[0, 0, 0, 1, 1, 1, 1],
        1,
    ));
    want.push_str("lora_push_ack_latency_seconds_count 1.0\n");
    want.push_str(
        "lora_rx_packets_total{crc=\"ok\",datarate=\"SF7BW125\"} 1.0\n\
         lora_rx_packets_total{crc=\"ok\",datarate=\"SF9BW125\"} 1.0\n\
         lora_rx_packets_total{crc=\"fail\",datarate=\"SF12BW125\"} 1.0\n\
         lora_rx_packets_total{crc=\"none\",datarate=\"FSK\"} 1.0\n",
    );
    want.push_str(&buckets(
        "lora_rx_rssi_dbm",
        &RSSI_LE,
        &[0, 0, 0, 1, 1, 1, 1, 2, 2],
        2,
    ));
    want.push_str("lora_rx_rssi_dbm_sum -170.0\nlora_rx_rssi_dbm_count 2.0\n");
    want.push_str(&buckets(
        "lora_rx_snr_db",
        &SNR_LE,
        &[0, 0, 0, 1, 1, 1, 2],
        2,
    ));
    want.push_str("lora_rx_snr_db_sum -0.5\nlora_rx_snr_db_count 2.0\n");
    want.push_str(
        "lora_forwarder_rx_packets_total 4.0\n\
         lora_forwarder_rx_ok_packets_total 2.0\n\
         lora_forwarder_forwarded_packets_total 3.0\n\
         lora_forwarder_downlink_datagrams_total 1.0\n\
         lora_forwarder_tx_packets_total 1.0\n\
         lora_forwarder_push_ack_ratio 0.75\n\
         lora_concentrator_temperature_celsius 47.25\n",
    );
    want.push_str(&tx_lines([1, 0, 0, 0, 0, 0, 0, 0, 0]));
    assert_eq!(lora_lines(&body), want, "{body}");

    let seen = sample(&body, "lora_forwarder_last_seen_timestamp_seconds").unwrap();
    assert!(
        seen >= before - 1.0 && seen <= gwmp::unix_now() + 1.0,
        "{seen}"
    );
    let sum = sample(&body, "lora_push_ack_latency_seconds_sum").unwrap();
    assert!(
        (sum - latency.as_secs_f64()).abs() < 0.005,
        "kernel-timed latency {sum} vs {latency:?} seen by the sender"
    );
    // Each family once, HELP and TYPE before the samples; histogram types.
    for family in [
        "lora_push_ack_latency_seconds",
        "lora_rx_rssi_dbm",
        "lora_rx_snr_db",
    ] {
        assert_eq!(
            body.matches(&format!("# TYPE {family} histogram\n"))
                .count(),
            1
        );
    }
    assert_eq!(body.matches("# HELP lora_").count(), 18, "{body}");

    check_metrics("promtool check metrics of the LoRa families", &body);

    // The landing page says the same.
    let page = exp.get("/").body;
    for text in [
        "LoRa radio",
        "Capture",
        "on lo, UDP 23101",
        "4 / 3",
        "50 %",
        "75 %",
        "47.2",
    ] {
        assert!(page.contains(text), "{text} missing from\n{page}");
    }
}

/// Every datagram crosses `lo` twice (out and in); one copy is counted.
#[test]
fn lo_double_copy_is_counted_once() {
    if !privileged("lo_double_copy_is_counted_once") {
        return;
    }
    let port = 23102;
    let exp = exporter(&port.to_string());
    let _gateway = udp(&format!("127.0.0.1:{port}"));
    let forwarder = udp("127.0.0.1:0");
    for token in 0..50 {
        forwarder
            .send_to(&gwmp::pull_data(2, token, EUI), ("127.0.0.1", port))
            .unwrap();
    }
    let body = exp.scrape_until(WAIT, |b| datagrams(b, "pull_data") >= Some(50.0));
    // A later datagram marks the end: nothing more arrives after it.
    forwarder
        .send_to(&gwmp::push_ack(2, 1), ("127.0.0.1", port))
        .unwrap();
    let body_after = exp.scrape_until(WAIT, |b| datagrams(b, "push_ack") == Some(1.0));
    assert_eq!(datagrams(&body, "pull_data"), Some(50.0), "{body}");
    assert_eq!(datagrams(&body_after, "pull_data"), Some(50.0));
}

#[test]
fn ipv6_datagrams_are_captured() {
    if !privileged("ipv6_datagrams_are_captured") {
        return;
    }
    let port = 23103;
    let exp = exporter(&port.to_string());
    let Ok(gateway) = UdpSocket::bind(format!("[::1]:{port}")) else {
        return skip("ipv6_datagrams_are_captured", "no ::1 on lo");
    };
    gateway
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let forwarder = udp("[::1]:0");
    let json = format!("{{\"rxpk\":[{}]}}", gwmp::rxpk(1, "SF10BW125", -99.0, 1.0));
    forwarder
        .send_to(&gwmp::push_data(1, 0xBEEF, EUI, &json), ("::1", port))
        .unwrap();
    let mut buffer = [0u8; 1024];
    let (_, from) = gateway.recv_from(&mut buffer).unwrap();
    gateway.send_to(&gwmp::push_ack(1, 0xBEEF), from).unwrap();
    let body = exp.scrape_until(WAIT, |b| {
        sample(b, "lora_push_ack_latency_seconds_count") == Some(1.0)
    });
    assert_eq!(datagrams(&body, "push_data"), Some(1.0), "{body}");
    assert_eq!(datagrams(&body, "push_ack"), Some(1.0));
    assert_eq!(
        sample(
            &body,
            "lora_rx_packets_total{crc=\"ok\",datarate=\"SF10BW125\"}"
        ),
        Some(1.0)
    );
}

/// GWMP on a port not in the list is not seen; two listed ports both are.
#[test]
fn other_ports_are_ignored() {
    if !privileged("other_ports_are_ignored") {
        return;
    }
    let exp = exporter("23104,23105");
    let forwarder = udp("127.0.0.1:0");
    for port in [23106, 23107, 23104, 23108, 23105] {
        forwarder
            .send_to(&gwmp::pull_data(2, port, EUI), ("127.0.0.1", port))
            .unwrap();
    }
    // An end marker on a listed port: everything before it was looked at.
    forwarder
        .send_to(&gwmp::pull_ack(2, 9), ("127.0.0.1", 23105))
        .unwrap();
    let body = exp.scrape_until(WAIT, |b| datagrams(b, "pull_ack") == Some(1.0));
    assert_eq!(datagrams(&body, "pull_data"), Some(2.0), "{body}");
    assert_eq!(invalid(&body, "short"), Some(0.0));
}

#[test]
fn push_ack_matches_by_token_and_forwarder_address() {
    if !privileged("push_ack_matches_by_token_and_forwarder_address") {
        return;
    }
    let port = 23109;
    let exp = exporter(&port.to_string());
    let gateway = udp(&format!("127.0.0.1:{port}"));
    let (a, b) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"));
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let to = ("127.0.0.1", port);
    a.send_to(&gwmp::push_data(2, 5, EUI, "{}"), to).unwrap();
    b.send_to(&gwmp::push_data(2, 6, EUI, "{}"), to).unwrap();
    gateway.send_to(&gwmp::push_ack(2, 5), b_addr).unwrap(); // wrong address
    gateway.send_to(&gwmp::push_ack(2, 7), a_addr).unwrap(); // wrong token
    let body = exp.scrape_until(WAIT, |b| datagrams(b, "push_ack") == Some(2.0));
    assert_eq!(
        sample(&body, "lora_push_ack_latency_seconds_count"),
        Some(0.0)
    );
    gateway.send_to(&gwmp::push_ack(2, 5), a_addr).unwrap(); // matches
    gateway.send_to(&gwmp::push_ack(2, 5), a_addr).unwrap(); // already matched
    gateway.send_to(&gwmp::push_ack(2, 6), b_addr).unwrap(); // matches
    let body = exp.scrape_until(WAIT, |b| datagrams(b, "push_ack") == Some(5.0));
    assert_eq!(
        sample(&body, "lora_push_ack_latency_seconds_count"),
        Some(2.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "lora_push_ack_latency_seconds_bucket{le=\"+Inf\"}"),
        Some(2.0)
    );
}

#[test]
fn each_malformed_kind_is_counted_and_logged_once() {
    if !privileged("each_malformed_kind_is_counted_and_logged_once") {
        return;
    }
    let port = 23110;
    let exp = exporter(&port.to_string());
    let _gateway = udp(&format!("127.0.0.1:{port}"));
    let f = udp("127.0.0.1:0");
    let to = ("127.0.0.1", port);
    for bytes in [
        vec![2u8, 0],
        vec![2, 0],
        vec![3, 0, 0, 1],
        vec![2, 0, 0, 6],
        gwmp::push_data(2, 1, EUI, "{\"rxpk\":[{\"stat\":1}"),
        gwmp::push_data(2, 1, EUI, &format!("{}{}", "[".repeat(40), "]".repeat(40))),
    ] {
        f.send_to(&bytes, to).unwrap();
    }
    // Sixteen gateways fill the table; the seventeenth is refused.
    for i in 0..17u8 {
        let mut eui = EUI;
        eui[7] = i;
        f.send_to(&gwmp::pull_data(2, 1, eui), to).unwrap();
    }
    gwmp::send_ipv4_fragment(40000, port, &gwmp::pull_data(2, 1, EUI)).unwrap();
    let body = exp.scrape_until(WAIT, |b| invalid(b, "fragment") == Some(1.0));
    assert_eq!(
        lora_lines(&body)
            .lines()
            .filter(|l| l.contains("invalid"))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
        invalid_lines([2, 1, 1, 2, 1, 1]),
        "{body}"
    );
    assert_eq!(datagrams(&body, "pull_data"), Some(16.0));
    assert_eq!(body.matches("lora_gateway_info{").count(), 16);
    let log = exp.log();
    for reason in [
        "short",
        "version",
        "type",
        "json",
        "fragment",
        "too_many_gateways",
    ] {
        assert_eq!(
            log.matches(&format!("({reason})")).count(),
            1,
            "{reason} logged once:\n{log}"
        );
    }
    assert!(log.contains(r#"first bytes: "\x02\x00""#), "{log}");
}

/// A malformed datagram's warning stays one log line whatever its JSON
/// holds: tinyjson's error message quotes the offending character, here a
/// raw newline after a backslash.
#[test]
fn a_malformed_datagrams_warning_is_one_line() {
    if !privileged("a_malformed_datagrams_warning_is_one_line") {
        return;
    }
    let port = 23118;
    let exp = exporter(&port.to_string());
    let _gateway = udp(&format!("127.0.0.1:{port}"));
    let f = udp("127.0.0.1:0");
    let json = "{\"rxpk\":\"\\\n\"}";
    f.send_to(&gwmp::push_data(2, 1, EUI, json), ("127.0.0.1", port))
        .unwrap();
    exp.scrape_until(WAIT, |b| invalid(b, "json") == Some(1.0));
    let log = exp.log();
    assert_eq!(log.matches("is not valid GWMP (json)").count(), 1, "{log}");
    for line in log.lines() {
        assert!(
            line.starts_with(|c: char| c.is_ascii_digit()),
            "a log line that is not a logged event's start: {line:?} in\n{log}"
        );
    }
}

#[test]
fn every_tx_ack_error_has_its_label() {
    if !privileged("every_tx_ack_error_has_its_label") {
        return;
    }
    let port = 23111;
    let exp = exporter(&port.to_string());
    let _gateway = udp(&format!("127.0.0.1:{port}"));
    let f = udp("127.0.0.1:0");
    let errors = [
        Some("NONE"),
        None,
        Some("TOO_LATE"),
        Some("TOO_EARLY"),
        Some("COLLISION_PACKET"),
        Some("COLLISION_BEACON"),
        Some("TX_FREQ"),
        Some("TX_POWER"),
        Some("GPS_UNLOCKED"),
        Some("SOMETHING_NEW"),
        Some("TOO_LATE"),
    ];
    for (token, error) in errors.iter().enumerate() {
        f.send_to(
            &gwmp::tx_ack(2, token as u16, EUI, *error),
            ("127.0.0.1", port),
        )
        .unwrap();
    }
    let body = exp.scrape_until(WAIT, |b| datagrams(b, "tx_ack") == Some(11.0));
    let got: String = lora_lines(&body)
        .lines()
        .filter(|l| l.starts_with("lora_tx_ack_total"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(got, tx_lines([2, 2, 1, 1, 1, 1, 1, 1, 1]));
    let page = exp.get("/").body;
    assert!(
        page.contains("too_late"),
        "last TX error on the page:\n{page}"
    );
}

/// Started while a forwarder and its gateway are busy: no invalid
/// datagram, acks of pushes sent before the start counted as datagrams only.
#[test]
fn a_capture_that_starts_after_traffic_began() {
    if !privileged("a_capture_that_starts_after_traffic_began") {
        return;
    }
    let port = 23112;
    let gateway = Gateway::start(
        format!("127.0.0.1:{port}").parse().unwrap(),
        GatewayKnobs {
            downlink_every: Some(Duration::from_millis(100)),
            ..GatewayKnobs::default()
        },
    )
    .unwrap();
    let forwarder = Forwarder::start(
        gateway.addr,
        ForwarderKnobs {
            uplinks_per_second: 200.0,
            stat_interval: Duration::from_millis(200),
            keepalive_interval: Duration::from_millis(100),
            tx_errors: vec!["NONE".into(), "TOO_LATE".into()],
            ..ForwarderKnobs::default()
        },
    )
    .unwrap();
    linxdot_sim::wait::until("traffic before the capture", || {
        forwarder
            .tally
            .received
            .load(std::sync::atomic::Ordering::Relaxed)
            > 50
    });
    let exp = exporter(&port.to_string());
    let body = exp.scrape_until(WAIT, |b| {
        datagrams(b, "tx_ack") >= Some(2.0)
            && sample(b, "lora_forwarder_push_ack_ratio").is_some()
            && datagrams(b, "push_data") >= Some(100.0)
    });
    assert_eq!(
        lora_lines(&body)
            .lines()
            .filter(|l| l.contains("invalid"))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
        invalid_lines([0; 6]),
        "{body}"
    );
    let acks = datagrams(&body, "push_ack").unwrap();
    let matched = sample(&body, "lora_push_ack_latency_seconds_count").unwrap();
    assert!(matched <= acks && matched > 0.0, "{matched} of {acks}");
    assert_eq!(sample(&body, "lora_capture_dropped_total"), Some(0.0));
    assert!(sample(&body, "lora_tx_ack_total{error=\"too_late\"}") >= Some(1.0));
}

/// No interface: one warning naming it, `lora_capture_up 0`, the rest served.
#[test]
fn a_missing_interface_is_named_once_and_the_rest_is_served() {
    let exp = Exporter::start(
        &[
            "--lora-port",
            "23113",
            "--lora-interface",
            "nolora0",
            "--temper-interval",
            "0.2",
        ],
        &[],
    );
    let body = exp.scrape_until(WAIT, |b| sample(b, "lora_capture_up") == Some(0.0));
    assert!(body.contains("# TYPE process_open_fds gauge\n"), "{body}");
    assert!(body.contains("linxdot_exporter_build_info{"), "{body}");
    assert_eq!(datagrams(&body, "push_data"), Some(0.0));
    // Several retries later, still one line.
    std::thread::sleep(Duration::from_millis(700));
    let log = exp.log();
    assert_eq!(
        log.matches("there is no network interface 'nolora0'")
            .count(),
        1,
        "{log}"
    );
    assert!(exp.get("/").body.contains("no interface"));
}

/// Without `CAP_NET_RAW` (dropped from the bounding set by `setpriv`): one
/// warning naming it, `lora_capture_up 0`, everything else served.
#[test]
fn without_cap_net_raw_the_rest_is_served() {
    if !privileged("without_cap_net_raw_the_rest_is_served") {
        return;
    }
    if Command::new("setpriv")
        .arg("--help")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("setpriv (util-linux) is needed under CI=true");
        }
        return skip("without_cap_net_raw_the_rest_is_served", "no setpriv");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port_text = port.to_string();
    let args = [
        "--bind-address",
        "127.0.0.1",
        "--port",
        &port_text,
        "--no-temper",
        "--lora-port",
        "23114",
    ];
    let wrapper = [
        "setpriv",
        "--bounding-set",
        "-net_raw",
        "--inh-caps",
        "-net_raw",
        "--",
    ];
    let (mut child, log) = spawn_wrapped(&wrapper, &args).expect("setpriv");
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let body = linxdot_sim::wait::poll("a scrape", WAIT, Duration::from_millis(20), || {
        std::net::TcpStream::connect(address).map_err(|e| e.to_string())?;
        let answer = linxdot_sim::http::get(address, "/metrics");
        match sample(&answer.body, "lora_capture_up") {
            Some(v) if v == 0.0 && log.lock().unwrap().contains("CAP_NET_RAW") => Ok(answer.body),
            _ => Err(answer.body),
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(body.contains("# TYPE process_open_fds gauge\n"), "{body}");
    let log = log.lock().unwrap().clone();
    assert_eq!(log.matches("lacks CAP_NET_RAW").count(), 1, "{log}");
}

/// Without `--lora-port`, no `lora_` family: upstream users see nothing new.
#[test]
fn off_without_a_port() {
    let exp = Exporter::start(&[], &[("LORA_PORT", "")]);
    let body = exp.scrape();
    assert!(!body.contains("lora_"), "{body}");
}

/// While the exporter cannot read (stopped by SIGSTOP), the kernel drops
/// what does not fit its receive buffer; `lora_capture_dropped_total`
/// counts exactly those: counted + dropped = sent.
#[test]
fn dropped_datagrams_are_accounted_for() {
    if !privileged("dropped_datagrams_are_accounted_for") {
        return;
    }
    let port = 23115;
    let exp = exporter(&port.to_string());
    let _gateway = udp(&format!("127.0.0.1:{port}"));
    let f = udp("127.0.0.1:0");
    let pid = exp.pid() as i32;
    // SAFETY: signals to the child this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let sent = 20_000u32;
    for token in 0..sent {
        f.send_to(&gwmp::pull_data(2, token as u16, EUI), ("127.0.0.1", port))
            .unwrap();
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let seen = |b: &str| {
        datagrams(b, "pull_data").unwrap_or(0.0)
            + sample(b, "lora_capture_dropped_total").unwrap_or(0.0)
    };
    let body = exp.scrape_until(WAIT, |b| seen(b) >= f64::from(sent));
    let dropped = sample(&body, "lora_capture_dropped_total").unwrap();
    assert!(dropped > 0.0, "{sent} datagrams fit the buffer? {body}");
    assert_eq!(seen(&body), f64::from(sent), "{body}");
    // Nothing more arrives later.
    f.send_to(&gwmp::pull_ack(2, 1), ("127.0.0.1", port))
        .unwrap();
    let body = exp.scrape_until(WAIT, |b| datagrams(b, "pull_ack") == Some(1.0));
    assert_eq!(seen(&body), f64::from(sent), "{body}");
}

/// Runs the binary with `args` under `wrapper` (a command prefix), its
/// stderr collected; `None` when the wrapper is missing.
fn spawn_wrapped(
    wrapper: &[&str],
    args: &[&str],
) -> Option<(
    std::process::Child,
    std::sync::Arc<std::sync::Mutex<String>>,
)> {
    let mut child = Command::new(wrapper[0])
        .args(&wrapper[1..])
        .arg(linxdot_sim::exporter::bin())
        .args(args)
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader_log = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let mut log = reader_log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    Some((child, log))
}

/// In a network namespace of its own, where `lo` starts down: the capture
/// opens and fails at once, again and again; that is said once, and once
/// more when `lo` comes up.
#[test]
fn an_interface_that_is_down_is_said_once_and_its_return_too() {
    if !privileged("an_interface_that_is_down_is_said_once_and_its_return_too") {
        return;
    }
    let args = [
        "--bind-address",
        "0.0.0.0",
        "--port",
        "0",
        "--no-temper",
        "--lora-port",
        "23116",
        "--temper-interval",
        "0.1",
    ];
    let Some((mut child, log)) = spawn_wrapped(&["unshare", "-n"], &args) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("unshare (util-linux) is needed under CI=true");
        }
        return skip(
            "an_interface_that_is_down_is_said_once_and_its_return_too",
            "no unshare",
        );
    };
    let text = || log.lock().unwrap().clone();
    let failed = "LoRa: the capture on lo failed: Network is down";
    linxdot_sim::wait::until("the first failure", || text().contains(failed));
    // Ten retry intervals later, still one line.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(text().matches(failed).count(), 1, "{}", text());
    assert!(!text().contains("capturing GWMP again"), "{}", text());
    let up = Command::new("nsenter")
        .args([
            "-t",
            &child.id().to_string(),
            "-n",
            "ip",
            "link",
            "set",
            "lo",
            "up",
        ])
        .status()
        .expect("nsenter");
    assert!(up.success());
    linxdot_sim::wait::until("the capture back", || {
        text().contains("LoRa: the capture works again")
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(text().matches(failed).count(), 1, "{}", text());
}

/// The collector in this process: dropping it ends the capture thread,
/// which closes its packet socket and eventfd (a stop like the TEMPer
/// threads': at once, not at a next datagram).
#[test]
fn dropping_the_collector_ends_the_capture() {
    if !privileged("dropping_the_collector_ends_the_capture") {
        return;
    }
    use linxdot_exporter::lora::{Config, LoraCollector};
    let links = || -> Vec<String> {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .map(|target| target.to_string_lossy().into_owned())
            .collect()
    };
    let eventfds = || {
        links()
            .iter()
            .filter(|l| *l == "anon_inode:[eventfd]")
            .count()
    };
    // This process's packet sockets bound to lo (ifindex 1) for every
    // protocol (ETH_P_ALL, 0003): /proc/net/packet's inodes among its
    // descriptors. (`privileged` in other tests opens unbound ones.)
    let packet_sockets = || {
        let table = std::fs::read_to_string("/proc/net/packet").unwrap();
        let inodes: Vec<String> = table
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() == 9 && f[3] == "0003" && f[4] == "1")
            .map(|f| f[8].to_string())
            .collect();
        links()
            .iter()
            .filter(|l| inodes.iter().any(|i| **l == format!("socket:[{i}]")))
            .count()
    };
    let before = (packet_sockets(), eventfds());
    let collector = LoraCollector::start(Config {
        interface: "lo".into(),
        ports: vec![23117],
        retry_interval: Duration::from_secs(60),
    })
    .unwrap();
    linxdot_sim::wait::until("the capture open", || {
        collector.render().contains("lora_capture_up 1.0")
    });
    assert_eq!(
        (packet_sockets(), eventfds()),
        (before.0 + 1, before.1 + 1),
        "one packet socket and one eventfd while running"
    );
    drop(collector);
    linxdot_sim::wait::until("the capture's descriptors closed", || {
        (packet_sockets(), eventfds()) == before
    });
}
