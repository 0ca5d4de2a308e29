//! Deadlines: each waiting connection's deadline is kept in its table slot
//! (see [`crate::reactor`]); this is the one kernel timer that fires when
//! the earliest of them is reached.
//!
//! Invariants: the timer is armed no later than the earliest deadline
//! recorded since it last fired, and after it fired it stays disarmed until
//! a deadline is recorded again. So the server sleeps until a client acts
//! or a deadline passes: there is no tick. Recording a deadline later than
//! the armed one (the common case: every head gets the same timeout) costs
//! one atomic load, no lock and no system call. The timer may fire early,
//! for a deadline that was met since; whoever handles the fire re-arms it
//! for the earliest deadline still pending. When the last connection
//! closes, the timer is disarmed, so that a deadline met since does not
//! wake anyone.

use crate::sys;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// `armed_at` while the timer is not armed.
const DISARMED: u64 = u64::MAX;

/// A `timerfd` on the monotonic clock (the clock `Instant` reads).
pub(super) struct Timer {
    fd: OwnedFd,
    /// Deadlines as nanoseconds since this instant.
    base: Instant,
    /// When the timer is armed for, or [`DISARMED`]; written under `lock`.
    armed_at: AtomicU64,
    lock: Mutex<()>,
}

impl Timer {
    pub fn new() -> io::Result<Timer> {
        Ok(Timer {
            fd: sys::timer_create()?,
            base: Instant::now(),
            armed_at: AtomicU64::new(DISARMED),
            lock: Mutex::new(()),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn nanos(&self, at: Instant) -> u64 {
        // Saturates far in the future: a deadline centuries away.
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(DISARMED - 1)
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a deadline: arms the timer for `at` unless it is already
    /// armed no later.
    pub fn arm_for(&self, at: Instant) {
        let wanted = self.nanos(at);
        if self.armed_at.load(Ordering::SeqCst) <= wanted {
            return;
        }
        let _guard = self.guard();
        if self.armed_at.load(Ordering::SeqCst) <= wanted {
            return;
        }
        // A zero it_value would disarm: the smallest wait is 1 ns.
        let wait = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        match sys::timer_set(self.fd(), wait) {
            Ok(()) => self.armed_at.store(wanted, Ordering::SeqCst),
            Err(e) => warn!("http: cannot arm the deadline timer: {e}"),
        }
    }
    /// Disarms the timer: no deadline is pending (the caller knows).
    pub fn disarm(&self) {
        let _guard = self.guard();
        // Zero disarms; a failure leaves nothing better to do.
        let _ = sys::timer_set(self.fd(), Duration::ZERO);
        self.armed_at.store(DISARMED, Ordering::SeqCst);
    }

    /// Takes a fire: the timer is disarmed until the next
    /// [`arm_for`](Timer::arm_for). Call it before looking for the deadlines
    /// that are due, so that a deadline recorded meanwhile re-arms it.
    pub fn fired(&self) {
        let _guard = self.guard();
        sys::counter_take(self.fd());
        self.armed_at.store(DISARMED, Ordering::SeqCst);
    }

    #[cfg(test)]
    pub fn is_armed(&self) -> bool {
        self.armed_at.load(Ordering::SeqCst) != DISARMED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(timer: &Timer, wait: Duration) -> bool {
        sys::readable_within(timer.fd(), wait)
    }

    #[test]
    fn fires_for_the_earliest_deadline_and_then_rests() {
        let timer = Timer::new().unwrap();
        assert!(!timer.is_armed());
        let now = Instant::now();
        timer.arm_for(now + Duration::from_secs(3600));
        // An earlier deadline moves it; a later one does not.
        timer.arm_for(now + Duration::from_millis(1));
        timer.arm_for(now + Duration::from_secs(60));
        assert!(readable(&timer, Duration::from_secs(10)));
        timer.fired();
        assert!(!timer.is_armed());
        assert!(!readable(&timer, Duration::ZERO));
        // Disarmed, a deadline just passed never fires.
        timer.arm_for(Instant::now() + Duration::from_millis(20));
        timer.disarm();
        assert!(!timer.is_armed());
        assert!(!readable(&timer, Duration::from_millis(200)));
    }
}
