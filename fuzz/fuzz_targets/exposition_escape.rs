//! The exposition writer end to end: a family whose HELP text, label value
//! and sample value come from the fuzzer is written, then read back with a
//! small strict parser of the text format, and must give back exactly what
//! went in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linxdot_exporter::exposition::{Exposition, MetricType};

const NAME: &str = "fuzz_metric";

/// `# HELP` text: only `\\` and `\n` are escapes.
fn unescape_help(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                other => return Err(format!("bad HELP escape \\{other:?}")),
            },
            '\n' => return Err("raw newline in HELP".into()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A label value after its opening quote: the value and what follows the
/// closing quote.
fn read_label_value(text: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                other => return Err(format!("bad label escape {other:?}")),
            },
            '"' => return Ok((out, &text[i + 1..])),
            '\n' => return Err("raw newline in a label value".into()),
            c => out.push(c),
        }
    }
    Err("label value not closed".into())
}

/// Reads a value as Prometheus does (Go's ParseFloat plus the three words).
fn read_value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        t if t
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.e".contains(&b)) =>
        {
            t.parse().map_err(|e| format!("value {t:?}: {e}"))
        }
        t => Err(format!("value {t:?}")),
    }
}

/// (help, label value, value) of a body of one family with one sample
/// carrying one label `l`.
fn parse_back(body: &str) -> Result<(String, String, f64), String> {
    let body = body.strip_suffix('\n').ok_or("no final newline")?;
    let mut lines = body.split('\n');
    let help = lines
        .next()
        .and_then(|l| l.strip_prefix(&format!("# HELP {NAME} ")))
        .ok_or("no HELP line")?;
    let help = unescape_help(help)?;
    if lines.next() != Some(&format!("# TYPE {NAME} gauge")) {
        return Err("no TYPE line".into());
    }
    let sample = lines.next().ok_or("no sample line")?;
    if lines.next().is_some() {
        return Err("more lines than written".into());
    }
    let rest = sample
        .strip_prefix(&format!("{NAME}{{l=\""))
        .ok_or("sample does not start with its name and label")?;
    let (label, rest) = read_label_value(rest)?;
    let value = rest.strip_prefix("} ").ok_or("no '} ' after the labels")?;
    Ok((help, label, read_value(value)?))
}

fuzz_target!(|input: (String, String, f64)| {
    let (help, label, value) = input;
    let mut out = Exposition::new();
    out.family(NAME, &help, MetricType::Gauge)
        .sample(&[("l", &label)], value);
    let body = out.into_string();
    let (help_back, label_back, value_back) =
        parse_back(&body).unwrap_or_else(|e| panic!("{e} in {body:?}"));
    assert_eq!(help_back, help, "HELP in {body:?}");
    assert_eq!(label_back, label, "label value in {body:?}");
    assert!(
        value_back.to_bits() == value.to_bits() || (value.is_nan() && value_back.is_nan()),
        "value {value:?} came back as {value_back:?} in {body:?}"
    );
});
