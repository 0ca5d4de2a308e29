//! The one interface every metric source implements.
//!
//! A collector renders what it knows *now* into the exposition body. It must
//! not block on slow I/O: sources that need the network or a USB device keep
//! a snapshot that a background thread refreshes, and render from it.

use crate::exposition::Exposition;
use crate::landing::Page;

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
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, collector: Box<dyn Collector>) {
        self.collectors.push(collector);
    }

    /// Notes a collector that does not run, for the landing page.
    pub fn note_off(&mut self, name: &'static str, why: &str) {
        self.off.push((name, why.to_string()));
    }

    /// The landing page.
    pub fn status_page(&self) -> String {
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
        for collector in &self.collectors {
            collector.collect(&mut out);
        }
        out.into_string()
    }
}
