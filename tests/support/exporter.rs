//! The real exporter binary, started on a free loopback port, with its log
//! collected, and a minimal HTTP client to scrape it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_linxdot-exporter");

pub struct Exporter {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

/// The binary with a clean environment (nothing from the test runner's).
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear().env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

impl Exporter {
    /// Starts the exporter on 127.0.0.1 with a free port and USB sensors off,
    /// plus `args` and `env`; waits until it listens.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Exporter {
        let mut all = vec!["--bind-address", "127.0.0.1", "--port", "0", "--no-temper"];
        all.extend_from_slice(args);
        Exporter::start_exact(&all, env)
    }

    /// Starts the exporter with exactly these arguments.
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
            None => rx.recv_timeout(Duration::from_secs(10)).ok(),
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

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `GET path` on a new connection; (status, head, body).
    pub fn get(&self, path: &str) -> HttpAnswer {
        http_request(
            self.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"),
        )
    }

    /// The `/metrics` body, which must be a 200.
    pub fn scrape(&self) -> String {
        let a = self.get("/metrics");
        assert_eq!(a.status, 200, "scrape failed: {}", a.head);
        a.body
    }

    /// Scrapes until `predicate(body)` holds, up to `timeout`; returns the body.
    pub fn scrape_until(&self, timeout: Duration, predicate: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let body = self.scrape();
            if predicate(&body) {
                return body;
            }
            if Instant::now() > deadline {
                panic!(
                    "condition not met within {timeout:?}; last scrape:\n{body}\nlog:\n{}",
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the log contains `text`.
    pub fn wait_for_log(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            if Instant::now() > deadline {
                panic!("log never contained {text:?}; log:\n{log}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Sends raw request bytes and reads the answer until the server closes.
pub fn http_request(addr: SocketAddr, raw: &str) -> HttpAnswer {
    http_request_bytes(addr, raw.as_bytes())
}

pub fn http_request_bytes(addr: SocketAddr, raw: &[u8]) -> HttpAnswer {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(raw).expect("send request");
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    parse_answer(&bytes)
}

pub fn parse_answer(bytes: &[u8]) -> HttpAnswer {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    HttpAnswer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// The value of the unlabelled sample `name` in a scrape body.
pub fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The lines of one family (HELP, TYPE and samples), joined.
pub fn family_block(body: &str, name: &str) -> String {
    let mut out = String::new();
    for line in body.lines() {
        let is_meta = line == format!("# HELP {name}")
            || line.starts_with(&format!("# HELP {name} "))
            || line.starts_with(&format!("# TYPE {name} "));
        let is_sample =
            line.starts_with(&format!("{name} ")) || line.starts_with(&format!("{name}{{"));
        if is_meta || is_sample {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn wait_for_listen_line_in(path: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
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
