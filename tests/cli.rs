//! The binary's command line as a user meets it: exit codes, stderr, help,
//! the log file, and the environment.

use linxdot_sim::dashboard;
use linxdot_sim::exporter::{output, Exporter};
use linxdot_sim::text::sample;
use std::time::Duration;

#[test]
fn help_lists_every_option_with_its_variable() {
    let (code, stdout, _) = output(&["--help"], &[]);
    assert_eq!(code, 0);
    // The usage lines, wrapped before column 100 and indented under the
    // first option, as argparse laid them out (upstream options first).
    let usage = "\
usage: linxdot-exporter [-h] [-f LOG_FILE] [-o HOST] [-u USERNAME] [-p PASSWORD] [-a] [-d]
                        [-r REFRESH_INTERVAL] [-t PORT] [--version]
                        [--log-target {stderr,syslog,journal}] [--password-file PATH]
                        [--timeout SECONDS] [--bind-address ADDRESS] [--bind-port PORT]
                        [--bind-v6only {0,1}] [--thread-count N] [--no-temper]
                        [--temper-offset PHY:NAME=DELTA] [--temper-humidity-offset PHY:NAME=DELTA]
                        [--temper-interval SECONDS] [--temper-rescan SECONDS]
                        [--lora-port PORT[,PORT...]] [--lora-interface INTERFACE]
                        [--probe-allow PATTERN] [--probe-credentials PATH] [--list-sensors]

";
    assert!(stdout.starts_with(usage), "{stdout}");
    assert!(stdout.lines().all(|l| l.len() < 100), "{stdout}");
    for needle in [
        "-f LOG_FILE, --log_file LOG_FILE",
        "-o HOST, --host HOST",
        "-u USERNAME, --username USERNAME",
        "-p PASSWORD, --password PASSWORD",
        "-a, --plain_credentials",
        "-d, --debug",
        "-r REFRESH_INTERVAL, --refresh_interval REFRESH_INTERVAL",
        "-t PORT, --port PORT",
        "--version",
        "--password-file PATH",
        "--timeout SECONDS",
        "--bind-address ADDRESS",
        "--bind-port PORT",
        "--bind-v6only {0,1}",
        "--thread-count N",
        "--no-temper",
        "--temper-offset PHY:NAME=DELTA",
        "--temper-humidity-offset PHY:NAME=DELTA",
        "--temper-rescan SECONDS",
        "--list-sensors",
        "env LOG_FILE",
        "env MINER_HOST; default: 127.0.0.1",
        "env MINER_USERNAME",
        "env MINER_PASSWORD)",
        "env MINER_PASSWORD_FILE",
        "env PLAIN_CREDENTIALS",
        "env EXPORTER_DEBUG",
        "env EXPORTER_REFRESH; default: 60",
        "env EXPORTER_PORT; default: 8061",
        "env EXPORTER_NO_TEMPER",
        "env TEMPER_OFFSETS",
        "--lora-port PORT[,PORT...]",
        "env LORA_PORT; default: off",
        "env LORA_INTERFACE; default: lo",
    ] {
        assert!(
            stdout.contains(needle),
            "--help lacks {needle:?}:\n{stdout}"
        );
    }
}

#[test]
fn version() {
    let (code, stdout, _) = output(&["--version"], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        format!("linxdot-exporter {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_command_lines_exit_2_with_one_line() {
    for (args, env, want) in [
        (&["--bogus"][..], &[][..], "linxdot-exporter: error: unknown option '--bogus' (see --help)\n"),
        (&["-t", "x"][..], &[][..], "linxdot-exporter: error: --port: 'x' is not a TCP port (0-65535)\n"),
        (&["-r"][..], &[][..], "linxdot-exporter: error: option -r needs a value\n"),
        (
            &[][..],
            &[("EXPORTER_REFRESH", "never")][..],
            "linxdot-exporter: error: EXPORTER_REFRESH: 'never' is not a number of seconds from 0.1 up\n",
        ),
    ] {
        let (code, stdout, stderr) = output(args, env);
        assert_eq!((code, stdout.as_str(), stderr.as_str()), (2, "", want), "{args:?}");
    }
}

#[test]
fn an_unopenable_log_file_is_an_error() {
    let (code, _, stderr) = output(&["-f", "/nonexistent-dir/x.log", "--no-temper"], &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "linxdot-exporter: error: cannot open log file '/nonexistent-dir/x.log': "
        ),
        "{stderr}"
    );
}

#[test]
fn a_busy_port_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = output(
        &["--bind-address", "127.0.0.1", "-t", &port, "--no-temper"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("ERROR cannot listen on port {port}: ")),
        "{stderr}"
    );
}

/// A dashboard address with a bad port is a configuration error (status
/// 2) that names the value, before anything starts.
#[test]
fn a_bad_dashboard_port_exits_2_naming_it() {
    for host in [
        "127.0.0.1:abc",
        ":99999",
        "127.0.0.1:0",
        "::1",
        "[::1]:18080",
    ] {
        let (code, stdout, stderr) = output(&["-o", host, "--no-temper"], &[]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{host}: {stderr}");
        assert!(
            stderr.starts_with(&format!("linxdot-exporter: error: --host: '{host}': ")),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

/// An address this host does not have is a port problem too (status 1),
/// and the message is the bind's, not a configuration error.
#[test]
fn an_address_the_host_lacks_is_a_bind_error() {
    let (code, _, stderr) = output(
        &["--bind-address", "192.0.2.1", "-t", "8061", "--no-temper"],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("ERROR cannot listen on port 8061: "),
        "{stderr}"
    );
}

#[test]
fn without_credentials_the_miner_is_off_and_the_rest_is_served() {
    let exp = Exporter::start(&[], &[]);
    let body = exp.scrape();
    assert!(!body.contains("miner_up"), "{body}");
    assert!(body.contains("linxdot_exporter_build_info{"));
    assert!(sample(&body, "process_resident_memory_bytes").is_some());
    assert!(exp
        .log()
        .contains("INFO miner: not polling the dashboard at 127.0.0.1: no username and password"));
}

#[test]
fn the_environment_configures_the_miner_and_the_log_file() {
    let sim = dashboard::Dashboard::start_on("127.0.0.1:0", "admin", "pw-in-file-77").unwrap();
    let dir = std::env::temp_dir().join(format!("linxdot-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("exporter.log");
    std::fs::write(&log_path, "earlier line\n").unwrap();
    let pw_path = dir.join("pw");
    std::fs::write(&pw_path, "pw-in-file-77\n").unwrap();
    let (host, log, pw) = (
        sim.host(),
        log_path.to_string_lossy().into_owned(),
        pw_path.to_string_lossy().into_owned(),
    );
    let exp = Exporter::start(
        &[],
        &[
            ("MINER_HOST", host.as_str()),
            ("MINER_USERNAME", "admin"),
            ("MINER_PASSWORD_FILE", pw.as_str()),
            ("EXPORTER_REFRESH", "0.2"),
            ("EXPORTER_DEBUG", "True"),
            ("LOG_FILE", log.as_str()),
        ],
    );
    // Wait for the condition itself, a first good poll, not for a log line
    // on the way to it. The poll's log lines are in the file by then: each
    // line is written and flushed before the next step of the poll.
    let body = exp.scrape_until(Duration::from_secs(10), |b| b.contains("\nminer_up 1.0\n"));
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.starts_with("earlier line\n"),
        "appended, not truncated:\n{text}"
    );
    assert!(
        text.contains(" INFO miner: polling http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains(" DEBUG miner: logged in (2 cookies)"),
        "{text}"
    );
    let md5 = format!("{:x}", md5::compute("pw-in-file-77"));
    assert!(
        !text.contains("pw-in-file-77") && !text.contains(&md5),
        "{text}"
    );
    assert_eq!(sim.state().logins, 1, "{text}");
    assert!(body.contains("\nminer_cpu_temp 35.555\n"), "{body}");
}

#[test]
fn sigterm_and_sigint_stop_it_cleanly() {
    for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        let mut exporter = Exporter::start(&[], &[]);
        let status = exporter.signal_and_wait(signal, Duration::from_secs(10));
        assert_eq!(status.code(), Some(0), "{name}: {status:?}");
        // The log is read by another thread: wait for the line, not for exit.
        exporter.wait_for_log(&format!("INFO stopping on {name}"), Duration::from_secs(10));
    }
}
