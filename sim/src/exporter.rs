//! The real exporter binary, started on a free loopback port with a clean
//! environment, its log collected (and printed only when the test fails);
//! scraped over TCP with [`crate::http`].

use crate::http::{self, HttpAnswer};
use crate::wait;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long [`Exporter::start`] waits for the exporter to listen.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The `linxdot-exporter` binary cargo built for this test run.
///
/// Cargo sets `CARGO_BIN_EXE_linxdot-exporter` when it runs an integration
/// test of the package (and builds the binary first); a test binary run by
/// hand finds it beside its `deps/` directory (`target/debug/`).
pub fn bin() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_linxdot-exporter") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test's own path");
    let beside_deps = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("linxdot-exporter"));
    match beside_deps {
        Some(path) if path.is_file() => path,
        _ => panic!(
            "no linxdot-exporter binary: run the tests with `cargo test`, \
             or build it first (`cargo build`) when running a test binary by hand"
        ),
    }
}

/// The binary with `args` and exactly `env` as its environment (nothing
/// from the test runner's but `PATH=/usr/bin:/bin`).
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args).env_clear().env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// How long [`output`] lets the binary run before it counts as hung.
pub const OUTPUT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the binary to its end (for `--help`, `--version`, errors); returns
/// its exit code (-1 when killed by a signal), stdout and stderr. A binary
/// still running after [`OUTPUT_TIMEOUT`] (one that took a bad command line
/// for a good one and serves) is killed, and the test fails.
pub fn output(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut child = command(args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    let deadline = Instant::now() + OUTPUT_TIMEOUT;
    while child.try_wait().expect("wait for the binary").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the binary with {args:?} {env:?} was still running after {OUTPUT_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let out = child
        .wait_with_output()
        .expect("collect the binary's output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running exporter; killed (and reaped) when dropped.
pub struct Exporter {
    child: Child,
    /// Where it listens (the address from its `listening on` log line).
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Exporter {
    /// Starts the exporter on 127.0.0.1 with a free port and USB sensors off,
    /// plus `args` and `env`; waits until it listens.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Exporter {
        let mut all = vec!["--bind-address", "127.0.0.1", "--port", "0", "--no-temper"];
        all.extend_from_slice(args);
        Exporter::start_exact(&all, env)
    }

    /// Starts the exporter with exactly these arguments (and environment);
    /// waits until it listens. With `LOG_FILE` in `env`, the listen address
    /// is read from that file instead of stderr.
    pub fn start_exact(args: &[&str], env: &[(&str, &str)]) -> Exporter {
        let mut child = command(args, env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the exporter");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let mut reader = BufReader::new(stderr);
                let mut line = String::new();
                let mut tx = Some(tx);
                while reader.read_line(&mut line).unwrap_or(0) > 0 {
                    if let Some(rest) = line.split(" listening on ").nth(1) {
                        let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(addr);
                        }
                    }
                    log.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
        }
        let log_file = env
            .iter()
            .find(|(k, _)| *k == "LOG_FILE")
            .map(|(_, v)| v.to_string());
        let addr = match log_file {
            Some(path) => wait_for_listen_line_in(&path),
            None => rx.recv_timeout(START_TIMEOUT).ok(),
        };
        let addr = match addr.ok_or(()) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                panic!("exporter did not start; log:\n{}", log.lock().unwrap());
            }
        };
        Exporter { child, addr, log }
    }

    /// Everything it wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `GET path` on a new connection; (status, head, body).
    pub fn get(&self, path: &str) -> HttpAnswer {
        http::get(self.addr, path)
    }

    /// The `/metrics` body, which must be a 200.
    pub fn scrape(&self) -> String {
        let a = self.get("/metrics");
        assert_eq!(a.status, 200, "scrape failed: {}", a.head);
        a.body
    }

    /// Scrapes every 50 ms until `predicate(body)` holds; returns that body.
    /// Panics after `timeout` with the last scrape and the log.
    pub fn scrape_until(&self, timeout: Duration, predicate: impl Fn(&str) -> bool) -> String {
        wait::poll(
            "a scrape to meet the condition",
            timeout,
            Duration::from_millis(50),
            || {
                let body = self.scrape();
                if predicate(&body) {
                    Ok(body)
                } else {
                    Err(format!("{body}\nlog:\n{}", self.log()))
                }
            },
        )
    }

    /// Waits until the log contains `text`; returns the log. Panics after
    /// `timeout` with the log.
    pub fn wait_for_log(&self, text: &str, timeout: Duration) -> String {
        wait::poll(
            &format!("{text:?} in the log"),
            timeout,
            Duration::from_millis(20),
            || {
                let log = self.log();
                if log.contains(text) {
                    Ok(log)
                } else {
                    Err(log)
                }
            },
        )
    }

    /// Sends it `signal` (e.g. `libc::SIGTERM`) and waits up to `timeout`
    /// for it to exit; its exit status (the test fails if it is still
    /// running then).
    pub fn signal_and_wait(&mut self, signal: i32, timeout: Duration) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid; it is not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        wait::poll(
            "the exporter to exit",
            timeout,
            Duration::from_millis(10),
            || match self.child.try_wait() {
                Ok(Some(status)) => Ok(status),
                Ok(None) => Err("still running".to_string()),
                Err(e) => Err(e.to_string()),
            },
        )
    }

    /// Its process id (for [`crate::procfs`]).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Exporter {
    /// Stops the exporter. Its log is kept out of a passing test's output;
    /// a failing test (dropping it while it panics) prints it, through the
    /// test harness, which shows what a failed test printed.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "--- log of the exporter on {} ---\n{}--- end of its log ---",
                self.addr,
                self.log()
            );
        }
    }
}

fn wait_for_listen_line_in(path: &str) -> Option<String> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(rest) = text.split(" listening on ").nth(1) {
            return rest.split_whitespace().next().map(str::to_string);
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

/// `127.0.0.1:PORT` of a port that was free a moment ago: connecting to it is
/// refused (a dashboard that is down).
pub fn refused_host() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    format!("127.0.0.1:{port}")
}
