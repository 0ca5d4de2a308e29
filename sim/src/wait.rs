//! Waiting for a condition: poll it, with a deadline, and fail with what was
//! last seen. Tests wait this way, never on a bare sleep or a log line's
//! timing.

use std::thread;
use std::time::{Duration, Instant};

/// How often [`until`] polls.
pub const POLL_EVERY: Duration = Duration::from_millis(5);
/// How long [`until`] waits.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Calls `attempt` every `every` until it returns `Ok`, and returns that
/// value; panics once `timeout` has passed, naming `what` and the last `Err`
/// (the state seen, for the failure message).
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match attempt() {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}{}{last}",
            if last.is_empty() {
                ""
            } else {
                "; last seen:\n"
            }
        );
        thread::sleep(every);
    }
}

/// Waits until `done()` holds, polling every [`POLL_EVERY`]; panics after
/// [`TIMEOUT`], naming `what`. For another timeout or a value, see [`poll`].
pub fn until(what: &str, mut done: impl FnMut() -> bool) {
    poll(what, TIMEOUT, POLL_EVERY, || {
        if done() {
            Ok(())
        } else {
            Err(String::new())
        }
    })
}
