//! Wiring: which collectors run, which paths answer, and the start-up steps.

use crate::collector::{Collector, Registry};
use crate::config::{Config, VERSION};
use crate::exposition::{Exposition, MetricType, CONTENT_TYPE};
use crate::http::{self, Request, Response, ServerConfig, ServerHandle};
use crate::miner::MinerCollector;
use crate::process::ProcessCollector;
use crate::temper::TemperCollector;
use std::sync::Arc;

/// `linxdot_exporter_build_info{version} 1`.
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
}

const LANDING_PAGE: &str = concat!(
    "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Linxdot Exporter</title></head>\n",
    "<body>\n<h1>Linxdot Exporter</h1>\n<p>Version ",
    env!("CARGO_PKG_VERSION"),
    "</p>\n<p><a href=\"/metrics\">Metrics</a></p>\n</body>\n</html>\n"
);

/// The exporter's routes: `/metrics` and `/`, `GET` and `HEAD` only.
pub fn handle(registry: &Registry, request: &Request) -> Response {
    let page = match request.path.as_str() {
        "/metrics" => None,
        "/" => Some(LANDING_PAGE),
        _ => return Response::text(404, "not found; metrics are at /metrics"),
    };
    if request.method != "GET" && request.method != "HEAD" {
        return Response::text(405, "method not allowed").with_header("Allow", "GET, HEAD");
    }
    match page {
        Some(html) => Response::new(200, "text/html; charset=utf-8", html),
        None => Response::new(200, CONTENT_TYPE, registry.render()),
    }
}

/// Where TEMPer readings come from.
pub enum TemperSource {
    /// USB, through hidapi (what the binary uses).
    Usb,
    /// A collector already started over another backend (the benchmarks'
    /// simulated sensors).
    Collector(TemperCollector),
}

/// The collectors that `config` asks for, each started.
pub fn build_registry(config: &Config, temper: TemperSource) -> std::io::Result<Registry> {
    let mut registry = Registry::new();
    match &config.miner {
        Some(miner) => registry.register(Box::new(MinerCollector::start(miner.clone())?)),
        None => crate::info!(
            "miner: not polling the dashboard at {}: {}",
            config.host,
            config.miner_off_reason.unwrap_or("no credentials")
        ),
    }
    if config.temper.enabled {
        registry.register(Box::new(match temper {
            TemperSource::Usb => TemperCollector::start(&config.temper),
            TemperSource::Collector(collector) => collector,
        }));
    } else {
        crate::info!("temper: USB sensors are off (--no-temper)");
    }
    registry.register(Box::new(BuildInfoCollector));
    registry.register(Box::new(ProcessCollector::new()));
    Ok(registry)
}

/// Binds, starts everything and returns the running server.
pub fn start(config: &Config, temper: TemperSource) -> std::io::Result<ServerHandle> {
    let listener = http::bind(config.bind_address, config.port, config.bind_v6only)?;
    let registry = Arc::new(build_registry(config, temper)?);
    let server_config = ServerConfig {
        threads: config.thread_count,
        ..ServerConfig::default()
    };
    let handle = http::serve(
        listener,
        move |r: &Request| handle(&registry, r),
        server_config,
    )?;
    crate::info!(
        "linxdot-exporter {VERSION} listening on {} ({} worker threads)",
        handle.local_addr(),
        config.thread_count
    );
    Ok(handle)
}

/// Allocator settings for a process that runs for months: call first thing
/// in `main` (the binary and the simulated-sensor example both do).
pub fn tune_allocator() {
    // glibc raises its mmap threshold to the size of each large block freed,
    // so after one dashboard body near the 1 MiB cap every later one is
    // carved from the heap: ~1 MiB stays resident and the heap fragments a
    // few KiB further with each such body (the soak saw +16..20 KiB in 10 min).
    // A fixed threshold keeps large blocks mmapped and returned on free.
    // (musl's allocator maps large blocks by itself; nothing to set there.)
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt may be called at any time; it only decides where
    // blocks allocated later come from.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
    }
}
