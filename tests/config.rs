//! Every flag, variable and precedence rule of the command line, through the
//! same `config::parse` that `main` calls.

use linxdot_exporter::config::{parse, Action, Config, ConfigError};
use linxdot_exporter::temper::{Quantity, SensorOffset};
use std::collections::HashMap;
use std::ffi::OsString;
use std::time::Duration;

fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Action, ConfigError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| env.get(name).cloned();
    parse(args.iter().map(OsString::from).collect(), &lookup)
}

fn config(args: &[&str], env: &[(&str, &str)]) -> Config {
    match run(args, env) {
        Ok(Action::Run(c)) => *c,
        other => panic!("{args:?} {env:?} gave {other:?}"),
    }
}

fn error(args: &[&str], env: &[(&str, &str)]) -> String {
    match run(args, env) {
        Err(e) => e.0,
        other => panic!("{args:?} {env:?} should fail, gave {other:?}"),
    }
}

#[test]
fn defaults() {
    let c = config(&[], &[]);
    assert_eq!(c.host, "127.0.0.1");
    assert_eq!(c.port, 8061);
    assert_eq!(c.bind_address, None);
    assert_eq!(c.bind_v6only, None);
    assert_eq!(c.thread_count, 4);
    assert!(!c.debug);
    assert_eq!(c.log_file, None);
    assert!(c.miner.is_none(), "no credentials: miner off");
    assert_eq!(c.miner_off_reason, Some("no username and password"));
    assert!(c.temper.enabled);
    assert!(c.temper.offsets.is_empty());
}

#[test]
fn every_other_spelling_means_the_same_flag() {
    let file = temp_file("pw\n");
    let base = ["-u", "u", "-p", "p"];
    // (alias, its flag's main spelling, a value or none for a switch)
    let table: &[(&str, &str, Option<&str>)] = &[
        ("--log-file", "--log_file", Some("/tmp/x.log")),
        ("--plain-credentials", "--plain_credentials", None),
        ("--refresh-interval", "--refresh_interval", Some("30")),
        ("--bind_address", "--bind-address", Some("::1")),
        ("--bind_port", "--bind-port", Some("9100")),
        ("--bind_v6only", "--bind-v6only", Some("1")),
        ("--thread_count", "--thread-count", Some("8")),
        ("--no_temper", "--no-temper", None),
        (
            "--temper_offset",
            "--temper-offset",
            Some("usb-1/input1:x=1"),
        ),
        (
            "--temper_humidity_offset",
            "--temper-humidity-offset",
            Some("usb-1/input1:=1"),
        ),
        ("--temper_rescan", "--temper-rescan", Some("7")),
        ("--temper_interval", "--temper-interval", Some("7")),
        ("--log_target", "--log-target", Some("syslog")),
        ("--probe_allow", "--probe-allow", Some("10.0.0.0/8")),
        ("--list_sensors", "--list-sensors", None),
        ("-V", "--version", None),
    ];
    for (alias, long, value) in table {
        let with = |flag: &str| {
            let mut args: Vec<&str> = base.to_vec();
            args.push(flag);
            args.extend(value.iter());
            run(&args, &[])
        };
        let (a, b) = (with(alias), with(long));
        assert!(a.is_ok(), "{alias}: {a:?}");
        assert_eq!(a, b, "{alias} vs {long}");
        assert_ne!(a, run(&base, &[]), "{long} changes something");
    }
    // --password_file replaces -p, so it goes without it.
    let a = run(&["-u", "u", "--password_file", &file], &[]);
    assert!(a.is_ok(), "{a:?}");
    assert_eq!(a, run(&["-u", "u", "--password-file", &file], &[]));
}

#[test]
fn every_upstream_flag_short_long_and_hyphenated() {
    for (host, user, pass, plain, debug, refresh, port, log) in [
        ("-o", "-u", "-p", "-a", "-d", "-r", "-t", "-f"),
        (
            "--host",
            "--username",
            "--password",
            "--plain_credentials",
            "--debug",
            "--refresh_interval",
            "--port",
            "--log_file",
        ),
        (
            "--host",
            "--username",
            "--password",
            "--plain-credentials",
            "--debug",
            "--refresh-interval",
            "--port",
            "--log-file",
        ),
    ] {
        let c = config(
            &[
                host,
                "miner.lan:8080",
                user,
                "root",
                pass,
                "pw",
                plain,
                debug,
                refresh,
                "30",
                port,
                "9100",
                log,
                "/tmp/x.log",
            ],
            &[],
        );
        let m = c.miner.as_ref().expect("miner on");
        assert_eq!(m.host, "miner.lan:8080");
        assert_eq!(m.username, "root");
        assert_eq!(m.password.expose(), "pw");
        assert!(m.plain_credentials);
        assert_eq!(m.refresh_interval, Duration::from_secs(30));
        assert_eq!(m.timeout, Duration::from_secs(5));
        assert!(c.debug);
        assert_eq!(c.port, 9100);
        assert_eq!(
            c.log_file.as_deref(),
            Some(std::path::Path::new("/tmp/x.log"))
        );
    }
}

#[test]
fn equals_form() {
    let c = config(
        &[
            "--host=10.0.0.2",
            "--port=9999",
            "--refresh_interval=2.5",
            "--username=u",
            "--password=a=b",
        ],
        &[],
    );
    assert_eq!(c.host, "10.0.0.2");
    assert_eq!(c.port, 9999);
    // The miner is on, so the interval and the credentials are there to check.
    let m = c.miner.as_ref().expect("credentials given: miner on");
    assert_eq!(m.refresh_interval, Duration::from_millis(2500));
    assert_eq!(m.username, "u");
    assert_eq!(m.password.expose(), "a=b", "split at the first '=' only");
}

#[test]
fn every_variable() {
    let c = config(
        &[],
        &[
            ("LOG_FILE", "/var/log/x"),
            ("MINER_HOST", "10.1.1.1"),
            ("MINER_USERNAME", "u"),
            ("MINER_PASSWORD", "p"),
            ("PLAIN_CREDENTIALS", "1"),
            ("EXPORTER_DEBUG", "True"),
            ("EXPORTER_REFRESH", "15"),
            ("EXPORTER_PORT", "8062"),
            ("EXPORTER_NO_TEMPER", "yes"),
            (
                "TEMPER_OFFSETS",
                "usb-a/input1:internal=-1.5 usb-b/input1:=0.25",
            ),
        ],
    );
    assert_eq!(
        c.log_file.as_deref(),
        Some(std::path::Path::new("/var/log/x"))
    );
    let m = c.miner.as_ref().unwrap();
    assert_eq!(
        (m.host.as_str(), m.username.as_str(), m.password.expose()),
        ("10.1.1.1", "u", "p")
    );
    assert!(m.plain_credentials);
    assert!(c.debug);
    assert_eq!(m.refresh_interval, Duration::from_secs(15));
    assert_eq!(c.port, 8062);
    assert!(!c.temper.enabled);
    assert_eq!(c.temper.offsets.len(), 2);
    assert_eq!(c.temper.offsets[1].name, "");
}

#[test]
fn boolean_variables_read_false_words_as_false() {
    // With credentials, so that the miner is on and PLAIN_CREDENTIALS shows.
    let with = |v| {
        config(
            &[],
            &[
                ("MINER_USERNAME", "u"),
                ("MINER_PASSWORD", "p"),
                ("EXPORTER_DEBUG", v),
                ("PLAIN_CREDENTIALS", v),
            ],
        )
    };
    for v in ["", "0", "false", "False", "no", "OFF"] {
        let c = with(v);
        assert!(!c.debug, "EXPORTER_DEBUG={v:?}");
        assert!(
            !c.miner.unwrap().plain_credentials,
            "PLAIN_CREDENTIALS={v:?}"
        );
    }
    for v in ["1", "true", "True", "yes", "on", "setted"] {
        let c = with(v);
        assert!(c.debug, "EXPORTER_DEBUG={v:?}");
        assert!(
            c.miner.unwrap().plain_credentials,
            "PLAIN_CREDENTIALS={v:?}"
        );
    }
}

#[test]
fn a_flag_also_beats_the_variable_of_the_flag_it_excludes() {
    // --password and --password-file exclude each other; so do --port and
    // --bind-port. A flag given makes its partner's variable not apply (and
    // no "not both" error), in both directions.
    let file = temp_file("from-file\n");
    let c = config(
        &["-u", "u", "-p", "from-flag"],
        &[("MINER_PASSWORD_FILE", "/nonexistent/linxdot/pw")],
    );
    assert_eq!(c.miner.unwrap().password.expose(), "from-flag");
    let c = config(
        &["-u", "u", "--password-file", &file],
        &[("MINER_PASSWORD", "from-env")],
    );
    assert_eq!(c.miner.unwrap().password.expose(), "from-file");
    assert_eq!(
        config(&["--bind-port", "9300"], &[("EXPORTER_PORT", "9301")]).port,
        9300
    );
    // Without the flags, the variables apply.
    let c = config(&["-u", "u"], &[("MINER_PASSWORD_FILE", file.as_str())]);
    assert_eq!(c.miner.unwrap().password.expose(), "from-file");
    assert_eq!(config(&[], &[("EXPORTER_PORT", "9301")]).port, 9301);
}

#[test]
fn a_flag_beats_its_variable() {
    let env = [
        ("LOG_FILE", "/env.log"),
        ("MINER_HOST", "env-host"),
        ("MINER_USERNAME", "env-user"),
        ("MINER_PASSWORD", "env-pw"),
        ("EXPORTER_REFRESH", "99"),
        ("EXPORTER_PORT", "8099"),
        ("TEMPER_OFFSETS", "usb-env/input1:=1"),
    ];
    let c = config(
        &[
            "-f",
            "/flag.log",
            "-o",
            "flag-host",
            "-u",
            "flag-user",
            "-p",
            "flag-pw",
            "-r",
            "7",
            "-t",
            "8100",
            "--temper-offset",
            "usb-flag/input1:external=2",
        ],
        &env,
    );
    let m = c.miner.as_ref().unwrap();
    assert_eq!(
        c.log_file.as_deref(),
        Some(std::path::Path::new("/flag.log"))
    );
    assert_eq!(
        (m.host.as_str(), m.username.as_str(), m.password.expose()),
        ("flag-host", "flag-user", "flag-pw")
    );
    assert_eq!(m.refresh_interval, Duration::from_secs(7));
    assert_eq!(c.port, 8100);
    assert_eq!(
        c.temper.offsets,
        [SensorOffset {
            phy: "usb-flag/input1".into(),
            name: "external".into(),
            quantity: Quantity::Temperature,
            delta: 2.0
        }]
    );
    // --password-file beats MINER_PASSWORD, -p beats MINER_PASSWORD_FILE.
    let file = temp_file("from-file\nsecond line\n");
    let c = config(
        &["-u", "x", "--password-file", &file],
        &[("MINER_PASSWORD", "env")],
    );
    assert_eq!(c.miner.unwrap().password.expose(), "from-file");
    let c = config(
        &["-u", "x", "-p", "flag"],
        &[("MINER_PASSWORD_FILE", &file)],
    );
    assert_eq!(c.miner.unwrap().password.expose(), "flag");
    let c = config(&["-u", "x"], &[("MINER_PASSWORD_FILE", &file)]);
    assert_eq!(c.miner.unwrap().password.expose(), "from-file");
}

fn temp_file(contents: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "linxdot-exporter-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, contents).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn tcp_and_temper_options() {
    let c = config(
        &[
            "--bind-address",
            "::1",
            "--bind-port",
            "9204",
            "--bind-v6only",
            "1",
            "--thread-count",
            "8",
            "--timeout",
            "3",
            "--no-temper",
            "--temper-rescan",
            "2",
            "--temper-offset",
            "usb-0000:00:14.0-1/input1:internal=-1.25",
            "--temper-humidity-offset",
            "usb-x/input1:*=3",
            "-u",
            "u",
            "-p",
            "p",
        ],
        &[],
    );
    assert_eq!(c.bind_address, Some("::1".parse().unwrap()));
    assert_eq!(c.port, 9204);
    assert_eq!(c.bind_v6only, Some(true));
    assert_eq!(c.thread_count, 8);
    assert_eq!(c.miner.unwrap().timeout, Duration::from_secs(3));
    assert!(!c.temper.enabled);
    assert_eq!(c.temper.rescan_interval, Duration::from_secs(2));
    // A phy with colons (a PCI address) keeps them: the name is after the last one.
    assert_eq!(c.temper.offsets[0].phy, "usb-0000:00:14.0-1/input1");
    assert_eq!(c.temper.offsets[0].delta, -1.25);
    assert!(c.temper.offsets[1].matches("usb-x/input1", "external", Quantity::Humidity));
    assert!(!c.temper.offsets[1].matches("usb-x/input1", "external", Quantity::Temperature));
    // A name matches itself, or any name with "*"; the phy must be the same.
    let named = SensorOffset::parse("usb-x/input1:internal=1", Quantity::Temperature).unwrap();
    let any = SensorOffset::parse("usb-x/input1:*=1", Quantity::Temperature).unwrap();
    let t = Quantity::Temperature;
    assert!(named.matches("usb-x/input1", "internal", t));
    assert!(!named.matches("usb-x/input1", "external", t));
    assert!(!named.matches("usb-y/input1", "internal", t));
    assert!(!named.matches("usb-x/input1", "*", Quantity::Humidity));
    assert!(any.matches("usb-x/input1", "external", t));
    assert!(any.matches("usb-x/input1", "", t));
    assert!(!any.matches("usb-y/input1", "external", t));
    assert_eq!(
        config(&["--bind-address", "0.0.0.0"], &[]).bind_address,
        Some("0.0.0.0".parse().unwrap())
    );
    assert_eq!(
        config(&["--bind-v6only", "0"], &[]).bind_v6only,
        Some(false)
    );
}

#[test]
fn help_version_and_list_sensors() {
    assert_eq!(run(&["-h"], &[]).unwrap(), Action::Help);
    assert_eq!(run(&["--port", "1", "--help"], &[]).unwrap(), Action::Help);
    assert_eq!(run(&["--version"], &[]).unwrap(), Action::Version);
    assert!(matches!(
        run(&["--list-sensors"], &[]).unwrap(),
        Action::ListSensors(_)
    ));
}

#[test]
fn errors_name_the_culprit() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let table: &[Case] = &[
        (&["--frobnicate"], &[], "unknown option '--frobnicate' (see --help)"),
        (&["-x"], &[], "unknown option '-x' (see --help)"),
        (&["-t"], &[], "option -t needs a value"),
        (&["--port", "eighty"], &[], "--port: 'eighty' is not a TCP port (0-65535)"),
        (&["-t", "70000"], &[], "--port: '70000' is not a TCP port (0-65535)"),
        (&[], &[("EXPORTER_PORT", "x")], "EXPORTER_PORT: 'x' is not a TCP port (0-65535)"),
        (&["-r", "0"], &[], "--refresh_interval: '0' is not a number of seconds from 0.1 up"),
        (&["-r", "soon"], &[], "--refresh_interval: 'soon' is not a number of seconds from 0.1 up"),
        (&[], &[("EXPORTER_REFRESH", "-5")], "EXPORTER_REFRESH: '-5' is not a number of seconds from 0.1 up"),
        (&["--timeout", "0"], &[], "--timeout: '0' is not a whole number of seconds from 1 to 3600"),
        (&["--thread-count", "0"], &[], "--thread-count: '0' is not a whole number from 1 to 64"),
        (&["--bind-v6only", "2"], &[], "--bind-v6only: '2' is not 0 or 1"),
        (&["--bind-address", "localhost"], &[], "--bind-address: 'localhost' is not an IPv4 or IPv6 address"),
        (&["-t", "1", "--bind-port", "2"], &[], "give either --port or --bind-port, not both"),
        (&["-t", "1", "--port", "2"], &[], "option -t given more than once (again as --port)"),
        (&["-p", "a", "--password-file", "/x"], &[], "give either --password or --password-file, not both"),
        (
            &[],
            &[("MINER_PASSWORD", "a"), ("MINER_PASSWORD_FILE", "/x")],
            "set either MINER_PASSWORD or MINER_PASSWORD_FILE, not both",
        ),
        (&["-o", "http://miner/"], &[], "--host: 'http://miner/' is not a host name, address or HOST:PORT"),
        (
            &["--temper-offset", "usb-1/input1"],
            &[],
            "--temper-offset: 'usb-1/input1' is not PHY:NAME=DELTA (e.g. 'usb-3f980000.usb-1.4/input1:external=-1.5')",
        ),
        (
            &["--temper-offset", "usb-1/input1:internal=hot"],
            &[],
            "--temper-offset: 'usb-1/input1:internal=hot' is not PHY:NAME=DELTA (e.g. 'usb-3f980000.usb-1.4/input1:external=-1.5')",
        ),
        (
            &["--temper-offset", ":internal=1"],
            &[],
            "--temper-offset: ':internal=1' has no PHY before ':' (--list-sensors shows each sensor's phy)",
        ),
        (
            &["--temper-humidity-offset", ":=1"],
            &[],
            "--temper-humidity-offset: ':=1' has no PHY before ':' (--list-sensors shows each sensor's phy)",
        ),
        (
            &["--temper-offset", "usb-1/input1:internal=NaN"],
            &[],
            "--temper-offset: 'usb-1/input1:internal=NaN': the offset 'NaN' is not a finite number",
        ),
        (
            &["--temper-offset", "usb-1/input1:internal= inf"],
            &[],
            "--temper-offset: 'usb-1/input1:internal= inf': the offset 'inf' is not a finite number",
        ),
        (
            &["--temper-humidity-offset", "usb-1/input1:=-infinity"],
            &[],
            "--temper-humidity-offset: 'usb-1/input1:=-infinity': the offset '-infinity' is not a finite number",
        ),
        (
            &[],
            &[("TEMPER_OFFSETS", "usb-1/input1:internal=1 usb-2/input1:=nan")],
            "TEMPER_OFFSETS: 'usb-2/input1:=nan': the offset 'nan' is not a finite number",
        ),
        // At most a year between two polls or two rescans.
        (
            &["-r", "31536000.5"],
            &[],
            "--refresh_interval: '31536000.5' seconds is more than a year (31536000 s)",
        ),
        (
            &[],
            &[("EXPORTER_REFRESH", "1e9")],
            "EXPORTER_REFRESH: '1e9' seconds is more than a year (31536000 s)",
        ),
        (
            &["--temper-rescan", "31536001"],
            &[],
            "--temper-rescan: '31536001' seconds is more than a year (31536000 s)",
        ),
        (&["-r", "inf"], &[], "--refresh_interval: 'inf' is not a number of seconds from 0.1 up"),
        (&["-r", "NaN"], &[], "--refresh_interval: 'NaN' is not a number of seconds from 0.1 up"),
        (&["-r", "0.09"], &[], "--refresh_interval: '0.09' is not a number of seconds from 0.1 up"),
        (&["--temper-rescan", "0.09"], &[], "--temper-rescan: '0.09' is not a number of seconds from 0.1 up"),
    ];
    for (args, env, want) in table {
        assert_eq!(error(args, env), *want, "{args:?} {env:?}");
    }
}

#[test]
fn intervals_from_a_tenth_of_a_second_to_a_year() {
    let with = |flag, value| config(&["-u", "u", "-p", "p", flag, value], &[]);
    let year = Duration::from_secs(365 * 86_400);
    assert_eq!(with("-r", "31536000").miner.unwrap().refresh_interval, year);
    assert_eq!(
        with("-r", "0.1").miner.unwrap().refresh_interval,
        Duration::from_millis(100)
    );
    assert_eq!(
        with("--temper-rescan", "31536000").temper.rescan_interval,
        year
    );
    assert_eq!(
        with("--temper-rescan", "0.1").temper.rescan_interval,
        Duration::from_millis(100)
    );
}

#[test]
fn offsets_take_any_finite_delta() {
    let c = config(
        &[
            "--temper-offset",
            "usb-1/input1:internal=-0",
            "--temper-offset",
            "usb-1/input1:*=1e3",
            "--temper-humidity-offset",
            "usb-a:b/input1:=+4.5",
        ],
        &[],
    );
    let got: Vec<_> = c
        .temper
        .offsets
        .iter()
        .map(|o| (o.phy.as_str(), o.name.as_str(), o.quantity, o.delta))
        .collect();
    assert_eq!(
        got,
        [
            ("usb-1/input1", "internal", Quantity::Temperature, 0.0),
            ("usb-1/input1", "*", Quantity::Temperature, 1000.0),
            // The last ':' splits PHY from NAME: a PHY may hold ':' itself.
            ("usb-a:b/input1", "", Quantity::Humidity, 4.5),
        ]
    );
}

#[test]
fn a_stray_value_is_not_echoed() {
    // `-p my secret` (unquoted) leaves "secret" behind: it must not be printed.
    let e = error(&["-u", "x", "-p", "my", "secret"], &[]);
    assert!(!e.contains("secret"), "{e}");
    assert_eq!(
        e,
        "unexpected argument #1 that is not an option (see --help)"
    );
}

#[test]
fn password_file_errors() {
    let missing = "/nonexistent/linxdot/pw";
    let e = error(&["--password-file", missing], &[]);
    assert!(
        e.starts_with("--password-file: cannot read password file '/nonexistent/linxdot/pw': "),
        "{e}"
    );
    let empty = temp_file("\nsecond\n");
    assert_eq!(
        error(&["--password-file", &empty], &[]),
        format!("--password-file: password file '{empty}' has an empty first line")
    );
    let e = error(&[], &[("MINER_PASSWORD_FILE", missing)]);
    assert!(
        e.starts_with("MINER_PASSWORD_FILE: cannot read password file"),
        "{e}"
    );
    // A file others can read works, with a warning; a private one without.
    use std::os::unix::fs::PermissionsExt;
    let open = temp_file("pw\n");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        config(&["--password-file", &open], &[]).warnings,
        [format!(
            "password file '{open}' can be read by other users (mode 644): chmod 600 it"
        )]
    );
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(config(&["--password-file", &open], &[]).warnings.is_empty());
    let crlf = temp_file("pw\r\n");
    assert_eq!(
        config(&["-u", "u", "--password-file", &crlf], &[])
            .miner
            .unwrap()
            .password
            .expose(),
        "pw"
    );
}

#[test]
fn the_password_is_not_in_debug_output() {
    let c = config(&["-u", "u", "-p", "hunter2"], &[]);
    let text = format!("{c:?}");
    assert!(!text.contains("hunter2"), "{text}");
    // The field is still there, shown as redacted, not left out.
    assert!(text.contains("password: Secret(<redacted>)"), "{text}");
    let m = c.miner.as_ref().unwrap();
    assert_eq!(format!("{:?}", m.password), "Secret(<redacted>)");
    assert_eq!(format!("{:#?}", m.password), "Secret(<redacted>)");
}

#[test]
fn one_credential_alone_names_the_missing_one() {
    assert_eq!(
        config(&["-u", "u"], &[]).miner_off_reason.unwrap(),
        "no password (-p, --password-file, MINER_PASSWORD or MINER_PASSWORD_FILE)"
    );
    assert_eq!(
        config(&["-p", "p"], &[]).miner_off_reason.unwrap(),
        "no username (-u or MINER_USERNAME)"
    );
}

#[test]
fn one_temper_interval_for_readings_and_rescans() {
    assert_eq!(
        config(&[], &[]).temper.rescan_interval,
        Duration::from_secs(5)
    );
    let given = |args: &[&str], env: &[(&str, &str)]| config(args, env).temper.rescan_interval;
    assert_eq!(
        given(&["--temper-interval", "2.5"], &[]),
        Duration::from_millis(2500)
    );
    assert_eq!(given(&["--temper_interval=7"], &[]), Duration::from_secs(7));
    assert_eq!(
        given(&[], &[("TEMPER_INTERVAL", "30")]),
        Duration::from_secs(30)
    );
    assert_eq!(
        given(&["--temper-interval", "3"], &[("TEMPER_INTERVAL", "30")]),
        Duration::from_secs(3)
    );
    // The older name still sets it; both at once is an error naming both.
    assert_eq!(
        given(&["--temper-rescan", "9"], &[]),
        Duration::from_secs(9)
    );
    let both = error(&["--temper-interval", "3", "--temper-rescan", "9"], &[]);
    assert!(
        both.contains("--temper-interval") && both.contains("--temper-rescan"),
        "{both}"
    );
    let bad = error(&["--temper-interval", "0"], &[]);
    assert!(bad.contains("--temper-interval"), "{bad}");
}

/// Where a flag still reaches by hand (ARCHITECTURE.md names them): the
/// OpenWrt UCI config and init script, and the Debian default file. Each
/// flag is in each of them, or in the exemption table with the reason.
#[test]
fn every_flag_reaches_the_init_script_uci_and_debian_default() {
    use linxdot_exporter::config::FLAGS;
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |p: &str| std::fs::read_to_string(format!("{root}/{p}")).unwrap();
    let init = read("openwrt/linxdot-exporter/files/linxdot-exporter.init");
    let uci = read("openwrt/linxdot-exporter/files/linxdot-exporter.config");
    let default = read("packaging/debian/linxdot-exporter.default");
    let one_shot = "ends at once: not for a service";
    // (flag, where it is not, why).
    let exempt: &[(&str, &str, &str)] = &[
        ("--help", "init uci", one_shot),
        ("--version", "init uci", one_shot),
        ("--list-sensors", "init uci", one_shot),
        (
            "--log-target",
            "uci",
            "the init script picks syslog, or log_file",
        ),
        (
            "--log_file",
            "default",
            "the Debian unit logs to the journal",
        ),
        (
            "--password",
            "init",
            "the init script hands passwords over in a root-only file",
        ),
        ("--bind-port", "init uci", "the same as --port"),
        (
            "--temper-rescan",
            "uci",
            "older name: the init script still reads it",
        ),
    ];
    // UCI options whose name is not the flag's.
    let uci_name: &[(&str, &str)] = &[("--port", "listen_port"), ("--no-temper", "temper")];
    // The init script's code (not its comments), word by word.
    let init_words: Vec<&str> = init
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == '"' || c == '\''))
        .collect();
    let mut missing = Vec::new();
    for flag in FLAGS {
        let skip = |place: &str| {
            exempt
                .iter()
                .any(|(f, places, _)| *f == flag.long && places.split(' ').any(|p| p == place))
        };
        if !skip("init")
            && !flag
                .spellings()
                .any(|s| s.starts_with("--") && init_words.contains(&s))
        {
            missing.push(format!("{} is not in the init script", flag.long));
        }
        let key = uci_name
            .iter()
            .find(|(f, _)| *f == flag.long)
            .map(|(_, k)| k.to_string())
            .unwrap_or_else(|| flag.long.trim_start_matches('-').replace('-', "_"));
        let in_uci = ["option", "list"]
            .iter()
            .any(|kind| uci.contains(&format!("{kind} {key} ")));
        if !skip("uci") && !in_uci {
            missing.push(format!("{} ('{key}') is not in the UCI config", flag.long));
        }
        if let Some(env) = flag.env {
            if !skip("default") && !default.contains(&format!("{env}=")) {
                missing.push(format!(
                    "{} ({env}) is not in the Debian default file",
                    flag.long
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

/// `-o`/`--host`/`MINER_HOST` go through the parser of `/probe`'s targets:
/// the port is 1-65535, an IPv6 address is written in brackets (and then
/// refused for now, bare or not, with the way out: the dashboard client
/// cannot connect to one).
#[test]
fn the_dashboard_address_is_checked_like_a_probe_target() {
    for (given, want) in [
        ("miner.lan:8080", "miner.lan:8080"),
        ("10.0.0.2:1", "10.0.0.2:1"),
        ("10.0.0.2:65535", "10.0.0.2:65535"),
    ] {
        assert_eq!(config(&["-o", given], &[]).host, want, "{given}");
    }
    for (given, want) in [
        ("127.0.0.1:abc", "--host: '127.0.0.1:abc': 'abc' is not a port (1-65535)"),
        (":99999", "--host: ':99999': '99999' is not a port (1-65535)"),
        ("127.0.0.1:0", "--host: '127.0.0.1:0': '0' is not a port (1-65535)"),
        // Bare, it is told what works (brackets would not: see below).
        (
            "::1",
            "--host: '::1': the dashboard client cannot connect to an IPv6 address literal; give a host name that resolves to it",
        ),
        ("[::1", "--host: '[::1': an '[' without its ']'"),
        // Parsed, but the dashboard client cannot dial an IPv6 literal.
        (
            "[::1]:18080",
            "--host: '[::1]:18080': the dashboard client cannot connect to an IPv6 address literal; give a host name that resolves to it",
        ),
        (
            "[::1]",
            "--host: '[::1]': the dashboard client cannot connect to an IPv6 address literal; give a host name that resolves to it",
        ),
    ] {
        assert_eq!(error(&["-o", given], &[]), want, "{given}");
        // The variable is checked the same way (and named as the flag, as always).
        assert_eq!(error(&[], &[("MINER_HOST", given)]), want, "{given}");
    }
}
