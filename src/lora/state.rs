//! What the LoRa families are rendered from: counters, histograms, the last
//! `stat`, the gateway EUIs and the PUSH_DATA → PUSH_ACK matcher. Every part
//! is bounded: label values come from fixed tables, at most
//! [`MAX_GATEWAYS`] EUIs and [`MAX_PENDING`] unacknowledged PUSH_DATA are
//! kept, whatever arrives.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::gwmp::{Body, Crc, Datagram, Invalid, Kind, Stat, TxError, DATARATES};

/// Gateway EUIs remembered; a datagram from one more is invalid
/// (`too_many_gateways`).
pub const MAX_GATEWAYS: usize = 16;
/// Unacknowledged PUSH_DATA remembered for the latency histogram.
pub const MAX_PENDING: usize = 64;
/// How long a PUSH_DATA waits for its PUSH_ACK.
pub const ACK_WINDOW: Duration = Duration::from_secs(5);

/// Bucket bounds, each with its `le` label as the families spell it.
pub type Buckets = &'static [(f64, &'static str)];

pub const LATENCY_BUCKETS: Buckets = &[
    (0.001, "0.001"),
    (0.005, "0.005"),
    (0.01, "0.01"),
    (0.05, "0.05"),
    (0.1, "0.1"),
    (0.5, "0.5"),
    (1.0, "1"),
];
pub const RSSI_BUCKETS: Buckets = &[
    (-130.0, "-130"),
    (-120.0, "-120"),
    (-110.0, "-110"),
    (-100.0, "-100"),
    (-90.0, "-90"),
    (-80.0, "-80"),
    (-70.0, "-70"),
    (-60.0, "-60"),
    (-50.0, "-50"),
];
pub const SNR_BUCKETS: Buckets = &[
    (-20.0, "-20"),
    (-15.0, "-15"),
    (-10.0, "-10"),
    (-5.0, "-5"),
    (0.0, "0"),
    (5.0, "5"),
    (10.0, "10"),
];

/// A histogram over fixed buckets (counts per bucket, not cumulative).
#[derive(Clone, Debug)]
pub struct Histogram {
    pub buckets: Buckets,
    /// One count per bucket, then the one above the last bound.
    pub counts: Vec<u64>,
    pub sum: f64,
}

impl Histogram {
    pub fn new(buckets: Buckets) -> Histogram {
        Histogram {
            buckets,
            counts: vec![0; buckets.len() + 1],
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let i = self
            .buckets
            .iter()
            .position(|(bound, _)| value <= *bound)
            .unwrap_or(self.buckets.len());
        self.counts[i] += 1;
        self.sum += value;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(le, cumulative count)` for each bucket, `+Inf` last.
    pub fn cumulative(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        let les = self.buckets.iter().map(|(_, le)| *le).chain(["+Inf"]);
        les.zip(self.counts.iter().scan(0, |total, n| {
            *total += n;
            Some(*total)
        }))
    }
}

/// Whether the capture socket is open, and if not, why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    pub up: bool,
    /// What is missing (privilege, interface), while it is not up.
    pub problem: Option<String>,
}

/// What the landing page shows: copied from the state each time the
/// families are published, so that `/` never waits for the state's lock.
#[derive(Clone, Debug, Default)]
pub struct Status {
    pub capture: Capture,
    pub forwarder_last_seen: Option<f64>,
    pub last_stat: Option<(Stat, SystemTime)>,
    pub last_tx_error: Option<(TxError, SystemTime)>,
}

/// A PUSH_DATA waiting for its PUSH_ACK.
#[derive(Clone, Copy, Debug)]
struct Pending {
    forwarder: SocketAddr,
    token: u16,
    at: SystemTime,
}

pub struct State {
    pub capture: Capture,
    pub dropped: u64,
    /// By [`Kind`].
    pub datagrams: [u64; 6],
    /// By [`Invalid`].
    pub invalid: [u64; 6],
    /// In the order first seen.
    pub gateways: Vec<[u8; 8]>,
    /// Unix time of the last PUSH_DATA or PULL_DATA.
    pub forwarder_last_seen: Option<f64>,
    pub latency: Histogram,
    /// By [`Crc`], then by [`DATARATES`] index.
    pub rx: [[u64; DATARATES.len()]; 3],
    pub rssi: Histogram,
    pub snr: Histogram,
    /// The sums of [`Stat::COUNTERS`].
    pub forwarder_totals: [f64; 5],
    /// The last `stat` and when it came.
    pub last_stat: Option<(Stat, SystemTime)>,
    /// By [`TxError`].
    pub tx_acks: [u64; 9],
    /// The last TX_ACK that reported an error, and when.
    pub last_tx_error: Option<(TxError, SystemTime)>,
    pending: VecDeque<Pending>,
}

impl Default for State {
    fn default() -> Self {
        State {
            capture: Capture::default(),
            dropped: 0,
            datagrams: [0; 6],
            invalid: [0; 6],
            gateways: Vec::new(),
            forwarder_last_seen: None,
            latency: Histogram::new(LATENCY_BUCKETS),
            rx: [[0; DATARATES.len()]; 3],
            rssi: Histogram::new(RSSI_BUCKETS),
            snr: Histogram::new(SNR_BUCKETS),
            forwarder_totals: [0.0; 5],
            last_stat: None,
            tx_acks: [0; 9],
            last_tx_error: None,
            pending: VecDeque::with_capacity(MAX_PENDING),
        }
    }
}

fn unix(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

impl State {
    /// The landing page's part of the state.
    pub fn status(&self) -> Status {
        Status {
            capture: self.capture.clone(),
            forwarder_last_seen: self.forwarder_last_seen,
            last_stat: self.last_stat,
            last_tx_error: self.last_tx_error,
        }
    }

    pub fn count_invalid(&mut self, reason: Invalid) {
        self.invalid[reason as usize] += 1;
    }

    /// Takes in one GWMP datagram that went from `source` to `destination`
    /// at `at` (the kernel's time). `Err` when it is refused after all (a
    /// gateway EUI beyond [`MAX_GATEWAYS`]): it is then counted as invalid.
    pub fn record(
        &mut self,
        datagram: &Datagram,
        source: SocketAddr,
        destination: SocketAddr,
        at: SystemTime,
    ) -> Result<(), Invalid> {
        if let Some(eui) = datagram.gateway {
            if !self.gateways.contains(&eui) {
                if self.gateways.len() >= MAX_GATEWAYS {
                    self.count_invalid(Invalid::TooManyGateways);
                    return Err(Invalid::TooManyGateways);
                }
                self.gateways.push(eui);
            }
        }
        self.datagrams[datagram.kind as usize] += 1;
        match datagram.kind {
            Kind::PushData => {
                self.forwarder_last_seen = Some(unix(at));
                self.remember_push(source, datagram.token, at);
            }
            Kind::PullData => self.forwarder_last_seen = Some(unix(at)),
            Kind::PushAck => self.match_ack(destination, datagram.token, at),
            Kind::PullResp | Kind::PullAck | Kind::TxAck => {}
        }
        match &datagram.body {
            Body::Push { rx, stat } => {
                for packet in rx {
                    self.rx[packet.crc as usize][packet.datarate] += 1;
                    if packet.crc != Crc::Ok {
                        continue;
                    }
                    if let Some(rssi) = packet.rssi {
                        self.rssi.observe(rssi);
                    }
                    if let Some(snr) = packet.snr {
                        self.snr.observe(snr);
                    }
                }
                if let Some(stat) = stat {
                    for (total, n) in self.forwarder_totals.iter_mut().zip(stat.counters) {
                        *total += n.unwrap_or(0.0);
                    }
                    self.last_stat = Some((*stat, at));
                }
            }
            Body::TxAck(error) => {
                self.tx_acks[*error as usize] += 1;
                if *error != TxError::None {
                    self.last_tx_error = Some((*error, at));
                }
            }
            Body::Empty => {}
        }
        Ok(())
    }

    fn remember_push(&mut self, forwarder: SocketAddr, token: u16, at: SystemTime) {
        self.forget_expired(at);
        // A repeated token from the same forwarder: the newer one counts.
        self.pending
            .retain(|p| !(p.forwarder == forwarder && p.token == token));
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            forwarder,
            token,
            at,
        });
    }

    fn match_ack(&mut self, forwarder: SocketAddr, token: u16, at: SystemTime) {
        self.forget_expired(at);
        let Some(i) = self
            .pending
            .iter()
            .position(|p| p.forwarder == forwarder && p.token == token)
        else {
            return;
        };
        let Some(push) = self.pending.remove(i) else {
            return;
        };
        // The kernel's clock went back between the two: no latency to tell.
        if let Ok(latency) = at.duration_since(push.at) {
            self.latency.observe(latency.as_secs_f64());
        }
    }

    fn forget_expired(&mut self, now: SystemTime) {
        while let Some(oldest) = self.pending.front() {
            let expired = now
                .duration_since(oldest.at)
                .is_ok_and(|age| age > ACK_WINDOW);
            if !expired {
                break;
            }
            self.pending.pop_front();
        }
    }

    /// PUSH_DATA waiting for an ack now (for the tests).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::gwmp::parse;
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn push(token: u16, eui: u8) -> Datagram {
        let mut bytes = vec![2, (token >> 8) as u8, token as u8, 0];
        bytes.extend_from_slice(&[eui; 8]);
        bytes.extend_from_slice(br#"{"rxpk":[{"stat":1,"datr":"SF7BW125","rssi":-65,"lsnr":7}]}"#);
        parse(&bytes).unwrap()
    }

    fn ack(token: u16) -> Datagram {
        parse(&[2, (token >> 8) as u8, token as u8, 1]).unwrap()
    }

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(ms)
    }

    #[test]
    fn histogram_buckets_are_upper_bounds() {
        let mut h = Histogram::new(LATENCY_BUCKETS);
        for v in [0.001, 0.0011, 0.7, 2.0] {
            h.observe(v);
        }
        let got: Vec<_> = h.cumulative().collect();
        assert_eq!(
            got,
            [
                ("0.001", 1),
                ("0.005", 2),
                ("0.01", 2),
                ("0.05", 2),
                ("0.1", 2),
                ("0.5", 2),
                ("1", 3),
                ("+Inf", 4)
            ]
        );
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn acks_match_by_token_and_forwarder_address() {
        let mut s = State::default();
        s.record(&push(7, 1), addr(40000), addr(1680), t(0))
            .unwrap();
        s.record(&push(8, 1), addr(40001), addr(1680), t(0))
            .unwrap();
        // Right token, wrong forwarder; right forwarder, wrong token.
        s.record(&ack(7), addr(1680), addr(40001), t(1)).unwrap();
        s.record(&ack(9), addr(1680), addr(40000), t(1)).unwrap();
        assert_eq!(s.latency.count(), 0);
        s.record(&ack(7), addr(1680), addr(40000), t(20)).unwrap();
        assert_eq!(s.latency.count(), 1);
        assert_eq!(s.latency.cumulative().nth(2), Some(("0.01", 0)));
        assert_eq!(s.latency.cumulative().nth(3), Some(("0.05", 1)));
        // Matched once only.
        s.record(&ack(7), addr(1680), addr(40000), t(30)).unwrap();
        assert_eq!(s.latency.count(), 1);
        assert_eq!(s.datagrams[Kind::PushAck as usize], 4);
        assert_eq!(s.pending(), 1);
    }

    #[test]
    fn pushes_wait_five_seconds_and_sixty_four_at_most() {
        let mut s = State::default();
        s.record(&push(1, 1), addr(40000), addr(1680), t(0))
            .unwrap();
        s.record(&ack(1), addr(1680), addr(40000), t(5_001))
            .unwrap();
        assert_eq!(s.latency.count(), 0, "too late");
        for token in 0..100 {
            s.record(&push(token, 1), addr(40000), addr(1680), t(6_000))
                .unwrap();
        }
        assert_eq!(s.pending(), MAX_PENDING);
        s.record(&ack(0), addr(1680), addr(40000), t(6_001))
            .unwrap();
        assert_eq!(s.latency.count(), 0, "the oldest were forgotten");
        s.record(&ack(99), addr(1680), addr(40000), t(6_001))
            .unwrap();
        assert_eq!(s.latency.count(), 1);
    }

    #[test]
    fn at_most_sixteen_gateways() {
        let mut s = State::default();
        for eui in 0..MAX_GATEWAYS as u8 {
            s.record(&push(1, eui), addr(1), addr(2), t(0)).unwrap();
        }
        assert_eq!(
            s.record(&push(1, 200), addr(1), addr(2), t(0)),
            Err(Invalid::TooManyGateways)
        );
        assert_eq!(s.invalid[Invalid::TooManyGateways as usize], 1);
        assert_eq!(s.datagrams[Kind::PushData as usize], 16);
        // A known one still counts.
        s.record(&push(1, 3), addr(1), addr(2), t(0)).unwrap();
        assert_eq!(s.datagrams[Kind::PushData as usize], 17);
        assert_eq!(s.gateways.len(), MAX_GATEWAYS);
    }
}
