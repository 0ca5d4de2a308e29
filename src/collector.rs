//! The one interface every metric source implements.
//!
//! A collector renders what it knows *now* into the exposition body. It must
//! not block on slow I/O: sources that need the network or a USB device keep
//! a snapshot that a background thread refreshes, and render from it.

use crate::exposition::Exposition;
use crate::landing::Page;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub trait Collector: Send + Sync {
    /// Writes this collector's families. Each family name belongs to exactly
    /// one collector, and a collector writes each of its families once per
    /// scrape, samples or not.
    fn collect(&self, out: &mut Exposition);

    /// Adds what this collector knows to the landing page, from the same
    /// snapshot `collect` renders (no I/O beyond what `collect` does).
    fn status(&self, _page: &mut Page) {}
}

/// The collectors of one exporter, rendered in order.
#[derive(Default)]
pub struct Registry {
    collectors: Vec<Box<dyn Collector>>,
    /// Collectors the configuration left out, and why.
    off: Vec<(&'static str, String)>,
    /// The length of the last body, so the next one is allocated once.
    last_length: AtomicUsize,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, collector: Box<dyn Collector>) {
        self.collectors.push(collector);
    }

    /// Notes a collector that does not run, for the landing page.
    pub(crate) fn note_off(&mut self, name: &'static str, why: &str) {
        self.off.push((name, why.to_string()));
    }

    /// The landing page.
    pub(crate) fn status_page(&self) -> String {
        let mut page = Page::new();
        for collector in &self.collectors {
            collector.status(&mut page);
        }
        if !self.off.is_empty() {
            let section = page.section("Not running");
            for (name, why) in &self.off {
                section.row(name, why);
            }
        }
        page.render()
    }

    /// One whole scrape body.
    pub fn render(&self) -> String {
        let mut out = Exposition::new();
        out.reserve(self.last_length.load(Ordering::Relaxed) + 256);
        for collector in &self.collectors {
            collector.collect(&mut out);
        }
        let body = out.into_string();
        self.last_length.store(body.len(), Ordering::Relaxed);
        body
    }
}

/// Families rendered by the thread that owns their data, each time the data
/// changes, and published for scrapes to copy: a scrape neither renders
/// them nor waits for their owner (only for the pointer swap).
pub struct Rendered {
    text: Mutex<Arc<str>>,
}

impl Rendered {
    /// A section that holds `text` until the first [`publish`](Rendered::publish).
    pub fn new(text: String) -> Self {
        Rendered {
            text: Mutex::new(Arc::from(text)),
        }
    }

    /// Replaces the text scrapes copy.
    pub(crate) fn publish(&self, text: String) {
        let text: Arc<str> = Arc::from(text);
        // The old text is freed outside the lock.
        let _old = std::mem::replace(&mut *self.lock(), text);
    }

    /// The text published last.
    pub fn current(&self) -> Arc<str> {
        Arc::clone(&self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Arc<str>> {
        crate::sync::lock(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_hands_out_what_was_published_last() {
        let section = Rendered::new("a 1\n".into());
        let before = section.current();
        section.publish("a 2\n".into());
        assert_eq!(&*before, "a 1\n", "a copy taken before stays whole");
        assert_eq!(&*section.current(), "a 2\n");
    }
}
