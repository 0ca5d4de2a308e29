use linxdot_exporter::config::{self, Action, HELP, VERSION};
use linxdot_exporter::{exporter, log, temper};
use std::process::ExitCode;

fn main() -> ExitCode {
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
    let action = match config::parse(std::env::args_os().skip(1).collect(), &config::process_env) {
        Ok(action) => action,
        Err(e) => {
            eprintln!("linxdot-exporter: error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match action {
        Action::Help => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Action::Version => {
            println!("linxdot-exporter {VERSION}");
            return ExitCode::SUCCESS;
        }
        Action::ListSensors(config) => {
            let _ = log::init(None, config.debug);
            return ExitCode::from(temper::list_sensors(&config.temper).clamp(0, 255) as u8);
        }
        Action::Run(config) => config,
    };
    if let Err(e) = log::init(config.log_file.as_deref(), config.debug) {
        let path = config
            .log_file
            .as_deref()
            .unwrap_or(std::path::Path::new(""))
            .display();
        eprintln!("linxdot-exporter: error: cannot open log file '{path}': {e}");
        return ExitCode::from(2);
    }
    for warning in &config.warnings {
        linxdot_exporter::warn!("{warning}");
    }
    match exporter::start(&config, exporter::TemperSource::Usb) {
        Ok(_server) => loop {
            std::thread::park();
        },
        Err(e) => {
            linxdot_exporter::error!("cannot listen on port {}: {e}", config.port);
            ExitCode::from(1)
        }
    }
}
