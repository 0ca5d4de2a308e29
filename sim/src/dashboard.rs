//! A simulated Linxdot dashboard: a real HTTP server on loopback that speaks
//! the stock firmware's API (`POST /login_odd`, `GET /info/system`) and can be
//! switched into the fault modes an exporter must survive.
//!
//! Used in-process by the tests and, through `examples/dashboard-sim.rs`, as
//! a stand-alone program for the README demo, the benchmarks and the soak.
//!
//! ```no_run
//! use linxdot_sim::dashboard::{system_json_with, Dashboard, Fault};
//!
//! let sim = Dashboard::start(); // 127.0.0.1, a free port, admin/admin
//! sim.set_system_json(&system_json_with(&[("animal_name", r#""odd-name""#), ("cpu_temp", "41.5")]));
//! // ... point the exporter at `sim.host()` ...
//! sim.set_fault(Fault::ServerError);
//! assert!(sim.state().logins >= 1);
//! drop(sim); // stops listening
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How the simulated dashboard misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Behaves like a healthy dashboard.
    None,
    /// Accepts connections and never answers.
    Hang,
    /// `/info/system` answers 500.
    ServerError,
    /// `/info/system` answers 200 with an HTML page.
    NotJson,
    /// `/info/system` answers a 64 MiB body with its Content-Length.
    HugeBody,
    /// `/info/system` answers a 64 MiB body without Content-Length.
    HugeBodyUnannounced,
    /// `/info/system` answers `[` nested 200,000 deep.
    DeepNesting,
    /// `/info/system` drips its body one byte every 200 ms.
    Drip,
    /// The login answers 302 to https without a cookie (like a firmware whose
    /// web server sends port 80 to https).
    LoginRedirect,
    /// The login answers 302 to `/` and sets the session cookie.
    LoginRedirectWithCookie,
    /// `/info/system` answers valid JSON without the expected keys.
    MissingKeys,
    /// Every session is good for one request only.
    ExpireEveryRequest,
}

impl Fault {
    /// Every mode with its name on the command line of `dashboard-sim`.
    pub const ALL: [(&'static str, Fault); 12] = [
        ("none", Fault::None),
        ("hang", Fault::Hang),
        ("server-error", Fault::ServerError),
        ("not-json", Fault::NotJson),
        ("huge-body", Fault::HugeBody),
        ("huge-body-unannounced", Fault::HugeBodyUnannounced),
        ("deep-nesting", Fault::DeepNesting),
        ("drip", Fault::Drip),
        ("login-redirect", Fault::LoginRedirect),
        ("login-redirect-with-cookie", Fault::LoginRedirectWithCookie),
        ("missing-keys", Fault::MissingKeys),
        ("expire-every-request", Fault::ExpireEveryRequest),
    ];

    /// The mode named `name` in [`Fault::ALL`].
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }
}

/// The healthy `/info/system` document (values from the upstream README).
pub const DEFAULT_SYSTEM_JSON: &str = r#"{"animal_name":"fancy-lime-wolf","firmware":"Linxdot 1.2.26 r17752-8c4a79dd5","model_name":"LD-1001","region":"AU915","sn":"LD1NTV000000001","cpu_temp":35.555,"cpu_usage":7.1694,"memory_usage":"17.5041","storage_usage":39.8219,"uptime":123456,"lan_ip":"192.0.2.10"}"#;

/// [`DEFAULT_SYSTEM_JSON`] with some keys' values replaced: each override is
/// a key and its value as raw JSON (`r#""odd-name""#` for a string, `41.5`
/// for a number). A key the document does not have is added at its end.
pub fn system_json_with(overrides: &[(&str, &str)]) -> String {
    // The default document is flat and no value in it holds a comma, a
    // quote or a brace, so its members split on commas.
    let inner = &DEFAULT_SYSTEM_JSON[1..DEFAULT_SYSTEM_JSON.len() - 1];
    let mut members: Vec<(String, String)> = inner
        .split(',')
        .filter_map(|m| {
            let (key, value) = m.split_once(':')?;
            Some((key.trim_matches('"').to_string(), value.to_string()))
        })
        .collect();
    for (key, value) in overrides {
        match members.iter_mut().find(|(k, _)| k == key) {
            Some(member) => member.1 = value.to_string(),
            None => members.push((key.to_string(), value.to_string())),
        }
    }
    let members: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// What the simulator expects and what it has seen; read and change it
/// through [`Dashboard::state`].
pub struct SimState {
    /// The good username.
    pub username: String,
    /// The good password.
    pub password: String,
    /// Expect the credentials as sent with `-a` (plain) instead of md5 hex.
    pub plain_credentials: bool,
    /// How it misbehaves now.
    pub fault: Fault,
    /// The body of a good `/info/system` answer.
    pub system_json: String,
    /// Sessions issued and still valid (value of the `sysauth` cookie).
    pub sessions: Vec<String>,
    /// Good logins so far.
    pub logins: u64,
    /// Logins with wrong credentials so far.
    pub failed_logins: u64,
    /// When each login request (good or not) arrived, in order.
    pub login_times: Vec<Instant>,
    /// `GET /info/system` requests so far (with or without a session).
    pub system_requests: u64,
    /// The `Cookie` header of the last `/info/system` request.
    pub last_cookie: Option<String>,
    /// The body of the last login request.
    pub last_login_body: Option<String>,
    /// Whether a request arrived without `Connection: close`.
    pub saw_keep_alive_request: bool,
    /// Request heads received, whatever the path and the fault (a hanging
    /// simulator counts the request it hangs on).
    pub requests: u64,
    next_session: u64,
}

/// A running simulator; stops listening when dropped.
pub struct Dashboard {
    addr: SocketAddr,
    state: Arc<Mutex<SimState>>,
    stop: Arc<AtomicBool>,
}

impl Dashboard {
    /// Starts a healthy dashboard on a free loopback port, credentials admin/admin.
    pub fn start() -> Dashboard {
        Dashboard::start_on("127.0.0.1:0", "admin", "admin").expect("start the dashboard simulator")
    }

    /// Starts a healthy dashboard on `listen` (`127.0.0.1:0` for a free
    /// port) with these credentials, expected md5-hashed as the stock
    /// firmware's web page sends them (see [`SimState::plain_credentials`]).
    pub fn start_on(listen: &str, username: &str, password: &str) -> std::io::Result<Dashboard> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(SimState {
            username: username.to_string(),
            password: password.to_string(),
            plain_credentials: false,
            fault: Fault::None,
            system_json: DEFAULT_SYSTEM_JSON.to_string(),
            sessions: Vec::new(),
            logins: 0,
            failed_logins: 0,
            login_times: Vec::new(),
            system_requests: 0,
            last_cookie: None,
            last_login_body: None,
            saw_keep_alive_request: false,
            requests: 0,
            next_session: 1,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&state), Arc::clone(&stop));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let (s, st) = (Arc::clone(&s), Arc::clone(&st));
                    thread::spawn(move || {
                        let _ = serve(conn, &s, &st);
                    });
                }
            }
        });
        Ok(Dashboard { addr, state, stop })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, as `--host` takes it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Its state, locked: read the counters, change the expectations.
    pub fn state(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Switches to fault mode `fault` from the next request on.
    pub fn set_fault(&self, fault: Fault) {
        self.state().fault = fault;
    }

    /// Answers `/info/system` with `json` from the next request on.
    pub fn set_system_json(&self, json: &str) {
        self.state().system_json = json.to_string();
    }

    /// Forgets every session, as a dashboard restart would.
    pub fn expire_sessions(&self) {
        self.state().sessions.clear();
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

struct Head {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_head(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Head>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Some(Head {
        method,
        path,
        headers,
    }))
}

fn md5_hex(s: &str) -> String {
    format!("{:x}", md5::compute(s.as_bytes()))
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn form_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[String],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn serve(stream: TcpStream, state: &Mutex<SimState>, stop: &AtomicBool) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    let Some(head) = read_head(&mut reader)? else {
        return Ok(());
    };
    let length: usize = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(64 * 1024)];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();

    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    lock().requests += 1;
    let fault = lock().fault;
    if head
        .header("connection")
        .is_none_or(|v| !v.eq_ignore_ascii_case("close"))
    {
        lock().saw_keep_alive_request = true;
    }
    if fault == Fault::Hang {
        let until = Instant::now() + Duration::from_secs(120);
        while Instant::now() < until && !stop.load(Ordering::SeqCst) && lock().fault == Fault::Hang
        {
            thread::sleep(Duration::from_millis(50));
        }
        return Ok(());
    }

    match (head.method.as_str(), head.path.as_str()) {
        ("POST", "/login_odd") => {
            let mut s = lock();
            s.login_times.push(Instant::now());
            s.last_login_body = Some(body.clone());
            let user = form_decode(form_value(&body, "username").unwrap_or(""));
            let pass = form_decode(form_value(&body, "password").unwrap_or(""));
            let (want_user, want_pass) = if s.plain_credentials {
                (s.username.clone(), s.password.clone())
            } else {
                (md5_hex(&s.username), md5_hex(&s.password))
            };
            if user != want_user || pass != want_pass {
                s.failed_logins += 1;
                drop(s);
                return respond(
                    &mut stream,
                    "403 Forbidden",
                    &[],
                    b"{\"result\":\"wrong credentials\"}",
                );
            }
            s.logins += 1;
            let token = format!("{:016x}", s.next_session * 0x9e37_79b9);
            s.next_session += 1;
            s.sessions.push(token.clone());
            drop(s);
            let cookies = [
                format!("Set-Cookie: sysauth={token}; path=/; HttpOnly"),
                "Set-Cookie: lang=en; path=/".to_string(),
            ];
            match fault {
                Fault::LoginRedirect => respond(
                    &mut stream,
                    "302 Found",
                    &["Location: https://127.0.0.1/login_odd".to_string()],
                    b"",
                ),
                Fault::LoginRedirectWithCookie => {
                    let mut headers = cookies.to_vec();
                    headers.push("Location: /".to_string());
                    respond(&mut stream, "302 Found", &headers, b"")
                }
                _ => respond(&mut stream, "200 OK", &cookies, b"{\"result\":\"ok\"}"),
            }
        }
        ("GET", "/info/system") => {
            let mut s = lock();
            s.system_requests += 1;
            let cookie = head.header("cookie").unwrap_or("").to_string();
            s.last_cookie = Some(cookie.clone());
            let mut cookies = cookie.split(';').map(str::trim);
            let has_lang = cookie.split(';').any(|c| c.trim() == "lang=en");
            let session = cookies
                .find_map(|c| c.strip_prefix("sysauth="))
                .and_then(|t| s.sessions.iter().position(|x| x == t));
            let Some(index) = session.filter(|_| has_lang) else {
                drop(s);
                return respond(
                    &mut stream,
                    "401 Unauthorized",
                    &[],
                    b"{\"error\":\"login\"}",
                );
            };
            if fault == Fault::ExpireEveryRequest {
                s.sessions.remove(index);
            }
            let json = s.system_json.clone();
            drop(s);
            let json_header = ["Content-Type: application/json".to_string()];
            match fault {
                Fault::ServerError => {
                    respond(&mut stream, "500 Internal Server Error", &[], b"oops")
                }
                Fault::NotJson => respond(
                    &mut stream,
                    "200 OK",
                    &[],
                    b"<html><body>Linxdot</body></html>",
                ),
                Fault::MissingKeys => respond(
                    &mut stream,
                    "200 OK",
                    &json_header,
                    br#"{"status":"ok","data":[]}"#,
                ),
                Fault::DeepNesting => respond(
                    &mut stream,
                    "200 OK",
                    &json_header,
                    "[".repeat(200_000).as_bytes(),
                ),
                Fault::HugeBody | Fault::HugeBodyUnannounced => {
                    let total = 64 * 1024 * 1024;
                    let head = if fault == Fault::HugeBody {
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n")
                    } else {
                        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string()
                    };
                    stream.write_all(head.as_bytes())?;
                    let chunk = vec![b' '; 64 * 1024];
                    for _ in 0..total / chunk.len() {
                        stream.write_all(&chunk)?;
                    }
                    Ok(())
                }
                Fault::Drip => {
                    stream.write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            json.len()
                        )
                        .as_bytes(),
                    )?;
                    for b in json.as_bytes() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        stream.write_all(&[*b])?;
                        stream.flush()?;
                        thread::sleep(Duration::from_millis(200));
                    }
                    Ok(())
                }
                _ => respond(&mut stream, "200 OK", &json_header, json.as_bytes()),
            }
        }
        ("GET", "/") => respond(
            &mut stream,
            "200 OK",
            &[],
            b"<html>Linxdot dashboard (simulated)</html>",
        ),
        _ => respond(&mut stream, "404 Not Found", &[], b"not found"),
    }
}
