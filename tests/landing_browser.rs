//! The landing page in a real browser: headless Chromium loads `/` from the
//! exporter (the same wiring as the binary, over the dashboard simulator and
//! simulated TEMPer sensors) and the test reads what it shows. Screenshots
//! (phone-sized) are left in the test output directory for people to look at.
//!
//! Without `/usr/bin/chromium` the test is skipped with a message, except
//! under CI (`CI=true`), where it fails: `scripts/ci-landing.sh` installs
//! Chromium and runs it.

use linxdot_exporter::config::{self, Action};
use linxdot_exporter::exporter::{self, TemperSource};
use linxdot_exporter::http::ServerHandle;
use linxdot_exporter::temper::{TemperCollector, Timing};
use linxdot_sim::dashboard::Dashboard;
use linxdot_sim::hid::{Behaviour, SimBus, MICRODIA_7401, MICRODIA_7402};
use linxdot_sim::http::get;
use linxdot_sim::wait;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium_present() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{CHROMIUM} is missing under CI: scripts/ci-landing.sh installs it");
    }
    // Said on the terminal: eprintln! output of a passing test is captured.
    linxdot_sim::skip::skip(
        "the browser tests",
        &format!(
            "{CHROMIUM} is not installed (scripts/ci-landing.sh installs it and runs this test)"
        ),
    );
    false
}

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("landing");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium with `args` + `url`, in a profile of its own,
/// killed after 90 s.
fn chromium(name: &str, args: &[&str], url: &str) -> Output {
    let profile = out_dir().join(format!("profile-{name}-{}", std::process::id()));
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium {args:?} did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The exporter as the binary wires it, over the simulator and two
/// simulated TEMPer devices; returns once the page shows every value.
fn start(animal_name: &str) -> (&'static Dashboard, SimBus, ServerHandle) {
    let sim = Dashboard::start();
    sim.set_system_json(&format!(
        r#"{{"animal_name":{animal_name:?},"firmware":"Linxdot 1.2.26 r17752-8c4a79dd5",
            "model_name":"LD-1001","region":"AU915","sn":"x","cpu_temp":48.25,
            "cpu_usage":7.1694,"memory_usage":"17.5041","storage_usage":39.8219}}"#
    ));
    let bus = SimBus::new();
    bus.plug(
        "/dev/hidraw1",
        MICRODIA_7401,
        1,
        "usb-ff500000.usb-1.2/input1",
        Behaviour::new(b"TEMPer2_M12_V1.3", "80 04 15 A0 14 A0"),
    );
    bus.plug(
        "/dev/hidraw3",
        MICRODIA_7402,
        1,
        "usb-ff500000.usb-1.3/input1",
        Behaviour::new(b"TEMPer1F_H1V1.5F", "80 04 19 A8 06 CE"),
    );
    let host = sim.host();
    let argv = [
        "--bind-address",
        "127.0.0.1",
        "-t",
        "0",
        "-o",
        &host,
        "-u",
        "admin",
        "-p",
        "admin",
        "-r",
        "0.2",
        "--temper-rescan",
        "0.1",
    ];
    let Ok(Action::Run(config)) =
        config::parse(argv.iter().map(std::ffi::OsString::from).collect(), &|_| {
            None
        })
    else {
        panic!("config")
    };
    let timing = Timing {
        poll_interval: Duration::from_millis(50),
        ..Timing::default()
    };
    let temper = TemperCollector::with_backend(&config.temper, bus.backend(), timing);
    let server = exporter::start(&config, TemperSource::Collector(temper)).unwrap();
    let addr = server.local_addr();
    wait::poll(
        "a complete page",
        wait::TIMEOUT,
        Duration::from_millis(20),
        || {
            let page = get(addr, "/").body;
            if page.contains("good, ") && page.matches("<small>").count() == 3 {
                Ok(())
            } else {
                Err(page)
            }
        },
    );
    // The miner poller cannot be stopped: the simulator stays for as long
    // as this test process runs, so it never polls a closed port.
    let sim = Box::leak(Box::new(sim));
    (sim, bus, server)
}

/// The text of the DOM with tags dropped and whitespace folded, for
/// asserting what a reader sees.
fn visible_text(dom: &str) -> String {
    let body = &dom[dom.find("<body").unwrap_or(0)..];
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn screenshot(name: &str, url: &str) -> PathBuf {
    let file = out_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&file);
    chromium(
        name,
        &[
            &format!("--screenshot={}", file.display()),
            "--window-size=412,915",
        ],
        url,
    );
    let png = std::fs::read(&file).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{file:?}"
    );
    println!("screenshot: {}", file.display());
    file
}

#[test]
fn a_browser_shows_the_miner_the_sensors_and_the_exporter() {
    if !chromium_present() {
        return;
    }
    let (_sim, _bus, server) = start("fancy-lime-wolf");
    let url = format!("http://{}/", server.local_addr());
    let dom = String::from_utf8(chromium("dom", &["--dump-dom"], &url).stdout).unwrap();
    let text = visible_text(&dom);
    for want in [
        "fancy-lime-wolf",
        "Model LD-1001",
        "Region AU915",
        "Firmware Linxdot 1.2.26 r17752-8c4a79dd5",
        "CPU temperature 48.2 °C",
        "CPU usage 7.2 %",
        "Memory used 17.5 %",
        "Storage used 39.8 %",
        "Dashboard poll good, ",
        "TEMPer2 internal usb-ff500000.usb-1.2/input1",
        "TEMPer2 external usb-ff500000.usb-1.2/input1",
        "usb-ff500000.usb-1.3/input1",
        "%RH",
        &format!("Version {}", env!("CARGO_PKG_VERSION")),
        "Uptime ",
        "Metrics",
    ] {
        assert!(
            text.contains(want),
            "the browser does not show {want:?}:\n{text}"
        );
    }
    screenshot("landing-page", &url);
}

#[test]
fn a_hostile_animal_name_is_shown_as_text() {
    if !chromium_present() {
        return;
    }
    let hostile = r#"<script>alert(1)</script>"x'"#;
    let (_sim, _bus, server) = start(hostile);
    let url = format!("http://{}/", server.local_addr());
    let dom = String::from_utf8(chromium("hostile", &["--dump-dom"], &url).stdout).unwrap();
    // Parsed by the browser: no element came from the name, and the name
    // is there as text (the DOM writes `<` and `>` of text as entities).
    assert!(!dom.contains("<script"), "{dom}");
    let as_text = "&lt;script&gt;alert(1)&lt;/script&gt;\"x'";
    assert!(dom.contains(&format!("<h1>{as_text}</h1>")), "{dom}");
    assert!(
        dom.contains(&format!("<title>{as_text} · Linxdot Exporter</title>")),
        "{dom}"
    );
    assert!(visible_text(&dom).contains("CPU temperature 48.2 °C"));
    screenshot("landing-page-hostile", &url);
}
