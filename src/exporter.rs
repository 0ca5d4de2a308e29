//! Wiring: which collectors run ([`COLLECTORS`]), which paths answer
//! ([`ROUTES`]), and the start-up steps.

pub use crate::build_info::BuildInfoCollector;
use crate::collector::{Collector, Registry};
use crate::config::{Config, VERSION};
use crate::error::StartError;
use crate::exposition::CONTENT_TYPE;
use crate::http::{self, Request, Response, ServerConfig, ServerHandle};
use crate::lora::LoraCollector;
use crate::miner::MinerCollector;
use crate::probe::Prober;
use crate::process::ProcessCollector;
use crate::temper::TemperCollector;

/// Why a collector is off (logged at start, shown on the landing page).
pub struct Off {
    pub why: String,
    /// Logged as a warning: the configuration asks for the collector but
    /// leaves something out (its families are missing, so no alert on them
    /// can fire), rather than turning it off on purpose.
    pub warn: bool,
}

/// One collector the exporter can run.
pub struct Entry {
    pub name: &'static str,
    /// `Err` when the configuration turns it off.
    pub wanted: fn(&Config) -> Result<(), Off>,
    pub start: fn(&Config, &mut Sources) -> std::io::Result<Box<dyn Collector>>,
}

/// Every collector, in the order a scrape renders them. This is the one
/// place that decides what runs: `--no-temper` and missing credentials act
/// here and nowhere else.
pub(crate) const COLLECTORS: &[Entry] = &[
    Entry {
        name: "miner",
        wanted: |config| match (&config.miner, config.miner_off_reason) {
            (Some(_), _) => Ok(()),
            (None, reason) => Err(Off {
                why: format!(
                    "not polling the dashboard at {}: {}",
                    config.host,
                    reason.unwrap_or("no credentials")
                ),
                warn: reason != Some(crate::config::MINER_NOT_ASKED),
            }),
        },
        start: |config, _| match &config.miner {
            Some(miner) => Ok(Box::new(MinerCollector::start(miner.clone())?)),
            None => Err(std::io::Error::other("no miner configuration")),
        },
    },
    Entry {
        name: "temper",
        wanted: |config| match config.temper.enabled {
            true => Ok(()),
            false => Err(Off {
                why: "USB sensors are off (--no-temper)".into(),
                warn: false,
            }),
        },
        start: |config, sources| {
            Ok(Box::new(
                match std::mem::replace(&mut sources.temper, TemperSource::Usb) {
                    TemperSource::Usb => TemperCollector::start(&config.temper),
                    TemperSource::Collector(collector) => collector,
                },
            ))
        },
    },
    Entry {
        name: "lora",
        wanted: |config| match &config.lora {
            Some(_) => Ok(()),
            None => Err(Off {
                why: "LoRa radio capture is off (no --lora-port)".into(),
                warn: false,
            }),
        },
        start: |config, _| match &config.lora {
            Some(lora) => Ok(Box::new(LoraCollector::start(lora.clone())?)),
            None => Err(std::io::Error::other("no LoRa configuration")),
        },
    },
    Entry {
        name: "build_info",
        wanted: |_| Ok(()),
        start: |_, _| Ok(Box::new(BuildInfoCollector)),
    },
    Entry {
        name: "process",
        wanted: |_| Ok(()),
        start: |_, _| Ok(Box::new(ProcessCollector::new())),
    },
];

/// Where TEMPer readings come from.
pub enum TemperSource {
    /// USB, through hidapi (what the binary uses).
    Usb,
    /// A collector already started over another backend (the benchmarks'
    /// simulated sensors).
    Collector(TemperCollector),
}

/// What the collectors read from, where that is not fixed.
pub struct Sources {
    pub temper: TemperSource,
}

/// The collectors that `config` asks for, each started.
pub(crate) fn build_registry(
    config: &Config,
    temper: TemperSource,
) -> Result<Registry, StartError> {
    let mut sources = Sources { temper };
    let mut registry = Registry::new();
    for entry in COLLECTORS {
        match (entry.wanted)(config) {
            Ok(()) => registry.register((entry.start)(config, &mut sources).map_err(|error| {
                StartError::Collector {
                    name: entry.name,
                    error,
                }
            })?),
            Err(off) => {
                match off.warn {
                    true => crate::warn!("{}: {}", entry.name, off.why),
                    false => crate::info!("{}: {}", entry.name, off.why),
                }
                registry.note_off(entry.name, &off.why);
            }
        }
    }
    Ok(registry)
}

/// What the routes answer from.
pub struct App {
    pub registry: Registry,
    /// `/probe`; off (404) without `--probe-allow`.
    pub prober: Prober,
}

impl App {
    /// The routes over `registry`, with `/probe` off.
    pub fn new(registry: Registry) -> App {
        App {
            registry,
            prober: Prober::off(),
        }
    }
}

/// A path and what answers it.
pub struct Route {
    pub path: &'static str,
    /// The answer may wait for another server (a probed miner): it runs on
    /// a handler thread, not on the readiness loop ([`http::Handler::waits`]).
    pub waits: bool,
    pub answer: fn(&App, &Request) -> Response,
}

/// Every path the exporter answers, `GET` and `HEAD` only.
pub const ROUTES: &[Route] = &[
    Route {
        path: "/metrics",
        waits: false,
        answer: |app, _| Response::new(200, CONTENT_TYPE, app.registry.render()),
    },
    Route {
        path: "/",
        waits: false,
        answer: |app, _| Response::new(200, "text/html; charset=utf-8", app.registry.status_page()),
    },
    Route {
        path: "/probe",
        waits: true,
        answer: |app, request| app.prober.handle(request),
    },
];

fn route(request: &Request) -> Option<&'static Route> {
    ROUTES.iter().find(|route| route.path == request.path)
}

/// Answers one request from [`ROUTES`].
pub fn handle(app: &App, request: &Request) -> Response {
    let Some(route) = route(request) else {
        return Response::text(404, "not found; metrics are at /metrics");
    };
    if request.method != "GET" && request.method != "HEAD" {
        return Response::text(405, "method not allowed").with_header("Allow", "GET, HEAD");
    }
    (route.answer)(app, request)
}

impl http::Handler for App {
    fn handle(&self, request: &Request) -> Response {
        handle(self, request)
    }

    fn waits(&self, request: &Request) -> bool {
        route(request).is_some_and(|route| route.waits)
    }
}

/// Binds, starts everything and returns the running server.
pub fn start(config: &Config, temper: TemperSource) -> Result<ServerHandle, StartError> {
    let listener =
        http::bind(config.bind_address, config.port, config.bind_v6only).map_err(|error| {
            StartError::Bind {
                port: config.port,
                error,
            }
        })?;
    let prober = Prober::new(config.probe.clone());
    prober.announce();
    let app = App {
        registry: build_registry(config, temper)?,
        prober,
    };
    let server_config = ServerConfig {
        threads: config.thread_count,
        ..ServerConfig::default()
    };
    let handle = http::serve(listener, app, server_config).map_err(StartError::Serve)?;
    crate::info!(
        "linxdot-exporter {VERSION} listening on {} ({} threads for /probe)",
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
    crate::sys::set_mmap_threshold(64 * 1024);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, Action};

    fn registry(argv: &[&str]) -> Registry {
        let args = argv.iter().map(std::ffi::OsString::from).collect();
        let Ok(Action::Run(config)) = parse(args, &|_| None) else {
            panic!("{argv:?}")
        };
        build_registry(&config, TemperSource::Usb).unwrap()
    }

    /// Only `/probe` is answered off the readiness loop: it is the one
    /// route that waits on the network.
    #[test]
    fn only_probe_waits() {
        use crate::http::{request::parse_head, Handler};
        let app = App::new(Registry::new());
        for (path, waits) in [
            ("/probe?target=a", true),
            ("/metrics", false),
            ("/", false),
            ("/nope", false),
        ] {
            let head = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
            let request = parse_head(head.as_bytes(), std::time::Instant::now()).unwrap();
            assert_eq!(app.waits(&request), waits, "{path}");
        }
    }

    /// `--no-temper` leaves the TEMPer collector out, families and all;
    /// without credentials the miner collector is left out.
    #[test]
    fn the_collector_list_follows_the_config() {
        let off = registry(&["--no-temper"]).render();
        assert!(!off.contains("temper_"), "{off}");
        assert!(!off.contains("miner_"), "{off}");
        assert!(off.contains("# TYPE linxdot_exporter_build_info gauge\n"));
        assert!(off.contains("# TYPE process_open_fds gauge\n"));
        let on = registry(&[]).render();
        assert!(on.contains("# TYPE temper_devices gauge\n"), "{on}");
    }
}
