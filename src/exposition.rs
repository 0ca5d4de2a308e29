//! The Prometheus text exposition format, version 0.0.4, written by hand.
//!
//! A [`Exposition`] is a growing text body. [`Exposition::family`] writes one
//! family's `# HELP` and `# TYPE` lines and hands back a [`FamilyWriter`] that
//! borrows the body mutably, so the samples of one family are always written
//! together, right after their header. Writing the same family twice is a
//! programming error: it is caught in debug builds and by the tests that check
//! whole scrapes.

use http::Digits;
use std::fmt::Write as _;

/// The content type of the body this module writes.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metric types of the text format that this exporter uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Gauge,
    Counter,
    /// Samples `_bucket{le=…}`, `_sum` and `_count`
    /// ([`FamilyWriter::sample_suffixed`]).
    Histogram,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
            MetricType::Histogram => "histogram",
        }
    }
}

/// A text body under construction.
#[derive(Default)]
pub struct Exposition {
    body: String,
    families: Vec<&'static str>,
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// A body written into `buffer` (emptied first), reusing its memory.
    pub(crate) fn over(mut buffer: String) -> Self {
        buffer.clear();
        Exposition {
            body: buffer,
            families: Vec::new(),
        }
    }

    /// Starts a family: writes its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &'static str, help: &str, kind: MetricType) -> FamilyWriter<'_> {
        debug_assert!(is_valid_metric_name(name), "bad metric name {name:?}");
        debug_assert!(
            !self.families.contains(&name),
            "family {name} written twice"
        );
        self.families.push(name);
        self.body.push_str("# HELP ");
        self.body.push_str(name);
        self.body.push(' ');
        escape_into(&mut self.body, help, Escape::Help);
        self.body.push_str("\n# TYPE ");
        self.body.push_str(name);
        self.body.push(' ');
        self.body.push_str(kind.as_str());
        self.body.push('\n');
        FamilyWriter {
            body: &mut self.body,
            name,
        }
    }

    /// A family of at most one sample without labels: the sample is
    /// written when there is a value, the HELP and TYPE lines always.
    pub(crate) fn single(
        &mut self,
        name: &'static str,
        help: &str,
        kind: MetricType,
        value: Option<f64>,
    ) {
        let mut family = self.family(name, help, kind);
        if let Some(value) = value {
            family.sample(&[], value);
        }
    }

    /// Appends families rendered earlier (a [`Rendered`]'s text), as they are.
    ///
    /// [`Rendered`]: crate::collector::Rendered
    pub(crate) fn append_rendered(&mut self, text: &str) {
        self.body.push_str(text);
    }

    /// Appends one sample without labels, for a family whose HELP and TYPE
    /// lines came in [`append_rendered`](Exposition::append_rendered) text.
    /// The value is likely a whole number of hundredths (seconds from clock
    /// ticks, byte counts): it is then written from its integer digits, in
    /// the spelling of [`write_value`], without float formatting.
    pub(crate) fn append_sample_hundredths(&mut self, name: &str, value: f64) {
        self.body.push_str(name);
        self.body.push(' ');
        write_hundredths(&mut self.body, value);
        self.body.push('\n');
    }

    /// The names of the families written so far, in order (not those of
    /// [`append_rendered`](Exposition::append_rendered) text).
    #[cfg(test)]
    pub(crate) fn family_names(&self) -> &[&'static str] {
        &self.families
    }

    /// The finished body. Every line, the last one too, ends with `\n`.
    pub fn into_string(self) -> String {
        self.body
    }

    pub fn as_str(&self) -> &str {
        &self.body
    }
}

/// Writes the samples of one family.
pub struct FamilyWriter<'a> {
    body: &'a mut String,
    name: &'static str,
}

impl FamilyWriter<'_> {
    /// Writes one sample of this family. Label names must be valid; label
    /// values are escaped here.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.sample_suffixed("", labels, value)
    }

    /// Writes one sample named the family's name followed by `suffix`
    /// (a histogram's `_bucket`, `_sum`, `_count`).
    pub fn sample_suffixed(
        &mut self,
        suffix: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) -> &mut Self {
        self.body.push_str(self.name);
        self.body.push_str(suffix);
        if !labels.is_empty() {
            self.body.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                debug_assert!(is_valid_label_name(name), "bad label name {name:?}");
                if i > 0 {
                    self.body.push(',');
                }
                self.body.push_str(name);
                self.body.push_str("=\"");
                escape_into(self.body, value, Escape::LabelValue);
                self.body.push('"');
            }
            self.body.push('}');
        }
        self.body.push(' ');
        write_value(self.body, value);
        self.body.push('\n');
        self
    }
}

/// What a text is, for [`escape_into`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// `# HELP` text: backslash and newline are escaped; quotes are not.
    Help,
    /// A label value: backslash, newline and the double quote are escaped.
    LabelValue,
}

/// Appends `text` to `out` with the escapes of the text format for `what`.
pub(crate) fn escape_into(out: &mut String, text: &str, what: Escape) {
    let special = |c: char| c == '\\' || c == '\n' || (c == '"' && what == Escape::LabelValue);
    if !text.contains(special) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if what == Escape::LabelValue => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Writes a sample value the way the Python client library does (so that
/// output stays byte-compatible with the exporters this one replaces):
/// `+Inf`, `-Inf`, `NaN`, otherwise Python's `repr` of the float (shortest
/// text that reads back as the same number, `1.0` rather than `1`), with Go's
/// exponent form for positive values of seven or more integer digits.
pub(crate) fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        write_finite(out, value);
    }
}

/// The value as [`write_value`] spells it.
pub fn format_value(value: f64) -> String {
    let mut s = String::new();
    write_value(&mut s, value);
    s
}

/// Writes `value` as [`write_value`] does; when it is a positive whole
/// number of hundredths below 10^11 (the double nearest to `h / 100` for
/// an integer `h`), from the digits of `h`. That decimal is then its
/// shortest round-trip spelling: it reads back as `value`, and any shorter
/// decimal is at least 0.01 away, far more than half the gap between
/// doubles of that size.
pub(crate) fn write_hundredths(out: &mut String, value: f64) {
    let hundredths = (value * 100.0).round();
    if !(value > 0.0 && hundredths < 1e13 && hundredths / 100.0 == value) {
        return write_value(out, value);
    }
    let all = Digits::new(hundredths as u64);
    let all = all.as_str();
    let exponent = all.len() as i32 - 3;
    // Trailing zeros off (hundredths > 0: a digit other than 0 stays).
    let mut end = all.len();
    while all.as_bytes()[end - 1] == b'0' {
        end -= 1;
    }
    write_layout(out, value, "", &all[..end], exponent);
}

/// A small stack buffer for one float's `{:e}` text (at most 24 bytes:
/// "-1.7976931348623157e308"), so that writing a value allocates nothing.
struct SciBuf {
    bytes: [u8; 32],
    len: usize,
}

impl std::fmt::Write for SciBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Whole numbers up to here have exactly one double each: their shortest
/// round-trip digits are the integer's digits, trailing zeros dropped.
const EXACT_WHOLE: f64 = 9_007_199_254_740_992.0; // 2^53

fn write_finite(out: &mut String, value: f64) {
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value.fract() == 0.0 && value.abs() < EXACT_WHOLE {
        // Byte sizes and times: no float formatting needed.
        let whole = Digits::new(value.abs() as u64);
        let all = whole.as_str();
        let exponent = all.len() as i32 - 1;
        let digits = all.trim_end_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        return write_layout(out, value, sign, digits, exponent);
    }
    write_scientific(out, value, sign);
}

fn write_scientific(out: &mut String, value: f64, sign: &str) {
    // `{:e}` gives the shortest round-trip digits: "-1.2345e3", "5e-7".
    let mut sci = SciBuf {
        bytes: [0; 32],
        len: 0,
    };
    let _ = write!(sci, "{value:e}");
    let sci = std::str::from_utf8(&sci.bytes[..sci.len]).unwrap_or("0e0");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mantissa = mantissa.strip_prefix('-').unwrap_or(mantissa);
    // The mantissa without its point: ASCII digits, at most 17 of them.
    let mut digit_bytes = [0u8; 24];
    let mut n = 0;
    for b in mantissa
        .bytes()
        .filter(|b| *b != b'.')
        .take(digit_bytes.len())
    {
        digit_bytes[n] = b;
        n += 1;
    }
    let digits = std::str::from_utf8(&digit_bytes[..n]).unwrap_or("0");
    write_layout(out, value, sign, digits, exponent);
}

/// Writes `sign`, then the value `0.DIGITS × 10^(exponent + 1)` as Python
/// and Go spell it.
fn write_layout(out: &mut String, value: f64, sign: &str, digits: &str, exponent: i32) {
    out.push_str(sign);
    if value > 0.0 && exponent >= 6 {
        // Go switches to exponents sooner than Python does.
        write_exponent_form(out, digits, exponent);
    } else if !(-4..16).contains(&exponent) {
        write_exponent_form(out, digits, exponent);
    } else if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let int_len = exponent as usize + 1;
        if digits.len() <= int_len {
            out.push_str(digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
}

fn write_exponent_form(out: &mut String, digits: &str, exponent: i32) {
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push_str(if exponent < 0 { "e-" } else { "e+" });
    if exponent.unsigned_abs() < 10 {
        out.push('0');
    }
    out.push_str(Digits::new(u64::from(exponent.unsigned_abs())).as_str());
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub(crate) fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with the reserved `__`.
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.starts_with("__")
        && matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Rounds to `places` decimals the way Python's `round()` does (on the exact
/// binary value, so `round(2.675, 2)` is 2.67), as the upstream exporter did.
pub fn round_decimals(value: f64, places: usize) -> f64 {
    if !value.is_finite() {
        return value;
    }
    format!("{value:.places$}").parse().unwrap_or(value)
}

#[cfg(test)]
mod tests {
    /// Hundredths (CPU seconds from ticks, start times, byte counts) are
    /// written from their digits in exactly the spelling of `write_value`;
    /// anything else falls through to it.
    #[test]
    fn hundredths_are_spelled_as_write_value_spells_them() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values = vec![
            0.0,
            -1.5,
            0.01,
            0.1,
            1.0,
            12.34,
            99.99,
            1e6,
            1e11 - 0.01,
            1e11,
            5e-7,
        ];
        for scale in [
            100,
            10_000,
            1_000_000,
            100_000_000,
            10_000_000_000,
            1_000_000_000_000,
        ] {
            for _ in 0..2_000 {
                let h = next() % scale;
                values.push(h as f64 / 100.0);
                values.push(1_763_790_000.0 + (h % 100_000) as f64 / 100.0);
                values.push(f64::from_bits(next() >> 2));
            }
        }
        for value in values {
            let (mut got, mut want) = (String::new(), String::new());
            super::write_hundredths(&mut got, value);
            super::write_value(&mut want, value);
            assert_eq!(got, want, "{value:e}");
        }
    }

    /// Whole numbers below 2^53 (counts, byte counts, start times) are
    /// written from their integer digits; `{:e}`'s shortest digits say the
    /// same.
    #[test]
    fn whole_numbers_take_a_short_cut_to_the_same_text() {
        let mut values = vec![
            0.0,
            1.0,
            7.0,
            10.0,
            99.0,
            1000.0,
            65536.0,
            123456.0,
            999999.0,
            1e6,
            181_280_768.0,
            1_795_448_121.0,
            9_007_199_254_740_991.0,
            4_503_599_627_370_497.0,
            1e15,
            123_000_000_000_000.0,
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for bits in 1..=53 {
            values.push((1u64 << (bits - 1)) as f64);
            for _ in 0..200 {
                // xorshift: whole numbers of every length up to 2^53.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                values.push((x >> (64 - bits)) as f64);
            }
        }
        for v in values
            .clone()
            .into_iter()
            .chain(values.into_iter().map(|v| -v))
        {
            let sign = if v.is_sign_negative() { "-" } else { "" };
            let (mut short, mut scientific) = (String::new(), String::new());
            write_finite(&mut short, v);
            write_scientific(&mut scientific, v, sign);
            assert_eq!(short, scientific, "{v}");
        }
    }

    use super::*;

    fn escaped(text: &str, what: Escape) -> String {
        let mut out = String::new();
        escape_into(&mut out, text, what);
        out
    }

    #[test]
    fn escape_table() {
        // (input, HELP form, label value form)
        let table = [
            ("plain", "plain", "plain"),
            ("back\\slash", "back\\\\slash", "back\\\\slash"),
            ("new\nline", "new\\nline", "new\\nline"),
            ("\"quoted\"", "\"quoted\"", "\\\"quoted\\\""),
            ("tab\tstays", "tab\tstays", "tab\tstays"),
            ("Zürich °C ✓", "Zürich °C ✓", "Zürich °C ✓"),
            ("\\n literal", "\\\\n literal", "\\\\n literal"),
            ("", "", ""),
            // Texts of one special character only: nothing else to trigger
            // the escaping.
            ("\\", "\\\\", "\\\\"),
            ("\n", "\\n", "\\n"),
            ("\"", "\"", "\\\""),
        ];
        for (input, want_help, want_label) in table {
            assert_eq!(escaped(input, Escape::Help), want_help, "help of {input:?}");
            assert_eq!(
                escaped(input, Escape::LabelValue),
                want_label,
                "label of {input:?}"
            );
        }
    }

    #[test]
    fn value_spelling_table() {
        let table: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (35.555, "35.555"),
            (25.980000000000004, "25.980000000000004"),
            (57.18932593800001, "57.18932593800001"),
            (-1.8125, "-1.8125"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456.0"),
            (1234567.0, "1.234567e+06"),
            (1000000.0, "1e+06"),
            (1763790000.12, "1.76379000012e+09"),
            (-1234567.0, "-1234567.0"),
            (1e16, "1e+16"),
            (-1e16, "-1e+16"),
            (-1e22, "-1e+22"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (value, want) in table {
            assert_eq!(format_value(*value), *want, "value {value:?}");
        }
    }

    #[test]
    fn every_finite_spelling_reads_back_exactly() {
        let mut x = 1.0e-12_f64;
        while x < 1.0e20 {
            for v in [x, -x, x * 1.37, -x * 7.77] {
                let s = format_value(v);
                assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
            }
            x *= 3.3;
        }
    }

    #[test]
    fn rounding_is_pythons() {
        assert_eq!(round_decimals(7.1694, 3), 7.169);
        assert_eq!(round_decimals(2.675, 2), 2.67);
        assert_eq!(round_decimals(17.5045, 3), 17.505);
        assert_eq!(round_decimals(39.8225, 3), 39.822);
        assert_eq!(round_decimals(-0.0004, 3), -0.0);
        assert!(round_decimals(f64::NAN, 3).is_nan());
    }

    #[test]
    fn families_are_written_whole() {
        let mut e = Exposition::new();
        e.family("a_total", "First \"one\"\\", MetricType::Counter)
            .sample(&[("reason", "x\"y")], 3.0)
            .sample(&[("reason", "z")], 0.0);
        e.family("b", "Second", MetricType::Gauge);
        e.family("c", "Third", MetricType::Gauge).sample(&[], 2.5);
        assert_eq!(
            e.as_str(),
            "# HELP a_total First \"one\"\\\\\n# TYPE a_total counter\n\
             a_total{reason=\"x\\\"y\"} 3.0\na_total{reason=\"z\"} 0.0\n\
             # HELP b Second\n# TYPE b gauge\n\
             # HELP c Third\n# TYPE c gauge\nc 2.5\n"
        );
        assert_eq!(e.family_names(), ["a_total", "b", "c"]);
    }

    #[test]
    fn labels_are_separated_and_single_families_have_at_most_one_sample() {
        let mut e = Exposition::new();
        e.family("x", "X", MetricType::Gauge)
            .sample(&[("a", "1"), ("b", "2"), ("c", "3")], 1.0);
        e.single("y", "Y", MetricType::Gauge, Some(-2.5));
        e.single("z_total", "Z", MetricType::Counter, None);
        let want = "# HELP x X\n# TYPE x gauge\nx{a=\"1\",b=\"2\",c=\"3\"} 1.0\n\
                    # HELP y Y\n# TYPE y gauge\ny -2.5\n\
                    # HELP z_total Z\n# TYPE z_total counter\n";
        assert_eq!(e.as_str(), want);
        assert_eq!(e.family_names(), ["x", "y", "z_total"]);
        assert_eq!(e.into_string(), want);
    }

    #[test]
    fn name_rules() {
        assert!(is_valid_metric_name("miner_cpu_temp"));
        assert!(is_valid_metric_name("_x:y"));
        assert!(!is_valid_metric_name("1x"));
        assert!(!is_valid_metric_name(""));
        assert!(!is_valid_metric_name("a-b"));
        assert!(is_valid_label_name("phy"));
        assert!(!is_valid_label_name("__name"));
        assert!(!is_valid_label_name("a:b"));
    }
}
