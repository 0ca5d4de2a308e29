//! Helpers for the unit tests only.

use crate::sys;
use std::sync::mpsc;
use std::sync::Once;
use std::thread;
use std::time::Duration;

extern "C" fn ignore_signal(_: libc::c_int) {}

/// SIGUSR1 gets a handler that does nothing, installed without
/// `SA_RESTART`: a blocking system call in a thread that receives it fails
/// with EINTR (`ErrorKind::Interrupted`) instead of being restarted.
fn install_eintr_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The handler does nothing, and no other code of this test binary
        // uses SIGUSR1.
        sys::install_handler(libc::SIGUSR1, ignore_signal, false).expect("a SIGUSR1 handler");
    });
}

/// Runs `work` on a thread of its own and interrupts it with SIGUSR1 every
/// 5 ms, `signals` times, then calls
/// `release` (which lets `work` finish, e.g. a server sends the rest of its
/// answer) and returns what `work` returned. `work` is meant to be blocked in
/// a read meanwhile, so that the signals turn into EINTR there.
pub(crate) fn interrupted<T: Send + 'static>(
    signals: usize,
    work: impl FnOnce() -> T + Send + 'static,
    release: impl FnOnce(),
) -> T {
    install_eintr_handler();
    let (tid_tx, tid_rx) = mpsc::channel();
    let (result_tx, result_rx) = mpsc::channel();
    let (finish_tx, finish_rx) = mpsc::channel::<()>();
    let worker = thread::spawn(move || {
        tid_tx.send(sys::this_thread()).unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        result_tx.send(result).unwrap();
        // Stay alive until no more signals can come: signalling a thread
        // that has exited is undefined behaviour.
        let _ = finish_rx.recv();
    });
    let tid = tid_rx.recv().expect("the worker's thread id");
    for _ in 0..signals {
        // The worker thread is alive until `finish_tx` is dropped.
        sys::signal_thread(tid, libc::SIGUSR1);
        thread::sleep(Duration::from_millis(5));
    }
    release();
    let result = result_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the interrupted work finished");
    drop(finish_tx);
    worker.join().expect("the worker thread ends");
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Makes closing `stream` send a reset (RST) instead of a FIN.
pub(crate) fn reset_on_close(stream: &std::net::TcpStream) {
    sys::reset_on_close(stream).expect("setsockopt SO_LINGER");
}
