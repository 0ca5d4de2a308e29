//! A simulated LoRa radio path over real UDP: a [`Forwarder`] (what
//! `lora_pkt_fwd` does: PUSH_DATA with `rxpk` and `stat`, PULL_DATA
//! keep-alives, TX_ACK for each PULL_RESP) and a [`Gateway`] (what
//! `gateway-rs` does: PUSH_ACK, PULL_ACK, PULL_RESP downlinks), each with
//! knobs, plus the datagram builders the tests use to script an exchange
//! byte by byte, [`flood`] and [`noise`] senders for the benchmark, and
//! [`send_ipv4_fragment`] (a real IP fragment on `lo`, through a raw socket).
//!
//! Everything runs on its own threads and stops when its handle is dropped.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// PUSH_DATA: header, gateway EUI, JSON.
pub fn push_data(version: u8, token: u16, eui: [u8; 8], json: &str) -> Vec<u8> {
    let mut d = header(version, token, 0);
    d.extend_from_slice(&eui);
    d.extend_from_slice(json.as_bytes());
    d
}

/// PUSH_ACK for `token`.
pub fn push_ack(version: u8, token: u16) -> Vec<u8> {
    header(version, token, 1)
}

/// PULL_DATA (a keep-alive).
pub fn pull_data(version: u8, token: u16, eui: [u8; 8]) -> Vec<u8> {
    let mut d = header(version, token, 2);
    d.extend_from_slice(&eui);
    d
}

/// PULL_RESP carrying `json` (`{"txpk":{…}}`).
pub fn pull_resp(version: u8, token: u16, json: &str) -> Vec<u8> {
    let mut d = header(version, token, 3);
    d.extend_from_slice(json.as_bytes());
    d
}

/// PULL_ACK for `token`.
pub fn pull_ack(version: u8, token: u16) -> Vec<u8> {
    header(version, token, 4)
}

/// TX_ACK; `error` `None` sends the empty body (no error).
pub fn tx_ack(version: u8, token: u16, eui: [u8; 8], error: Option<&str>) -> Vec<u8> {
    let mut d = header(version, token, 5);
    d.extend_from_slice(&eui);
    if let Some(error) = error {
        d.extend_from_slice(format!(r#"{{"txpk_ack":{{"error":"{error}"}}}}"#).as_bytes());
    }
    d
}

fn header(version: u8, token: u16, id: u8) -> Vec<u8> {
    let [high, low] = token.to_be_bytes();
    vec![version, high, low, id]
}

/// One `rxpk` entry as JSON.
pub fn rxpk(stat: i32, datr: &str, rssi: f64, lsnr: f64) -> String {
    let fsk = datr.parse::<u32>().is_ok();
    let (modu, datr) = if fsk {
        ("FSK", datr.to_string())
    } else {
        ("LORA", format!("\"{datr}\""))
    };
    let lsnr = if fsk {
        String::new()
    } else {
        format!(",\"lsnr\":{lsnr}")
    };
    format!(
        r#"{{"tmst":3512348611,"chan":2,"rfch":0,"freq":866.349812,"stat":{stat},"modu":"{modu}","datr":{datr},"codr":"4/6","rssi":{rssi}{lsnr},"size":32,"data":"QAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}"#
    )
}

/// A `stat` object as JSON.
pub fn stat(
    rxnb: u64,
    rxok: u64,
    rxfw: u64,
    ackr: f64,
    dwnb: u64,
    txnb: u64,
    temp: Option<f64>,
) -> String {
    let temp = temp.map(|t| format!(",\"temp\":{t}")).unwrap_or_default();
    format!(
        r#"{{"time":"2026-12-06 10:00:00 GMT","rxnb":{rxnb},"rxok":{rxok},"rxfw":{rxfw},"ackr":{ackr:.1},"dwnb":{dwnb},"txnb":{txnb}{temp}}}"#
    )
}

/// A small deterministic random source (xorshift64*), so that a run with
/// the same knobs sends the same mix.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A source seeded with `seed` (0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// A float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A float in [low, high].
    pub fn between(&mut self, (low, high): (f64, f64)) -> f64 {
        low + (high - low) * self.unit()
    }

    /// One item of a non-empty list.
    pub fn pick<'a, T>(&mut self, list: &'a [T]) -> &'a T {
        &list[((self.unit() * list.len() as f64) as usize).min(list.len() - 1)]
    }
}

/// How a simulated packet forwarder behaves.
#[derive(Clone, Debug)]
pub struct ForwarderKnobs {
    /// Gateway EUI.
    pub eui: [u8; 8],
    /// GWMP version (2 sends TX_ACK; 1 does not).
    pub version: u8,
    /// Radio packets heard per second (each sent in its own PUSH_DATA).
    pub uplinks_per_second: f64,
    /// Share of packets with a failed CRC (`stat` -1).
    pub crc_fail: f64,
    /// Share of packets without CRC (`stat` 0).
    pub crc_none: f64,
    /// `datr` values to choose from (a number means FSK).
    pub datarates: Vec<String>,
    /// RSSI range, dBm.
    pub rssi: (f64, f64),
    /// SNR range, dB.
    pub snr: (f64, f64),
    /// Seconds between two `stat` objects.
    pub stat_interval: Duration,
    /// Seconds between two PULL_DATA.
    pub keepalive_interval: Duration,
    /// The errors its TX_ACKs report, in turn (`NONE` or empty: no error).
    pub tx_errors: Vec<String>,
    /// A malformed datagram this often (cycling through the kinds).
    pub malformed_every: Option<Duration>,
    /// The concentrator temperature its `stat` reports.
    pub temp: Option<f64>,
    /// Seed of its random choices.
    pub seed: u64,
}

impl Default for ForwarderKnobs {
    fn default() -> Self {
        ForwarderKnobs {
            eui: [0xAA, 0x55, 0x5A, 0x00, 0x00, 0x00, 0x00, 0x01],
            version: 2,
            uplinks_per_second: 1.0,
            crc_fail: 0.1,
            crc_none: 0.0,
            datarates: ["SF7BW125", "SF8BW125", "SF9BW125", "SF10BW125", "SF12BW125"]
                .map(String::from)
                .to_vec(),
            rssi: (-120.0, -60.0),
            snr: (-15.0, 10.0),
            stat_interval: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(10),
            tx_errors: vec!["NONE".into()],
            malformed_every: None,
            temp: Some(42.5),
            seed: 1,
        }
    }
}

/// How a simulated gateway (`gateway-rs`) behaves.
#[derive(Clone, Debug)]
pub struct GatewayKnobs {
    /// Share of PUSH_DATA it acknowledges.
    pub ack_share: f64,
    /// How long it waits before each PUSH_ACK.
    pub ack_delay: Duration,
    /// A downlink (PULL_RESP) to each forwarder this often.
    pub downlink_every: Option<Duration>,
    /// Seed of its random choices.
    pub seed: u64,
}

impl Default for GatewayKnobs {
    fn default() -> Self {
        GatewayKnobs {
            ack_share: 1.0,
            ack_delay: Duration::from_millis(2),
            downlink_every: Some(Duration::from_secs(20)),
            seed: 2,
        }
    }
}

/// What a simulator sent and received, for tests and the demo's log.
#[derive(Debug, Default)]
pub struct Tally {
    /// Datagrams sent.
    pub sent: AtomicU64,
    /// Datagrams received.
    pub received: AtomicU64,
}

/// How often the simulators' threads look at their stop flag and clocks.
const TICK: Duration = Duration::from_millis(5);

fn stoppable(
    name: &str,
    body: impl FnOnce(&AtomicBool) + Send + 'static,
) -> (Arc<AtomicBool>, JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = thread::Builder::new()
        .name(name.into())
        .spawn(move || body(&flag))
        .expect("start a simulator thread");
    (stop, handle)
}

/// A simulated `gateway-rs`: listens on a UDP address, acknowledges.
pub struct Gateway {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it sent and received.
    pub tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Gateway {
    /// Listens on `addr` (port 0: a free one).
    pub fn start(addr: SocketAddr, knobs: GatewayKnobs) -> std::io::Result<Gateway> {
        let socket = UdpSocket::bind(addr)?;
        socket.set_read_timeout(Some(TICK))?;
        let addr = socket.local_addr()?;
        let tally = Arc::new(Tally::default());
        let counts = Arc::clone(&tally);
        let (stop, handle) = stoppable("gwmp-gateway", move |stop| {
            gateway_loop(&socket, &knobs, &counts, stop)
        });
        Ok(Gateway {
            addr,
            tally,
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn gateway_loop(socket: &UdpSocket, knobs: &GatewayKnobs, tally: &Tally, stop: &AtomicBool) {
    let mut rng = Rng::new(knobs.seed);
    let mut acks: Vec<(Instant, SocketAddr, Vec<u8>)> = Vec::new();
    // Each forwarder's PULL_DATA address, and when its next downlink is due.
    let mut pullers: Vec<(SocketAddr, u8, Instant)> = Vec::new();
    let mut token: u16 = 0x4000;
    let mut buffer = [0u8; 65536];
    let send = |bytes: &[u8], to: SocketAddr| {
        if socket.send_to(bytes, to).is_ok() {
            tally.sent.fetch_add(1, Ordering::Relaxed);
        }
    };
    while !stop.load(Ordering::Relaxed) {
        // Wake up for the next ack that is due, or at the next tick.
        let next_ack = acks.iter().map(|(due, _, _)| *due).min();
        let wait = next_ack.map_or(TICK, |due| {
            due.saturating_duration_since(Instant::now())
                .clamp(Duration::from_micros(100), TICK)
        });
        let _ = socket.set_read_timeout(Some(wait));
        if let Ok((n, from)) = socket.recv_from(&mut buffer) {
            tally.received.fetch_add(1, Ordering::Relaxed);
            let d = &buffer[..n];
            // What gateway-rs answers: well-formed v1/v2 datagrams only.
            let well_formed = d.len() >= 4 && (d[0] == 1 || d[0] == 2);
            match (well_formed, d.get(3)) {
                (true, Some(0)) if rng.unit() < knobs.ack_share => {
                    let ack = push_ack(d[0], u16::from_be_bytes([d[1], d[2]]));
                    acks.push((Instant::now() + knobs.ack_delay, from, ack));
                }
                (true, Some(2)) => {
                    send(&pull_ack(d[0], u16::from_be_bytes([d[1], d[2]])), from);
                    if !pullers.iter().any(|(a, _, _)| *a == from) {
                        let first = Instant::now() + knobs.downlink_every.unwrap_or_default();
                        pullers.push((from, d[0], first));
                    }
                }
                _ => {}
            }
        }
        let now = Instant::now();
        acks.retain(|(due, to, ack)| {
            if *due <= now {
                send(ack, *to);
                false
            } else {
                true
            }
        });
        if let Some(every) = knobs.downlink_every {
            for (to, version, due) in pullers.iter_mut() {
                if *due <= now {
                    token = token.wrapping_add(1);
                    let json = r#"{"txpk":{"imme":false,"tmst":3512348611,"freq":869.525,"rfch":0,"powe":27,"modu":"LORA","datr":"SF9BW125","codr":"4/5","ipol":true,"size":4,"data":"AAAAAA=="}}"#;
                    send(&pull_resp(*version, token, json), *to);
                    *due = now + every;
                }
            }
        }
    }
}

/// A simulated `lora_pkt_fwd`: two sockets (up: PUSH_DATA; down:
/// PULL_DATA, PULL_RESP, TX_ACK), both sending to the gateway's address.
pub struct Forwarder {
    /// Where its PUSH_DATA come from.
    pub up_addr: SocketAddr,
    /// Where its PULL_DATA come from (and PULL_RESP go to).
    pub down_addr: SocketAddr,
    /// What it sent and received.
    pub tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// A socket on the same loopback family as `server`, sending to it.
fn client_socket(server: SocketAddr) -> std::io::Result<UdpSocket> {
    let local: SocketAddr = match server.ip() {
        IpAddr::V4(_) => (Ipv4Addr::LOCALHOST, 0).into(),
        IpAddr::V6(_) => "[::1]:0".parse().expect("address"),
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(server)?;
    Ok(socket)
}

impl Forwarder {
    /// Starts sending to `server` (the gateway, or whatever listens there).
    pub fn start(server: SocketAddr, knobs: ForwarderKnobs) -> std::io::Result<Forwarder> {
        if knobs.datarates.is_empty() {
            return Err(std::io::Error::other(
                "a forwarder needs at least one datarate",
            ));
        }
        let up = client_socket(server)?;
        let down = client_socket(server)?;
        up.set_nonblocking(true)?;
        down.set_read_timeout(Some(TICK))?;
        let (up_addr, down_addr) = (up.local_addr()?, down.local_addr()?);
        let tally = Arc::new(Tally::default());
        let counts = Arc::clone(&tally);
        let (stop, handle) = stoppable("gwmp-forwarder", move |stop| {
            forwarder_loop(&up, &down, &knobs, &counts, stop)
        });
        Ok(Forwarder {
            up_addr,
            down_addr,
            tally,
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The malformed datagrams a forwarder sends in turn (`malformed_every`).
pub fn malformed_kinds(eui: [u8; 8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("short", vec![2, 0]),
        ("version", vec![7, 0, 0, 2]),
        ("type", vec![2, 0, 0, 9]),
        ("json", push_data(2, 1, eui, "{\"rxpk\":[")),
    ]
}

/// The interval's counters of a forwarder, for its next `stat`.
#[derive(Default)]
struct Interval {
    rxnb: u64,
    rxok: u64,
    pushes: u64,
    acks: u64,
    dwnb: u64,
    txnb: u64,
}

fn forwarder_loop(
    up: &UdpSocket,
    down: &UdpSocket,
    k: &ForwarderKnobs,
    tally: &Tally,
    stop: &AtomicBool,
) {
    let mut rng = Rng::new(k.seed);
    let mut token: u16 = (k.seed as u16).wrapping_mul(7919);
    let mut next_token = || {
        token = token.wrapping_add(1);
        token
    };
    let start = Instant::now();
    let uplink_gap = if k.uplinks_per_second > 0.0 {
        Some(Duration::from_secs_f64(1.0 / k.uplinks_per_second))
    } else {
        None
    };
    let (mut next_uplink, mut next_stat, mut next_pull) = (start, start + k.stat_interval, start);
    let mut next_malformed = k.malformed_every.map(|e| start + e);
    let (mut tx_turn, mut malformed_turn) = (0usize, 0usize);
    let malformed = malformed_kinds(k.eui);
    let mut interval = Interval::default();
    let mut buffer = [0u8; 65536];
    let send = |socket: &UdpSocket, bytes: &[u8]| {
        if socket.send(bytes).is_ok() {
            tally.sent.fetch_add(1, Ordering::Relaxed);
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if let Some(gap) = uplink_gap {
            // At most a second's worth at once, after a stall.
            let mut burst = 0;
            while next_uplink <= now && burst < 1000 {
                let roll = rng.unit();
                let crc = if roll < k.crc_fail {
                    -1
                } else if roll < k.crc_fail + k.crc_none {
                    0
                } else {
                    1
                };
                let entry = rxpk(
                    crc,
                    rng.pick(&k.datarates).as_str(),
                    rng.between(k.rssi).round(),
                    (rng.between(k.snr) * 10.0).round() / 10.0,
                );
                send(
                    up,
                    &push_data(
                        k.version,
                        next_token(),
                        k.eui,
                        &format!("{{\"rxpk\":[{entry}]}}"),
                    ),
                );
                interval.rxnb += 1;
                interval.rxok += u64::from(crc == 1);
                interval.pushes += 1;
                next_uplink += gap;
                burst += 1;
            }
        }
        if next_stat <= now {
            let ackr = if interval.pushes == 0 {
                0.0
            } else {
                100.0 * interval.acks as f64 / interval.pushes as f64
            };
            let json = format!(
                "{{\"stat\":{}}}",
                stat(
                    interval.rxnb,
                    interval.rxok,
                    interval.rxok,
                    ackr,
                    interval.dwnb,
                    interval.txnb,
                    k.temp
                )
            );
            interval = Interval {
                pushes: 1,
                ..Interval::default()
            };
            send(up, &push_data(k.version, next_token(), k.eui, &json));
            next_stat += k.stat_interval;
        }
        if next_pull <= now {
            send(down, &pull_data(k.version, next_token(), k.eui));
            next_pull += k.keepalive_interval;
        }
        if let Some(due) = next_malformed.filter(|due| *due <= now) {
            send(up, &malformed[malformed_turn % malformed.len()].1);
            malformed_turn += 1;
            next_malformed = k.malformed_every.map(|e| due + e);
        }
        while let Ok(n) = up.recv(&mut buffer) {
            tally.received.fetch_add(1, Ordering::Relaxed);
            if n >= 4 && buffer[3] == 1 {
                interval.acks += 1;
            }
        }
        if let Ok(n) = down.recv(&mut buffer) {
            tally.received.fetch_add(1, Ordering::Relaxed);
            if n >= 4 && buffer[3] == 3 {
                interval.dwnb += 1;
                let resp_token = u16::from_be_bytes([buffer[1], buffer[2]]);
                let error = k.tx_errors.get(tx_turn % k.tx_errors.len().max(1)).cloned();
                tx_turn += 1;
                let error = error.filter(|e| !e.is_empty() && e != "NONE");
                interval.txnb += u64::from(error.is_none());
                if k.version >= 2 {
                    send(
                        down,
                        &tx_ack(k.version, resp_token, k.eui, error.as_deref()),
                    );
                }
            }
        }
    }
}

/// Sends GWMP PUSH_DATA to `target` at `rate` per second for `duration`
/// (paced per millisecond), each with one `rxpk`; returns how many went out.
pub fn flood(target: SocketAddr, rate: u64, duration: Duration, eui: [u8; 8]) -> u64 {
    let socket = client_socket(target).expect("flood socket");
    let datagram = push_data(
        2,
        1,
        eui,
        &format!("{{\"rxpk\":[{}]}}", rxpk(1, "SF7BW125", -70.0, 8.0)),
    );
    pace(rate, duration, || socket.send(&datagram).is_ok())
}

/// Sends small UDP datagrams (not GWMP) to `target` at `rate` per second for
/// `duration`; returns how many went out.
pub fn noise(target: SocketAddr, rate: u64, duration: Duration) -> u64 {
    let socket = client_socket(target).expect("noise socket");
    pace(rate, duration, || {
        socket.send(b"not for the exporter").is_ok()
    })
}

fn pace(rate: u64, duration: Duration, mut send: impl FnMut() -> bool) -> u64 {
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= duration {
            return sent;
        }
        let due = (elapsed.as_secs_f64() * rate as f64) as u64;
        while sent < due {
            // A full socket buffer (nobody reads a noise port) loses the
            // datagram; it was offered all the same.
            let _ = send();
            sent += 1;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Sends the first fragment of a UDP datagram to 127.0.0.1:`port` through a
/// raw socket (needs `CAP_NET_RAW`): an IPv4 packet with More Fragments set,
/// a UDP header and `payload`. The kernel never reassembles it (no second
/// fragment comes); a capture on `lo` sees it.
pub fn send_ipv4_fragment(source_port: u16, port: u16, payload: &[u8]) -> std::io::Result<()> {
    // SAFETY: plain socket(2); the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let udp_length = (8 + payload.len() + 64) as u16; // the part still to come
    let mut packet = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x20, 0x00, 64, 17, 0, 0];
    packet.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
    packet.extend_from_slice(&source_port.to_be_bytes());
    packet.extend_from_slice(&port.to_be_bytes());
    packet.extend_from_slice(&udp_length.to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(payload);
    // The fragment's payload length must be a multiple of 8.
    while (packet.len() - 20) % 8 != 0 {
        packet.push(0);
    }
    let total = packet.len() as u16;
    packet[2..4].copy_from_slice(&total.to_be_bytes());
    let to = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `packet` and `to` are live for the call and their lengths are
    // passed; `fd` is ours and closed right after.
    let sent = unsafe {
        let n = libc::sendto(
            fd,
            packet.as_ptr().cast(),
            packet.len(),
            0,
            (&to as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let e = std::io::Error::last_os_error();
        libc::close(fd);
        (n, e)
    };
    match sent {
        (n, _) if n as usize == packet.len() => Ok(()),
        (_, e) => Err(e),
    }
}

/// Unix time now, in seconds (to compare with the last-seen gauge).
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Whether this process may open a packet socket (`CAP_NET_RAW`), and if
/// not, why: the LoRa capture tests need it.
pub fn can_capture() -> Result<(), String> {
    // SAFETY: plain socket(2), closed at once.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!(
            "cannot open an AF_PACKET socket ({}): run the tests as root (CAP_NET_RAW)",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    Ok(())
}
