//! Semtech's UDP packet-forwarder protocol (GWMP), versions 1 and 2: one
//! datagram's bytes → a [`Datagram`], or the reason it is not one
//! ([`Invalid`]). The JSON of PUSH_DATA (`rxpk`, `stat`), PULL_RESP (`txpk`)
//! and TX_ACK (`txpk_ack`) goes through the same limited parser as the
//! dashboard's answers ([`crate::miner::system::parse_json`]). No input
//! panics, and nothing read here grows a label set: every label value is
//! chosen from a fixed table.

use std::collections::HashMap;
use tinyjson::JsonValue;

use crate::miner::system::parse_json;

/// The identifier in byte 3, in its numeric order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PushData,
    PushAck,
    PullData,
    PullResp,
    PullAck,
    TxAck,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::PushData,
        Kind::PushAck,
        Kind::PullData,
        Kind::PullResp,
        Kind::PullAck,
        Kind::TxAck,
    ];

    /// The `type` label values, in [`Kind::ALL`]'s order.
    pub const LABELS: [&'static str; 6] = [
        "push_data",
        "push_ack",
        "pull_data",
        "pull_resp",
        "pull_ack",
        "tx_ack",
    ];

    /// The `type` label.
    pub fn label(self) -> &'static str {
        Self::LABELS[self as usize]
    }

    /// Whether the forwarder sends it (it then carries the gateway EUI).
    pub fn from_forwarder(self) -> bool {
        matches!(self, Kind::PushData | Kind::PullData | Kind::TxAck)
    }
}

/// Why a captured datagram was not counted as GWMP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Shorter than its header (4 bytes, 12 with a gateway EUI), or an IP/UDP
    /// header that does not hold together.
    Short,
    /// Byte 0 is not 1 or 2.
    Version,
    /// Byte 3 is not one of the six identifiers.
    Type,
    /// The JSON is not JSON, too deep, or not the shape the protocol gives it.
    Json,
    /// An IP fragment: the datagram is not whole in one packet.
    Fragment,
    /// A seventeenth gateway EUI.
    TooManyGateways,
}

impl Invalid {
    pub const ALL: [Invalid; 6] = [
        Invalid::Short,
        Invalid::Version,
        Invalid::Type,
        Invalid::Json,
        Invalid::Fragment,
        Invalid::TooManyGateways,
    ];

    /// The `reason` label values, in [`Invalid::ALL`]'s order.
    pub const LABELS: [&'static str; 6] = [
        "short",
        "version",
        "type",
        "json",
        "fragment",
        "too_many_gateways",
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        Self::LABELS[self as usize]
    }
}

/// TX_ACK's `txpk_ack.error`, or `None` for an empty body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxError {
    None,
    TooLate,
    TooEarly,
    CollisionPacket,
    CollisionBeacon,
    TxFreq,
    TxPower,
    GpsUnlocked,
    /// An error string this table does not know.
    Other,
}

impl TxError {
    pub const ALL: [TxError; 9] = [
        TxError::None,
        TxError::TooLate,
        TxError::TooEarly,
        TxError::CollisionPacket,
        TxError::CollisionBeacon,
        TxError::TxFreq,
        TxError::TxPower,
        TxError::GpsUnlocked,
        TxError::Other,
    ];

    /// What the forwarder writes, in [`TxError::ALL`]'s order (`Other` has none).
    const WIRE: [&'static str; 8] = [
        "NONE",
        "TOO_LATE",
        "TOO_EARLY",
        "COLLISION_PACKET",
        "COLLISION_BEACON",
        "TX_FREQ",
        "TX_POWER",
        "GPS_UNLOCKED",
    ];

    /// The `error` label values, in [`TxError::ALL`]'s order.
    pub const LABELS: [&'static str; 9] = [
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

    /// The `error` label.
    pub fn label(self) -> &'static str {
        Self::LABELS[self as usize]
    }

    fn from_wire(text: &str) -> TxError {
        Self::WIRE
            .iter()
            .position(|w| *w == text)
            .map_or(TxError::Other, |i| Self::ALL[i])
    }
}

/// An `rxpk` entry's CRC status (`stat`: 1, -1, 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crc {
    Ok,
    Fail,
    None,
}

impl Crc {
    pub const ALL: [Crc; 3] = [Crc::Ok, Crc::Fail, Crc::None];

    pub fn label(self) -> &'static str {
        ["ok", "fail", "none"][self as usize]
    }
}

/// An `rxpk` entry's `stat` → its CRC status.
const CRC_STAT: [(f64, Crc); 3] = [(1.0, Crc::Ok), (-1.0, Crc::Fail), (0.0, Crc::None)];

/// The `datarate` label values: the LoRa `datr` strings (`SF5`–`SF12` with
/// `BW125`/`BW250`/`BW500`) as sent, then `FSK`, then `other`.
pub const DATARATES: [&str; 26] = [
    "SF5BW125",
    "SF5BW250",
    "SF5BW500",
    "SF6BW125",
    "SF6BW250",
    "SF6BW500",
    "SF7BW125",
    "SF7BW250",
    "SF7BW500",
    "SF8BW125",
    "SF8BW250",
    "SF8BW500",
    "SF9BW125",
    "SF9BW250",
    "SF9BW500",
    "SF10BW125",
    "SF10BW250",
    "SF10BW500",
    "SF11BW125",
    "SF11BW250",
    "SF11BW500",
    "SF12BW125",
    "SF12BW250",
    "SF12BW500",
    "FSK",
    "other",
];
const FSK: usize = 24;
const OTHER: usize = 25;

/// One received packet (`rxpk` entry), as far as the metrics need it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rx {
    pub crc: Crc,
    /// An index into [`DATARATES`].
    pub datarate: usize,
    /// `rssi`, or the first `rsig` entry's `rssic`.
    pub rssi: Option<f64>,
    /// `lsnr`, or the first `rsig` entry's `lsnr` (LoRa only).
    pub snr: Option<f64>,
}

/// A `stat` object: the counters of one interval and the last readings.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stat {
    /// `rxnb`, `rxok`, `rxfw`, `dwnb`, `txnb`, in [`Stat::COUNTERS`] order.
    pub counters: [Option<f64>; 5],
    /// `ackr`, in percent.
    pub ackr: Option<f64>,
    /// `temp`, °C.
    pub temp: Option<f64>,
}

impl Stat {
    pub const COUNTERS: [&'static str; 5] = ["rxnb", "rxok", "rxfw", "dwnb", "txnb"];

    pub fn counter(&self, key: &str) -> Option<f64> {
        let i = Self::COUNTERS.iter().position(|k| *k == key)?;
        self.counters[i]
    }
}

/// What follows the header.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// PUSH_ACK, PULL_DATA, PULL_ACK, PULL_RESP (its `txpk` is checked, not kept).
    Empty,
    Push {
        rx: Vec<Rx>,
        stat: Option<Stat>,
    },
    TxAck(TxError),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Datagram {
    pub version: u8,
    pub token: u16,
    pub kind: Kind,
    /// The gateway EUI of a forwarder's datagram.
    pub gateway: Option<[u8; 8]>,
    pub body: Body,
}

/// A datagram that is not GWMP, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub reason: Invalid,
    pub detail: String,
}

fn malformed<T>(reason: Invalid, detail: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed {
        reason,
        detail: detail.into(),
    })
}

/// Parses one UDP payload.
pub fn parse(bytes: &[u8]) -> Result<Datagram, Malformed> {
    let [version, token_high, token_low, id, ..] = *bytes else {
        return malformed(
            Invalid::Short,
            format!("{} bytes, header is 4", bytes.len()),
        );
    };
    if version != 1 && version != 2 {
        return malformed(Invalid::Version, format!("version {version}"));
    }
    let Some(&kind) = Kind::ALL.get(usize::from(id)) else {
        return malformed(Invalid::Type, format!("identifier {id:#04x}"));
    };
    let token = u16::from_be_bytes([token_high, token_low]);
    let (gateway, rest) = if kind.from_forwarder() {
        let Some(eui) = bytes.get(4..12) else {
            return malformed(
                Invalid::Short,
                format!("{} bytes, {} needs 12", bytes.len(), kind.label()),
            );
        };
        let mut gateway = [0u8; 8];
        gateway.copy_from_slice(eui);
        (Some(gateway), &bytes[12..])
    } else {
        (None, &bytes[4..])
    };
    let body = match kind {
        Kind::PushData => push_data(rest)?,
        Kind::PullResp => pull_resp(rest)?,
        Kind::TxAck => Body::TxAck(tx_ack(rest)?),
        Kind::PushAck | Kind::PullData | Kind::PullAck => Body::Empty,
    };
    Ok(Datagram {
        version,
        token,
        kind,
        gateway,
        body,
    })
}

type Object = HashMap<String, JsonValue>;

fn object(text: &[u8], what: &str) -> Result<Object, Malformed> {
    match parse_json(text) {
        Ok(JsonValue::Object(object)) => Ok(object),
        Ok(_) => malformed(Invalid::Json, format!("{what} JSON is not an object")),
        // Already escaped and cut by parse_json: one printable line.
        Err(e) => malformed(Invalid::Json, format!("{what}: {e}")),
    }
}

fn shape<T>(what: &str) -> Result<T, Malformed> {
    malformed(Invalid::Json, what.to_string())
}

fn push_data(text: &[u8]) -> Result<Body, Malformed> {
    let object = object(text, "PUSH_DATA")?;
    let rx = match object.get("rxpk") {
        None => Vec::new(),
        Some(JsonValue::Array(entries)) => {
            entries.iter().map(rx_entry).collect::<Result<_, _>>()?
        }
        Some(_) => return shape("PUSH_DATA 'rxpk' is not an array"),
    };
    let stat = match object.get("stat") {
        None => None,
        Some(JsonValue::Object(stat)) => Some(stat_object(stat)?),
        Some(_) => return shape("PUSH_DATA 'stat' is not an object"),
    };
    Ok(Body::Push { rx, stat })
}

fn number(object: &Object, key: &str) -> Result<Option<f64>, Malformed> {
    match object.get(key) {
        None => Ok(None),
        Some(JsonValue::Number(n)) if n.is_finite() => Ok(Some(*n)),
        Some(_) => malformed(Invalid::Json, format!("'{key}' is not a finite number")),
    }
}

fn rx_entry(entry: &JsonValue) -> Result<Rx, Malformed> {
    let JsonValue::Object(rx) = entry else {
        return shape("an 'rxpk' entry is not an object");
    };
    let stat = number(rx, "stat")?;
    let Some(&(_, crc)) = CRC_STAT.iter().find(|(value, _)| Some(*value) == stat) else {
        return shape("an 'rxpk' entry's 'stat' is not 1, -1 or 0");
    };
    let fsk = match (rx.get("modu"), rx.get("datr")) {
        (Some(JsonValue::String(m)), _) => m == "FSK",
        (None, Some(JsonValue::Number(_))) => true,
        _ => false,
    };
    let datarate = match rx.get("datr") {
        _ if fsk => FSK,
        Some(JsonValue::String(d)) => DATARATES[..FSK]
            .iter()
            .position(|known| known == d)
            .unwrap_or(OTHER),
        _ => OTHER,
    };
    let first_rsig = match rx.get("rsig") {
        Some(JsonValue::Array(list)) => match list.first() {
            Some(JsonValue::Object(first)) => Some(first),
            _ => None,
        },
        _ => None,
    };
    let either = |key: &str, rsig_key: &str| -> Result<Option<f64>, Malformed> {
        match number(rx, key)? {
            Some(v) => Ok(Some(v)),
            None => first_rsig.map_or(Ok(None), |r| number(r, rsig_key)),
        }
    };
    let rssi = either("rssi", "rssic")?;
    let snr = if fsk { None } else { either("lsnr", "lsnr")? };
    // dBm and dB of a radio: far inside this, and the histogram sums stay finite.
    if [rssi, snr].iter().flatten().any(|v| v.abs() > MAX_LEVEL) {
        return shape("an 'rxpk' entry's RSSI or SNR is beyond ±1000");
    }
    Ok(Rx {
        crc,
        datarate,
        rssi,
        snr,
    })
}

/// The largest RSSI or SNR magnitude taken.
const MAX_LEVEL: f64 = 1000.0;

/// The largest `stat` counter taken (a forwarder's counters are 32-bit).
const MAX_STAT_COUNT: f64 = 4_294_967_295.0;

fn stat_object(stat: &Object) -> Result<Stat, Malformed> {
    let mut out = Stat::default();
    for (slot, key) in out.counters.iter_mut().zip(Stat::COUNTERS) {
        // The forwarder's counters are 32-bit and cover one interval: a
        // larger or negative one is not a count (and would make the sums
        // overflow to infinity).
        *slot = match number(stat, key)? {
            Some(n) if (0.0..=MAX_STAT_COUNT).contains(&n) => Some(n),
            Some(_) => {
                return malformed(
                    Invalid::Json,
                    format!("stat '{key}' is not a count from 0 to {MAX_STAT_COUNT}"),
                )
            }
            None => None,
        };
    }
    out.ackr = number(stat, "ackr")?;
    out.temp = number(stat, "temp")?;
    Ok(out)
}

fn pull_resp(text: &[u8]) -> Result<Body, Malformed> {
    match object(text, "PULL_RESP")?.get("txpk") {
        Some(JsonValue::Object(_)) => Ok(Body::Empty),
        _ => shape("PULL_RESP has no 'txpk' object"),
    }
}

fn tx_ack(text: &[u8]) -> Result<TxError, Malformed> {
    // The forwarder may end its text with a C string's NUL.
    let end = text
        .iter()
        .rposition(|b| !matches!(b, 0 | b' ' | b'\t' | b'\r' | b'\n'))
        .map_or(0, |i| i + 1);
    if end == 0 {
        return Ok(TxError::None);
    }
    let object = object(&text[..end], "TX_ACK")?;
    let Some(JsonValue::Object(ack)) = object.get("txpk_ack") else {
        return shape("TX_ACK has no 'txpk_ack' object");
    };
    match ack.get("error") {
        // A `warn` alone (sx1302_hal's power adjustment) is not an error.
        None => Ok(TxError::None),
        Some(JsonValue::String(e)) => Ok(TxError::from_wire(e)),
        Some(_) => shape("TX_ACK 'error' is not a string"),
    }
}

/// The EUI as the `gateway_id` label spells it: 16 upper-case hex digits.
pub fn eui_text(eui: &[u8; 8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(16);
    for b in eui {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EUI: [u8; 8] = [0xAA, 0x55, 0x5A, 0x00, 0x00, 0x00, 0x01, 0x01];

    fn with_eui(version: u8, id: u8, json: &str) -> Vec<u8> {
        let mut d = vec![version, 0x12, 0x34, id];
        d.extend_from_slice(&EUI);
        d.extend_from_slice(json.as_bytes());
        d
    }

    fn reason(bytes: &[u8]) -> Invalid {
        parse(bytes).unwrap_err().reason
    }

    #[test]
    fn every_kind_in_both_versions() {
        for version in [1, 2] {
            let push = parse(&with_eui(version, 0, r#"{"rxpk":[]}"#)).unwrap();
            assert_eq!((push.kind, push.token), (Kind::PushData, 0x1234));
            assert_eq!(push.gateway, Some(EUI));
            assert_eq!(parse(&[version, 1, 2, 1]).unwrap().kind, Kind::PushAck);
            assert_eq!(
                parse(&with_eui(version, 2, "")).unwrap().kind,
                Kind::PullData
            );
            let resp = parse(&[&[version, 0, 0, 3][..], br#"{"txpk":{"imme":true}}"#].concat());
            assert_eq!(resp.unwrap().kind, Kind::PullResp);
            assert_eq!(parse(&[version, 1, 2, 4]).unwrap().kind, Kind::PullAck);
            let ack = parse(&with_eui(version, 5, "")).unwrap();
            assert_eq!(ack.body, Body::TxAck(TxError::None));
        }
    }

    #[test]
    fn rxpk_entries() {
        let d = parse(&with_eui(
            2,
            0,
            r#"{"rxpk":[
              {"stat":1,"modu":"LORA","datr":"SF7BW125","rssi":-35,"lsnr":5.1},
              {"stat":-1,"modu":"LORA","datr":"SF12BW500","rssi":-120,"lsnr":-11},
              {"stat":0,"modu":"FSK","datr":50000,"rssi":-80},
              {"stat":1,"modu":"LORA","datr":"SF13BW125","rsig":[{"ant":0,"rssic":-99,"lsnr":-2.5},{"rssic":1}]},
              {"stat":1,"datr":"sf7bw125"},
              {"stat":1,"datr":9600,"lsnr":3}
            ]}"#,
        ))
        .unwrap();
        let Body::Push { rx, stat: None } = d.body else {
            panic!("{d:?}")
        };
        let dr = |i: usize| DATARATES[rx[i].datarate];
        assert_eq!(
            (rx[0].crc, dr(0), rx[0].rssi, rx[0].snr),
            (Crc::Ok, "SF7BW125", Some(-35.0), Some(5.1))
        );
        assert_eq!((rx[1].crc, dr(1)), (Crc::Fail, "SF12BW500"));
        assert_eq!((rx[2].crc, dr(2), rx[2].snr), (Crc::None, "FSK", None));
        assert_eq!(
            (dr(3), rx[3].rssi, rx[3].snr),
            ("other", Some(-99.0), Some(-2.5))
        );
        assert_eq!(dr(4), "other", "datr as sent, case and all");
        assert_eq!((dr(5), rx[5].snr), ("FSK", None), "a numeric datr is FSK");
    }

    #[test]
    fn stat_object() {
        let d = parse(&with_eui(
            1,
            0,
            r#"{"stat":{"time":"2014-01-12 08:59:28 GMT","rxnb":3,"rxok":2,"rxfw":2,"ackr":100.0,"dwnb":1,"txnb":0,"temp":41.5}}"#,
        ))
        .unwrap();
        let Body::Push {
            rx,
            stat: Some(stat),
        } = d.body
        else {
            panic!()
        };
        assert!(rx.is_empty());
        assert_eq!(
            stat.counters,
            [Some(3.0), Some(2.0), Some(2.0), Some(1.0), Some(0.0)]
        );
        assert_eq!((stat.ackr, stat.temp), (Some(100.0), Some(41.5)));
        assert_eq!(stat.counter("dwnb"), Some(1.0));
    }

    #[test]
    fn every_tx_ack_error() {
        for (i, wire) in TxError::WIRE.iter().enumerate() {
            let json = format!(r#"{{"txpk_ack":{{"error":"{wire}"}}}}"#);
            let d = parse(&with_eui(2, 5, &json)).unwrap();
            assert_eq!(d.body, Body::TxAck(TxError::ALL[i]), "{wire}");
        }
        let other = with_eui(2, 5, r#"{"txpk_ack":{"error":"HALF_DUPLEX"}}"#);
        assert_eq!(parse(&other).unwrap().body, Body::TxAck(TxError::Other));
        let warn = with_eui(
            2,
            5,
            "{\"txpk_ack\":{\"warn\":\"TX_POWER\",\"value\":20}}\0",
        );
        assert_eq!(parse(&warn).unwrap().body, Body::TxAck(TxError::None));
        assert_eq!(
            parse(&with_eui(2, 5, "\0")).unwrap().body,
            Body::TxAck(TxError::None)
        );
    }

    #[test]
    fn malformed_by_reason() {
        assert_eq!(reason(b""), Invalid::Short);
        assert_eq!(reason(&[2, 0, 0]), Invalid::Short);
        assert_eq!(
            reason(&[2, 0, 0, 0, 1, 2, 3]),
            Invalid::Short,
            "PUSH_DATA without EUI"
        );
        assert_eq!(
            reason(&[2, 0, 0, 2, 1]),
            Invalid::Short,
            "PULL_DATA without EUI"
        );
        assert_eq!(reason(&[3, 0, 0, 1]), Invalid::Version);
        assert_eq!(reason(&[0, 0, 0, 1]), Invalid::Version);
        assert_eq!(reason(&[2, 0, 0, 6]), Invalid::Type);
        assert_eq!(reason(&[2, 0, 0, 0xff]), Invalid::Type);
        for json in [
            "",
            "{",
            "[]",
            "\u{0}",
            r#"{"rxpk":{}}"#,
            r#"{"rxpk":[1]}"#,
            r#"{"rxpk":[{"stat":2}]}"#,
            r#"{"rxpk":[{"datr":"SF7BW125"}]}"#,
            r#"{"rxpk":[{"stat":1,"rssi":"-30"}]}"#,
            r#"{"rxpk":[{"stat":1,"rssi":-1e300}]}"#,
            r#"{"rxpk":[{"stat":1,"rssi":1e400}]}"#,
            r#"{"rxpk":[{"stat":1,"lsnr":-1e400}]}"#,
            r#"{"rxpk":[{"stat":1,"rssi":NaN}]}"#,
            r#"{"rxpk":[{"stat":1,"rssi":"NaN"}]}"#,
            r#"{"rxpk":[{"stat":1e400}]}"#,
            r#"{"stat":{"ackr":1e400}}"#,
            r#"{"stat":{"temp":-1e400}}"#,
            r#"{"rxpk":[{"stat":1,"rsig":[{"lsnr":2000}]}]}"#,
            r#"{"stat":[]}"#,
            r#"{"stat":{"rxnb":-1}}"#,
            r#"{"stat":{"rxnb":1e300}}"#,
            r#"{"stat":{"txnb":4294967296}}"#,
            r#"{"stat":{"ackr":"100"}}"#,
        ] {
            assert_eq!(reason(&with_eui(2, 0, json)), Invalid::Json, "{json}");
        }
        let mut not_utf8 = with_eui(2, 0, "{\"a\":\"");
        not_utf8.extend_from_slice(b"\xff\"}");
        assert_eq!(reason(&not_utf8), Invalid::Json);
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        let err = parse(&with_eui(2, 0, &deep)).unwrap_err();
        assert_eq!(err.reason, Invalid::Json);
        assert_eq!(err.detail, "PUSH_DATA: JSON nested 1000 deep (limit 32)");
        assert_eq!(
            reason(&[2, 0, 0, 3]),
            Invalid::Json,
            "PULL_RESP without JSON"
        );
        assert_eq!(reason(b"\x02\0\0\x03{\"rxpk\":[]}"), Invalid::Json);
        assert_eq!(reason(&with_eui(2, 5, "{}")), Invalid::Json);
        assert_eq!(
            reason(&with_eui(2, 5, r#"{"txpk_ack":{"error":7}}"#)),
            Invalid::Json
        );
    }

    /// The detail is logged: whatever the JSON holds, it stays one line of
    /// printable text (found by the fuzz target: tinyjson quotes the bad
    /// escape, a raw newline here).
    #[test]
    fn a_json_error_detail_is_one_printable_line() {
        for json in [
            "{\"txpk_ack\":\"\\\n\"}",
            "{\"a\":\"\u{1b}[31m\"}",
            "{\"rxpk\":[\r\n\t\u{0}]}",
            "{\n\"rxpk\": [}",
        ] {
            for id in [0, 5] {
                let err = parse(&with_eui(2, id, json)).unwrap_err();
                assert_eq!(err.reason, Invalid::Json, "{json:?}");
                assert!(
                    !err.detail.contains(|c: char| c.is_control()),
                    "{:?}",
                    err.detail
                );
            }
        }
    }

    #[test]
    fn every_prefix_of_a_good_datagram_is_handled() {
        let good = with_eui(
            2,
            0,
            r#"{"rxpk":[{"stat":1,"datr":"SF9BW125","rssi":-60,"lsnr":9}],"stat":{"rxnb":1}}"#,
        );
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        assert!(parse(&good).is_ok());
    }

    #[test]
    fn log_text_is_escaped_and_cut() {
        assert_eq!(eui_text(&EUI), "AA555A0000000101");
        let every_digit = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF];
        assert_eq!(eui_text(&every_digit), "0123456789ABCDEF");
    }
}
