//! The binary: parse, start, wait for a stop signal; exit statuses from
//! `StartError`. Its system calls are the library's `sys`.
#![deny(unsafe_code)]

use linxdot_exporter::config::{self, Action, VERSION};
use linxdot_exporter::error::StartError;
use linxdot_exporter::sys::SignalSet;
use linxdot_exporter::{exporter, log, temper};
use std::process::ExitCode;

fn main() -> ExitCode {
    exporter::tune_allocator();
    let action = match config::parse(std::env::args_os().skip(1).collect(), &config::process_env) {
        Ok(action) => action,
        Err(e) => {
            eprintln!("linxdot-exporter: error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match action {
        Action::Help => {
            print!("{}", config::help());
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
    if let Err(error) = log::init_to(config.log_file.as_deref(), config.log_target, config.debug) {
        let path = config.log_file.clone().unwrap_or_default();
        let e = StartError::LogFile { path, error };
        eprintln!("linxdot-exporter: error: {e}");
        return ExitCode::from(e.status());
    }
    for warning in &config.warnings {
        linxdot_exporter::warn!("{warning}");
    }
    // Before any thread starts, so that every thread inherits the mask.
    let stop_signals = block_stop_signals();
    match exporter::start(&config, exporter::TemperSource::Usb) {
        Ok(_server) => {
            let signal = wait_for(&stop_signals);
            linxdot_exporter::info!("stopping on {signal}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            linxdot_exporter::error!("{e}");
            ExitCode::from(e.status())
        }
    }
}

/// Blocks SIGTERM and SIGINT in this thread (and so in every thread started
/// after it): they are taken by [`wait_for`] instead. As PID 1 in a container
/// a process without a handler never sees SIGTERM at all, so `docker stop`
/// would wait out its grace period; this way every engine's stop works.
fn block_stop_signals() -> SignalSet {
    SignalSet::block(&[libc::SIGTERM, libc::SIGINT])
}

/// Sleeps until one of `set`'s signals arrives (no wake-up before), and
/// names it.
fn wait_for(set: &SignalSet) -> &'static str {
    match set.wait() {
        libc::SIGINT => "SIGINT",
        _ => "SIGTERM",
    }
}
