//! Float spelling: every f64 bit pattern through `format_value`, checked
//! against the grammar Prometheus reads and parsed back to the same number;
//! `round_decimals` (used on the dashboard's percentages) stays within half a
//! unit of the last decimal kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linxdot_exporter::exposition::{format_value, round_decimals};

/// `-?D+.D+` or `-?D(.D+)?e[+-]DD+`: the two forms `format_value` writes.
fn well_formed(s: &str) -> bool {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match unsigned.split_once('e') {
        None => matches!(unsigned.split_once('.'), Some((a, b)) if digits(a) && digits(b)),
        Some((mantissa, exponent)) => {
            let mantissa_ok = match mantissa.split_once('.') {
                None => mantissa.len() == 1 && digits(mantissa),
                Some((a, b)) => a.len() == 1 && digits(a) && digits(b),
            };
            let exponent_ok = matches!(exponent.as_bytes().first(), Some(b'+' | b'-'))
                && exponent.len() >= 3
                && digits(&exponent[1..]);
            mantissa_ok && exponent_ok
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = [0u8; 8];
    let n = data.len().min(8);
    bytes[..n].copy_from_slice(&data[..n]);
    let value = f64::from_le_bytes(bytes);
    let text = format_value(value);
    if value.is_nan() {
        assert_eq!(text, "NaN");
    } else if value.is_infinite() {
        assert_eq!(text, if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        assert!(well_formed(&text), "{value:?} spelled {text:?}");
        let back: f64 = text.parse().expect("parses");
        assert_eq!(
            back.to_bits(),
            value.to_bits(),
            "{value:?} spelled {text:?}"
        );
    }
    let places = data.get(8).map_or(3, |p| (p % 8) as usize);
    let rounded = round_decimals(value, places);
    if value.is_finite() {
        assert!(
            rounded.is_finite(),
            "round({value:?}, {places}) = {rounded:?}"
        );
        let half_unit = 0.5 * 10f64.powi(-(places as i32));
        let err = (rounded - value).abs();
        // The rounded decimal is itself stored to within an ulp or so.
        let ulp = value.abs().max(f64::MIN_POSITIVE) * f64::EPSILON;
        assert!(
            err <= half_unit + 2.0 * ulp,
            "round({value:?}, {places}) = {rounded:?}"
        );
    } else {
        assert!(rounded.to_bits() == value.to_bits() || (value.is_nan() && rounded.is_nan()));
    }
});
