//! The miner's dashboard over HTTP: login, cookies, `GET /info/system`.
//!
//! minreq keeps no cookies and follows redirects by default; here every
//! request is sent with redirects off, every `Set-Cookie` is kept and sent
//! back, every request has a deadline and `Connection: close`, and no body is
//! read past [`MAX_BODY_BYTES`]. Failed logins back off exponentially, so a
//! wrong password does not hammer the dashboard.

use crate::config::{MinerConfig, Secret};
use std::io::Read;
use std::time::{Duration, Instant};

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const LOGIN_PATH: &str = "/login_odd";
pub const SYSTEM_PATH: &str = "/info/system";
/// The longest wait between two login attempts.
pub const MAX_LOGIN_BACKOFF: Duration = Duration::from_secs(15 * 60);

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
    LoginBackoff(Duration),
    /// A redirect that did not log us in (e.g. port 80 sent to https).
    Redirect(String),
    /// A body larger than [`MAX_BODY_BYTES`].
    TooLarge,
    /// The body is not the JSON object expected.
    Parse(String),
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
            PollError::Timeout => write!(f, "the dashboard did not answer in time"),
            PollError::Http(e) => write!(f, "dashboard HTTP error: {e}"),
            PollError::Login(e) => write!(f, "login failed: {e}"),
            PollError::LoginBackoff(d) => {
                write!(
                    f,
                    "not logging in again for {}s after failed logins",
                    d.as_secs()
                )
            }
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
}

impl DashboardClient {
    pub fn new(config: &MinerConfig) -> Self {
        DashboardClient {
            base_url: format!("http://{}", config.host),
            username: config.username.clone(),
            password: config.password.clone(),
            plain_credentials: config.plain_credentials,
            timeout_secs: config.timeout.as_secs().max(1),
            refresh_interval: config.refresh_interval,
            cookies: Vec::new(),
            logged_in: false,
            failed_logins: 0,
            next_login_at: None,
        }
    }

    /// Each later request gives up after `timeout` (whole seconds, at least
    /// one: minreq's unit).
    pub fn set_timeout(&mut self, timeout: Duration) {
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        self.timeout_secs = secs.max(1);
    }

    /// The dashboard's system document, logging in first when needed and
    /// once more when the session has expired (HTTP 401).
    pub fn fetch_system(&mut self) -> Result<Vec<u8>, PollError> {
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
                self.back_off_logins();
                return Err(PollError::Login(
                    "the dashboard refused the session right after a successful login".into(),
                ));
            }
            again
        } else {
            answer
        };
        match answer.status {
            200 => Ok(answer.body),
            status @ 300..=399 => Err(PollError::Redirect(format!(
                "{SYSTEM_PATH} answered {status} to {}",
                answer.headers("location").next().unwrap_or("(no Location)")
            ))),
            status => Err(PollError::Http(format!("{SYSTEM_PATH} answered {status}"))),
        }
    }

    fn login(&mut self) -> Result<(), PollError> {
        if let Some(at) = self.next_login_at {
            let now = Instant::now();
            if now < at {
                return Err(PollError::LoginBackoff(at - now));
            }
        }
        let result = self.try_login();
        match &result {
            Ok(()) => {
                self.logged_in = true;
                self.failed_logins = 0;
                self.next_login_at = None;
            }
            Err(PollError::Login(_)) | Err(PollError::Redirect(_)) => self.back_off_logins(),
            // The dashboard being down is not a refused login: no backoff.
            Err(_) => {}
        }
        result
    }

    /// After the n-th failed login in a row, the next waits
    /// `refresh_interval × 2^(n-1)`, at most [`MAX_LOGIN_BACKOFF`].
    fn back_off_logins(&mut self) {
        self.failed_logins = self.failed_logins.saturating_add(1);
        let factor = 1u32 << (self.failed_logins - 1).min(16);
        let wait = self
            .refresh_interval
            .saturating_mul(factor)
            .min(MAX_LOGIN_BACKOFF);
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
                "{LOGIN_PATH} answered {status} to {} without setting a cookie",
                answer.headers("location").next().unwrap_or("(no Location)")
            ))),
            status => Err(PollError::Login(format!("{LOGIN_PATH} answered {status}"))),
        }
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
        let mut lazy = request.send_lazy().map_err(map_error)?;
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
                Err(e) => return Err(map_io_error(&e)),
            }
        }
        Ok(Answer {
            status: lazy.status_code,
            headers: std::mem::take(&mut lazy.headers),
            body,
        })
    }
}

fn map_io_error(e: &std::io::Error) -> PollError {
    use std::io::ErrorKind::*;
    match e.kind() {
        TimedOut | WouldBlock => PollError::Timeout,
        ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected
        | AddrNotAvailable | HostUnreachable | NetworkUnreachable => {
            PollError::Connection(e.to_string())
        }
        _ => PollError::Http(e.to_string()),
    }
}

fn map_error(e: minreq::Error) -> PollError {
    match e {
        minreq::Error::IoError(io) => map_io_error(&io),
        minreq::Error::AddressNotFound => PollError::Connection("host name not found".into()),
        other => PollError::Http(other.to_string()),
    }
}

/// Lowercase hex MD5, as the dashboard's login form sends.
pub fn md5_hex(text: &str) -> String {
    format!("{:x}", md5::compute(text.as_bytes()))
}

/// `application/x-www-form-urlencoded` value encoding.
pub fn form_encode(text: &str) -> String {
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
}
