//! The in-flight cap: at most `max_in_flight` probes poll at once. A probe
//! past it is answered 503 at once, not queued (Prometheus retries at the
//! next scrape, and a queue would only turn the overload into timeouts).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(super) struct Slots {
    taken: Arc<AtomicUsize>,
    max: usize,
}

/// A probe slot, given back when the poll thread that holds it ends.
pub(super) struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Slots {
    pub fn new(max: usize) -> Slots {
        Slots {
            taken: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Takes a slot, or `None` when all are taken.
    pub fn take(&self) -> Option<Slot> {
        let max = self.max;
        self.taken
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(&self.taken)))
    }

    /// How many slots are held.
    pub fn taken(&self) -> usize {
        self.taken.load(Ordering::SeqCst)
    }
}
