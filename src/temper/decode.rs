//! Reply bytes → readings, and the version reply → a label value.
//!
//! Nothing here indexes a slice without checking its length: a short or
//! garbled reply loses readings, it never panics.

use super::models::{Conv, Model};
use super::Quantity;

/// `4E 20` (20000 hundredths = 200.00): "no sensor there" on the newer
/// firmwares.
pub(crate) const ABSENT: [u8; 2] = [0x4e, 0x20];

/// One decoded reading, before calibration.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub name: &'static str,
    pub quantity: Quantity,
    pub value: f64,
}

fn pair(reply: &[u8], at: usize) -> Option<[u8; 2]> {
    let bytes = reply.get(at..at.checked_add(2)?)?;
    Some([bytes[0], bytes[1]])
}

fn s16(reply: &[u8], at: usize) -> Option<f64> {
    pair(reply, at).map(|b| f64::from(i16::from_be_bytes(b)))
}

fn u16_at(reply: &[u8], at: usize) -> Option<f64> {
    pair(reply, at).map(|b| f64::from(u16::from_be_bytes(b)))
}

/// SHT1x temperature, as the upstream exporter computes it.
pub(crate) fn sht1x_temperature(raw: f64) -> f64 {
    raw / 100.0 - 39.7
}

/// SHT1x relative humidity, as the upstream exporter computes it (same order
/// of operations, so the floats match bit for bit), clamped to 0..100.
pub(crate) fn sht1x_humidity(h: f64, temperature: f64) -> f64 {
    let linear = -2.0468 + 0.0367 * h - 1.5955e-6 * h * h;
    let rh = linear + (temperature - 25.0) * (0.01 + 0.00008 * h);
    rh.clamp(0.0, 100.0)
}

/// One field of a reply; `None` when its bytes are missing or say "absent".
pub(crate) fn convert(conv: Conv, reply: &[u8], at: usize) -> Option<f64> {
    match conv {
        Conv::S16Div256 => s16(reply, at).map(|v| v / 256.0),
        Conv::S16Div100 => {
            if pair(reply, at)? == ABSENT {
                None
            } else {
                s16(reply, at).map(|v| v / 100.0)
            }
        }
        Conv::Si7021Temperature => u16_at(reply, at).map(|v| 175.72 * v / 65536.0 - 46.85),
        // The formula spans -6..119 %RH; the Si7021 datasheet says to clamp
        // the result to 0..100 (found by the temper_decode fuzz target).
        Conv::Si7021Humidity => {
            u16_at(reply, at).map(|v| (125.0 * v / 65536.0 - 6.0).clamp(0.0, 100.0))
        }
        Conv::Sht1xTemperature => s16(reply, at).map(sht1x_temperature),
        Conv::Sht1xHumidity { temperature_at } => {
            let t = sht1x_temperature(s16(reply, temperature_at)?);
            u16_at(reply, at).map(|h| sht1x_humidity(h, t))
        }
    }
}

/// All readings of a reply, in table order.
pub fn decode(model: &Model, reply: &[u8]) -> Vec<Value> {
    model
        .fields
        .iter()
        .filter_map(|f| {
            convert(f.conv, reply, f.at)
                // A humidity no sensor can read is garbage, not a reading.
                .filter(|v| f.quantity != Quantity::Humidity || (0.0..=100.0).contains(v))
                .map(|value| Value {
                    name: f.name,
                    quantity: f.quantity,
                    value,
                })
        })
        .collect()
}

/// The version reply as a label value: the printable ASCII before the first
/// other byte (NUL padding, junk), without trailing spaces.
pub fn version_string(reply: &[u8]) -> String {
    let printable: String = reply
        .iter()
        .take_while(|b| (0x20..=0x7e).contains(*b))
        .map(|b| char::from(*b))
        .collect();
    printable.trim_end_matches(' ').to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn humidity_never_leaves_0_to_100() {
        use crate::temper::models::lookup;
        // Si7021: raw 0 is -6 %RH by the formula, raw 0xFFFF 119 %RH: clamped.
        let si = lookup(0x0c45, 0x7402, "TEMPERHUM1V1.2").unwrap();
        let rh = |reply: &[u8]| {
            decode(si, reply)
                .into_iter()
                .find(|v| v.quantity == Quantity::Humidity)
                .map(|v| v.value)
        };
        assert_eq!(rh(&[0x80, 0x04, 0x6B, 0x80, 0x00, 0x00]), Some(0.0));
        assert_eq!(rh(&[0x80, 0x04, 0x6B, 0x80, 0xFF, 0xFF]), Some(100.0));
        // Hundredths: 250.00 %RH is not a reading at all.
        let hum = lookup(0x1a86, 0xe025, "TEMPerHUM_V3.8").unwrap();
        let values = decode(hum, &[0x80, 0x20, 0x09, 0x01, 0x61, 0xA8, 0, 0]);
        assert!(
            values.iter().all(|v| v.quantity != Quantity::Humidity),
            "{values:?}"
        );
        assert_eq!(values.len(), 1, "the temperature stays: {values:?}");
    }

    use super::super::models::lookup;
    use super::*;
    use crate::exposition::round_decimals;
    use Quantity::{Humidity as H, Temperature as T};

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// Decodes a reply (padded to whole 8-byte reports, as hidraw delivers
    /// them) with the row that `(vid, pid, version)` selects.
    fn run(vid: u16, pid: u16, version: &str, reply: &str) -> Vec<(&'static str, Quantity, f64)> {
        let model = lookup(vid, pid, version).expect("a row");
        assert!(
            !model.is_family_default(),
            "{version} fell back to the default"
        );
        let mut bytes = hex(reply);
        bytes.resize(bytes.len().div_ceil(8) * 8, 0);
        decode(model, &bytes)
            .into_iter()
            .map(|v| (v.name, v.quantity, v.value))
            .collect()
    }

    fn rounded(values: Vec<(&'static str, Quantity, f64)>) -> Vec<(&'static str, Quantity, f64)> {
        values
            .into_iter()
            .map(|(n, q, v)| (n, q, round_decimals(v, 2)))
            .collect()
    }

    #[test]
    fn reference_vectors_0c45() {
        let t2 = |version, reply| run(0x0c45, 0x7401, version, reply);
        assert_eq!(
            t2("TEMPer2_M12_V1.3", "80 04 15 A0 14 A0"),
            [("internal", T, 21.625), ("external", T, 20.625)]
        );
        assert_eq!(
            t2("TEMPer2_M12_V1.3", "80 04 05 80 FE 30"),
            [("internal", T, 5.5), ("external", T, -1.8125)]
        );
        assert_eq!(
            t2("TEMPer2V1.3", "80 04 0A E0 15 00"),
            [("internal", T, 10.875), ("external", T, 21.0)]
        );
        assert_eq!(
            t2("TEMPer2V1.3", "80 04 1D 10 1D 60"),
            [("internal", T, 29.0625), ("external", T, 29.375)]
        );
        assert_eq!(t2("TEMPerV1.2", "80 02 1E F0"), [("", T, 30.9375)]);
        assert_eq!(t2("TEMPer1V1.1", "80 02 13 50"), [("", T, 19.3125)]);
        // Its real version reply.
        assert_eq!(t2("TEMPer1F1.1Per1F", "80 02 13 50"), [("", T, 19.3125)]);
    }

    #[test]
    fn reference_vectors_hygrometers() {
        let got = run(0x0c45, 0x7402, "TEMPer1F_H1V1.5F", "80 04 19 A8 06 CE");
        // Exact: the upstream README's output, bit for bit.
        assert_eq!(
            got,
            [("", T, 25.980000000000004), ("", H, 57.18932593800001)]
        );
        let got = run(0x0c45, 0x7402, "TEMPERHUM1V1.2", "80 04 6B 80 43 32");
        assert_eq!(rounded(got), [("", T, 26.94), ("", H, 26.81)]);
    }

    #[test]
    fn reference_vectors_new_firmwares() {
        for (vid, pid) in [(0x1a86, 0xe025), (0x3553, 0xa001)] {
            let got = run(
                vid,
                pid,
                "TEMPer2_V3.7",
                "80 80 0D 54 4E 20 00 00 80 01 0A F0 4E 20 00 00",
            );
            assert_eq!(
                rounded(got),
                [("internal", T, 34.12), ("external", T, 28.0)]
            );
            let got = run(
                vid,
                pid,
                "TEMPer2_V4.1",
                "80 80 08 53 4E 20 00 00 80 01 06 97 4E 20 00 00",
            );
            assert_eq!(
                rounded(got),
                [("internal", T, 21.31), ("external", T, 16.87)]
            );
            let got = run(vid, pid, "TEMPerHUM_V3.8", "80 20 09 01 11 93 00 00");
            assert_eq!(rounded(got), [("", T, 23.05), ("", H, 44.99)]);
        }
        // TEMPerX_V3.3 (a TEMPer1F): one report, humidity absent; nothing in
        // the (missing) second report either.
        let got = run(0x413d, 0x2107, "TEMPerX_V3.3", "80 01 08 DC 4E 20 00 00");
        assert_eq!(rounded(got), [("internal", T, 22.68)]);
    }

    #[test]
    fn the_remaining_rows_decode_where_the_table_says() {
        let got = run(0x0c45, 0x7401, "TEMPer1F_V1.3r1F", "80 04 AA BB 13 50");
        assert_eq!(got, [("", T, 19.3125)]);
        let got = run(0x0c45, 0x7401, "TEMPerNTC1.0", "80 06 13 50 FE 30 1E F0");
        assert_eq!(
            got,
            [
                ("internal", T, 19.3125),
                ("external", T, -1.8125),
                ("external2", T, 30.9375)
            ]
        );
        for (vid, pid, version) in [
            (0x413d, 0x2107, "TEMPerGold_V3.1"),
            (0x1a86, 0xe025, "TEMPerGold_V3.4"),
            (0x3553, 0xa001, "TEMPerGold_V3.5"),
            (0x3553, 0xa001, "TEMPer1F_V4.1"),
        ] {
            let got = run(vid, pid, version, "80 01 FF 38 4E 20 00 00");
            assert_eq!(got, [("", T, -2.0)], "{version}");
        }
        let got = run(
            0x413d,
            0x2107,
            "TEMPerX_V3.1",
            "80 80 09 01 11 93 00 00 80 01 FF 38 4E 20 00 00",
        );
        assert_eq!(
            rounded(got),
            [
                ("internal", T, 23.05),
                ("external", T, -2.0),
                ("internal", H, 44.99)
            ]
        );
    }

    #[test]
    fn absent_marker_only_on_hundredths_firmwares() {
        // 4E 20 on a 0c45 device is 78.125 °C, a real value.
        let got = run(0x0c45, 0x7401, "TEMPerV1.2", "80 02 4E 20");
        assert_eq!(got, [("", T, 78.125)]);
        let got = run(0x1a86, 0xe025, "TEMPerGold_V3.4", "80 01 4E 20 00 00 00 00");
        assert_eq!(got, []);
    }

    #[test]
    fn short_replies_lose_readings_without_panicking() {
        let model = lookup(0x1a86, 0xe025, "TEMPer2_V3.7").unwrap();
        assert_eq!(decode(model, &hex("80 80 0D 54 4E 20 00 00")).len(), 1);
        assert!(decode(model, &[]).is_empty());
        assert!(decode(model, &[0x80, 0x80, 0x0d]).is_empty());
        let sht = lookup(0x0c45, 0x7402, "TEMPer1F_H1V1.5F").unwrap();
        assert_eq!(decode(sht, &hex("80 04 19 A8 06")).len(), 1);
        assert_eq!(convert(Conv::S16Div256, &[1, 2], usize::MAX), None);
    }

    #[test]
    fn sht1x_humidity_is_clamped() {
        assert_eq!(sht1x_humidity(0.0, 25.0), 0.0);
        assert_eq!(sht1x_humidity(5000.0, 25.0), 100.0);
    }

    #[test]
    fn version_strings_are_trimmed() {
        assert_eq!(version_string(b"TEMPer1F_V1.3r1F"), "TEMPer1F_V1.3r1F");
        assert_eq!(version_string(b"TEMPer2_V3.7    "), "TEMPer2_V3.7");
        assert_eq!(version_string(b"TEMPer2_V4.1\0\0\0\0"), "TEMPer2_V4.1");
        assert_eq!(
            version_string(b"TEMPerGold_V3.1 \0\xff\x01x"),
            "TEMPerGold_V3.1"
        );
        assert_eq!(version_string(b"\0\0\0"), "");
        assert_eq!(version_string(b""), "");
    }
}
