//! The landing page `/` over real TCP: the binary over the dashboard
//! simulator (values, poll health, escaping of hostile dashboard strings),
//! and the real TEMPer collector over the simulated USB bus.

use linxdot_exporter::collector::Registry;
use linxdot_exporter::exporter::{App, BuildInfoCollector};
use linxdot_exporter::http::{self, ServerConfig};
use linxdot_exporter::temper::Config as TemperConfig;
use linxdot_exporter::temper::{TemperCollector, Timing};
use linxdot_sim::dashboard::{Dashboard, Fault};
use linxdot_sim::exporter::Exporter;
use linxdot_sim::hid::{Behaviour, SimBus, MICRODIA_7401, MICRODIA_7402};
use linxdot_sim::http::get;
use linxdot_sim::text::sample;
use linxdot_sim::wait;
use std::time::Duration;

const HOSTILE: &str = r#"<script>alert(1)</script>"x'"#;
const HOSTILE_HTML: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;x&#39;";

/// `GET /` until `done(page)` holds; the page.
fn page_until(exp: &Exporter, what: &str, done: impl Fn(&str) -> bool) -> String {
    wait::poll(what, wait::TIMEOUT, Duration::from_millis(20), || {
        let a = exp.get("/");
        assert_eq!(a.status, 200);
        if done(&a.body) {
            Ok(a.body)
        } else {
            Err(a.body)
        }
    })
}

/// `<th>label</th><td …>value</td>` with any class on the cell.
fn cell(page: &str, label: &str) -> String {
    let start = page
        .find(&format!("<tr><th>{label}</th><td"))
        .unwrap_or_else(|| panic!("no row {label}:\n{page}"));
    let rest = &page[start..];
    let open = rest.find('>').unwrap() + 1;
    let rest = &rest[open..];
    let td = rest.find("<td").unwrap();
    let rest = &rest[td..];
    let body = &rest[rest.find('>').unwrap() + 1..];
    body[..body.find("</td>").unwrap()].to_string()
}

#[test]
fn the_page_shows_the_miner_and_escapes_what_the_dashboard_says() {
    let sim = Dashboard::start();
    sim.set_system_json(&format!(
        r#"{{"animal_name":{name:?},"firmware":"fw <b>1.2</b> & 'more'","model_name":"LD-1002",
            "region":"EU868","sn":"x","cpu_temp":48.25,"cpu_usage":"12.34","memory_usage":61.96,
            "storage_usage":"88"}}"#,
        name = HOSTILE
    ));
    let host = sim.host();
    let exp = Exporter::start(
        &["-o", &host, "-u", "admin", "-p", "admin", "-r", "0.2"],
        &[],
    );
    let page = page_until(&exp, "good poll", |p| p.contains("good, "));

    assert_eq!(
        exp.get("/").header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<b>1.2"), "{page}");
    assert!(page.contains(&format!("<title>{HOSTILE_HTML} · Linxdot Exporter</title>")));
    assert!(page.contains(&format!("<h1>{HOSTILE_HTML}</h1>")));
    assert_eq!(cell(&page, "Name"), HOSTILE_HTML);
    assert_eq!(
        cell(&page, "Firmware"),
        "fw &lt;b&gt;1.2&lt;/b&gt; &amp; &#39;more&#39;"
    );
    assert_eq!(cell(&page, "Model"), "LD-1002");
    assert_eq!(cell(&page, "Region"), "EU868");
    assert_eq!(cell(&page, "CPU temperature"), "48.2 °C");
    assert_eq!(cell(&page, "CPU usage"), "12.3 %");
    assert_eq!(cell(&page, "Memory used"), "62.0 %");
    assert_eq!(cell(&page, "Storage used"), "88.0 %");
    assert!(
        cell(&page, "Dashboard poll").starts_with("good, "),
        "{page}"
    );
    assert!(page.contains("<td class=\"good\">good, "), "{page}");
    assert!(page.contains("<meta name=\"viewport\""));
    assert!(page.contains("<a href=\"/metrics\">Metrics</a>"));
    assert_eq!(cell(&page, "Version"), env!("CARGO_PKG_VERSION"));
    assert!(cell(&page, "Uptime").ends_with(" s"), "{page}");
    assert!(
        !page.contains("<script") && !page.contains("src="),
        "nothing loaded"
    );
    assert!(page.len() < 8 * 1024, "{} bytes", page.len());
    // The metrics say the same as the page.
    assert_eq!(sample(&exp.scrape(), "miner_cpu_temp"), Some(48.25));

    // The dashboard fails: the page says so, why, and since when it was good.
    sim.set_fault(Fault::ServerError);
    let page = page_until(&exp, "failed poll", |p| p.contains("failed "));
    let poll = cell(&page, "Dashboard poll");
    assert!(
        poll.contains(&format!(
            " ago (http): dashboard HTTP error: http://{host}/info/system answered 500"
        )),
        "{poll}"
    );
    // The page names the dashboard it polls.
    assert_eq!(cell(&page, "Dashboard"), format!("http://{host}/"));
    assert!(page.contains("<td class=\"bad\">failed "), "{page}");
    assert!(cell(&page, "Last good poll").ends_with(" ago"), "{page}");
    assert_eq!(cell(&page, "CPU temperature"), "–");
}

#[test]
fn without_credentials_the_page_says_the_miner_is_not_polled() {
    let exp = Exporter::start(&[], &[]);
    let page = exp.get("/").body;
    assert!(page.contains("<h1>Linxdot Exporter</h1>"), "{page}");
    assert!(!page.contains("<h2>Miner</h2>"), "{page}");
    assert_eq!(
        cell(&page, "miner"),
        "not polling the dashboard at 127.0.0.1: no username and password"
    );
    // A flag stays on one line (<code>, white-space: nowrap).
    assert_eq!(
        cell(&page, "temper"),
        "USB sensors are off (<code>--no-temper</code>)"
    );
}

#[test]
fn the_page_lists_each_temper_sensor_with_its_readings() {
    let bus = SimBus::new();
    bus.plug(
        "/dev/hidraw1",
        MICRODIA_7401,
        1,
        "usb-1.2/input1",
        Behaviour::new(b"TEMPer2_M12_V1.3", "80 04 15 A0 14 A0"),
    );
    bus.plug(
        "/dev/hidraw3",
        MICRODIA_7402,
        1,
        "usb-1.3/input1",
        Behaviour::new(b"TEMPer1F_H1V1.5F", "80 04 19 A8 06 CE"),
    );
    let config = TemperConfig {
        enabled: true,
        rescan_interval: Duration::from_millis(40),
        offsets: Vec::new(),
    };
    let timing = Timing {
        poll_interval: Duration::from_millis(20),
        ..Timing::default()
    };
    let mut registry = Registry::new();
    registry.register(Box::new(TemperCollector::with_backend(
        &config,
        bus.backend(),
        timing,
    )));
    registry.register(Box::new(BuildInfoCollector));
    let listener = http::bind(Some("127.0.0.1".parse().unwrap()), 0, None).unwrap();
    let server = http::serve(listener, App::new(registry), ServerConfig::default()).unwrap();
    let addr = server.local_addr();
    let page = wait::poll(
        "three sensors on the page",
        wait::TIMEOUT,
        Duration::from_millis(20),
        || {
            let page = get(addr, "/").body;
            if page.matches("<small>").count() == 3 {
                Ok(page)
            } else {
                Err(page)
            }
        },
    );
    let metrics = get(addr, "/metrics").body;
    let value = |family: &str, name: &str, phy: &str| {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with(family)
                    && l.contains(&format!("name=\"{name}\""))
                    && l.contains(&format!("phy=\"{phy}\""))
            })
            .unwrap_or_else(|| panic!("{family} {name} {phy}:\n{metrics}"));
        line.rsplit(' ').next().unwrap().parse::<f64>().unwrap()
    };
    let t = |name, phy| format!("{:.1} °C", value("temper_temperature_celsius", name, phy));
    let h = |name, phy| format!("{:.1} %RH", value("temper_humidity_rh", name, phy));
    let internal = format!(
        "<tr><th>TEMPer2 internal<small>usb-1.2/input1</small></th><td>{}</td></tr>",
        t("internal", "usb-1.2/input1")
    );
    let external = format!(
        "<tr><th>TEMPer2 external<small>usb-1.2/input1</small></th><td>{}</td></tr>",
        t("external", "usb-1.2/input1")
    );
    let hum = format!(
        "<small>usb-1.3/input1</small></th><td>{} · {}</td></tr>",
        t("", "usb-1.3/input1"),
        h("", "usb-1.3/input1")
    );
    for want in [&internal, &external, &hum] {
        assert!(page.contains(want.as_str()), "{want}\n{page}");
    }
    assert!(page.contains("<h2>TEMPer sensors</h2>"));
}

/// A refused login on the page: the dashboard's address, what was tried
/// (never the password), what to check, and when the next attempt comes.
#[test]
fn a_refused_login_says_what_was_tried_what_to_check_and_when_it_tries_again() {
    let sim = Dashboard::start_on("127.0.0.1:0", "admin", "right").unwrap();
    let host = sim.host();
    let exp = Exporter::start(
        &["-o", &host, "-u", "admin", "-p", "Wr0ng-pw", "-r", "0.5"],
        &[],
    );
    let page = page_until(&exp, "a poll waiting out the back-off", |p| {
        p.contains("(login_backoff): ")
    });
    assert_eq!(cell(&page, "Dashboard"), format!("http://{host}/"));
    let poll = cell(&page, "Dashboard poll");
    let why = format!(
        "the dashboard at {host} refused user &#39;admin&#39; with MD5-hashed credentials \
         (/login_odd answered 403): check the user and password (<code>-u</code>, \
         <code>-p</code> or <code>--password-file</code>), or add <code>-a</code> if it wants \
         them as typed; retrying after 0.5 s, then twice as long after each failure, at most \
         15 min"
    );
    let (head, tail) = poll
        .split_once(" s: the last one failed: ")
        .unwrap_or_else(|| panic!("{poll}"));
    assert_eq!(tail, why);
    assert!(
        head.starts_with("failed ")
            && head.contains(" ago (login_backoff): next login attempt in "),
        "{poll}"
    );
    assert!(page.contains("<td class=\"bad\">failed "), "{page}");
    assert!(!page.contains("Wr0ng-pw"), "{page}");
}
