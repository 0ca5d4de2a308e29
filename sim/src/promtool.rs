//! `promtool check metrics` over an exposition, for the tests that hold the
//! exporter's text to Prometheus's own checker.

use std::io::Write;
use std::process::{Command, Stdio};

/// Asserts that `promtool check metrics` finds no error and no lint problem
/// in `body`. Where promtool is not installed, says so on the terminal
/// (naming `what`) and returns; with `CI` set it must be installed, and its
/// absence panics.
pub fn check_metrics(what: &str, body: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        if std::env::var_os("CI").is_some() {
            panic!("promtool is required in CI (Debian package 'prometheus')");
        }
        return crate::skip::skip(
            what,
            "promtool is not installed here (Debian package 'prometheus')",
        );
    };
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(body.as_bytes())
        .expect("body to promtool");
    let out = child.wait_with_output().expect("promtool's answer");
    assert!(
        out.status.success(),
        "promtool check metrics failed ({:?}):\n{}{}\nbody:\n{body}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
