//! The miner's dashboard over HTTP: login, cookies, `GET /info/system`.
//!
//! minreq keeps no cookies and follows redirects by default; here every
//! request is sent with redirects off, every `Set-Cookie` is kept and sent
//! back, every request has a deadline and `Connection: close`, and no body is
//! read past [`MAX_BODY_BYTES`]. Failed logins back off exponentially, so a
//! wrong password does not hammer the dashboard.

use super::Config;
use crate::secret::Secret;
use std::io::Read;
use std::time::{Duration, Instant};

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub(crate) const LOGIN_PATH: &str = "/login_odd";
pub(crate) const SYSTEM_PATH: &str = "/info/system";
/// The longest wait between two login attempts.
pub(crate) const MAX_LOGIN_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// Why a poll failed; [`PollError::reason`] is the `reason` label of
/// `miner_poll_errors_total`.
#[derive(Debug, Clone, PartialEq)]
pub enum PollError {
    /// Could not connect (refused, unreachable, bad address).
    Connection(String),
    /// The dashboard did not answer within the timeout.
    Timeout,
    /// An answer that is not HTTP, or an unexpected status.
    Http(String),
    /// The login was refused, or the session was refused right after a login.
    Login(String),
    /// Waiting after failed logins; no request was sent.
    LoginBackoff(Backoff),
    /// A redirect that did not log us in (e.g. port 80 sent to https).
    Redirect(String),
    /// A body larger than [`MAX_BODY_BYTES`].
    TooLarge,
    /// The body is not the JSON object expected.
    Parse(String),
}

/// A poll skipped while failed logins back off: how long until the next
/// attempt, and why the last one failed (what to fix).
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    pub left: Duration,
    pub after: String,
}

/// Defines [`Reason`] from one list of `Variant => "label"`.
macro_rules! reasons {
    ($($variant:ident => $label:literal,)*) => {
        /// The `reason` label of `miner_poll_errors_total`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Reason {
            $($variant,)*
        }

        impl Reason {
            /// Every reason, in the order the counter's samples are written.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            pub fn label(self) -> &'static str {
                match self {
                    $(Reason::$variant => $label,)*
                }
            }
        }
    };
}

reasons! {
    Connection => "connection",
    Http => "http",
    Login => "login",
    LoginBackoff => "login_backoff",
    Parse => "parse",
    Redirect => "redirect",
    Timeout => "timeout",
    TooLarge => "too_large",
}

impl PollError {
    pub fn reason(&self) -> Reason {
        match self {
            PollError::Connection(_) => Reason::Connection,
            PollError::Timeout => Reason::Timeout,
            PollError::Http(_) => Reason::Http,
            PollError::Login(_) => Reason::Login,
            PollError::LoginBackoff(_) => Reason::LoginBackoff,
            PollError::Redirect(_) => Reason::Redirect,
            PollError::TooLarge => Reason::TooLarge,
            PollError::Parse(_) => Reason::Parse,
        }
    }
}

impl std::fmt::Display for PollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PollError::Connection(e) => write!(f, "cannot connect to the dashboard: {e}"),
            PollError::Timeout => write!(
                f,
                "the dashboard did not answer in time (--timeout): is the miner overloaded?"
            ),
            PollError::Http(e) => write!(f, "dashboard HTTP error: {e}"),
            PollError::Login(e) => write!(f, "login failed: {e}"),
            PollError::LoginBackoff(b) => write!(
                f,
                "next login attempt in {}: the last one failed: {}",
                seconds_text(b.left),
                b.after
            ),
            PollError::Redirect(e) => write!(f, "unexpected redirect: {e}"),
            PollError::TooLarge => write!(f, "dashboard answer larger than {MAX_BODY_BYTES} bytes"),
            PollError::Parse(e) => write!(f, "cannot read the dashboard answer: {e}"),
        }
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct DashboardClient {
    base_url: String,
    /// `host:port`, as messages name the dashboard.
    address: String,
    username: String,
    password: Secret,
    plain_credentials: bool,
    timeout_secs: u64,
    refresh_interval: Duration,
    /// `(name, value)`, in the order first set.
    cookies: Vec<(String, String)>,
    logged_in: bool,
    failed_logins: u32,
    next_login_at: Option<Instant>,
    /// Why the last login failed, repeated while its back-off lasts.
    last_login_failure: String,
}

impl DashboardClient {
    pub fn new(config: &Config) -> Self {
        DashboardClient {
            base_url: format!("http://{}", config.host),
            address: address_of(&config.host),
            username: config.username.clone(),
            password: config.password.clone(),
            plain_credentials: config.plain_credentials,
            timeout_secs: config.timeout.as_secs().max(1),
            refresh_interval: config.refresh_interval,
            cookies: Vec::new(),
            logged_in: false,
            failed_logins: 0,
            next_login_at: None,
            last_login_failure: String::new(),
        }
    }

    /// What a refused login tried and what to check; never the password.
    fn refused(&self, what: &str) -> String {
        let (credentials, other_way) = if self.plain_credentials {
            (
                "plain credentials (-a)",
                "drop -a if it wants them MD5-hashed",
            )
        } else {
            ("MD5-hashed credentials", "add -a if it wants them as typed")
        };
        format!(
            "the dashboard at {} refused user '{}' with {credentials} ({what}): \
             check the user and password (-u, -p or --password-file), or {other_way}; \
             retrying after {}, then twice as long after each failure, at most {}",
            self.address,
            self.username,
            seconds_text(self.refresh_interval),
            seconds_text(MAX_LOGIN_BACKOFF),
        )
    }

    /// Each later request gives up after `timeout` (whole seconds, at least
    /// one: minreq's unit).
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        self.timeout_secs = secs.max(1);
    }

    /// The dashboard's system document, logging in first when needed and
    /// once more when the session has expired (HTTP 401).
    pub(crate) fn fetch_system(&mut self) -> Result<Vec<u8>, PollError> {
        if !self.logged_in {
            self.login()?;
        }
        let answer = self.get(SYSTEM_PATH)?;
        let answer = if answer.status == 401 {
            crate::debug!("miner: session expired (401), logging in again");
            self.logged_in = false;
            self.login()?;
            let again = self.get(SYSTEM_PATH)?;
            if again.status == 401 {
                self.logged_in = false;
                let why = self.refused(&format!(
                    "{SYSTEM_PATH} answered 401 right after a successful login"
                ));
                self.back_off_logins(&why);
                return Err(PollError::Login(why));
            }
            again
        } else {
            answer
        };
        match answer.status {
            200 => Ok(answer.body),
            status @ 300..=399 => Err(PollError::Redirect(format!(
                "http://{}{SYSTEM_PATH} answered {status} to {}",
                self.address,
                answer.headers("location").next().unwrap_or("(no Location)")
            ))),
            status => Err(PollError::Http(format!(
                "http://{}{SYSTEM_PATH} answered {status}",
                self.address
            ))),
        }
    }

    fn login(&mut self) -> Result<(), PollError> {
        if let Some(at) = self.next_login_at {
            let now = Instant::now();
            if now < at {
                return Err(PollError::LoginBackoff(Backoff {
                    left: at - now,
                    after: self.last_login_failure.clone(),
                }));
            }
        }
        let result = self.try_login();
        match &result {
            Ok(()) => {
                self.logged_in = true;
                self.failed_logins = 0;
                self.next_login_at = None;
            }
            Err(PollError::Login(why)) | Err(PollError::Redirect(why)) => {
                let why = why.clone();
                self.back_off_logins(&why);
            }
            // The dashboard being down is not a refused login: no backoff.
            Err(_) => {}
        }
        result
    }

    /// Counts one more failed login (`why`) and schedules the next attempt
    /// [`login_backoff`] from now.
    fn back_off_logins(&mut self, why: &str) {
        self.last_login_failure = why.to_string();
        self.failed_logins = self.failed_logins.saturating_add(1);
        let wait = login_backoff(self.refresh_interval, self.failed_logins);
        self.next_login_at = Some(Instant::now() + wait);
    }

    fn try_login(&mut self) -> Result<(), PollError> {
        let (user, pass) = if self.plain_credentials {
            (self.username.clone(), self.password.expose().to_string())
        } else {
            (md5_hex(&self.username), md5_hex(self.password.expose()))
        };
        let body = format!(
            "username={}&password={}",
            form_encode(&user),
            form_encode(&pass)
        );
        self.cookies.clear();
        let request = minreq::post(format!("{}{}", self.base_url, LOGIN_PATH))
            .with_header("Content-Type", "application/x-www-form-urlencoded")
            .with_body(body);
        let answer = self.send(request)?;
        let set_cookie = self.keep_cookies(&answer);
        match answer.status {
            200 => {
                crate::debug!("miner: logged in ({} cookies)", self.cookies.len());
                Ok(())
            }
            300..=399 if set_cookie => {
                crate::debug!("miner: logged in by a {} with a cookie", answer.status);
                Ok(())
            }
            status @ 300..=399 => Err(PollError::Redirect(format!(
                "http://{}{LOGIN_PATH} answered {status} to {} without setting a cookie \
                 (the exporter speaks plain http to the dashboard)",
                self.address,
                answer.headers("location").next().unwrap_or("(no Location)")
            ))),
            status => Err(self.refused_login(status)),
        }
    }

    fn refused_login(&self, status: u16) -> PollError {
        PollError::Login(self.refused(&format!("{LOGIN_PATH} answered {status}")))
    }

    fn get(&mut self, path: &str) -> Result<Answer, PollError> {
        let mut request = minreq::get(format!("{}{}", self.base_url, path));
        if !self.cookies.is_empty() {
            let header = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.with_header("Cookie", header);
        }
        let answer = self.send(request)?;
        self.keep_cookies(&answer);
        Ok(answer)
    }

    /// Stores every cookie the answer sets; true if it set any.
    fn keep_cookies(&mut self, answer: &Answer) -> bool {
        let mut any = false;
        for header in answer.headers("set-cookie") {
            let pair = header.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() {
                continue;
            }
            any = true;
            let deleted = header
                .split(';')
                .skip(1)
                .any(|attr| attr.trim().eq_ignore_ascii_case("max-age=0"));
            self.cookies.retain(|(n, _)| n != name);
            if !deleted {
                self.cookies.push((name.to_string(), value.to_string()));
            }
        }
        any
    }

    fn send(&self, request: minreq::Request) -> Result<Answer, PollError> {
        let request = request
            .with_header("Connection", "close")
            .with_header(
                "User-Agent",
                concat!("linxdot-exporter/", env!("CARGO_PKG_VERSION")),
            )
            .with_follow_redirects(false)
            .with_timeout(self.timeout_secs);
        let mut lazy = request
            .send_lazy()
            .map_err(|e| map_error(e, &self.address))?;
        let announced = lazy
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<u64>().ok());
        if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(PollError::TooLarge);
        }
        let mut body = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match lazy.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    if body.len() + n > MAX_BODY_BYTES {
                        return Err(PollError::TooLarge);
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(map_io_error(&e, &self.address)),
            }
        }
        Ok(Answer {
            status: lazy.status_code,
            headers: std::mem::take(&mut lazy.headers),
            body,
        })
    }
}

/// After the n-th failed login in a row (`failures` = n ≥ 1), the next one
/// waits `refresh_interval × 2^(n-1)`, at most [`MAX_LOGIN_BACKOFF`].
pub fn login_backoff(refresh_interval: Duration, failures: u32) -> Duration {
    // 2^16 × the shortest interval (0.1 s) is already past the cap.
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    refresh_interval
        .saturating_mul(factor)
        .min(MAX_LOGIN_BACKOFF)
}

/// `host:port` of a `-o` value (port 80 when it names none).
fn address_of(host: &str) -> String {
    let has_port = match host.strip_prefix('[') {
        Some(rest) => rest.contains("]:"),
        None => host.matches(':').count() == 1,
    };
    match (has_port, host.contains(':') && !host.starts_with('[')) {
        (true, _) => host.to_string(),
        (false, true) => format!("[{host}]:80"),
        (false, false) => format!("{host}:80"),
    }
}

/// An I/O error in words: what happened at `address` and what to check,
/// the system's own text (with its error number) in parentheses.
fn map_io_error(e: &std::io::Error, address: &str) -> PollError {
    use std::io::ErrorKind::*;
    let words = match e.kind() {
        TimedOut | WouldBlock => return PollError::Timeout,
        ConnectionRefused => format!(
            "connection refused by {address}: is the dashboard running, and is that its address (-o)?"
        ),
        ConnectionReset | ConnectionAborted => {
            format!("{address} closed the connection in the middle of an answer")
        }
        HostUnreachable | NetworkUnreachable => format!(
            "{address} cannot be reached: check the address (-o) and the network"
        ),
        NotConnected | AddrNotAvailable => {
            format!("no connection to {address}: check the address (-o)")
        }
        // std's text for a failed getaddrinfo(3) (its kind has no stable name).
        _ if e.to_string().starts_with("failed to lookup address information") => {
            format!("the host name of {address} cannot be resolved: check the address (-o)")
        }
        _ => return PollError::Http(format!("{address}: {e}")),
    };
    PollError::Connection(format!("{words} ({e})"))
}

fn map_error(e: minreq::Error, address: &str) -> PollError {
    match e {
        minreq::Error::IoError(io) => map_io_error(&io, address),
        minreq::Error::AddressNotFound => PollError::Connection(format!(
            "host name not found: {address}: check the address (-o)"
        )),
        other => PollError::Http(format!("{address}: {other}")),
    }
}

/// `0.3 s`, `52 s`, `2 min 5 s`, `15 min`: a wait as messages give it.
fn seconds_text(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if d.as_secs() < 10 && d.subsec_millis() != 0 {
        return format!("{secs:.1} s");
    }
    let whole = secs.round() as u64;
    match (whole / 60, whole % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// Lowercase hex MD5, as the dashboard's login form sends.
pub fn md5_hex(text: &str) -> String {
    format!("{:x}", md5::compute(text.as_bytes()))
}

/// `application/x-www-form-urlencoded` value encoding.
pub(crate) fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_known_words() {
        assert_eq!(md5_hex("admin"), "21232f297a57a5a743894a0e4a801fc3");
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn form_encoding_table() {
        let table = [
            ("admin", "admin"),
            ("p@ss w&rd=1", "p%40ss+w%26rd%3D1"),
            ("ü", "%C3%BC"),
            ("a-b.c_d*e~", "a-b.c_d*e%7E"),
        ];
        for (input, want) in table {
            assert_eq!(form_encode(input), want);
        }
    }
    #[test]
    fn login_backoff_doubles_from_the_refresh_interval_up_to_15_minutes() {
        let minute = Duration::from_secs(60);
        let table = [
            (1, 60),
            (2, 120),
            (3, 240),
            (4, 480),
            (5, 900),
            (6, 900),
            (17, 900),
            (u32::MAX, 900),
        ];
        for (failures, want) in table {
            assert_eq!(
                login_backoff(minute, failures),
                Duration::from_secs(want),
                "after {failures} failures"
            );
        }
        let tenth = Duration::from_millis(100);
        assert_eq!(login_backoff(tenth, 1), tenth);
        assert_eq!(login_backoff(tenth, 5), Duration::from_millis(1600));
        // 0.1 s × 2^13 = 819.2 s is still under the cap, × 2^14 is over.
        assert_eq!(login_backoff(tenth, 14), Duration::from_millis(819_200));
        assert_eq!(login_backoff(tenth, 15), MAX_LOGIN_BACKOFF);
        assert_eq!(MAX_LOGIN_BACKOFF, Duration::from_secs(15 * 60));
    }

    /// `127.0.0.1:PORT` where nothing listens (it did a moment ago).
    fn refused_host() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    }

    fn client_of(host: &str, refresh_interval: Duration) -> DashboardClient {
        DashboardClient::new(&Config {
            host: host.to_string(),
            username: "admin".into(),
            password: Secret::new("admin".into()),
            plain_credentials: false,
            refresh_interval,
            timeout: Duration::from_secs(2),
        })
    }

    #[test]
    fn failed_logins_schedule_the_next_attempt_and_nothing_is_sent_before() {
        // Nothing listens here: an attempt would be a connection error.
        let mut client = client_of(&refused_host(), Duration::from_secs(60));
        for n in 1..=5u32 {
            let before = Instant::now();
            client.back_off_logins(&format!("refusal {n}"));
            let after = Instant::now();
            let at = client.next_login_at.expect("a next login time");
            let wait = login_backoff(Duration::from_secs(60), n);
            assert!(before + wait <= at && at <= after + wait, "failure {n}");
            assert_eq!(client.failed_logins, n);
        }
        match client.fetch_system() {
            Err(PollError::LoginBackoff(Backoff { left, after })) => {
                assert!(left <= MAX_LOGIN_BACKOFF && left > Duration::from_secs(800));
                assert_eq!(after, "refusal 5", "the last failure is named");
            }
            other => panic!("expected a login backoff, got {other:?}"),
        }
        assert!(!client.logged_in);
    }

    /// A dashboard for one connection on loopback: it reads the request head,
    /// writes `parts` (waiting for a message on `between` before each part
    /// after the first), closes its side if `close`, and then waits for the
    /// client to go.
    fn serve_once(
        parts: Vec<Vec<u8>>,
        between: Option<std::sync::mpsc::Receiver<()>>,
        close: bool,
    ) -> (String, std::thread::JoinHandle<()>) {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                assert_eq!(stream.read(&mut byte).unwrap(), 1, "request head");
                head.push(byte[0]);
            }
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    if let Some(rx) = &between {
                        rx.recv().unwrap();
                    }
                }
                // The client may have left already (an early TooLarge).
                if stream.write_all(part).is_err() {
                    return;
                }
            }
            if close {
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
            let mut rest = [0u8; 4096];
            while matches!(stream.read(&mut rest), Ok(n) if n > 0) {}
        });
        (host, server)
    }

    fn fetch_from(parts: Vec<Vec<u8>>, close: bool) -> Result<Vec<u8>, PollError> {
        let (host, server) = serve_once(parts, None, close);
        let result = client_of(&host, Duration::from_secs(60))
            .get(SYSTEM_PATH)
            .map(|a| a.body);
        server.join().unwrap();
        result
    }

    fn head_with_length(length: usize) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n").into_bytes()
    }

    const UNTIL_CLOSE: &[u8] = b"HTTP/1.0 200 OK\r\n\r\n";

    #[test]
    fn a_body_of_exactly_one_mib_is_read_and_one_byte_more_is_too_large() {
        let full = vec![b'x'; MAX_BODY_BYTES];
        assert_eq!(MAX_BODY_BYTES, 1_048_576);
        // Announced by Content-Length, and read until the server closes.
        let got = fetch_from(vec![head_with_length(MAX_BODY_BYTES), full.clone()], false);
        assert_eq!(got.map(|b| b.len()), Ok(MAX_BODY_BYTES));
        let got = fetch_from(vec![UNTIL_CLOSE.to_vec(), full.clone()], true);
        assert_eq!(got.map(|b| b.len()), Ok(MAX_BODY_BYTES));
        let got = fetch_from(vec![UNTIL_CLOSE.to_vec(), full, b"y".to_vec()], true);
        assert_eq!(got, Err(PollError::TooLarge));
    }

    #[test]
    fn an_announced_body_over_the_limit_is_refused_before_reading_it() {
        // Only the head comes, and the connection stays open: refusing it
        // takes the Content-Length check, reading would wait for the timeout.
        let got = fetch_from(vec![head_with_length(MAX_BODY_BYTES + 1)], false);
        assert_eq!(got, Err(PollError::TooLarge));
        let got = fetch_from(vec![head_with_length(usize::MAX)], false);
        assert_eq!(got, Err(PollError::TooLarge));
    }

    #[test]
    fn a_signal_during_a_read_does_not_fail_the_poll() {
        let (go, between) = std::sync::mpsc::channel();
        let (host, server) = serve_once(
            vec![
                [head_with_length(7), b"{\"a\"".to_vec()].concat(),
                b":1}".to_vec(),
            ],
            Some(between),
            false,
        );
        let got = crate::testing::interrupted(
            40,
            move || {
                client_of(&host, Duration::from_secs(60))
                    .get(SYSTEM_PATH)
                    .map(|a| a.body)
            },
            // The rest of the body comes after the signals.
            move || go.send(()).unwrap(),
        );
        server.join().unwrap();
        assert_eq!(got, Ok(b"{\"a\":1}".to_vec()));
    }

    #[test]
    fn a_reset_in_the_middle_of_a_body_is_a_connection_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            use std::io::Write;
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                assert_eq!(stream.read(&mut byte).unwrap(), 1, "request head");
                head.push(byte[0]);
            }
            stream.write_all(&head_with_length(10)).unwrap();
            stream.write_all(b"{\"a\"").unwrap();
            crate::testing::reset_on_close(&stream);
            // Closing now sends a reset instead of the rest of the body.
        });
        let got = client_of(&host, Duration::from_secs(60))
            .get(SYSTEM_PATH)
            .map(|a| a.body);
        server.join().unwrap();
        assert!(matches!(got, Err(PollError::Connection(_))), "{got:?}");
    }

    #[test]
    fn io_errors_map_to_the_reason_labels_and_to_words() {
        use std::io::{Error, ErrorKind::*};
        let table = [
            (TimedOut, "timeout", ""),
            (WouldBlock, "timeout", ""),
            (
                ConnectionRefused,
                "connection",
                "connection refused by 192.0.2.1:80: is the dashboard running, and is that its \
                 address (-o)? (connection refused)",
            ),
            (
                ConnectionReset,
                "connection",
                "192.0.2.1:80 closed the connection in the middle of an answer (connection reset)",
            ),
            (
                ConnectionAborted,
                "connection",
                "192.0.2.1:80 closed the connection in the middle of an answer (connection aborted)",
            ),
            (
                NotConnected,
                "connection",
                "no connection to 192.0.2.1:80: check the address (-o) (not connected)",
            ),
            (
                AddrNotAvailable,
                "connection",
                "no connection to 192.0.2.1:80: check the address (-o) (address not available)",
            ),
            (
                HostUnreachable,
                "connection",
                "192.0.2.1:80 cannot be reached: check the address (-o) and the network \
                 (host unreachable)",
            ),
            (
                NetworkUnreachable,
                "connection",
                "192.0.2.1:80 cannot be reached: check the address (-o) and the network \
                 (network unreachable)",
            ),
            (UnexpectedEof, "http", "192.0.2.1:80: unexpected end of file"),
            (Other, "http", "192.0.2.1:80: other error"),
            (InvalidData, "http", "192.0.2.1:80: invalid data"),
        ];
        let at = "192.0.2.1:80";
        for (kind, reason, words) in table {
            let direct = map_io_error(&Error::from(kind), at);
            let through_minreq = map_error(minreq::Error::IoError(Error::from(kind)), at);
            assert_eq!(direct, through_minreq, "{kind:?}");
            assert_eq!(direct.reason().label(), reason, "{kind:?}");
            match direct {
                PollError::Connection(text) | PollError::Http(text) => {
                    assert_eq!(text, words, "{kind:?}")
                }
                PollError::Timeout => assert_eq!(words, ""),
                other => panic!("{kind:?}: {other:?}"),
            }
        }
        let lookup = "failed to lookup address information: Name or service not known";
        assert_eq!(
            map_io_error(&Error::other(lookup), "miner.lan:80"),
            PollError::Connection(format!(
                "the host name of miner.lan:80 cannot be resolved: check the address (-o) ({lookup})"
            ))
        );
        assert_eq!(
            map_error(minreq::Error::AddressNotFound, "miner.lan:80"),
            PollError::Connection(
                "host name not found: miner.lan:80: check the address (-o)".into()
            )
        );
        assert_eq!(
            map_error(minreq::Error::HeadersOverflow, at),
            PollError::Http(format!("{at}: {}", minreq::Error::HeadersOverflow))
        );
    }

    #[test]
    fn a_refused_connection_is_named_in_words_with_the_system_error_kept() {
        let mut client = client_of(&refused_host(), Duration::from_secs(60));
        let Err(PollError::Connection(text)) = client.fetch_system() else {
            panic!("expected a connection error")
        };
        let words = format!(
            "connection refused by {}: is the dashboard running, and is that its address (-o)? \
             (Connection refused (os error {}))",
            client.address,
            libc::ECONNREFUSED
        );
        assert_eq!(text, words);
    }

    #[test]
    fn the_dashboard_address_names_its_port() {
        let table = [
            ("127.0.0.1", "127.0.0.1:80"),
            ("127.0.0.1:18080", "127.0.0.1:18080"),
            ("miner.lan", "miner.lan:80"),
            ("[fd00::1]:8080", "[fd00::1]:8080"),
            ("[fd00::1]", "[fd00::1]:80"),
            ("fd00::1", "[fd00::1]:80"),
        ];
        for (host, address) in table {
            assert_eq!(address_of(host), address, "{host}");
        }
    }

    #[test]
    fn a_timeout_is_rounded_up_to_whole_seconds_of_at_least_one() {
        // `--timeout` for /probe comes from the scrape's own timeout header,
        // which can be any fraction: never shorter than asked, never zero.
        let table = [
            (Duration::ZERO, 1),
            (Duration::from_millis(200), 1),
            (Duration::from_secs(1), 1),
            (Duration::from_millis(1500), 2),
            (Duration::from_secs(3), 3),
            (Duration::from_secs(3) + Duration::from_nanos(1), 4),
            (Duration::from_secs(10), 10),
        ];
        for (timeout, secs) in table {
            let mut client = client_of("127.0.0.1:1", Duration::from_secs(60));
            assert_eq!(client.timeout_secs, 2, "from the config");
            client.set_timeout(timeout);
            assert_eq!(client.timeout_secs, secs, "{timeout:?}");
        }
    }

    #[test]
    fn waits_are_given_in_words() {
        let table = [
            (Duration::ZERO, "0 s"),
            (Duration::from_millis(300), "0.3 s"),
            (Duration::from_millis(9_960), "10.0 s"),
            (Duration::from_millis(10_500), "11 s"),
            (Duration::from_secs(1), "1 s"),
            (Duration::from_millis(52_400), "52 s"),
            (Duration::from_millis(59_600), "1 min"),
            (Duration::from_secs(60), "1 min"),
            (Duration::from_secs(125), "2 min 5 s"),
            (MAX_LOGIN_BACKOFF, "15 min"),
        ];
        for (wait, text) in table {
            assert_eq!(seconds_text(wait), text, "{wait:?}");
        }
    }

    fn answer_setting(cookies: &[&str]) -> Answer {
        Answer {
            status: 200,
            headers: cookies
                .iter()
                .map(|c| ("Set-Cookie".to_string(), c.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn cookies_are_kept_replaced_and_deleted() {
        let mut client = client_of("127.0.0.1:1", Duration::from_secs(60));
        assert!(!client.keep_cookies(&answer_setting(&[])));
        assert!(!client.keep_cookies(&answer_setting(&["novalue", "=x; Path=/"])));
        assert!(client.cookies.is_empty());
        assert!(client.keep_cookies(&answer_setting(&[
            "sysauth=abc; Path=/; HttpOnly",
            " lang = en ",
            "theme=dark",
        ])));
        let names = |c: &DashboardClient| c.cookies.clone();
        assert_eq!(
            names(&client),
            [
                ("sysauth".into(), "abc".into()),
                ("lang".into(), "en".into()),
                ("theme".into(), "dark".into())
            ]
        );
        // A new value replaces the old one; Max-Age=0 deletes.
        assert!(client.keep_cookies(&answer_setting(&[
            "sysauth=def",
            "theme=; Path=/; max-age=0",
        ])));
        assert_eq!(
            names(&client),
            [
                ("lang".into(), "en".into()),
                ("sysauth".into(), "def".into())
            ]
        );
        // Only Set-Cookie headers count, in any case.
        let mut other = answer_setting(&[]);
        other.headers.push(("set-COOKIE".into(), "x=1".into()));
        other.headers.push(("Cookie".into(), "y=2".into()));
        assert!(client.keep_cookies(&other));
        assert_eq!(client.cookies.last(), Some(&("x".into(), "1".into())));
        assert_eq!(client.cookies.len(), 3);
    }

    #[test]
    fn messages_name_what_went_wrong() {
        let table = [
            (
                PollError::Connection("refused".into()),
                "cannot connect to the dashboard: refused",
            ),
            (
                PollError::Timeout,
                "the dashboard did not answer in time (--timeout): is the miner overloaded?",
            ),
            (PollError::Http("x".into()), "dashboard HTTP error: x"),
            (PollError::Login("x".into()), "login failed: x"),
            (
                PollError::LoginBackoff(Backoff {
                    left: Duration::from_millis(90_500),
                    after: "why".into(),
                }),
                "next login attempt in 1 min 31 s: the last one failed: why",
            ),
            (PollError::Redirect("x".into()), "unexpected redirect: x"),
            (
                PollError::TooLarge,
                "dashboard answer larger than 1048576 bytes",
            ),
            (
                PollError::Parse("x".into()),
                "cannot read the dashboard answer: x",
            ),
        ];
        let mut reasons = Vec::new();
        for (error, message) in table {
            assert_eq!(error.to_string(), message);
            reasons.push(error.reason().label());
        }
        reasons.sort_unstable();
        let mut all: Vec<_> = Reason::ALL.iter().map(|r| r.label()).collect();
        all.sort_unstable();
        assert_eq!(reasons, all, "one message per reason");
    }

    const REFUSED: &str = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn a_refused_login_says_what_was_tried_and_what_to_check() {
        for (plain, tried, other_way) in [
            (
                false,
                "MD5-hashed credentials",
                "add -a if it wants them as typed",
            ),
            (
                true,
                "plain credentials (-a)",
                "drop -a if it wants them MD5-hashed",
            ),
        ] {
            let (host, server) = dashboard(vec![REFUSED]);
            let mut client = client_of(&host, Duration::from_millis(1500));
            client.plain_credentials = plain;
            let why = format!(
                "the dashboard at {host} refused user 'admin' with {tried} \
                 (/login_odd answered 403): check the user and password (-u, -p or \
                 --password-file), or {other_way}; retrying after 1.5 s, then twice as long \
                 after each failure, at most 15 min"
            );
            assert_eq!(client.fetch_system(), Err(PollError::Login(why.clone())));
            assert_eq!(client.failed_logins, 1);
            // Until the next attempt, each poll says when it comes and why.
            match client.fetch_system() {
                Err(PollError::LoginBackoff(Backoff { left, after })) => {
                    assert!(left <= Duration::from_millis(1500), "{left:?}");
                    assert_eq!(after, why);
                }
                other => panic!("expected the back-off, got {other:?}"),
            }
            server.join().unwrap();
        }
    }

    /// A scripted dashboard on loopback: one connection per answer, in
    /// order; returns its address and a handle that yields the requests it
    /// got (head and body as text).
    fn dashboard(answers: Vec<&'static str>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let mut requests = Vec::new();
            for answer in answers {
                let (mut stream, _) = listener.accept().unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") {
                    assert_eq!(stream.read(&mut byte).unwrap(), 1, "request head");
                    request.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                let mut body = vec![0u8; length];
                stream.read_exact(&mut body).unwrap();
                request.extend_from_slice(&body);
                requests.push(String::from_utf8_lossy(&request).into_owned());
                stream.write_all(answer.as_bytes()).unwrap();
            }
            requests
        });
        (host, server)
    }

    const LOGGED_IN: &str =
        "HTTP/1.1 200 OK\r\nSet-Cookie: sysauth=abc; Path=/\r\nContent-Length: 0\r\n\r\n";
    const SYSTEM: &str = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
    const EXPIRED: &str = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn a_poll_logs_in_then_fetches_with_the_cookie() {
        let (host, server) = dashboard(vec![LOGGED_IN, SYSTEM, SYSTEM]);
        let mut client = client_of(&host, Duration::from_secs(60));
        assert_eq!(client.fetch_system(), Ok(b"{\"a\":1}".to_vec()));
        // Logged in now: the next poll is one request.
        assert_eq!(client.fetch_system(), Ok(b"{\"a\":1}".to_vec()));
        let requests = server.join().unwrap();
        assert!(
            requests[0].starts_with("POST /login_odd HTTP/1.1\r\n"),
            "{requests:?}"
        );
        assert!(
            requests[0].ends_with(&format!(
                "\r\n\r\nusername={0}&password={0}",
                md5_hex("admin")
            )),
            "{requests:?}"
        );
        for get in &requests[1..] {
            assert!(get.starts_with("GET /info/system HTTP/1.1\r\n"), "{get}");
            assert!(get.contains("\r\nCookie: sysauth=abc\r\n"), "{get}");
        }
    }

    #[test]
    fn an_expired_session_logs_in_once_more() {
        let (host, server) = dashboard(vec![LOGGED_IN, EXPIRED, LOGGED_IN, SYSTEM]);
        let mut client = client_of(&host, Duration::from_secs(60));
        assert_eq!(client.fetch_system(), Ok(b"{\"a\":1}".to_vec()));
        assert_eq!(client.failed_logins, 0);
        let requests = server.join().unwrap();
        assert_eq!(
            requests.iter().filter(|r| r.starts_with("POST ")).count(),
            2
        );
    }

    #[test]
    fn a_session_refused_right_after_a_login_is_a_failed_login() {
        let (host, server) = dashboard(vec![LOGGED_IN, EXPIRED, LOGGED_IN, EXPIRED]);
        let mut client = client_of(&host, Duration::from_secs(60));
        let why = format!(
            "the dashboard at {host} refused user 'admin' with MD5-hashed credentials \
             (/info/system answered 401 right after a successful login): check the user and \
             password (-u, -p or --password-file), or add -a if it wants them as typed; \
             retrying after 1 min, then twice as long after each failure, at most 15 min"
        );
        assert_eq!(client.fetch_system(), Err(PollError::Login(why.clone())));
        assert_eq!(client.last_login_failure, why);
        assert_eq!(client.failed_logins, 1);
        assert!(!client.logged_in);
        assert!(client.next_login_at.is_some());
        server.join().unwrap();
    }
}
