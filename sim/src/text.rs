//! Reading a Prometheus text-format body: one sample's value, a family's
//! sample lines, a family's whole block.

/// The value of the series `series` (a metric name, with its labels if it
/// has any, e.g. `miner_up` or `temper_read_errors_total{phy="..."}`): the
/// first line that is `series` followed by a space. `None` when there is no
/// such line; panics when its value is not a number.
pub fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{series}: {v:?} is not a number"))
        })
}

/// The sample lines of family `family`, in order (HELP and TYPE left out).
pub fn samples<'a>(body: &'a str, family: &str) -> Vec<&'a str> {
    body.lines()
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' ']))
        .collect()
}

/// The lines of family `name` (HELP, TYPE and samples), each ended by a
/// newline.
pub fn family_block(body: &str, name: &str) -> String {
    let mut out = String::new();
    for line in body.lines() {
        let is_meta = line == format!("# HELP {name}")
            || line.starts_with(&format!("# HELP {name} "))
            || line.starts_with(&format!("# TYPE {name} "));
        let is_sample =
            line.starts_with(&format!("{name} ")) || line.starts_with(&format!("{name}{{"));
        if is_meta || is_sample {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
