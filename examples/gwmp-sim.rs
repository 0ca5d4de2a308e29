//! A simulated LoRa radio path on loopback (a packet forwarder and a Helium
//! gateway speaking Semtech UDP), for the demo, the monitoring stack, the
//! benchmark and by hand:
//!
//!     cargo run --example gwmp-sim -- [--server 127.0.0.1:1680] [--forwarders N]
//!         [--uplinks-per-second F] [--crc-fail F] [--crc-none F] [--datarates LIST]
//!         [--rssi MIN:MAX] [--snr MIN:MAX] [--ack-share F] [--ack-delay-ms MS]
//!         [--stat-interval S] [--keepalive S] [--downlink-every S] [--tx-errors LIST]
//!         [--malformed-every S] [--temp C] [--no-gateway] [--no-forwarder] [--seconds S]
//!     cargo run --example gwmp-sim -- flood --server ADDR --rate N --seconds S
//!     cargo run --example gwmp-sim -- noise --server ADDR --rate N --seconds S
//!
//! The first form runs a gateway listening on `--server` and N forwarders
//! sending to it (each with its own EUI and seed), until killed or for
//! `--seconds`; it prints `gwmp-sim: ...` lines when ready and at the end.
//! `flood` sends GWMP PUSH_DATA at a fixed rate, `noise` plain UDP; both print
//! how many were sent. The simulators are `linxdot_sim::gwmp`.

use linxdot_sim::gwmp::{self, Forwarder, ForwarderKnobs, Gateway, GatewayKnobs};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

const USAGE: &str = "\
usage: gwmp-sim [--server 127.0.0.1:1680] [--forwarders N] [--uplinks-per-second F]
                [--crc-fail F] [--crc-none F] [--datarates SF7BW125,SF12BW125,50000]
                [--rssi MIN:MAX] [--snr MIN:MAX] [--ack-share F] [--ack-delay-ms MS]
                [--stat-interval S] [--keepalive S] [--downlink-every S]
                [--tx-errors NONE,TOO_LATE,...] [--malformed-every S] [--temp C]
                [--no-gateway] [--no-forwarder] [--seconds S]
       gwmp-sim flood --server ADDR --rate N --seconds S    (GWMP PUSH_DATA)
       gwmp-sim noise --server ADDR --rate N --seconds S    (plain UDP)
A gateway listens on --server and N forwarders send to it (no --seconds: until killed).
";

fn fail(message: &str) -> ! {
    eprintln!("gwmp-sim: {message} (see --help)");
    std::process::exit(2)
}

fn value<T: std::str::FromStr>(
    args: &mut pico_args::Arguments,
    key: &'static str,
    default: T,
) -> T {
    match args.opt_value_from_str::<_, String>(key) {
        Ok(None) => default,
        Ok(Some(text)) => text
            .parse()
            .unwrap_or_else(|_| fail(&format!("{key}: '{text}' is not valid"))),
        Err(e) => fail(&format!("{key}: {e}")),
    }
}

fn range(args: &mut pico_args::Arguments, key: &'static str, default: (f64, f64)) -> (f64, f64) {
    let text: String = value(args, key, String::new());
    if text.is_empty() {
        return default;
    }
    let parsed = text
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    parsed.unwrap_or_else(|| fail(&format!("{key}: '{text}' is not MIN:MAX")))
}

fn list(args: &mut pico_args::Arguments, key: &'static str, default: &[String]) -> Vec<String> {
    let text: String = value(args, key, String::new());
    if text.is_empty() {
        return default.to_vec();
    }
    text.split(',').map(|s| s.trim().to_string()).collect()
}

fn seconds(args: &mut pico_args::Arguments, key: &'static str, default: f64) -> Duration {
    let s: f64 = value(args, key, default);
    if !(s.is_finite() && s >= 0.0) {
        fail(&format!("{key}: '{s}' is not a number of seconds"));
    }
    Duration::from_secs_f64(s)
}

fn main() {
    let mut args = pico_args::Arguments::from_env();
    if args.contains(["-h", "--help"]) {
        print!("{USAGE}");
        return;
    }
    let mode = args.subcommand().ok().flatten().unwrap_or_default();
    let server: SocketAddr = value(&mut args, "--server", "127.0.0.1:1680".parse().unwrap());
    let eui = [0xAA, 0x55, 0x5A, 0, 0, 0, 0xF1, 0x00];
    match mode.as_str() {
        "flood" | "noise" => {
            let rate: u64 = value(&mut args, "--rate", 20_000);
            let duration = seconds(&mut args, "--seconds", 10.0);
            refuse_leftovers(args);
            let sent = match mode.as_str() {
                "flood" => gwmp::flood(server, rate, duration, eui),
                _ => gwmp::noise(server, rate, duration),
            };
            println!("gwmp-sim: {mode} sent {sent} datagrams to {server}");
            return;
        }
        "" => {}
        other => fail(&format!("unknown mode '{other}'")),
    }
    let base = ForwarderKnobs::default();
    let forwarders: u8 = value(&mut args, "--forwarders", 1);
    let knobs = ForwarderKnobs {
        uplinks_per_second: value(&mut args, "--uplinks-per-second", base.uplinks_per_second),
        crc_fail: value(&mut args, "--crc-fail", base.crc_fail),
        crc_none: value(&mut args, "--crc-none", base.crc_none),
        datarates: list(&mut args, "--datarates", &base.datarates),
        rssi: range(&mut args, "--rssi", base.rssi),
        snr: range(&mut args, "--snr", base.snr),
        stat_interval: seconds(
            &mut args,
            "--stat-interval",
            base.stat_interval.as_secs_f64(),
        ),
        keepalive_interval: seconds(
            &mut args,
            "--keepalive",
            base.keepalive_interval.as_secs_f64(),
        ),
        tx_errors: list(&mut args, "--tx-errors", &base.tx_errors),
        malformed_every: Some(seconds(&mut args, "--malformed-every", 0.0))
            .filter(|d| !d.is_zero()),
        temp: Some(value(&mut args, "--temp", base.temp.unwrap_or(0.0))),
        ..base
    };
    let gateway_base = GatewayKnobs::default();
    let gateway_knobs = GatewayKnobs {
        ack_share: value(&mut args, "--ack-share", gateway_base.ack_share),
        ack_delay: Duration::from_millis(value(&mut args, "--ack-delay-ms", 2)),
        downlink_every: Some(seconds(&mut args, "--downlink-every", 20.0)).filter(|d| !d.is_zero()),
        ..gateway_base
    };
    let no_gateway = args.contains("--no-gateway");
    let no_forwarder = args.contains("--no-forwarder");
    let run_for: Option<Duration> =
        Some(seconds(&mut args, "--seconds", 0.0)).filter(|d| !d.is_zero());
    refuse_leftovers(args);

    let gateway = (!no_gateway).then(|| {
        Gateway::start(server, gateway_knobs)
            .unwrap_or_else(|e| fail(&format!("cannot listen on {server}: {e}")))
    });
    let mut running = Vec::new();
    for i in 0..if no_forwarder { 0 } else { forwarders } {
        let mut k = knobs.clone();
        k.eui[7] = i + 1;
        k.seed = u64::from(i) + 1;
        let f = Forwarder::start(server, k).unwrap_or_else(|e| fail(&format!("forwarder: {e}")));
        println!(
            "gwmp-sim: forwarder {} (EUI AA555A00000000{:02X}) sending from {} and {}",
            i + 1,
            i + 1,
            f.up_addr,
            f.down_addr
        );
        running.push(f);
    }
    match &gateway {
        Some(g) => println!("gwmp-sim: gateway listening on {}", g.addr),
        None => println!("gwmp-sim: no gateway; forwarders send to {server}"),
    }
    match run_for {
        Some(d) => std::thread::sleep(d),
        None => loop {
            std::thread::park();
        },
    }
    let sent: u64 = running
        .iter()
        .map(|f| f.tally.sent.load(Ordering::Relaxed))
        .sum();
    let acked: u64 = gateway
        .as_ref()
        .map_or(0, |g| g.tally.sent.load(Ordering::Relaxed));
    println!("gwmp-sim: forwarders sent {sent} datagrams; gateway sent {acked}");
}

fn refuse_leftovers(args: pico_args::Arguments) {
    let rest = args.finish();
    if !rest.is_empty() {
        fail(&format!("unexpected arguments {rest:?}"));
    }
}
