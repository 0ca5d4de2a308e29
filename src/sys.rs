//! The exporter's own system calls, each behind a safe function: the only
//! `unsafe` of the crate outside the HTTP server (`http/`) and
//! `process.rs`, which keep theirs. Every other module is compiled with
//! `#![deny(unsafe_code)]` (see lib.rs).

use std::ffi::CStr;
use std::io;

/// A signal handler: it may only do async-signal-safe things (an atomic
/// store).
pub type Handler = extern "C" fn(libc::c_int);

/// Installs `handler` for `signal`. With `restart`, system calls it
/// interrupts are restarted (`SA_RESTART`); without, they fail with EINTR.
pub(crate) fn install_handler(
    signal: libc::c_int,
    handler: Handler,
    restart: bool,
) -> io::Result<()> {
    // SAFETY: the sigaction struct is zeroed (a valid value) and filled in
    // before use; the caller's handler is a plain `extern "C" fn`.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as libc::sighandler_t;
        action.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A set of signals blocked in the calling thread (and so in every thread
/// it starts later), to be taken by [`SignalSet::wait`].
pub struct SignalSet(libc::sigset_t);

impl SignalSet {
    /// Blocks `signals` in this thread.
    pub fn block(signals: &[libc::c_int]) -> SignalSet {
        // SAFETY: sigemptyset/sigaddset initialise the set they are given;
        // pthread_sigmask only changes this thread's mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &signal in signals {
                libc::sigaddset(&mut set, signal);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            SignalSet(set)
        }
    }

    /// Sleeps until one of the set's signals arrives (no wake-up before)
    /// and returns it.
    pub fn wait(&self) -> libc::c_int {
        loop {
            let mut signal: libc::c_int = 0;
            // SAFETY: the set is initialised and blocked; sigwait writes `signal`.
            if unsafe { libc::sigwait(&self.0, &mut signal) } == 0 {
                return signal;
            }
        }
    }
}

/// Opens the connection to syslog, facility daemon, with the pid in each
/// line.
pub(crate) fn openlog(ident: &'static CStr) {
    // SAFETY: the ident is a static C string, as openlog(3) needs (it keeps
    // the pointer); the flags and facility are constants.
    unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
}

/// Hands one line to syslog(3) at `priority` (facility included).
pub fn syslog(priority: libc::c_int, text: &CStr) {
    // SAFETY: a constant "%s" format with one NUL-terminated string argument.
    unsafe { libc::syslog(priority, c"%s".as_ptr(), text.as_ptr()) };
}

/// glibc only: blocks from `bytes` up are always mmapped (and returned to
/// the system on free).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn set_mmap_threshold(bytes: libc::c_int) {
    // SAFETY: mallopt may be called at any time; it only decides where
    // blocks allocated later come from.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, bytes) };
}

/// The calling thread, for [`signal_thread`] (unit tests).
#[cfg(test)]
pub(crate) fn this_thread() -> libc::pthread_t {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() }
}

/// Sends `signal` to `thread` (unit tests).
///
/// # Panics
/// When the signal cannot be sent. The caller keeps `thread` alive:
/// signalling a thread that has exited is undefined behaviour, which is why
/// this is only for the tests, whose helper guarantees it.
#[cfg(test)]
pub(crate) fn signal_thread(thread: libc::pthread_t, signal: libc::c_int) {
    // SAFETY: the caller (testing::interrupted) keeps the thread alive until
    // no more signals are sent.
    assert_eq!(unsafe { libc::pthread_kill(thread, signal) }, 0);
}

/// Makes closing `stream` send a reset (RST) instead of a FIN: SO_LINGER
/// on, with a zero timeout (unit tests).
#[cfg(test)]
pub(crate) fn reset_on_close(stream: &std::net::TcpStream) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and an option value of the right size.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}
