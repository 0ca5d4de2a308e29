//! `linxdot_exporter_build_info{version} 1`.

use crate::collector::Collector;
use crate::exposition::{Exposition, MetricType};
use crate::landing::Page;

/// The exporter's version, as Cargo.toml gives it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub struct BuildInfoCollector;

impl Collector for BuildInfoCollector {
    /// Rendered once: it never changes.
    fn collect(&self, out: &mut Exposition) {
        static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        out.append_rendered(TEXT.get_or_init(|| {
            let mut text = Exposition::new();
            text.family(
                "linxdot_exporter_build_info",
                "A metric with a constant '1' value labeled by the version of linxdot-exporter",
                MetricType::Gauge,
            )
            .sample(&[("version", VERSION)], 1.0);
            text.into_string()
        }));
    }

    fn status(&self, page: &mut Page) {
        page.section("Exporter").row("Version", VERSION);
    }
}
