//! The exporter with simulated TEMPer sensors in place of USB: the same
//! collectors, routes and server as the binary, for the benchmarks and the
//! soak (this machine has no TEMPer devices).
//!
//!     cargo run --release --example sim-exporter -- --sim-sensors 32 \
//!         [--sim-flap-ms 1000] [any linxdot-exporter flags]
//!
//! `--sim-sensors N` plugs N devices (TEMPer2 and TEMPerHUM models in turn);
//! `--sim-flap-ms M` unplugs one of them every M ms and plugs it back M ms
//! later, round robin. The simulated bus is `linxdot_sim::hid`
//! (sim/src/hid.rs).

use linxdot_exporter::config::{self, Action};
use linxdot_exporter::exporter::{self, TemperSource};
use linxdot_exporter::temper::{TemperCollector, Timing};
use linxdot_sim::hid::{version16, Behaviour, SimBus, MICRODIA_7401, QINHENG_E025};
use std::ffi::OsString;
use std::time::Duration;

const MODELS: [((u16, u16), &str, &str); 2] = [
    (MICRODIA_7401, "TEMPer2_M12_V1.3", "80 04 15 A0 14 A0"),
    (QINHENG_E025, "TEMPerHUM_V3.8", "80 20 09 01 11 93 00 00"),
];

fn behaviour(index: usize) -> ((u16, u16), Behaviour) {
    let (ids, version, reading) = MODELS[index % MODELS.len()];
    (ids, Behaviour::new(&version16(version, b' '), reading))
}

fn plug(bus: &SimBus, index: usize) {
    let (ids, b) = behaviour(index);
    bus.plug(
        &format!("/dev/hidraw{index}"),
        ids,
        1,
        &format!("usb-sim.usb-1.{index}/input1"),
        b,
    );
}

/// Removes `--name N` from `args`; returns N.
fn take_number(args: &mut Vec<OsString>, name: &str) -> Option<u64> {
    let i = args.iter().position(|a| a == name)?;
    let value = args.get(i + 1)?.to_str()?.parse().ok();
    args.drain(i..=i + 1);
    value
}

fn main() {
    exporter::tune_allocator();
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let sensors = take_number(&mut args, "--sim-sensors").unwrap_or(0) as usize;
    let flap_ms = take_number(&mut args, "--sim-flap-ms");
    let config = match config::parse(args, &config::process_env) {
        Ok(Action::Run(config)) => config,
        Ok(_) => {
            eprintln!(
                "sim-exporter: only runs the exporter (no --help, --version, --list-sensors)"
            );
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("sim-exporter: error: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = linxdot_exporter::log::init(config.log_file.as_deref(), config.debug) {
        eprintln!("sim-exporter: cannot open log file: {e}");
        std::process::exit(2);
    }
    let bus = SimBus::new();
    for i in 0..sensors {
        plug(&bus, i);
    }
    let timing = Timing {
        poll_interval: Duration::from_secs(1),
        ..Timing::default()
    };
    let collector = TemperCollector::with_backend(&config.temper, bus.backend(), timing);
    if let (Some(ms), true) = (flap_ms, sensors > 0) {
        let bus = bus.clone();
        std::thread::spawn(move || {
            for i in (0..sensors).cycle() {
                std::thread::sleep(Duration::from_millis(ms));
                bus.unplug(&format!("/dev/hidraw{i}"));
                std::thread::sleep(Duration::from_millis(ms));
                plug(&bus, i);
            }
        });
    }
    match exporter::start(&config, TemperSource::Collector(collector)) {
        Ok(_server) => loop {
            std::thread::park();
        },
        Err(e) => {
            eprintln!("sim-exporter: cannot listen: {e}");
            std::process::exit(1);
        }
    }
}
