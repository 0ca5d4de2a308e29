//! `--log-target` as the binary behaves: journald's priority prefixes per
//! level, the default format unchanged, and bad values refused. (syslog is
//! checked against a real /dev/log socket by tests/packaging/test-syslog.sh.)

use linxdot_sim::exporter::output;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;

/// A password file that others may read (the exporter warns about it).
struct LooseFile(std::path::PathBuf);

impl LooseFile {
    fn new(tag: &str) -> LooseFile {
        let name = format!("lxe-log-test-{}-{tag}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, "hunter2\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        LooseFile(path)
    }
}

impl Drop for LooseFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the exporter against a port that is taken: it logs a warning (the
/// password file) and an error, and exits by itself. (Info and debug lines
/// come later, from a running exporter: scripts/ci-deb.sh checks those, the
/// formats are unit-tested in src/log.rs.)
fn run_on_a_taken_port(tag: &str, extra: &[&str]) -> (i32, String) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let password = LooseFile::new(tag);
    let mut args = vec![
        "--bind-address",
        "127.0.0.1",
        "--port",
        &port,
        "--no-temper",
        "--password-file",
        password.0.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = output(&args, &[]);
    assert_eq!(stdout, "");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    (code, stderr.replace(&port, "PORT"))
}

#[test]
fn journal_target_gives_each_line_its_priority() {
    let (code, stderr) = run_on_a_taken_port("journal", &["--log-target", "journal", "--debug"]);
    assert_eq!(code, 1, "{stderr}");
    for line in stderr.lines() {
        let ok = ["<7>DEBUG ", "<6>INFO ", "<4>WARN ", "<3>ERROR "]
            .iter()
            .any(|p| line.starts_with(p));
        assert!(ok, "a line without its priority prefix: {line:?}");
    }
    assert!(
        stderr.contains("<4>WARN password file '") && stderr.contains("can be read by other users"),
        "{stderr}"
    );
    assert!(
        stderr.contains("<3>ERROR cannot listen on port PORT: "),
        "{stderr}"
    );
}

#[test]
fn stderr_target_is_the_default_format() {
    for (tag, extra) in [
        ("none", &[][..]),
        ("stderr", &["--log-target", "stderr"][..]),
    ] {
        let (code, stderr) = run_on_a_taken_port(tag, extra);
        assert_eq!(code, 1, "{stderr}");
        let error = stderr
            .lines()
            .find(|l| l.contains(" ERROR cannot listen on port PORT: "))
            .unwrap_or_else(|| panic!("no error line: {stderr}"));
        // 2026-11-22T05:01:02Z ERROR ...
        let stamp = error.split(' ').next().unwrap();
        assert_eq!(stamp.len(), 20, "{error}");
        assert!(
            stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "{error}"
        );
        assert!(!stderr.contains('<'), "{stderr}");
    }
}

#[test]
fn bad_targets_are_refused() {
    let (code, _, stderr) = output(&["--log-target", "kmsg"], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "linxdot-exporter: error: --log-target: 'kmsg' is not stderr, syslog or journal\n"
    );
    let (code, _, stderr) = output(&["--log-target", "syslog", "-f", "/tmp/x.log"], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "linxdot-exporter: error: give either --log_file or --log-target, not both\n"
    );
}
