//! The TEMPer collector, the real one, over a simulated USB bus.

use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

use linxdot_exporter::temper::{list_sensors_with, HidapiBackend, TemperCollector, Timing};
use linxdot_exporter::temper::{Config as TemperConfig, Quantity, SensorOffset};
use linxdot_sim::hid::{
    hex, version16, wait_for, Behaviour, SimBus, MICRODIA_7401, MICRODIA_7402, PCSENSOR_3553,
    PCSENSOR_413D, QINHENG_E025, READ_QUERY, VERSION_QUERY,
};
use linxdot_sim::text::{sample, samples};
use linxdot_sim::wait;

const HEADER_T: &str = "# HELP temper_temperature_celsius Temperature reading\n\
                        # TYPE temper_temperature_celsius gauge\n";
const HEADER_H: &str = "# HELP temper_humidity_rh Relative humidity reading\n\
                        # TYPE temper_humidity_rh gauge\n";
const HEADER_DEVICES: &str =
    "# HELP temper_devices Number of TEMPer USB devices open and identified now\n\
     # TYPE temper_devices gauge\n";
const HEADER_ERRORS: &str = "# HELP temper_read_errors_total Failed exchanges with a TEMPer \
     device (I/O errors, timeouts, no version reply)\n\
     # TYPE temper_read_errors_total counter\n";

/// Short clocks so the whole suite runs in seconds.
fn fast() -> Timing {
    Timing {
        poll_interval: Duration::from_millis(20),
        read_timeout: Duration::from_millis(300),
        follow_up_timeout: Duration::from_millis(100),
        drain_timeout: Duration::from_millis(2),
        stale_after: Duration::from_secs(2),
        max_timeouts: 2,
    }
}

fn config(offsets: Vec<SensorOffset>) -> TemperConfig {
    TemperConfig {
        enabled: true,
        rescan_interval: Duration::from_millis(40),
        offsets,
    }
}

fn log_path() -> PathBuf {
    std::env::temp_dir().join(format!("temper-test-{}.log", std::process::id()))
}

/// All tests of this binary log to one file; each test greps its own
/// (unique) node paths and phys.
fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = std::fs::remove_file(log_path());
        linxdot_exporter::log::init(Some(&log_path()), true).expect("log file");
    });
}

fn log_lines(level: &str, needle: &str) -> Vec<String> {
    std::fs::read_to_string(log_path())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!(" {level} ")) && l.contains(needle))
        .map(str::to_string)
        .collect()
}

const PHY_T2: &str = "usb-3f980000.usb-1.4/input1";
const PHY_HUM: &str = "usb-3f980000.usb-1.3/input1";

#[test]
fn upstream_readme_lines_come_out_byte_for_byte() {
    capture_logs();
    let bus = SimBus::new();
    let t2 = bus.plug(
        "/dev/hidraw1",
        MICRODIA_7401,
        1,
        PHY_T2,
        Behaviour::new(b"TEMPer2_M12_V1.3", "80 04 15 A0 14 A0"),
    );
    // The keyboard interfaces of both: never opened.
    let kbd1 = bus.plug(
        "/dev/hidraw0",
        MICRODIA_7401,
        0,
        "usb-3f980000.usb-1.4/input0",
        Behaviour::new(b"TEMPer2_M12_V1.3", "80 04 15 A0 14 A0"),
    );
    let hum = bus.plug(
        "/dev/hidraw3",
        MICRODIA_7402,
        1,
        PHY_HUM,
        Behaviour::new(b"TEMPer1F_H1V1.5F", "80 04 19 A8 06 CE"),
    );
    let kbd2 = bus.plug(
        "/dev/hidraw2",
        MICRODIA_7402,
        0,
        "usb-3f980000.usb-1.3/input0",
        Behaviour::new(b"TEMPer1F_H1V1.5F", "80 04 19 A8 06 CE"),
    );
    let c = TemperCollector::with_backend(&config(vec![]), bus.backend(), fast());
    let body = wait_for(&c, "both devices", |b| {
        samples(b, "temper_temperature_celsius").len() == 3
            && samples(b, "temper_humidity_rh").len() == 1
    });

    // The upstream README's lines, verbatim.
    let readme = r#"
temper_temperature_celsius{name="internal",phy="usb-3f980000.usb-1.4/input1",version="TEMPer2_M12_V1.3"} 21.625
temper_temperature_celsius{name="external",phy="usb-3f980000.usb-1.4/input1",version="TEMPer2_M12_V1.3"} 20.625
temper_temperature_celsius{name="",phy="usb-3f980000.usb-1.3/input1",version="TEMPer1F_H1V1.5F"} 25.980000000000004
temper_humidity_rh{name="",phy="usb-3f980000.usb-1.3/input1",version="TEMPer1F_H1V1.5F"} 57.18932593800001
"#;
    for line in readme.lines().filter(|l| !l.is_empty()) {
        assert!(body.lines().any(|l| l == line), "missing {line}\n{body}");
    }
    // The whole body: devices sorted by phy (1.3 before 1.4), internal
    // before external, every family present once.
    let want = format!(
        "{HEADER_T}\
temper_temperature_celsius{{name=\"\",phy=\"usb-3f980000.usb-1.3/input1\",version=\"TEMPer1F_H1V1.5F\"}} 25.980000000000004
temper_temperature_celsius{{name=\"internal\",phy=\"usb-3f980000.usb-1.4/input1\",version=\"TEMPer2_M12_V1.3\"}} 21.625
temper_temperature_celsius{{name=\"external\",phy=\"usb-3f980000.usb-1.4/input1\",version=\"TEMPer2_M12_V1.3\"}} 20.625
{HEADER_H}\
temper_humidity_rh{{name=\"\",phy=\"usb-3f980000.usb-1.3/input1\",version=\"TEMPer1F_H1V1.5F\"}} 57.18932593800001
{HEADER_DEVICES}\
temper_devices 2.0
{HEADER_ERRORS}\
temper_read_errors_total{{phy=\"usb-3f980000.usb-1.3/input1\"}} 0.0
temper_read_errors_total{{phy=\"usb-3f980000.usb-1.4/input1\"}} 0.0
"
    );
    assert_eq!(body, want);

    // Interface 0 (the keyboard) is never opened.
    assert_eq!(kbd1.opens(), 0);
    assert_eq!(kbd2.opens(), 0);
    // The bytes on the wire: report id 0 + 8 command bytes; version first.
    for dev in [&t2, &hum] {
        let writes = dev.writes();
        assert_eq!(writes[0], VERSION_QUERY);
        assert!(writes[1..].iter().all(|w| w.as_slice() == READ_QUERY));
        assert!(writes.len() >= 3, "warm-up read and a kept one");
        assert_eq!(dev.opens(), 1);
        assert_eq!(dev.overlaps(), 0);
    }
    let found = log_lines("INFO", "usb-3f980000.usb-1.4/input1");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("TEMPer2 version \"TEMPer2_M12_V1.3\""));
}

#[test]
fn with_no_device_the_families_are_still_there() {
    let bus = SimBus::new();
    let c = TemperCollector::with_backend(&config(vec![]), bus.backend(), fast());
    wait::until("a scan", || bus.enumerations() >= 2);
    assert_eq!(
        c.render(),
        format!("{HEADER_T}{HEADER_H}{HEADER_DEVICES}temper_devices 0.0\n{HEADER_ERRORS}")
    );
}

#[test]
fn padded_versions_junk_stale_reports_two_reports_and_absent_sensors() {
    let bus = SimBus::new();
    // TEMPer2_V3.7 + 4 spaces, two-report replies, stale reports queued at
    // open (a reading, the tail of an old version reply), the first two
    // version queries unanswered.
    let mut b = Behaviour::new(
        &version16("TEMPer2_V3.7", b' '),
        "80 80 0D 54 4E 20 00 00 80 01 0A F0 4E 20 00 00",
    );
    b.stale_at_open = vec![hex("80 80 01 02 4E 20 00 00"), b"V3.7    ".to_vec()];
    b.ignore_version_queries = 2;
    let t2a = bus.plug("/dev/hidraw10", QINHENG_E025, 1, "usb-pad-1.1/input1", b);
    // TEMPer2_V4.1 + 4 NULs; a late reading report slips in before the
    // version reply (after the drain).
    let mut b = Behaviour::new(
        &version16("TEMPer2_V4.1", 0),
        "80 80 08 53 4E 20 00 00 80 01 06 97 4E 20 00 00",
    );
    b.late = vec![hex("80 80 09 99 4E 20 00 00")];
    let t2b = bus.plug("/dev/hidraw11", PCSENSOR_3553, 1, "usb-pad-1.2/input1", b);
    // TEMPerX with a junk tail; humidity and the whole probe absent.
    bus.plug(
        "/dev/hidraw12",
        PCSENSOR_413D,
        1,
        "usb-pad-1.3/input1",
        Behaviour::new(
            b"TEMPerX_V3.3\x00\xff\x13\x07",
            "80 01 08 DC 4E 20 00 00 80 01 4E 20 4E 20 00 00",
        ),
    );
    // TEMPer1F_V1.3 answers `TEMPer1F_V1.3r1F`; probe at offset 4, below 0.
    bus.plug(
        "/dev/hidraw13",
        MICRODIA_7401,
        1,
        "usb-pad-1.4/input1",
        Behaviour::new(b"TEMPer1F_V1.3r1F", "80 04 00 00 FE 30"),
    );
    // Negative external temperature on a 0c45 TEMPer2.
    bus.plug(
        "/dev/hidraw14",
        MICRODIA_7401,
        1,
        "usb-pad-1.5/input1",
        Behaviour::new(b"TEMPer2V1.3\0\0\0\0\0", "80 04 05 80 FE 30"),
    );
    // The newer hygrometer, with the first half of an old version reply and
    // an old reading still queued when it is opened.
    let mut b = Behaviour::new(
        &version16("TEMPerHUM_V3.8", b' '),
        "80 20 09 01 11 93 00 00",
    );
    b.stale_at_open = vec![b"TEMPer2_".to_vec(), hex("80 20 01 01 01 01 00 00")];
    bus.plug("/dev/hidraw15", QINHENG_E025, 1, "usb-pad-1.6/input1", b);
    let c = TemperCollector::with_backend(&config(vec![]), bus.backend(), fast());
    let want_t = [
        r#"temper_temperature_celsius{name="internal",phy="usb-pad-1.1/input1",version="TEMPer2_V3.7"} 34.12"#,
        r#"temper_temperature_celsius{name="external",phy="usb-pad-1.1/input1",version="TEMPer2_V3.7"} 28.0"#,
        r#"temper_temperature_celsius{name="internal",phy="usb-pad-1.2/input1",version="TEMPer2_V4.1"} 21.31"#,
        r#"temper_temperature_celsius{name="external",phy="usb-pad-1.2/input1",version="TEMPer2_V4.1"} 16.87"#,
        r#"temper_temperature_celsius{name="internal",phy="usb-pad-1.3/input1",version="TEMPerX_V3.3"} 22.68"#,
        r#"temper_temperature_celsius{name="",phy="usb-pad-1.4/input1",version="TEMPer1F_V1.3r1F"} -1.8125"#,
        r#"temper_temperature_celsius{name="internal",phy="usb-pad-1.5/input1",version="TEMPer2V1.3"} 5.5"#,
        r#"temper_temperature_celsius{name="external",phy="usb-pad-1.5/input1",version="TEMPer2V1.3"} -1.8125"#,
        r#"temper_temperature_celsius{name="",phy="usb-pad-1.6/input1",version="TEMPerHUM_V3.8"} 23.05"#,
    ];
    let body = wait_for(&c, "all nine temperatures", |b| {
        samples(b, "temper_temperature_celsius").len() == want_t.len()
    });
    assert_eq!(
        samples(&body, "temper_temperature_celsius"),
        want_t,
        "{body}"
    );
    assert_eq!(
        samples(&body, "temper_humidity_rh"),
        [r#"temper_humidity_rh{name="",phy="usb-pad-1.6/input1",version="TEMPerHUM_V3.8"} 44.99"#]
    );
    assert!(
        !body.contains(" 200.0"),
        "4E 20 exported as a value:\n{body}"
    );
    assert!(body.contains("temper_devices 6.0\n"));
    // Two unanswered version queries, then the third one worked.
    assert_eq!(t2a.count_writes(&VERSION_QUERY), 3);
    // The late report was skipped, not mistaken for the version: identified
    // at the first try, on the first open.
    assert_eq!(t2b.count_writes(&VERSION_QUERY), 1);
    assert_eq!(t2b.opens(), 1);
    // Retries inside one identification are not failed exchanges.
    assert_eq!(
        sample(
            &body,
            r#"temper_read_errors_total{phy="usb-pad-1.1/input1"}"#
        ),
        Some(0.0),
        "{body}"
    );
}

#[test]
fn hot_plug_appear_disappear_return() {
    capture_logs();
    let phy = "usb-hotplug-1.2/input1";
    let line = format!(
        r#"temper_temperature_celsius{{name="",phy="{phy}",version="TEMPerGold_V3.4"}} 22.5"#
    );
    let bus = SimBus::new();
    let c = TemperCollector::with_backend(&config(vec![]), bus.backend(), fast());
    wait::until("a scan", || bus.enumerations() >= 1);
    assert!(samples(&c.render(), "temper_temperature_celsius").is_empty());

    let gold = || Behaviour::new(&version16("TEMPerGold_V3.4", 0), "80 01 08 CA 4E 20 00 00");
    let first = bus.plug("/dev/hidraw20", QINHENG_E025, 1, phy, gold());
    let body = wait_for(&c, "the device to appear", |b| b.contains(&line));
    assert!(body.contains("temper_devices 1.0\n"));

    bus.unplug("/dev/hidraw20");
    let errors = format!(r#"temper_read_errors_total{{phy="{phy}"}}"#);
    let body = wait_for(&c, "the device to go", |b| {
        !b.contains(&line) && b.contains("temper_devices 0.0\n")
    });
    let after_unplug = sample(&body, &errors).expect("the counter stays");
    assert!(after_unplug >= 1.0, "{body}");
    let closed = log_lines("WARN", phy);
    assert_eq!(closed.len(), 1, "one line per drop: {closed:?}");
    assert!(closed[0].contains("closed"), "{closed:?}");

    // Back in, on another node as the kernel may do.
    let second = bus.plug("/dev/hidraw21", QINHENG_E025, 1, phy, gold());
    let body = wait_for(&c, "the device to return", |b| b.contains(&line));
    assert!(body.contains("temper_devices 1.0\n"));
    assert!(
        sample(&body, &errors).unwrap() >= after_unplug,
        "never backwards"
    );
    for dev in [&first, &second] {
        assert_eq!(dev.opens(), 1);
        assert_eq!(dev.overlaps(), 0);
    }
}

#[test]
fn disconnect_in_the_middle_of_a_read() {
    capture_logs();
    let phy = "usb-midread-1.1/input1";
    let bus = SimBus::new();
    let dev = bus.plug(
        "/dev/hidraw30",
        MICRODIA_7401,
        1,
        phy,
        Behaviour::new(b"TEMPerV1.2\0\0\0\0\0\0", "80 02 1E F0"),
    );
    let mut timing = fast();
    // Reads that wait long, so the unplug surely lands inside one.
    timing.read_timeout = Duration::from_secs(5);
    timing.poll_interval = Duration::from_millis(1);
    let c = TemperCollector::with_backend(&config(vec![]), bus.backend(), timing);
    wait_for(&c, "a reading", |b| b.contains(" 30.9375\n"));
    dev.change(|b| b.silent = true);
    // Unplug while a read waits for the reply that will not come: one with
    // the long timeout, not a 2 ms drain or a 100 ms follow-up read.
    wait::until("a read waiting for a reply", || {
        matches!(dev.waiting_read(),
            Some(linxdot_sim::hid::WaitingRead::Timeout(t)) if t > Duration::from_secs(1))
    });
    let started = Instant::now();
    bus.unplug("/dev/hidraw30");
    let body = wait_for(&c, "the device to be dropped", |b| {
        b.contains("temper_devices 0.0\n")
    });
    // Dropped on the error, not after the 5 s timeout.
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!body.contains("30.9375"));
    let lines = log_lines("WARN", phy);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("I/O error"), "{lines:?}");
}

#[test]
fn calibration_offsets_are_added_and_humidity_clamped() {
    let offsets = vec![
        SensorOffset::parse("usb-cal-1.4/input1:external=-1.5", Quantity::Temperature).unwrap(),
        SensorOffset::parse("usb-cal-1.4/input1:*=0.25", Quantity::Temperature).unwrap(),
        SensorOffset::parse("usb-cal-1.3/input1:=50", Quantity::Humidity).unwrap(),
        SensorOffset::parse("usb-cal-1.3/input1:=-0.5", Quantity::Temperature).unwrap(),
        // Another device's offset does not leak.
        SensorOffset::parse("usb-other/input1:*=9", Quantity::Temperature).unwrap(),
    ];
    let bus = SimBus::new();
    bus.plug(
        "/dev/hidraw40",
        MICRODIA_7401,
        1,
        "usb-cal-1.4/input1",
        Behaviour::new(b"TEMPer2_M12_V1.3", "80 04 15 A0 14 A0"),
    );
    bus.plug(
        "/dev/hidraw41",
        MICRODIA_7402,
        1,
        "usb-cal-1.3/input1",
        Behaviour::new(b"TEMPer1F_H1V1.5F", "80 04 19 A8 06 CE"),
    );
    let c = TemperCollector::with_backend(&config(offsets), bus.backend(), fast());
    let body = wait_for(&c, "both devices", |b| {
        samples(b, "temper_temperature_celsius").len() == 3
    });
    assert_eq!(
        samples(&body, "temper_temperature_celsius"),
        [
            // 25.980000000000004 - 0.5
            r#"temper_temperature_celsius{name="",phy="usb-cal-1.3/input1",version="TEMPer1F_H1V1.5F"} 25.480000000000004"#,
            // 21.625 + 0.25
            r#"temper_temperature_celsius{name="internal",phy="usb-cal-1.4/input1",version="TEMPer2_M12_V1.3"} 21.875"#,
            // 20.625 - 1.5 + 0.25
            r#"temper_temperature_celsius{name="external",phy="usb-cal-1.4/input1",version="TEMPer2_M12_V1.3"} 19.375"#,
        ]
    );
    // 57.19 + 50, clamped.
    assert_eq!(
        samples(&body, "temper_humidity_rh"),
        [
            r#"temper_humidity_rh{name="",phy="usb-cal-1.3/input1",version="TEMPer1F_H1V1.5F"} 100.0"#
        ]
    );
}

#[test]
fn permission_denied_is_logged_once_per_node_and_retried() {
    capture_logs();
    let path = "/dev/hidraw50";
    let bus = SimBus::new();
    let dev = bus.plug(
        path,
        MICRODIA_7401,
        1,
        "usb-denied-1.1/input1",
        Behaviour::new(b"TEMPerV1.4\0\0\0\0\0\0", "80 02 13 50"),
    );
    bus.set_denied(path, true);
    let c = TemperCollector::with_backend(&config(vec![]), bus.backend(), fast());
    let seen = bus.enumerations();
    wait::until("five rescans", || bus.enumerations() >= seen + 5);
    let lines = log_lines("WARN", path);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("Permission denied"), "{lines:?}");
    assert!(lines[0].contains("run it as root"), "{lines:?}");
    assert!(lines[0].contains("hotplug"), "{lines:?}");
    assert_eq!(dev.opens(), 0);
    assert!(c.render().contains("temper_devices 0.0\n"));

    // Fixed (a hotplug rule went in): found at the next rescan.
    bus.set_denied(path, false);
    wait_for(&c, "the device", |b| b.contains(" 19.3125\n"));
    assert_eq!(log_lines("WARN", path).len(), 1);
}

#[test]
fn unknown_version_on_a_known_vid_pid_uses_the_family_default_and_warns_once() {
    capture_logs();
    let version = "TEMPerZZ_V9.9";
    let phy = "usb-unknown-1.1/input1";
    let bus = SimBus::new();
    bus.plug(
        "/dev/hidraw60",
        MICRODIA_7401,
        1,
        phy,
        Behaviour::new(&version16(version, b' '), "80 02 1E F0"),
    );
    let c = TemperCollector::with_backend(&config(vec![]), bus.backend(), fast());
    let line =
        format!(r#"temper_temperature_celsius{{name="",phy="{phy}",version="{version}"}} 30.9375"#);
    wait_for(&c, "the device", |b| b.contains(&line));
    // Replugged: identified again, still one warning.
    bus.unplug("/dev/hidraw60");
    wait_for(&c, "the device to go", |b| !b.contains(&line));
    bus.plug(
        "/dev/hidraw61",
        MICRODIA_7401,
        1,
        phy,
        Behaviour::new(&version16(version, b' '), "80 02 1E F0"),
    );
    wait_for(&c, "the device again", |b| b.contains(&line));
    let warnings = log_lines("WARN", version);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("unknown version string"),
        "{warnings:?}"
    );
}

#[test]
fn a_failed_read_drops_the_samples_at_once_and_the_device_comes_back() {
    capture_logs();
    let phy = "usb-silent-1.1/input1";
    let bus = SimBus::new();
    let dev = bus.plug(
        "/dev/hidraw70",
        PCSENSOR_3553,
        1,
        phy,
        Behaviour::new(&version16("TEMPerGold_V3.5", 0), "80 01 09 C4 4E 20 00 00"),
    );
    let c = TemperCollector::with_backend(&config(vec![]), bus.backend(), fast());
    let line = format!(
        r#"temper_temperature_celsius{{name="",phy="{phy}",version="TEMPerGold_V3.5"}} 25.0"#
    );
    wait_for(&c, "a reading", |b| b.contains(&line));
    let opened = dev.opens();
    dev.change(|b| b.silent = true);
    // The sample goes with the first failed read, well before stale_after.
    let errors = format!(r#"temper_read_errors_total{{phy="{phy}"}}"#);
    // The first body that counts the failed read no longer has the sample.
    let body = wait_for(&c, "a failed read", |b| {
        sample(b, &errors).is_some_and(|n| n >= 1.0)
    });
    assert!(!body.contains(&line), "{body}");
    // Two timeouts in a row: closed, and re-opened by a rescan.
    wait::until("a re-open", || dev.opens() > opened);
    dev.change(|b| b.silent = false);
    wait_for(&c, "the sample to return", |b| b.contains(&line));
    assert_eq!(dev.overlaps(), 0);
    assert_eq!(dev.max_open_at_once(), 1);
    // Closed more than once while silent, said once.
    let closed = log_lines("WARN", phy);
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert!(closed[0].contains("no reading in time"), "{closed:?}");
}

#[test]
fn a_hanging_device_never_delays_a_scrape() {
    let bus = SimBus::new();
    let ok_phy = "usb-hang-1.1/input1";
    let hang_phy = "usb-hang-1.2/input1";
    bus.plug(
        "/dev/hidraw80",
        QINHENG_E025,
        1,
        ok_phy,
        Behaviour::new(&version16("TEMPer1F_V3.9", 0), "80 01 08 CA 4E 20 00 00"),
    );
    let hanging = bus.plug(
        "/dev/hidraw81",
        QINHENG_E025,
        1,
        hang_phy,
        Behaviour::new(&version16("TEMPer1F_V4.1", 0), "80 01 07 D0 4E 20 00 00"),
    );
    // Hangs from the first read: never identified.
    let hung_from_start = bus.plug(
        "/dev/hidraw82",
        QINHENG_E025,
        1,
        "usb-hang-1.3/input1",
        Behaviour {
            hang: Some(Duration::from_secs(30)),
            ..Behaviour::new(&version16("TEMPer1F_V4.1", 0), "80 01 07 D0 4E 20 00 00")
        },
    );
    let mut timing = fast();
    timing.stale_after = Duration::from_millis(400);
    let c = TemperCollector::with_backend(&config(vec![]), bus.backend(), timing);
    wait_for(&c, "two readings", |b| {
        b.contains(&format!(r#"phy="{ok_phy}",version="TEMPer1F_V3.9"}} 22.5"#))
            && b.contains(&format!(
                r#"phy="{hang_phy}",version="TEMPer1F_V4.1"}} 20.0"#
            ))
    });

    // Each read now takes 30 s, whatever its timeout.
    hanging.change(|b| b.hang = Some(Duration::from_secs(30)));
    let until = Instant::now() + Duration::from_millis(800);
    let mut slowest = Duration::ZERO;
    let mut body = String::new();
    while Instant::now() < until {
        let started = Instant::now();
        body = c.render();
        slowest = slowest.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        slowest < Duration::from_secs(1),
        "a scrape took {slowest:?}"
    );
    // The stuck device's reading went stale and is gone; the other one stays.
    assert_eq!(
        samples(&body, "temper_temperature_celsius").len(),
        1,
        "{body}"
    );
    assert!(body.contains(&format!(r#"phy="{ok_phy}",version="TEMPer1F_V3.9"}} 22.5"#)));
    // No rescan opened a stuck device a second time.
    assert_eq!(hanging.opens(), 1);
    assert_eq!(hung_from_start.opens(), 1);
    assert_eq!(hanging.overlaps(), 0);
}

#[test]
fn list_sensors_prints_each_device_with_a_reading() {
    capture_logs();
    let bus = SimBus::new();
    bus.plug(
        "/dev/hidraw91",
        MICRODIA_7402,
        1,
        "usb-list-1.3/input1",
        Behaviour::new(b"TEMPer1F_H1V1.5F", "80 04 19 A8 06 CE"),
    );
    bus.plug(
        "/dev/hidraw90",
        MICRODIA_7402,
        0,
        "usb-list-1.3/input0",
        Behaviour::new(b"TEMPer1F_H1V1.5F", "80 04 19 A8 06 CE"),
    );
    bus.plug(
        "/dev/hidraw93",
        MICRODIA_7401,
        1,
        "usb-list-1.4/input1",
        Behaviour::new(b"TEMPer2_M12_V1.3", "80 04 15 B0 FE 40"),
    );
    bus.plug(
        "/dev/hidraw95",
        (0x1130, 0x660c),
        1,
        "usb-list-1.5/input1",
        Behaviour::new(b"", ""),
    );
    bus.plug(
        "/dev/hidraw97",
        PCSENSOR_413D,
        1,
        "usb-list-1.7/input1",
        Behaviour::new(b"", ""),
    );
    bus.set_denied("/dev/hidraw97", true);
    let offsets =
        vec![
            SensorOffset::parse("usb-list-1.4/input1:external=-1", Quantity::Temperature).unwrap(),
        ];
    let mut out = Vec::new();
    let mut backend = bus.backend();
    let status = list_sensors_with(&config(offsets), backend.as_mut(), &fast(), &mut out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(status, 0, "{text}");
    let want = "\
/dev/hidraw91: TEMPerHUM (0c45:7402), version \"TEMPer1F_H1V1.5F\", phy usb-list-1.3/input1
  temperature: 25.98 °C
  humidity: 57.19 %RH
/dev/hidraw93: TEMPer2 (0c45:7401), version \"TEMPer2_M12_V1.3\", phy usb-list-1.4/input1
  temperature (internal): 21.69 °C
  temperature (external): -2.75 °C (raw -1.75, calibrated)
/dev/hidraw95: HidTEMPer (1130:660c) at usb-list-1.5/input1: not supported (another command set)
/dev/hidraw97: TEMPer 413d:2107 at usb-list-1.7/input1: cannot open: Permission denied (os error 13)
  run as root, or add a hotplug/udev rule that gives access to /dev/hidraw*
";
    assert_eq!(text, want);

    // Nothing readable: status 1 and a hint.
    let empty = SimBus::new();
    let mut out = Vec::new();
    let status = list_sensors_with(&config(vec![]), empty.backend().as_mut(), &fast(), &mut out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(status, 1);
    assert!(text.contains("run it as root"), "{text}");
    assert!(text.contains("0c45:7401"), "{text}");
}

/// The real hidapi backend, on whatever this machine has. On a machine with
/// no HID device at all (build machines, CI) the outcome is exact; with HID
/// devices plugged in, it depends on them, and the test says so.
#[test]
fn the_real_hidapi_backend_on_this_machine() {
    let mut backend = HidapiBackend::new("/sys");
    let listed = linxdot_exporter::temper::Backend::enumerate(&mut backend);
    let mut out = Vec::new();
    let status = list_sensors_with(&config(vec![]), &mut backend, &Timing::default(), &mut out);
    let text = String::from_utf8(out).unwrap();
    let c = TemperCollector::start(&config(vec![]));
    let body = wait_for(&c, "a first scan", |b| b.contains(HEADER_DEVICES));
    assert!(body.starts_with(HEADER_T), "{body}");
    assert!(
        body.contains(HEADER_H) && body.contains(HEADER_ERRORS),
        "{body}"
    );
    match listed {
        Ok(devices) if devices.is_empty() => {
            assert_eq!(status, 1, "{text}");
            assert!(
                text.starts_with("No TEMPer device could be read. If one is plugged in:"),
                "{text}"
            );
            assert!(body.contains("\ntemper_devices 0.0\n"), "{body}");
        }
        Ok(devices) => {
            linxdot_sim::skip::skip(
                "part of the_real_hidapi_backend_on_this_machine",
                &format!(
                    "{} HID device(s) plugged in here, so the result depends on them",
                    devices.len()
                ),
            );
            assert_eq!(
                status == 1,
                text.contains("No TEMPer device could be read"),
                "{text}"
            );
        }
        // hidapi cannot start (no hidraw support): said, and nothing read.
        Err(e) => {
            assert_eq!(status, 1, "{text}");
            assert!(
                text.starts_with(&format!("Cannot list HID devices: {e}\n")),
                "{text}"
            );
            assert!(body.contains("\ntemper_devices 0.0\n"), "{body}");
        }
    }
}

#[test]
fn one_series_per_phy_when_a_device_is_back_before_its_old_node_failed() {
    let phy = "usb-twice-1.1/input1";
    let bus = SimBus::new();
    let old = bus.plug(
        "/dev/hidraw100",
        MICRODIA_7401,
        1,
        phy,
        Behaviour::new(b"TEMPerV1.2\0\0\0\0\0\0", "80 02 1E F0"),
    );
    let mut timing = fast();
    timing.stale_after = Duration::from_secs(30);
    let c = TemperCollector::with_backend(&config(vec![]), bus.backend(), timing);
    wait_for(&c, "the first node", |b| b.contains(" 30.9375\n"));
    // The old node's poller is stuck (its last reading still fresh) when
    // the same device shows up on a new node with a new reading.
    old.change(|b| b.hang = Some(Duration::from_secs(30)));
    wait::until("the old node's read to hang", || {
        old.waiting_read() == Some(linxdot_sim::hid::WaitingRead::Hanging)
    });
    bus.plug(
        "/dev/hidraw101",
        MICRODIA_7401,
        1,
        phy,
        Behaviour::new(b"TEMPerV1.2\0\0\0\0\0\0", "80 02 13 50"),
    );
    let body = wait_for(&c, "the new node", |b| {
        b.contains("temper_devices 2.0\n") && b.contains(" 19.3125\n")
    });
    assert_eq!(
        samples(&body, "temper_temperature_celsius"),
        [format!(
            r#"temper_temperature_celsius{{name="",phy="{phy}",version="TEMPerV1.2"}} 19.3125"#
        )],
        "{body}"
    );
}
