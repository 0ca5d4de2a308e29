//! Figures for `/probe` (not a test: it prints what it measures).
//!
//!     cargo run --release --example probe-figures -- EXPORTER_BINARY [MINERS] [ROUNDS]
//!
//! Starts MINERS simulated dashboards (default 50) and one that hangs, all on
//! loopback, and one exporter allowed to probe 127.0.0.0/8. Each round probes
//! every miner at once, as Prometheus would with one job; it prints how many
//! probes succeeded, the latency of the healthy ones (p50/p99/max) while the
//! hanging one waits out its deadline, and the exporter's RSS before and
//! after probes of 1,000 distinct targets (closed ports on 127.0.x.y).

use linxdot_sim::dashboard::{Dashboard, Fault};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn get(addr: SocketAddr, target: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = write!(
        s,
        "GET /probe?target={target} HTTP/1.1\r\nHost: x\r\n\
         X-Prometheus-Scrape-Timeout-Seconds: 3\r\nConnection: close\r\n\r\n"
    );
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(binary) = args.first() else {
        eprintln!("usage: probe-figures EXPORTER_BINARY [MINERS] [ROUNDS]");
        std::process::exit(2);
    };
    let miners: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);

    let sims: Vec<Dashboard> = (0..miners)
        .map(|i| {
            let d = Dashboard::start();
            d.set_system_json(&format!(
                r#"{{"animal_name":"animal-{i}","firmware":"f","model_name":"m","region":"EU868","sn":"S{i}","cpu_temp":{i},"cpu_usage":1,"memory_usage":2,"storage_usage":3}}"#
            ));
            d
        })
        .collect();
    let hanging = Dashboard::start();
    hanging.set_fault(Fault::Hang);

    let mut child = Command::new(binary)
        .args([
            "--bind-address",
            "127.0.0.1",
            "--port",
            "0",
            "--no-temper",
            "-u",
            "admin",
            "-p",
            "admin",
            "--probe-allow",
            "127.0.0.0/8",
            "--thread-count",
            "64",
            "--timeout",
            "5",
        ])
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the exporter");
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split(" listening on ").nth(1) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        }
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the exporter listens")
        .parse()
        .expect("an address");
    let rss_start = rss_kib(pid, "VmRSS:");

    let mut latencies = Vec::new();
    let mut hang_latencies = Vec::new();
    let (mut ok, mut total) = (0usize, 0usize);
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..rounds {
        let (tx, rx) = mpsc::channel();
        let targets = sims
            .iter()
            .map(|s| (s.host(), false))
            .chain([(hanging.host(), true)]);
        for (target, is_hanging) in targets {
            let tx = tx.clone();
            thread::spawn(move || {
                let started = Instant::now();
                let (status, text) = get(addr, &target);
                let good = status == 200 && text.contains("\nprobe_success 1.0\n");
                let _ = tx.send((is_hanging, good, status, started.elapsed().as_secs_f64()));
            });
        }
        drop(tx);
        for (is_hanging, good, status, seconds) in rx {
            *statuses.entry(status).or_insert(0usize) += 1;
            if is_hanging {
                hang_latencies.push(seconds);
            } else {
                total += 1;
                ok += usize::from(good);
                latencies.push(seconds);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let rss_fleet = rss_kib(pid, "VmRSS:");

    // 1,000 distinct targets, 32 at a time: closed ports on 127.0.x.y.
    let distinct = 1000;
    let mut refused_ok = 0;
    let mut next = 0;
    let mut running = 0;
    let (done_tx, done_rx) = mpsc::channel();
    while next < distinct || running > 0 {
        while running < 32 && next < distinct {
            let target = format!("127.0.{}.{}:9", 10 + next / 250, 1 + next % 250);
            let done_tx = done_tx.clone();
            thread::spawn(move || {
                let (status, text) = get(addr, &target);
                let _ = done_tx.send(status == 200 && text.contains("\nprobe_success 0.0\n"));
            });
            next += 1;
            running += 1;
        }
        if let Ok(good) = done_rx.recv() {
            refused_ok += usize::from(good);
            running -= 1;
        }
    }
    let rss_distinct = rss_kib(pid, "VmRSS:");
    let hwm = rss_kib(pid, "VmHWM:");

    println!("miners: {miners} healthy + 1 hanging, {rounds} rounds, all probed at once per round");
    println!(
        "healthy probes: {ok}/{total} probe_success 1 (HTTP statuses of all probes: {statuses:?})"
    );
    println!(
        "healthy probe latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5) * 1e3,
        percentile(&latencies, 0.99) * 1e3,
        latencies.last().copied().unwrap_or(f64::NAN) * 1e3
    );
    hang_latencies.sort_by(f64::total_cmp);
    println!(
        "hanging miner's probe (scrape timeout 3 s): median {:.2} s",
        percentile(&hang_latencies, 0.5)
    );
    println!(
        "distinct targets probed: {distinct} ({refused_ok} answered probe_success 0 as expected)"
    );
    println!(
        "exporter RSS: {rss_start} KiB at start, {rss_fleet} KiB after the fleet rounds, \
         {rss_distinct} KiB after {distinct} distinct targets (peak {hwm} KiB)"
    );
    let _ = child.kill();
    let _ = child.wait();
}
