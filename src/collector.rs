//! The one interface every metric source implements.
//!
//! A collector renders what it knows *now* into the exposition body. It must
//! not block on slow I/O: sources that need the network or a USB device keep
//! a snapshot that a background thread refreshes, and render from it.

use crate::exposition::Exposition;

pub trait Collector: Send + Sync {
    /// Writes this collector's families. Each family name belongs to exactly
    /// one collector, and a collector writes each of its families once per
    /// scrape, samples or not.
    fn collect(&self, out: &mut Exposition);
}

/// The collectors of one exporter, rendered in order.
#[derive(Default)]
pub struct Registry {
    collectors: Vec<Box<dyn Collector>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, collector: Box<dyn Collector>) {
        self.collectors.push(collector);
    }

    /// One whole scrape body.
    pub fn render(&self) -> String {
        let mut out = Exposition::new();
        for collector in &self.collectors {
            collector.collect(&mut out);
        }
        out.into_string()
    }
}
