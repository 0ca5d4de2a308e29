//! The hand-off between the readiness loop and the handler threads: a
//! queue of held connections whose next answer comes from a handler that
//! may wait ([`Handler::waits`], a `/probe` say).
//!
//! Invariants: a connection is in the queue at most once (only its holder
//! puts it there, and it is held until a handler thread takes it); the
//! queue never holds more than the connection table has slots, so it is
//! bounded without a limit of its own. A handler thread with nothing to do
//! sleeps on the condition variable: nothing wakes it but a hand-off or
//! the stop.
//!
//! [`Handler::waits`]: crate::Handler::waits

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

pub(super) struct Queue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

struct State<T> {
    items: VecDeque<T>,
    stopped: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Queue<T> {
    pub fn new() -> Queue<T> {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                stopped: false,
            }),
            ready: Condvar::new(),
        }
    }

    /// Hands `item` to one waiting thread (or the next to come).
    pub fn push(&self, item: T) {
        lock(&self.state).items.push_back(item);
        self.ready.notify_one();
    }

    /// The oldest item, waiting for one; `None` once stopped.
    pub fn pop(&self) -> Option<T> {
        let mut state = lock(&self.state);
        loop {
            if state.stopped {
                return None;
            }
            if let Some(item) = state.items.pop_front() {
                return Some(item);
            }
            state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Wakes every thread waiting in [`pop`](Queue::pop), for good.
    pub fn stop(&self) {
        lock(&self.state).stopped = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn items_come_out_in_order_and_stop_wakes_every_waiter() {
        let queue = Arc::new(Queue::new());
        queue.push(1);
        queue.push(2);
        assert_eq!(queue.pop(), Some(1));
        assert_eq!(queue.pop(), Some(2));
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || queue.pop())
            })
            .collect();
        queue.stop();
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), None);
        }
        // Stopped: what is left is not handed out.
        queue.push(3);
        assert_eq!(queue.pop(), None);
    }
}
