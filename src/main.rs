use linxdot_exporter::config::{self, Action, VERSION};
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
