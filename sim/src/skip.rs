//! Saying that (part of) a test cannot run on this machine. The test harness
//! captures `eprintln!` and shows it only for a failing test, so a skip
//! written that way is silent; [`skip`] writes straight to the process's
//! stderr, which `cargo test` shows.

use std::io::Write;

/// Prints `SKIPPED <what>: <why>` on the terminal, uncaptured.
pub fn skip(what: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {what}: {why}");
}
