//! A simulated Linxdot dashboard on loopback, for the README demo and the
//! packaging checks:
//!
//!     cargo run --example dashboard-sim -- --listen 127.0.0.1:18080 [--username admin]
//!         [--password admin] [--plain] [--fault MODE]
//!
//! Prints `listening on ADDR` when ready and serves until killed. The
//! simulator itself is `linxdot_sim::dashboard` (sim/src/dashboard.rs).

use linxdot_sim::dashboard::{Dashboard, Fault};

fn main() {
    let mut args = pico_args::Arguments::from_env();
    let text = |args: &mut pico_args::Arguments, key: &'static str, default: &str| -> String {
        args.opt_value_from_str::<_, String>(key)
            .ok()
            .flatten()
            .unwrap_or_else(|| default.to_string())
    };
    if args.contains(["-h", "--help"]) {
        let modes: Vec<&str> = Fault::ALL.iter().map(|(n, _)| *n).collect();
        println!(
            "usage: dashboard-sim [--listen ADDR] [--username U] [--password P] [--plain] [--fault MODE]\n\
             \x20                    [--system-json FILE]\n\
             fault modes: {}",
            modes.join(", ")
        );
        return;
    }
    let listen = text(&mut args, "--listen", "127.0.0.1:18080");
    let username = text(&mut args, "--username", "admin");
    let password = text(&mut args, "--password", "admin");
    let plain = args.contains("--plain");
    let fault_name = text(&mut args, "--fault", "none");
    let Some(fault) = Fault::from_name(&fault_name) else {
        eprintln!("dashboard-sim: unknown fault mode '{fault_name}' (see --help)");
        std::process::exit(2);
    };
    // `--system-json FILE`: serve FILE as `/info/system` instead of the built-in
    // document (scripts/stack_test.py gives each simulated miner its own animal
    // name and readings this way).
    let system_json = match args.opt_value_from_str::<_, String>("--system-json") {
        Ok(None) => None,
        Ok(Some(path)) => match std::fs::read_to_string(&path) {
            Ok(json) => Some(json),
            Err(e) => {
                eprintln!("dashboard-sim: cannot read {path}: {e}");
                std::process::exit(2);
            }
        },
        Err(e) => {
            eprintln!("dashboard-sim: --system-json: {e}");
            std::process::exit(2);
        }
    };
    let rest = args.finish();
    if !rest.is_empty() {
        eprintln!("dashboard-sim: unexpected arguments {rest:?}");
        std::process::exit(2);
    }
    let sim = match Dashboard::start_on(&listen, &username, &password) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("dashboard-sim: cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    };
    sim.state().plain_credentials = plain;
    sim.set_fault(fault);
    if let Some(json) = system_json {
        sim.set_system_json(&json);
    }
    println!("listening on {}", sim.addr());
    loop {
        std::thread::park();
    }
}
