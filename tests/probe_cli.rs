//! `/probe` through the real binary: flags, environment, byte-identical
//! families, SIGHUP, and no password in the log.

use linxdot_sim::dashboard::{Dashboard, Fault};
use linxdot_sim::exporter::{command, Exporter};
use linxdot_sim::http::{get, HttpAnswer};
use linxdot_sim::text::{family_block, sample};
use linxdot_sim::wait;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("linxdot-probe-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_0600(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn probe(exp: &Exporter, target: &str) -> HttpAnswer {
    exp.get(&format!("/probe?target={target}"))
}

#[test]
fn probe_families_are_written_as_metrics_writes_them() {
    let sim = Dashboard::start();
    let host = sim.host();
    let exp = Exporter::start(
        &[
            "-u",
            "admin",
            "--host",
            &host,
            "-r",
            "3600",
            "--probe-allow",
            "127.0.0.1",
        ],
        &[("MINER_PASSWORD", "admin")],
    );
    let metrics = exp.scrape_until(WAIT, |b| sample(b, "miner_up") == Some(1.0));
    let answer = probe(&exp, &host);
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let probed = answer.body;
    for family in [
        "miner_exporter_info",
        "miner_cpu_temp",
        "miner_cpu_usage",
        "miner_mem_usage",
        "miner_sto_usage",
        "miner_up",
        "miner_poll_errors_total",
    ] {
        let block = family_block(&metrics, family);
        assert!(!block.is_empty(), "{family} missing from /metrics");
        assert_eq!(family_block(&probed, family), block, "{family}");
    }
    for family in [
        "miner_last_success_timestamp_seconds",
        "miner_poll_duration_seconds",
    ] {
        let meta = |body: &str| {
            family_block(body, family)
                .lines()
                .filter(|l| l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(meta(&probed), meta(&metrics), "{family}");
        assert!(sample(&probed, family).is_some(), "{family}");
    }
    // Only the miner's families, then the blackbox pair.
    let names: Vec<&str> = probed
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(names.len(), 11, "{names:?}");
    assert!(
        names[..9].iter().all(|n| n.starts_with("miner_")),
        "{names:?}"
    );
    assert_eq!(names[9..], ["probe_duration_seconds", "probe_success"]);
    assert_eq!(sample(&probed, "probe_success"), Some(1.0));
    // /metrics is unchanged by /probe.
    assert!(!exp.scrape().contains("probe_"));
}

#[test]
fn a_fleet_through_the_binary() {
    let sims: Vec<Dashboard> = (0..20)
        .map(|i| {
            let d = Dashboard::start();
            d.set_system_json(&format!(
                r#"{{"animal_name":"animal-{i}","firmware":"f","model_name":"m","region":"EU868","sn":"S{i}","cpu_temp":{i}.5,"cpu_usage":1,"memory_usage":2,"storage_usage":3}}"#
            ));
            d
        })
        .collect();
    let exp = std::sync::Arc::new(Exporter::start(
        &["--thread-count", "24"],
        &[
            ("MINER_USERNAME", "admin"),
            ("MINER_PASSWORD", "admin"),
            ("MINER_HOST", "127.0.0.1:9"),
            ("PROBE_ALLOW", "10.0.0.0/8 127.0.0.1 *.lan"),
        ],
    ));
    let (tx, rx) = mpsc::channel();
    for (i, sim) in sims.iter().enumerate() {
        let (exp, tx, host) = (std::sync::Arc::clone(&exp), tx.clone(), sim.host());
        thread::spawn(move || {
            let _ = tx.send((i, probe(&exp, &host)));
        });
    }
    drop(tx);
    let mut seen = 0;
    for (i, answer) in rx {
        seen += 1;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.contains(&format!("animal_name=\"animal-{i}\"")));
        assert_eq!(sample(&answer.body, "miner_cpu_temp"), Some(i as f64 + 0.5));
        assert_eq!(sample(&answer.body, "probe_success"), Some(1.0));
    }
    assert_eq!(seen, sims.len());
}

#[test]
fn a_scrape_never_waits_behind_probes() {
    let hanging = Dashboard::start();
    hanging.set_fault(Fault::Hang);
    let exp = Exporter::start(
        &["--thread-count", "1", "--timeout", "20"],
        &[
            ("MINER_USERNAME", "admin"),
            ("MINER_PASSWORD", "admin"),
            ("MINER_HOST", "127.0.0.1:9"),
            ("PROBE_ALLOW", "127.0.0.1"),
        ],
    );
    // Two probes of a miner that never answers: one holds the only handler
    // thread, the other queues behind it.
    let (tx, rx) = mpsc::channel();
    for _ in 0..2 {
        let (addr, tx, host) = (exp.addr, tx.clone(), hanging.host());
        thread::spawn(move || {
            let _ = tx.send(get(addr, &format!("/probe?target={host}")));
        });
    }
    wait::poll(
        "the probe reaches the miner",
        WAIT,
        Duration::from_millis(20),
        || match hanging.state().requests {
            0 => Err("no request yet".to_string()),
            _ => Ok(()),
        },
    );
    for path in ["/metrics", "/", "/metrics"] {
        let answer = exp.get(path);
        assert_eq!(answer.status, 200, "{path}");
    }
    assert!(exp.scrape().contains("linxdot_exporter_build_info"));
    // Answered while both probes still wait.
    assert!(rx.try_recv().is_err(), "a probe ended before the scrapes");
}

#[test]
fn the_password_never_reaches_the_log() {
    let secret = "Sup3r-s3cret_pw";
    let md5 = format!("{:x}", md5::compute(secret));
    let dir = temp_dir("log");
    let pw = dir.join("pw");
    write_0600(&pw, &format!("{secret}\n"));
    let good = Dashboard::start_on("127.0.0.1:0", "admin", secret).unwrap();
    let wrong = Dashboard::start_on("127.0.0.1:0", "admin", "another").unwrap();
    let hanging = Dashboard::start();
    hanging.set_fault(Fault::Hang);
    let pw_arg = pw.to_str().unwrap();
    let exp = Exporter::start(
        &[
            "--debug",
            "-u",
            "admin",
            "--password-file",
            pw_arg,
            "--host",
            "127.0.0.1:9",
            "--probe-allow",
            "127.0.0.1",
            "--timeout",
            "1",
        ],
        &[],
    );
    assert_eq!(
        sample(&probe(&exp, &good.host()).body, "probe_success"),
        Some(1.0)
    );
    assert_eq!(
        sample(&probe(&exp, &wrong.host()).body, "probe_success"),
        Some(0.0)
    );
    assert_eq!(
        sample(&probe(&exp, &hanging.host()).body, "probe_success"),
        Some(0.0)
    );
    assert_eq!(probe(&exp, "127.0.0.2:80").status, 403);
    assert_eq!(
        probe(&exp, &format!("admin:{secret}@127.0.0.1")).status,
        400
    );
    let log = exp.wait_for_log("login failed", WAIT);
    assert!(!log.contains(secret), "password in the log:\n{log}");
    assert!(!log.contains(&md5), "password's MD5 in the log:\n{log}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sighup_rereads_the_credentials_file_and_a_bad_one_is_kept_out() {
    let dir = temp_dir("hup");
    let sim = Dashboard::start_on("127.0.0.1:0", "admin", "first").unwrap();
    write_0600(&dir.join("a.pw"), "first\n");
    let creds = dir.join("creds");
    write_0600(&creds, &format!("{} admin a.pw\n", sim.host()));
    let exp = Exporter::start(
        &[
            "--probe-allow",
            "127.0.0.1",
            "--probe-credentials",
            creds.to_str().unwrap(),
            "-r",
            "0.1",
        ],
        &[],
    );
    let success = |exp: &Exporter| sample(&probe(exp, &sim.host()).body, "probe_success");
    assert_eq!(success(&exp), Some(1.0));
    // The dashboard's password changes: the next login fails.
    sim.state().password = "second".into();
    sim.expire_sessions();
    assert_eq!(success(&exp), Some(0.0));
    // The new password, then SIGHUP: the next probe uses it.
    write_0600(&dir.join("a.pw"), "second\n");
    // SAFETY: kill(2) on the PID of a child this test started.
    assert_eq!(unsafe { libc::kill(exp.pid() as i32, libc::SIGHUP) }, 0);
    // The signal is handled asynchronously: probe until the new password is in.
    linxdot_sim::wait::poll(
        "the new password to be used",
        WAIT,
        Duration::from_millis(20),
        || match success(&exp) {
            Some(1.0) => Ok(()),
            _ => Err(exp.log()),
        },
    );
    exp.wait_for_log("read again (1 entries)", WAIT);
    // A broken file: logged, the one in force stays.
    write_0600(&creds, "this is not a credentials line\n");
    assert_eq!(unsafe { libc::kill(exp.pid() as i32, libc::SIGHUP) }, 0);
    linxdot_sim::wait::poll(
        "the bad file to be refused",
        WAIT,
        Duration::from_millis(20),
        || {
            sim.expire_sessions();
            assert_eq!(success(&exp), Some(1.0), "log:\n{}", exp.log());
            let log = exp.log();
            match log.contains("keeping the credentials in force") {
                true => Ok(()),
                false => Err(log),
            }
        },
    );
    sim.expire_sessions();
    assert_eq!(success(&exp), Some(1.0));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_probe_flags_exit_2_with_a_reason() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let table: &[Case] = &[
        (&["--probe-allow", "10.0.0.0/33"], &[], "'10.0.0.0/33'"),
        (&["--probe-allow", "http://x"], &[], "'http://x'"),
        (&[], &[("PROBE_ALLOW", "10.0.0.1 a..b")], "'a..b'"),
        (
            &[
                "--probe-allow",
                "10.0.0.1",
                "--probe-credentials",
                "/nonexistent/creds",
            ],
            &[],
            "cannot read '/nonexistent/creds'",
        ),
    ];
    for (args, env, want) in table {
        let mut all = vec!["--bind-address", "127.0.0.1", "--port", "0", "--no-temper"];
        all.extend_from_slice(args);
        let out = command(&all, env).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn without_patterns_probe_says_how_to_turn_it_on() {
    let exp = Exporter::start(&[], &[]);
    let answer = probe(&exp, "127.0.0.1");
    assert_eq!(answer.status, 404);
    assert!(answer.body.contains("--probe-allow"), "{}", answer.body);
}
