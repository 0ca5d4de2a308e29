//! The module graph of src/, read from the `crate::` and `super::` paths
//! of each file (comments left out): no two files import each other, and
//! no feature imports `config` (the configuration depends on the features,
//! never the reverse).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`miner::client`) → the file's text, for the crate whose
/// sources are in `src` (relative to the workspace root).
fn modules(src: &str) -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name == "testdata" {
                    continue;
                }
                let mut p = prefix.to_vec();
                p.push(name);
                walk(&path, &p, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut p = prefix.to_vec();
                // `a/mod.rs` is module `a`; the root `lib.rs` is "".
                if name != "mod" && !(prefix.is_empty() && name == "lib") {
                    p.push(name);
                }
                out.insert(p.join("::"), std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(src),
        &[],
        &mut out,
    );
    out
}

/// The modules each path of `text` names, as the longest known module.
/// `super::` is the parent module (for `a/mod.rs`, module `a`, that is
/// the crate root; for `a/b.rs`, `a`).
fn imports(module: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    parent.pop();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (anchor, base) in [("crate::", Vec::new()), ("super::", parent.clone())] {
            let mut rest = code;
            while let Some(at) = rest.find(anchor) {
                let before = rest[..at].chars().last();
                rest = &rest[at + anchor.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                let words: Vec<&str> = rest
                    .split("::")
                    .map(|w| {
                        let end = w
                            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .unwrap_or(w.len());
                        &w[..end]
                    })
                    .take_while(|w| !w.is_empty())
                    .collect();
                let mut path: Vec<&str> = base.clone();
                let mut found = if base.is_empty() {
                    None
                } else {
                    Some(base.join("::"))
                };
                for w in words {
                    path.push(w);
                    let candidate = path.join("::");
                    if known.contains(&candidate) {
                        found = Some(candidate);
                    } else {
                        break;
                    }
                }
                if let Some(target) = found.filter(|t| t != module && !t.is_empty()) {
                    out.insert(target);
                }
            }
        }
    }
    out
}

fn graph(src: &str) -> BTreeMap<String, BTreeSet<String>> {
    let files = modules(src);
    let known: BTreeSet<String> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(module, text)| (module.clone(), imports(module, text, &known)))
        .collect()
}

/// The pairs of files of one crate that import each other.
fn mutual_imports(src: &str) -> Vec<String> {
    let graph = graph(src);
    let mut pairs = Vec::new();
    for (a, targets) in &graph {
        for b in targets {
            if a < b && graph.get(b).is_some_and(|t| t.contains(a)) {
                pairs.push(format!("{a} <-> {b}"));
            }
        }
    }
    pairs
}

#[test]
fn no_two_files_import_each_other() {
    let exporter = graph("src");
    assert!(exporter.contains_key("miner::client") && exporter.contains_key("config"));
    // The HTTP server's crate too: Handler and ServerConfig live in its root,
    // so reactor, connection and pool need not import each other.
    let http = graph("crates/http/src");
    assert!(http.contains_key("reactor") && http.contains_key("connection"));
    for src in ["src", "crates/http/src"] {
        let pairs = mutual_imports(src);
        assert!(
            pairs.is_empty(),
            "{src}: files that import each other: {pairs:#?}"
        );
    }
}

#[test]
fn no_feature_imports_config() {
    let graph = graph("src");
    // What may use the configuration: itself, the wiring and the binary.
    let allowed =
        |m: &str| m == "config" || m.starts_with("config::") || m == "exporter" || m == "main";
    let offenders: Vec<String> = graph
        .iter()
        .filter(|(m, _)| !allowed(m))
        .filter(|(_, t)| t.iter().any(|t| t == "config" || t.starts_with("config::")))
        .map(|(m, _)| m.clone())
        .collect();
    assert!(offenders.is_empty(), "import config: {offenders:?}");
    // The test sees imports at all: exporter does use config.
    assert!(
        graph["exporter"].contains("config"),
        "{:?}",
        graph["exporter"]
    );
}

/// The version in `[package]` (read by the packaging scripts) and the one
/// in `[workspace.package]` (the HTTP crate's, in every Server header) are
/// the same.
#[test]
fn one_version_for_the_exporter_and_its_server_header() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let version_in = |section: &str| {
        let body = manifest.split(section).nth(1).unwrap_or("");
        let body = body.split("\n[").next().unwrap_or("");
        body.lines()
            .find_map(|l| l.strip_prefix("version = \""))
            .map(|v| v.trim_end_matches('"').to_string())
    };
    let package = version_in("[package]\n");
    assert_eq!(package.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(version_in("[workspace.package]\n"), package);
}
