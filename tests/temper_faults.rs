//! TEMPer devices that misbehave: garbage, short replies, random bytes, and a
//! device that comes and goes every few hundred milliseconds. The real
//! collector runs over the simulated bus; it must never panic, never serve a
//! reading it could not decode, and keep its counters monotonic.

use linxdot_exporter::temper::Config as TemperConfig;
use linxdot_exporter::temper::{TemperCollector, Timing};
use linxdot_sim::hid::{
    hex, reports, version16, wait_for, Behaviour, SimBus, MICRODIA_7401, QINHENG_E025,
};
use linxdot_sim::text::sample;
use std::time::{Duration, Instant};

fn timing() -> Timing {
    Timing {
        poll_interval: Duration::from_millis(10),
        read_timeout: Duration::from_millis(100),
        follow_up_timeout: Duration::from_millis(50),
        drain_timeout: Duration::from_millis(2),
        stale_after: Duration::from_secs(2),
        max_timeouts: 2,
    }
}

fn config() -> TemperConfig {
    TemperConfig {
        enabled: true,
        rescan_interval: Duration::from_millis(30),
        offsets: vec![],
    }
}

/// Renders for `window`, checking every body; returns the last one.
fn watch(c: &TemperCollector, window: Duration, mut check: impl FnMut(&str)) -> String {
    let end = Instant::now() + window;
    let mut body = c.render();
    while Instant::now() < end {
        check(&body);
        std::thread::sleep(Duration::from_millis(5));
        body = c.render();
    }
    check(&body);
    body
}

#[test]
fn garbage_replies_give_no_reading_and_count_errors() {
    let phy = "usb-garbage-1/input1";
    let bus = SimBus::new();
    let dev = bus.plug(
        "/dev/hidraw60",
        MICRODIA_7401,
        1,
        phy,
        Behaviour::new(
            &version16("TEMPer2_M12_V1.3", b' '),
            "FF FF FF FF FF FF FF FF",
        ),
    );
    let c = TemperCollector::with_backend(&config(), bus.backend(), timing());
    let errors = format!("temper_read_errors_total{{phy=\"{phy}\"}}");
    wait_for(&c, "read errors", |b| {
        sample(b, &errors).is_some_and(|v| v >= 2.0)
    });
    watch(&c, Duration::from_millis(300), |b| {
        assert!(
            !b.contains(&format!("phy=\"{phy}\",")),
            "a reading from garbage:\n{b}"
        );
    });
    assert_eq!(dev.overlaps(), 0);
    // The same device, now answering properly, reads again.
    dev.change(|b| b.reading = reports(&hex("80 04 15 A0 14 A0")));
    wait_for(&c, "a good reading", |b| {
        b.contains(&format!(
            "phy=\"{phy}\",version=\"TEMPer2_M12_V1.3\"}} 20.625"
        ))
    });
}

#[test]
fn short_replies_leave_the_missing_readings_out() {
    let phy = "usb-short-1/input1";
    let bus = SimBus::new();
    // TEMPer2 needs bytes 2..6; the device sends four bytes.
    let mut behaviour = Behaviour::new(&version16("TEMPer2_M12_V1.3", b' '), "");
    behaviour.reading = vec![hex("80 04 15 A0")];
    let dev = bus.plug("/dev/hidraw61", MICRODIA_7401, 1, phy, behaviour);
    let c = TemperCollector::with_backend(&config(), bus.backend(), timing());
    let internal = format!("temper_temperature_celsius{{name=\"internal\",phy=\"{phy}\"");
    let external = format!("temper_temperature_celsius{{name=\"external\",phy=\"{phy}\"");
    let body = wait_for(&c, "the internal reading", |b| b.contains(&internal));
    assert!(
        body.contains(&format!(
            "{internal},version=\"TEMPer2_M12_V1.3\"}} 21.625\n"
        )),
        "{body}"
    );
    watch(&c, Duration::from_millis(200), |b| {
        assert!(!b.contains(&external), "{b}")
    });
    // A reply of two bytes: nothing at all, and no panic.
    dev.change(|b| b.reading = vec![hex("80 04")]);
    wait_for(&c, "the readings to go", |b| !b.contains(&internal));
    watch(&c, Duration::from_millis(200), |b| {
        assert!(!b.contains(&internal) && !b.contains(&external), "{b}")
    });
}

#[test]
fn random_replies_never_break_the_collector() {
    let phy = "usb-random-1/input1";
    let bus = SimBus::new();
    let dev = bus.plug(
        "/dev/hidraw62",
        QINHENG_E025,
        1,
        phy,
        Behaviour::new(
            &version16("TEMPer2_V3.7", b' '),
            "80 80 0D 54 4E 20 00 00 80 01 0A F0 4E 20 00 00",
        ),
    );
    let c = TemperCollector::with_backend(&config(), bus.backend(), timing());
    wait_for(&c, "a first reading", |b| {
        b.contains(&format!("phy=\"{phy}\""))
    });
    // xorshift: the same bytes every run.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..150 {
        let len = (next() % 20) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 && !bytes.is_empty() {
            bytes[0] = 0x80; // looks like a reading
        }
        let split = (next() % 3) as usize;
        dev.change(|b| {
            b.reading = bytes.chunks(8.max(split * 4)).map(<[u8]>::to_vec).collect();
            if round % 10 == 0 {
                b.version = (0..16).map(|_| (next() % 256) as u8).collect();
            }
        });
        std::thread::sleep(Duration::from_millis(3));
        let body = c.render();
        for line in body.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit_once(' ').unwrap().1;
            let v: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line}"));
            assert!(v.is_finite(), "{line}");
            if line.starts_with("temper_humidity_rh") {
                assert!((0.0..=100.0).contains(&v), "{line}");
            }
            // A version label never carries control characters.
            assert!(!line.chars().any(|ch| ch.is_control()), "{line:?}");
        }
    }
    assert_eq!(dev.overlaps(), 0);
}

#[test]
fn a_device_that_comes_and_goes_keeps_counters_monotonic() {
    let phy = "usb-flappy-1/input1";
    let bus = SimBus::new();
    let c = TemperCollector::with_backend(&config(), bus.backend(), timing());
    let errors = format!("temper_read_errors_total{{phy=\"{phy}\"}}");
    let behaviour = || {
        Behaviour::new(
            &version16("TEMPerGold_V3.4", b' '),
            "80 01 08 CA 4E 20 00 00",
        )
    };
    let mut devices = Vec::new();
    let mut last_errors = 0.0;
    for cycle in 0..8 {
        let path = format!("/dev/hidraw{}", 70 + cycle % 3);
        devices.push(bus.plug(&path, QINHENG_E025, 1, phy, behaviour()));
        let end = Instant::now() + Duration::from_millis(150);
        while Instant::now() < end {
            let body = c.render();
            let now = sample(&body, &errors).unwrap_or(last_errors);
            assert!(
                now >= last_errors,
                "counter went back from {last_errors} to {now}"
            );
            last_errors = now;
            assert!(
                body.matches(&format!("phy=\"{phy}\",")).count() <= 1,
                "{body}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        bus.unplug(&path);
        std::thread::sleep(Duration::from_millis(100));
    }
    devices.push(bus.plug("/dev/hidraw79", QINHENG_E025, 1, phy, behaviour()));
    let body = wait_for(&c, "the device to settle", |b| {
        b.contains("temper_devices 1.0\n") && b.contains(" 22.5\n")
    });
    assert!(sample(&body, &errors).unwrap() >= last_errors);
    for d in &devices {
        assert_eq!(d.overlaps(), 0, "two threads talked to one device at once");
        assert!(d.max_open_at_once() <= 1);
    }
}
