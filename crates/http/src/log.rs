//! The server's one way to say something: a hook the program sets once
//! ([`set_log_hook`]), so that this crate writes no log format of its own
//! and needs nothing from the program but a function.

use std::fmt;
use std::sync::OnceLock;

/// How much a log line matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Where the server's log lines go.
pub type LogHook = fn(Level, fmt::Arguments<'_>);

static HOOK: OnceLock<LogHook> = OnceLock::new();

/// Sends the server's log lines to `hook` from now on. The first hook set
/// stays: false when one was set already.
pub fn set_log_hook(hook: LogHook) -> bool {
    HOOK.set(hook).is_ok()
}

/// One line to the hook; without a hook, warnings and errors go to stderr
/// and the rest nowhere.
pub(crate) fn log(level: Level, message: fmt::Arguments<'_>) {
    match HOOK.get() {
        Some(hook) => hook(level, message),
        None if level >= Level::Warn => eprintln!("{level:?}: {message}"),
        None => {}
    }
}
