//! The supported TEMPer models, as data.
//!
//! A device is matched by its USB VID:PID and the version string it returns
//! to the version query: among the rows of that VID:PID whose
//! `version_prefix` starts the version string (ASCII case ignored), the
//! longest prefix wins. Every VID:PID has one row with an empty prefix: the
//! family's default, used (with one warning) for a version string this table
//! does not know.
//!
//! Adding a model is adding a row. Offsets in [`Field::at`] count in the
//! reply as read: report 1 is bytes 0..8, report 2 (for two-report models)
//! bytes 8..16.

use super::Quantity;

/// How two reply bytes become a reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Conv {
    /// Signed 16-bit big-endian / 256 (the 0c45 firmwares).
    S16Div256,
    /// Signed 16-bit big-endian / 100 (the 413d, 1a86 and 3553 firmwares).
    /// `4E 20` (200.00) means "no sensor there": no reading.
    S16Div100,
    /// Si7021 temperature: 175.72 · u16 / 65536 − 46.85.
    Si7021Temperature,
    /// Si7021 relative humidity: 125 · u16 / 65536 − 6.
    Si7021Humidity,
    /// SHT1x temperature as the upstream exporter computes it: s16 / 100 − 39.7.
    Sht1xTemperature,
    /// SHT1x relative humidity, temperature-compensated with the SHT1x
    /// temperature found at byte `temperature_at` (upstream exporter formula),
    /// clamped to 0..100.
    Sht1xHumidity { temperature_at: usize },
}

/// One reading in a reply.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Field {
    /// The `name` label: `internal`/`external` on multi-sensor devices,
    /// empty on single-sensor ones.
    pub name: &'static str,
    pub quantity: Quantity,
    /// Offset of the two bytes in the reply.
    pub at: usize,
    pub conv: Conv,
}

/// One row of the table.
#[derive(Debug, PartialEq)]
pub struct Model {
    pub vendor_id: u16,
    pub product_id: u16,
    /// Empty for the family default.
    pub version_prefix: &'static str,
    /// What the device is sold as, for `--list-sensors` and log lines.
    pub product: &'static str,
    /// How many 8-byte reports answer one read query.
    pub reports: usize,
    pub fields: &'static [Field],
}

impl Model {
    pub(crate) fn is_family_default(&self) -> bool {
        self.version_prefix.is_empty()
    }
}

const fn temperature(name: &'static str, at: usize, conv: Conv) -> Field {
    Field {
        name,
        quantity: Quantity::Temperature,
        at,
        conv,
    }
}

const fn humidity(name: &'static str, at: usize, conv: Conv) -> Field {
    Field {
        name,
        quantity: Quantity::Humidity,
        at,
        conv,
    }
}

use Conv::*;

/// `80 02 TH TL`: one sensor.
const ONE_AT_2_BY_256: &[Field] = &[temperature("", 2, S16Div256)];
/// `80 04 IH IL EH EL`.
const TWO_BY_256: &[Field] = &[
    temperature("internal", 2, S16Div256),
    temperature("external", 4, S16Div256),
];
/// `80 04 ?? ?? TH TL`: TEMPer1F_V1.3 reports its probe at offset 4.
const ONE_AT_4_BY_256: &[Field] = &[temperature("", 4, S16Div256)];
/// TEMPerNTC1.0: three temperatures at 2, 4, 6. Which physical sensor each
/// one is, is not confirmed by the sources we have; we name them
/// `internal`, `external` and `external2` in reply order.
const NTC_THREE_BY_256: &[Field] = &[
    temperature("internal", 2, S16Div256),
    temperature("external", 4, S16Div256),
    temperature("external2", 6, S16Div256),
];
/// `80 04 TH TL HH HL`, Si7021.
const SI7021: &[Field] = &[
    temperature("", 2, Si7021Temperature),
    humidity("", 4, Si7021Humidity),
];
/// `80 04 TH TL HH HL`, SHT1x (TEMPer1F_H1V1.5F). The upstream exporter
/// decodes this firmware as an SHT1x; urwen/temper says SHT20. Unconfirmed:
/// we follow the upstream exporter, whose output we must reproduce.
const SHT1X: &[Field] = &[
    temperature("", 2, Sht1xTemperature),
    humidity("", 4, Sht1xHumidity { temperature_at: 2 }),
];
/// Newer firmwares: temperature at 2, hundredths.
const ONE_AT_2_BY_100: &[Field] = &[temperature("", 2, S16Div100)];
/// TEMPerX: T@2, RH@4 on the device, T@10, RH@12 on the external probe
/// (second report); absent ones read `4E 20`. Named `internal`/`external`
/// whatever is plugged in, so the series stay the same when a probe comes
/// and goes.
const TEMPERX: &[Field] = &[
    temperature("internal", 2, S16Div100),
    temperature("external", 10, S16Div100),
    humidity("internal", 4, S16Div100),
    humidity("external", 12, S16Div100),
];
/// TEMPer2_V3.x/V4.x: `80 80 IH IL 4E 20 ..` then `80 01 EH EL 4E 20 ..`.
const TWO_REPORTS_BY_100: &[Field] = &[
    temperature("internal", 2, S16Div100),
    temperature("external", 10, S16Div100),
];
/// TEMPerHUM_V3.x/V4.x: `80 20 TH TL HH HL 00 00`.
const HUM_BY_100: &[Field] = &[temperature("", 2, S16Div100), humidity("", 4, S16Div100)];

const fn row(
    vid_pid: (u16, u16),
    version_prefix: &'static str,
    product: &'static str,
    reports: usize,
    fields: &'static [Field],
) -> Model {
    Model {
        vendor_id: vid_pid.0,
        product_id: vid_pid.1,
        version_prefix,
        product,
        reports,
        fields,
    }
}

const MICRODIA_7401: (u16, u16) = (0x0c45, 0x7401);
const MICRODIA_7402: (u16, u16) = (0x0c45, 0x7402);
const PCSENSOR_413D: (u16, u16) = (0x413d, 0x2107);
const QINHENG_E025: (u16, u16) = (0x1a86, 0xe025);
const PCSENSOR_3553: (u16, u16) = (0x3553, 0xa001);

/// The 1130:660c "HidTEMPer" family speaks another command set: not supported.
pub(crate) const UNSUPPORTED: &[(u16, u16, &str)] = &[(0x1130, 0x660c, "HidTEMPer")];

// One row per line: the table reads as a table.
#[rustfmt::skip]
pub static MODELS: &[Model] = &[
    // 0c45:7401: replies `80 LEN ..`, s16/256.
    row(MICRODIA_7401, "", "TEMPer (unknown 0c45:7401 firmware)", 1, ONE_AT_2_BY_256),
    row(MICRODIA_7401, "TEMPerV1.2", "TEMPer", 1, ONE_AT_2_BY_256),
    row(MICRODIA_7401, "TEMPer2_M12_V1.3", "TEMPer2", 1, TWO_BY_256),
    row(MICRODIA_7401, "TEMPer2V1.3", "TEMPer2", 1, TWO_BY_256),
    row(MICRODIA_7401, "TEMPerV1.4", "TEMPer", 1, ONE_AT_2_BY_256),
    row(MICRODIA_7401, "TEMPer1V1.4", "TEMPer1", 1, ONE_AT_2_BY_256),
    row(MICRODIA_7401, "TEMPerF1.4", "TEMPer1", 1, ONE_AT_2_BY_256),
    row(MICRODIA_7401, "TEMPerF1.2", "TEMPer1", 1, ONE_AT_2_BY_256),
    // TEMPer1V1.1 answers the version query with `TEMPer1F1.1Per1F`.
    row(MICRODIA_7401, "TEMPer1V1.1", "TEMPer1 (probe)", 1, ONE_AT_2_BY_256),
    row(MICRODIA_7401, "TEMPer1F1.1", "TEMPer1 (probe)", 1, ONE_AT_2_BY_256),
    // Answers `TEMPer1F_V1.3r1F`.
    row(MICRODIA_7401, "TEMPer1F_V1.3", "TEMPer1F (probe)", 1, ONE_AT_4_BY_256),
    row(MICRODIA_7401, "TEMPerNTC1.0", "TEMPerNTC", 1, NTC_THREE_BY_256),
    // 0c45:7402: hygrometers. The default is the Si7021 decoder, the one most
    // rows of this family use.
    row(MICRODIA_7402, "", "TEMPerHUM (unknown 0c45:7402 firmware)", 1, SI7021),
    row(MICRODIA_7402, "TEMPerHumM12V1.2", "TEMPerHUM", 1, SI7021),
    row(MICRODIA_7402, "TEMPerHumM12V1.3", "TEMPerHUM", 1, SI7021),
    row(MICRODIA_7402, "TEMPERHUM1V1.2", "TEMPerHUM", 1, SI7021),
    row(MICRODIA_7402, "TEMPERHUM1V1.3", "TEMPerHUM", 1, SI7021),
    row(MICRODIA_7402, "TEMPer1F_H1V1.5F", "TEMPerHUM", 1, SHT1X),
    // 413d:2107.
    row(PCSENSOR_413D, "", "TEMPer (unknown 413d:2107 firmware)", 1, ONE_AT_2_BY_100),
    row(PCSENSOR_413D, "TEMPerGold_V3.1", "TEMPerGold", 1, ONE_AT_2_BY_100),
    row(PCSENSOR_413D, "TEMPerX_V3.1", "TEMPerX", 2, TEMPERX),
    row(PCSENSOR_413D, "TEMPerX_V3.3", "TEMPerX", 2, TEMPERX),
    // 1a86:e025.
    row(QINHENG_E025, "", "TEMPer (unknown 1a86:e025 firmware)", 1, ONE_AT_2_BY_100),
    row(QINHENG_E025, "TEMPerGold_V3.3", "TEMPerGold", 1, ONE_AT_2_BY_100),
    row(QINHENG_E025, "TEMPerGold_V3.4", "TEMPerGold", 1, ONE_AT_2_BY_100),
    row(QINHENG_E025, "TEMPer2_V3.7", "TEMPer2", 2, TWO_REPORTS_BY_100),
    row(QINHENG_E025, "TEMPer2_V3.9", "TEMPer2", 2, TWO_REPORTS_BY_100),
    row(QINHENG_E025, "TEMPer2_V4.1", "TEMPer2", 2, TWO_REPORTS_BY_100),
    row(QINHENG_E025, "TEMPerHUM_V3.8", "TEMPerHUM", 1, HUM_BY_100),
    row(QINHENG_E025, "TEMPerHUM_V3.9", "TEMPerHUM", 1, HUM_BY_100),
    row(QINHENG_E025, "TEMPerHUM_V4.1", "TEMPerHUM", 1, HUM_BY_100),
    row(QINHENG_E025, "TEMPer1F_V3.9", "TEMPer1F (probe)", 1, ONE_AT_2_BY_100),
    row(QINHENG_E025, "TEMPer1F_V4.1", "TEMPer1F (probe)", 1, ONE_AT_2_BY_100),
    // 3553:a001: the same firmwares under another VID:PID.
    row(PCSENSOR_3553, "", "TEMPer (unknown 3553:a001 firmware)", 1, ONE_AT_2_BY_100),
    row(PCSENSOR_3553, "TEMPerGold_V3.5", "TEMPerGold", 1, ONE_AT_2_BY_100),
    row(PCSENSOR_3553, "TEMPer2_V3.7", "TEMPer2", 2, TWO_REPORTS_BY_100),
    row(PCSENSOR_3553, "TEMPer2_V3.9", "TEMPer2", 2, TWO_REPORTS_BY_100),
    row(PCSENSOR_3553, "TEMPer2_V4.1", "TEMPer2", 2, TWO_REPORTS_BY_100),
    row(PCSENSOR_3553, "TEMPerHUM_V3.8", "TEMPerHUM", 1, HUM_BY_100),
    row(PCSENSOR_3553, "TEMPerHUM_V3.9", "TEMPerHUM", 1, HUM_BY_100),
    row(PCSENSOR_3553, "TEMPerHUM_V4.1", "TEMPerHUM", 1, HUM_BY_100),
    row(PCSENSOR_3553, "TEMPer1F_V3.9", "TEMPer1F (probe)", 1, ONE_AT_2_BY_100),
    row(PCSENSOR_3553, "TEMPer1F_V4.1", "TEMPer1F (probe)", 1, ONE_AT_2_BY_100),
];

/// Whether some row covers this VID:PID.
pub(crate) fn is_supported(vendor_id: u16, product_id: u16) -> bool {
    MODELS
        .iter()
        .any(|m| m.vendor_id == vendor_id && m.product_id == product_id)
}

/// The known-unsupported family of this VID:PID, if any.
pub(crate) fn unsupported_family(vendor_id: u16, product_id: u16) -> Option<&'static str> {
    UNSUPPORTED
        .iter()
        .find(|(v, p, _)| *v == vendor_id && *p == product_id)
        .map(|(_, _, name)| *name)
}

/// The row for this device: longest matching version prefix, else the
/// family default (check [`Model::is_family_default`]). `None` only for a
/// VID:PID the table does not cover.
pub fn lookup(vendor_id: u16, product_id: u16, version: &str) -> Option<&'static Model> {
    MODELS
        .iter()
        .filter(|m| m.vendor_id == vendor_id && m.product_id == product_id)
        .filter(|m| starts_with_ignore_ascii_case(version, m.version_prefix))
        .max_by_key(|m| m.version_prefix.len())
}

fn starts_with_ignore_ascii_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_exactly_one_default() {
        let mut families: Vec<(u16, u16)> =
            MODELS.iter().map(|m| (m.vendor_id, m.product_id)).collect();
        families.dedup();
        for (v, p) in families {
            let defaults = MODELS
                .iter()
                .filter(|m| m.vendor_id == v && m.product_id == p && m.is_family_default())
                .count();
            assert_eq!(defaults, 1, "{v:04x}:{p:04x}");
        }
    }

    #[test]
    fn no_row_is_listed_twice() {
        for (i, a) in MODELS.iter().enumerate() {
            for b in &MODELS[i + 1..] {
                assert!(
                    !(a.vendor_id == b.vendor_id
                        && a.product_id == b.product_id
                        && a.version_prefix.eq_ignore_ascii_case(b.version_prefix)),
                    "duplicate row {:?}",
                    a.version_prefix
                );
            }
        }
    }

    #[test]
    fn fields_fit_in_the_reports_and_names_are_unique() {
        for m in MODELS {
            assert!((1..=2).contains(&m.reports), "{}", m.version_prefix);
            assert!(!m.fields.is_empty());
            for (i, f) in m.fields.iter().enumerate() {
                assert!(f.at + 2 <= m.reports * 8, "{} {}", m.version_prefix, f.at);
                for g in &m.fields[i + 1..] {
                    assert!(
                        !(f.name == g.name && f.quantity == g.quantity),
                        "{} has two {:?} {:?}",
                        m.version_prefix,
                        f.quantity,
                        f.name
                    );
                }
            }
        }
    }

    #[test]
    fn longest_prefix_wins_and_case_is_ignored() {
        let pick = |v, p, s| lookup(v, p, s).map(|m| m.version_prefix);
        assert_eq!(
            pick(0x0c45, 0x7401, "TEMPer2_M12_V1.3"),
            Some("TEMPer2_M12_V1.3")
        );
        assert_eq!(
            pick(0x0c45, 0x7401, "TEMPer1F1.1Per1F"),
            Some("TEMPer1F1.1")
        );
        assert_eq!(
            pick(0x0c45, 0x7401, "TEMPer1F_V1.3r1F"),
            Some("TEMPer1F_V1.3")
        );
        assert_eq!(
            pick(0x0c45, 0x7402, "TEMPerHUM1V1.3"),
            Some("TEMPERHUM1V1.3")
        );
        assert_eq!(pick(0x0c45, 0x7401, "TEMPer9_V9.9"), Some(""));
        assert_eq!(pick(0x0c45, 0x7401, ""), Some(""));
        // The same version string under another VID:PID is another row.
        assert_eq!(pick(0x3553, 0xa001, "TEMPer2_V4.1"), Some("TEMPer2_V4.1"));
        assert_eq!(lookup(0x3553, 0xa001, "TEMPer2_V4.1").unwrap().reports, 2);
        assert_eq!(pick(0x1a86, 0xe025, "TEMPerGold_V3.5"), Some(""));
        assert_eq!(pick(0x1130, 0x660c, "TEMPer"), None);
        assert!(!is_supported(0x1130, 0x660c));
        assert_eq!(unsupported_family(0x1130, 0x660c), Some("HidTEMPer"));
        assert!(is_supported(0x413d, 0x2107));
    }
}
