//! Why the exporter could not start, and the exit status each cause gets.
//!
//! Once serving, nothing ends the process (errors are logged or counted);
//! before that, a start can fail only in these ways. The status follows
//! ARCHITECTURE.md: 2 when the configuration is at fault (command line,
//! variables, the log file), 1 when the host refuses what a right
//! configuration asks for (the port, a thread).

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum StartError {
    /// The log file cannot be opened for appending.
    LogFile { path: PathBuf, error: io::Error },
    /// The listening socket cannot be bound (in use, no such address, …).
    Bind { port: u16, error: io::Error },
    /// A collector could not start its threads.
    Collector {
        name: &'static str,
        error: io::Error,
    },
    /// The HTTP server could not start its threads.
    Serve(io::Error),
}

impl StartError {
    /// The process's exit status for this error.
    pub fn status(&self) -> u8 {
        match self {
            StartError::LogFile { .. } => 2,
            StartError::Bind { .. } | StartError::Collector { .. } | StartError::Serve(_) => 1,
        }
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::LogFile { path, error } => {
                write!(f, "cannot open log file '{}': {error}", path.display())
            }
            StartError::Bind { port, error } => write!(f, "cannot listen on port {port}: {error}"),
            StartError::Collector { name, error } => {
                write!(f, "cannot start the {name} collector: {error}")
            }
            StartError::Serve(error) => write!(f, "cannot start the HTTP server: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each cause: its status, and a message that names it.
    #[test]
    fn each_cause_has_its_status_and_names_itself() {
        let e = || io::Error::other("boom");
        let table = [
            (
                StartError::LogFile {
                    path: "/x/y.log".into(),
                    error: e(),
                },
                2,
                "cannot open log file '/x/y.log': boom",
            ),
            (
                StartError::Bind {
                    port: 8061,
                    error: e(),
                },
                1,
                "cannot listen on port 8061: boom",
            ),
            (
                StartError::Collector {
                    name: "miner",
                    error: e(),
                },
                1,
                "cannot start the miner collector: boom",
            ),
            (
                StartError::Serve(e()),
                1,
                "cannot start the HTTP server: boom",
            ),
        ];
        for (error, status, message) in table {
            assert_eq!(
                (error.status(), error.to_string()),
                (status, message.into())
            );
        }
    }
}
