//! The body of `GET /info/system` → a [`SystemInfo`].
//!
//! tinyjson recurses once per nesting level and has no limit of its own, so a
//! deeply nested body would overflow the stack and kill the process (a
//! signal, not a panic). [`parse_system`] therefore measures the nesting depth
//! first and refuses anything deeper than [`MAX_DEPTH`].

use std::collections::HashMap;
use tinyjson::JsonValue;

/// Deeper than any real dashboard answer, far shallower than the stack.
pub const MAX_DEPTH: usize = 32;

/// How much of tinyjson's error message (which quotes the input) is kept.
const MAX_ERROR_TEXT: usize = 160;

/// Reads one label out of a snapshot.
pub type Label = fn(&SystemInfo) -> Option<&str>;

/// One label of `miner_exporter_info`: its name (also its JSON key) and
/// the field of [`SystemInfo`] that holds it.
pub struct InfoField {
    pub key: &'static str,
    pub get: Label,
    set: fn(&mut SystemInfo, String),
}

/// An [`InfoField`] named as its field.
macro_rules! info_field {
    ($name:ident) => {
        InfoField {
            key: stringify!($name),
            get: |s| s.$name.as_deref(),
            set: |s, v| s.$name = Some(v),
        }
    };
}

/// The labels of `miner_exporter_info`, in the upstream order.
pub const INFO_FIELDS: [InfoField; 5] = [
    info_field!(animal_name),
    info_field!(firmware),
    info_field!(model_name),
    info_field!(region),
    info_field!(sn),
];

/// One number of the dashboard's JSON: its key and the field that holds it.
pub struct NumberField {
    pub key: &'static str,
    pub get: fn(&SystemInfo) -> Option<f64>,
    set: fn(&mut SystemInfo, f64),
}

/// A [`NumberField`] named as its field.
macro_rules! number_field {
    ($name:ident) => {
        NumberField {
            key: stringify!($name),
            get: |s| s.$name,
            set: |s, v| s.$name = Some(v),
        }
    };
}

pub(crate) const CPU_TEMP: NumberField = number_field!(cpu_temp);
pub(crate) const CPU_USAGE: NumberField = number_field!(cpu_usage);
pub(crate) const MEMORY_USAGE: NumberField = number_field!(memory_usage);
pub(crate) const STORAGE_USAGE: NumberField = number_field!(storage_usage);

/// The numbers read, in the order their problems are listed (that of the
/// upstream gauges).
pub const NUMBER_FIELDS: [NumberField; 4] = [CPU_TEMP, CPU_USAGE, MEMORY_USAGE, STORAGE_USAGE];

/// One answer of `/info/system`. Each field is `None` where the key was
/// missing or of the wrong type.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemInfo {
    pub animal_name: Option<String>,
    pub firmware: Option<String>,
    pub model_name: Option<String>,
    pub region: Option<String>,
    pub sn: Option<String>,
    pub cpu_temp: Option<f64>,
    pub cpu_usage: Option<f64>,
    pub memory_usage: Option<f64>,
    pub storage_usage: Option<f64>,
    /// One line per key that was missing or of the wrong type.
    pub problems: Vec<String>,
}

impl SystemInfo {
    /// The labels, in the order of [`INFO_FIELDS`].
    pub fn labels(&self) -> [Option<&str>; 5] {
        INFO_FIELDS.each_ref().map(|f| (f.get)(self))
    }

    /// The numbers, in the order of [`NUMBER_FIELDS`].
    pub fn numbers(&self) -> [Option<f64>; 4] {
        NUMBER_FIELDS.each_ref().map(|f| (f.get)(self))
    }
}

/// The nesting depth of a JSON text (brackets inside strings do not count).
pub fn json_depth(text: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses a JSON text from outside (a dashboard answer, a GWMP datagram's
/// body) with the limits every such text gets: at most
/// [`MAX_BODY_BYTES`](super::client::MAX_BODY_BYTES) long, UTF-8, nested at
/// most [`MAX_DEPTH`] deep (checked before tinyjson recurses).
pub fn parse_json(body: &[u8]) -> Result<JsonValue, String> {
    let limit = super::client::MAX_BODY_BYTES;
    if body.len() > limit {
        return Err(format!("JSON text longer than {limit} bytes"));
    }
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
    let depth = json_depth(body);
    if depth > MAX_DEPTH {
        return Err(format!("JSON nested {depth} deep (limit {MAX_DEPTH})"));
    }
    // tinyjson's message quotes the offending input: escaped and cut, so
    // that an answer or a datagram cannot end the log line or forge another.
    text.parse().map_err(|e: tinyjson::JsonParseError| {
        let detail = crate::log::escape_start(e.to_string().as_bytes(), MAX_ERROR_TEXT);
        format!("not JSON: {detail}")
    })
}

/// Parses the dashboard's system document. An error means the body is not a
/// JSON object at all; missing or ill-typed keys are listed in `problems`.
pub fn parse_system(body: &[u8]) -> Result<SystemInfo, String> {
    let value = parse_json(body)?;
    let object: &HashMap<String, JsonValue> = value
        .get()
        .ok_or_else(|| "JSON is not an object".to_string())?;

    let mut info = SystemInfo::default();
    for field in &INFO_FIELDS {
        let key = field.key;
        match object.get(key) {
            Some(JsonValue::String(s)) => (field.set)(&mut info, s.clone()),
            Some(JsonValue::Number(n)) => (field.set)(&mut info, format_label_number(*n)),
            Some(other) => info
                .problems
                .push(format!("'{key}' is {}, not a string", kind(other))),
            None => info.problems.push(format!("'{key}' is missing")),
        }
    }
    for field in &NUMBER_FIELDS {
        let key = field.key;
        match object.get(key) {
            Some(JsonValue::Number(n)) if n.is_finite() => (field.set)(&mut info, *n),
            Some(JsonValue::Number(_)) => info
                .problems
                .push(format!("'{key}' is a number out of range")),
            Some(JsonValue::String(s)) => match s.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => (field.set)(&mut info, n),
                _ => info
                    .problems
                    .push(format!("'{key}' is the string {s:?}, not a number")),
            },
            Some(other) => info
                .problems
                .push(format!("'{key}' is {}, not a number", kind(other))),
            None => info.problems.push(format!("'{key}' is missing")),
        }
    }
    // Not one usable value: whatever this object is, it is not the system
    // document, and an info sample with five empty labels would be invented.
    if info.labels().iter().all(Option::is_none) && info.numbers().iter().all(Option::is_none) {
        return Err(format!(
            "no expected key has a usable value: {}",
            info.problems.join("; ")
        ));
    }
    Ok(info)
}

/// A number where a string label was expected (say a numeric serial): keep
/// it, spelled without a needless `.0`.
fn format_label_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn kind(v: &JsonValue) -> &'static str {
    match v {
        JsonValue::Number(_) => "a number",
        JsonValue::Boolean(_) => "a boolean",
        JsonValue::String(_) => "a string",
        JsonValue::Null => "null",
        JsonValue::Array(_) => "an array",
        JsonValue::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(json_depth(br#"{"a":"[[[{{{","b":[1,[2]]}"#), 3);
        assert_eq!(json_depth(br#"{"a":"\"[[[","b":{}}"#), 2);
        assert_eq!(json_depth(b"[[[[]]]]"), 4);
        assert_eq!(json_depth(b"42"), 0);
    }

    /// tinyjson quotes the bad input in its message: a dashboard answer
    /// with a newline in it must not split the poll's log line.
    #[test]
    fn a_json_error_is_one_printable_line() {
        for body in [
            "{\"cpu\":\"\\\n\"}",
            "{\"a\":\"\u{1b}[31m\"}",
            "{\n\"cpu\": [}",
        ] {
            let err = parse_json(body.as_bytes()).unwrap_err();
            assert!(err.starts_with("not JSON: "), "{err}");
            assert!(!err.contains(|c: char| c.is_control()), "{err:?}");
        }
        let long = format!("[{}\n", "1,".repeat(1000));
        assert!(parse_json(long.as_bytes()).unwrap_err().chars().count() < 200);
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = "[".repeat(200_000);
        let err = parse_system(deep.as_bytes()).unwrap_err();
        assert_eq!(err, "JSON nested 200000 deep (limit 32)");
    }

    #[test]
    fn numbers_as_numbers_or_strings() {
        let info = parse_system(
            br#"{"animal_name":"a","firmware":"f","model_name":"m","region":"r","sn":"s",
               "cpu_temp":"41.5","cpu_usage":7.1694,"memory_usage":" 17.5 ","storage_usage":39.8,"extra":[1]}"#,
        )
        .unwrap();
        assert_eq!(
            info.numbers(),
            [Some(41.5), Some(7.1694), Some(17.5), Some(39.8)]
        );
        assert!(info.problems.is_empty(), "{:?}", info.problems);
    }

    #[test]
    fn problems_are_named() {
        let info = parse_system(
            br#"{"firmware":null,"model_name":5,"region":"r","sn":"s",
               "cpu_temp":"hot","cpu_usage":true,"memory_usage":"NaN"}"#,
        )
        .unwrap();
        assert_eq!(info.labels()[2], Some("5"));
        assert_eq!(info.model_name.as_deref(), Some("5"));
        assert_eq!(info.numbers(), [None, None, None, None]);
        assert_eq!(
            info.problems,
            [
                "'animal_name' is missing",
                "'firmware' is null, not a string",
                "'cpu_temp' is the string \"hot\", not a number",
                "'cpu_usage' is a boolean, not a number",
                "'memory_usage' is the string \"NaN\", not a number",
                "'storage_usage' is missing",
            ]
        );
    }

    #[test]
    fn an_object_without_one_usable_key_is_refused() {
        let err = parse_system(br#"{"status":"ok","data":[],"cpu_temp":null}"#).unwrap_err();
        assert!(
            err.starts_with(
                "no expected key has a usable value: 'animal_name' is missing; 'firmware' is missing;"
            ),
            "{err}"
        );
        assert!(err.contains("'cpu_temp' is null, not a number"), "{err}");
        // One usable key is enough: the rest are problems, not a failure.
        let info = parse_system(br#"{"sn":"x"}"#).unwrap();
        assert_eq!(info.problems.len(), 8);
    }

    #[test]
    fn numbers_out_of_range_are_problems_not_infinities() {
        let info = parse_system(br#"{"sn":"x","cpu_temp":1e999,"cpu_usage":-1e400}"#).unwrap();
        assert_eq!(info.numbers(), [None, None, None, None]);
        assert!(info
            .problems
            .contains(&"'cpu_temp' is a number out of range".to_string()));
    }

    #[test]
    fn not_an_object() {
        assert_eq!(parse_system(b"[1,2]").unwrap_err(), "JSON is not an object");
        assert!(parse_system(b"<html>").unwrap_err().starts_with("not JSON"));
        assert_eq!(parse_system(b"\xff").unwrap_err(), "body is not UTF-8");
    }
}
