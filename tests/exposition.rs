//! Whole scrapes of the real binary checked against the text format: the
//! rules promtool checks (run here when it is installed, and always in CI)
//! and the ones it does not (one HELP/TYPE per family, families contiguous,
//! unique series).

use linxdot_sim::dashboard;
use linxdot_sim::exporter::{self, Exporter};
use linxdot_sim::promtool::check_metrics;
use linxdot_sim::text::sample;
use std::collections::HashSet;
use std::time::Duration;

/// Checks the structure of a text-format body; returns the family names.
fn check_structure(body: &str) -> Vec<String> {
    assert!(body.ends_with('\n'), "no final newline");
    let mut families: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut typed = HashSet::new();
    let mut series = HashSet::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(!families.contains(&name), "family {name} appears twice");
            families.push(name.clone());
            current = Some(name);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(
                Some(name),
                current.as_deref(),
                "TYPE without its HELP: {line}"
            );
            assert!(["gauge", "counter"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_string()), "second TYPE for {name}");
        } else {
            assert!(!line.starts_with('#'), "stray comment {line}");
            let name_end = line.find(['{', ' ']).expect("sample line");
            let name = &line[..name_end];
            assert_eq!(
                Some(name),
                current.as_deref(),
                "sample outside its family: {line}"
            );
            let (series_key, value) = line.rsplit_once(' ').unwrap();
            assert!(
                series.insert(series_key.to_string()),
                "duplicate series {series_key}"
            );
            assert!(
                value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
                "bad value in {line}"
            );
        }
    }
    families
}

#[test]
fn a_full_scrape_is_valid_text_format() {
    let sim = dashboard::Dashboard::start();
    sim.set_system_json(
        r#"{"animal_name":"quote \" back \\ nl \n end","firmware":"Linxdot 1.2.26","model_name":"LD-1001","region":"EU868","sn":"Zürich ✓",
            "cpu_temp":-4.5,"cpu_usage":100,"memory_usage":"0","storage_usage":1e-7}"#,
    );
    let host = sim.host();
    let exp = Exporter::start(
        &["-o", &host, "-u", "admin", "-p", "admin", "-r", "0.2"],
        &[],
    );
    let body = exp.scrape_until(Duration::from_secs(10), |b| {
        sample(b, "miner_up") == Some(1.0)
    });
    let families = check_structure(&body);
    for want in [
        "miner_exporter_info",
        "miner_cpu_temp",
        "miner_up",
        "miner_poll_errors_total",
        "linxdot_exporter_build_info",
        "process_cpu_seconds_total",
        "process_max_fds",
    ] {
        assert!(families.iter().any(|f| f == want), "{want} missing");
    }
    check_metrics("promtool check metrics", &body);
}

#[test]
fn a_scrape_with_the_dashboard_down_is_valid_too() {
    let host = exporter::refused_host();
    let exp = Exporter::start(
        &["-o", &host, "-u", "admin", "-p", "admin", "-r", "0.2"],
        &[],
    );
    let body = exp.scrape_until(Duration::from_secs(10), |b| {
        sample(b, "miner_up") == Some(0.0)
    });
    check_structure(&body);
    check_metrics("promtool check metrics", &body);
}

#[test]
fn the_structure_check_catches_what_promtool_misses() {
    // The checker itself must be able to fail.
    let bad = [
        "# HELP a x\n# TYPE a gauge\na 1\n# HELP a x\n# TYPE a gauge\na 2\n",
        "# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\na 2\n",
        "# HELP a x\n# TYPE a gauge\na{l=\"1\"} 1\na{l=\"1\"} 2\n",
        "# HELP a x\n# TYPE a gauge\na 1",
    ];
    for body in bad {
        let result = std::panic::catch_unwind(|| check_structure(body));
        assert!(result.is_err(), "not caught: {body:?}");
    }
}
