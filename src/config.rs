//! Command-line flags and environment variables → one [`Config`].
//!
//! The flags and variables of the two exporters this one replaces keep their
//! spelling, meaning and defaults; a flag beats its variable. Errors name the
//! culprit and never echo a password.

use std::ffi::OsString;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const DEFAULT_HOST: &str = "127.0.0.1";
pub const DEFAULT_PORT: u16 = 8061;
pub const DEFAULT_REFRESH_SECS: f64 = 60.0;
pub const DEFAULT_TIMEOUT_SECS: u64 = 5;
pub const DEFAULT_THREAD_COUNT: usize = 4;
pub const DEFAULT_TEMPER_RESCAN_SECS: f64 = 10.0;
pub const MAX_THREAD_COUNT: usize = 64;

/// A password: never printed, not even by `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Which reading a calibration offset applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    Temperature,
    Humidity,
}

/// `PHY:NAME=DELTA`: add DELTA to the reading of sensor NAME (`internal`,
/// `external`, empty for single-sensor devices, `*` for all) of the device at
/// PHY. PHY may itself contain colons: the name is after the last one.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorOffset {
    pub phy: String,
    pub name: String,
    pub quantity: Quantity,
    pub delta: f64,
}

impl SensorOffset {
    pub fn parse(text: &str, quantity: Quantity) -> Result<Self, String> {
        let bad = || {
            format!(
                "'{text}' is not PHY:NAME=DELTA (e.g. 'usb-3f980000.usb-1.4/input1:external=-1.5')"
            )
        };
        let (target, delta) = text.rsplit_once('=').ok_or_else(bad)?;
        let (phy, name) = target.rsplit_once(':').ok_or_else(bad)?;
        let delta: f64 = delta.trim().parse().map_err(|_| bad())?;
        if phy.is_empty() || !delta.is_finite() {
            return Err(bad());
        }
        Ok(SensorOffset {
            phy: phy.to_string(),
            name: name.to_string(),
            quantity,
            delta,
        })
    }

    /// Whether this offset applies to sensor `name` of the device at `phy`.
    pub fn matches(&self, phy: &str, name: &str, quantity: Quantity) -> bool {
        self.quantity == quantity && self.phy == phy && (self.name == "*" || self.name == name)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TemperConfig {
    pub enabled: bool,
    pub rescan_interval: Duration,
    pub offsets: Vec<SensorOffset>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MinerConfig {
    /// `HOST` or `HOST:PORT`, as the dashboard is reached.
    pub host: String,
    pub username: String,
    pub password: Secret,
    pub plain_credentials: bool,
    pub refresh_interval: Duration,
    pub timeout: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub log_file: Option<PathBuf>,
    pub debug: bool,
    /// `None` when username or password is missing: the miner collector is off.
    pub miner: Option<MinerConfig>,
    /// The host the miner collector would use (also when it is off).
    pub host: String,
    /// Why the miner collector is off, for the start-up log line.
    pub miner_off_reason: Option<&'static str>,
    /// `None`: `::`, falling back to `0.0.0.0` where the host has no IPv6.
    pub bind_address: Option<IpAddr>,
    pub port: u16,
    pub bind_v6only: Option<bool>,
    pub thread_count: usize,
    pub temper: TemperConfig,
    /// Things to log once logging has started.
    pub warnings: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Action {
    Run(Box<Config>),
    ListSensors(Box<Config>),
    Help,
    Version,
}

/// A bad command line or environment: one line, exit status 2.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// Reads an environment variable; empty counts as unset.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A boolean environment variable: unset, empty, `0`, `false`, `no`, `off`
/// (any case) are false; anything else (`1`, `True`, `yes`, …) is true.
fn env_flag(env: EnvLookup, name: &str) -> bool {
    match env(name) {
        None => false,
        Some(v) => !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off"
        ),
    }
}

fn env_value(env: EnvLookup, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

struct Args(pico_args::Arguments);

impl Args {
    fn flag(&mut self, keys: &[&'static str]) -> bool {
        let mut seen = false;
        for key in keys {
            while self.0.contains(*key) {
                seen = true;
            }
        }
        seen
    }

    /// The value of a single-value option under any of its spellings.
    fn value(&mut self, keys: &[&'static str]) -> Result<Option<String>, ConfigError> {
        let mut found: Option<(String, &str)> = None;
        for key in keys {
            loop {
                match self.0.opt_value_from_str::<_, String>(*key) {
                    Ok(Some(v)) => {
                        if let Some((_, first)) = &found {
                            return err(format!(
                                "option {first} given more than once (again as {key})"
                            ));
                        }
                        found = Some((v, key));
                    }
                    Ok(None) => break,
                    Err(pico_args::Error::OptionWithoutAValue(_)) => {
                        return err(format!("option {key} needs a value"));
                    }
                    Err(_) => {
                        return err(format!("option {key} has a value that is not valid UTF-8"))
                    }
                }
            }
        }
        Ok(found.map(|(v, _)| v))
    }

    fn values(&mut self, key: &'static str) -> Result<Vec<String>, ConfigError> {
        match self.0.values_from_str::<_, String>(key) {
            Ok(v) => Ok(v),
            Err(pico_args::Error::OptionWithoutAValue(_)) => {
                err(format!("option {key} needs a value"))
            }
            Err(_) => err(format!("option {key} has a value that is not valid UTF-8")),
        }
    }
}

fn parse_seconds(what: &str, text: &str, min: f64) -> Result<Duration, ConfigError> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= min && v <= 86_400.0 * 365.0 => {
            Ok(Duration::from_secs_f64(v))
        }
        _ => err(format!(
            "{what}: '{text}' is not a number of seconds from {min} up"
        )),
    }
}

/// A TCP port; 0 asks the OS for a free one (the log line names it).
fn parse_port(what: &str, text: &str) -> Result<u16, ConfigError> {
    match text.trim().parse::<u16>() {
        Ok(p) => Ok(p),
        _ => err(format!("{what}: '{text}' is not a TCP port (0-65535)")),
    }
}

fn read_password_file(what: &str, path: &str) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{what}: cannot read password file '{path}': {e}")))?;
    let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if first.is_empty() {
        return err(format!(
            "{what}: password file '{path}' has an empty first line"
        ));
    }
    Ok(Secret(first.to_string()))
}

/// A warning when a password file can be read by other users.
fn password_file_warning(path: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "password file '{path}' can be read by other users (mode {:03o}): chmod 600 it",
            mode & 0o777
        )
    })
}

/// Parses the arguments (without the program name) and the environment.
pub fn parse(args: Vec<OsString>, env: EnvLookup) -> Result<Action, ConfigError> {
    let mut args = Args(pico_args::Arguments::from_vec(args));
    if args.flag(&["-h", "--help"]) {
        return Ok(Action::Help);
    }
    if args.flag(&["--version", "-V"]) {
        return Ok(Action::Version);
    }
    let log_file = args.value(&["-f", "--log_file", "--log-file"])?;
    let host = args.value(&["-o", "--host"])?;
    let username = args.value(&["-u", "--username"])?;
    let password = args.value(&["-p", "--password"])?;
    let password_file = args.value(&["--password-file", "--password_file"])?;
    let plain = args.flag(&["-a", "--plain_credentials", "--plain-credentials"]);
    let debug = args.flag(&["-d", "--debug"]);
    let refresh = args.value(&["-r", "--refresh_interval", "--refresh-interval"])?;
    let port = args.value(&["-t", "--port"])?;
    let bind_port = args.value(&["--bind-port", "--bind_port"])?;
    let bind_address = args.value(&["--bind-address", "--bind_address"])?;
    let bind_v6only = args.value(&["--bind-v6only", "--bind_v6only"])?;
    let thread_count = args.value(&["--thread-count", "--thread_count"])?;
    let timeout = args.value(&["--timeout"])?;
    let no_temper = args.flag(&["--no-temper", "--no_temper"]);
    let list_sensors = args.flag(&["--list-sensors", "--list_sensors"]);
    let rescan = args.value(&["--temper-rescan", "--temper_rescan"])?;
    let mut offsets_t = args.values("--temper-offset")?;
    offsets_t.extend(args.values("--temper_offset")?);
    let mut offsets_h = args.values("--temper-humidity-offset")?;
    offsets_h.extend(args.values("--temper_humidity_offset")?);

    let rest = args.0.finish();
    if let Some(first) = rest.first() {
        let text = first.to_string_lossy();
        return if text.starts_with('-') {
            err(format!("unknown option '{text}' (see --help)"))
        } else {
            // Not echoed: a stray value may be half of a password with a space in it.
            err(format!(
                "unexpected argument #{} that is not an option (see --help)",
                rest.len()
            ))
        };
    }

    let log_file = log_file
        .or_else(|| env_value(env, "LOG_FILE"))
        .map(PathBuf::from);
    let debug = debug || env_flag(env, "EXPORTER_DEBUG");
    let plain_credentials = plain || env_flag(env, "PLAIN_CREDENTIALS");
    let host = host
        .or_else(|| env_value(env, "MINER_HOST"))
        .unwrap_or_else(|| DEFAULT_HOST.to_string());
    if host.trim().is_empty() || host.contains(['/', ' ', '?', '#', '@']) {
        return err(format!(
            "--host: '{host}' is not a host name, address or HOST:PORT"
        ));
    }
    let username = username.or_else(|| env_value(env, "MINER_USERNAME"));

    let mut password_path = None;
    let password = match (password, password_file) {
        (Some(_), Some(_)) => return err("give either --password or --password-file, not both"),
        (Some(p), None) => Some(Secret(p)),
        (None, Some(path)) => {
            password_path = Some(path.clone());
            Some(read_password_file("--password-file", &path)?)
        }
        (None, None) => match (
            env_value(env, "MINER_PASSWORD"),
            env_value(env, "MINER_PASSWORD_FILE"),
        ) {
            (Some(_), Some(_)) => {
                return err("set either MINER_PASSWORD or MINER_PASSWORD_FILE, not both");
            }
            (Some(p), None) => Some(Secret(p)),
            (None, Some(path)) => {
                password_path = Some(path.clone());
                Some(read_password_file("MINER_PASSWORD_FILE", &path)?)
            }
            (None, None) => None,
        },
    };

    let refresh_interval = match refresh {
        Some(v) => parse_seconds("--refresh_interval", &v, 0.1)?,
        None => match env_value(env, "EXPORTER_REFRESH") {
            Some(v) => parse_seconds("EXPORTER_REFRESH", &v, 0.1)?,
            None => Duration::from_secs_f64(DEFAULT_REFRESH_SECS),
        },
    };
    let timeout = match timeout {
        Some(v) => parse_whole_seconds("--timeout", &v)?,
        None => Duration::from_secs(DEFAULT_TIMEOUT_SECS),
    };

    let port = match (port, bind_port) {
        (Some(_), Some(_)) => return err("give either --port or --bind-port, not both"),
        (Some(p), None) => parse_port("--port", &p)?,
        (None, Some(p)) => parse_port("--bind-port", &p)?,
        (None, None) => match env_value(env, "EXPORTER_PORT") {
            Some(p) => parse_port("EXPORTER_PORT", &p)?,
            None => DEFAULT_PORT,
        },
    };
    let bind_address = match bind_address {
        Some(a) => Some(
            a.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .map_err(|_| {
                    ConfigError(format!(
                        "--bind-address: '{a}' is not an IPv4 or IPv6 address"
                    ))
                })?,
        ),
        None => None,
    };
    let bind_v6only = match bind_v6only.as_deref() {
        None => None,
        Some("0") => Some(false),
        Some("1") => Some(true),
        Some(other) => return err(format!("--bind-v6only: '{other}' is not 0 or 1")),
    };
    let thread_count = match thread_count {
        None => DEFAULT_THREAD_COUNT,
        Some(t) => match t.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_THREAD_COUNT).contains(&n) => n,
            _ => {
                return err(format!(
                    "--thread-count: '{t}' is not a whole number from 1 to {MAX_THREAD_COUNT}"
                ))
            }
        },
    };

    let mut offsets = Vec::new();
    for text in offsets_t {
        offsets.push(
            SensorOffset::parse(&text, Quantity::Temperature)
                .map_err(|e| ConfigError(format!("--temper-offset: {e}")))?,
        );
    }
    if let Some(list) = env_value(env, "TEMPER_OFFSETS") {
        if offsets.is_empty() {
            for text in list.split_whitespace() {
                offsets.push(
                    SensorOffset::parse(text, Quantity::Temperature)
                        .map_err(|e| ConfigError(format!("TEMPER_OFFSETS: {e}")))?,
                );
            }
        }
    }
    for text in offsets_h {
        offsets.push(
            SensorOffset::parse(&text, Quantity::Humidity)
                .map_err(|e| ConfigError(format!("--temper-humidity-offset: {e}")))?,
        );
    }
    let temper = TemperConfig {
        enabled: !(no_temper || env_flag(env, "EXPORTER_NO_TEMPER")),
        rescan_interval: match rescan {
            Some(v) => parse_seconds("--temper-rescan", &v, 0.1)?,
            None => Duration::from_secs_f64(DEFAULT_TEMPER_RESCAN_SECS),
        },
        offsets,
    };

    let (miner, miner_off_reason) = match (username, password) {
        (Some(username), Some(password)) => (
            Some(MinerConfig {
                host: host.clone(),
                username,
                password,
                plain_credentials,
                refresh_interval,
                timeout,
            }),
            None,
        ),
        (None, Some(_)) => (None, Some("no username (-u or MINER_USERNAME)")),
        (Some(_), None) => (
            None,
            Some("no password (-p, --password-file, MINER_PASSWORD or MINER_PASSWORD_FILE)"),
        ),
        (None, None) => (None, Some("no username and password")),
    };

    let config = Box::new(Config {
        log_file,
        debug,
        miner,
        host,
        miner_off_reason,
        bind_address,
        port,
        bind_v6only,
        thread_count,
        temper,
        warnings: password_path
            .as_deref()
            .and_then(password_file_warning)
            .into_iter()
            .collect(),
    });
    Ok(if list_sensors {
        Action::ListSensors(config)
    } else {
        Action::Run(config)
    })
}

fn parse_whole_seconds(what: &str, text: &str) -> Result<Duration, ConfigError> {
    match text.trim().parse::<u64>() {
        Ok(v) if (1..=3600).contains(&v) => Ok(Duration::from_secs(v)),
        _ => err(format!(
            "{what}: '{text}' is not a whole number of seconds from 1 to 3600"
        )),
    }
}

pub const HELP: &str = "\
usage: linxdot-exporter [-h] [-f LOG_FILE] [-o HOST] [-u USERNAME] [-p PASSWORD] [-a] [-d]
                        [-r REFRESH_INTERVAL] [-t PORT] [--version] [--password-file PATH]
                        [--timeout SECONDS] [--bind-address ADDRESS] [--bind-port PORT]
                        [--bind-v6only {0,1}] [--thread-count N] [--no-temper]
                        [--temper-offset PHY:NAME=DELTA] [--temper-humidity-offset PHY:NAME=DELTA]
                        [--temper-rescan SECONDS] [--list-sensors]

Exporter for metrics for Linxdot miner devices and PCsensor TEMPer USB sensors

optional arguments:
  -h, --help            show this help message and exit
  -f LOG_FILE, --log_file LOG_FILE
                        Path of log file (env LOG_FILE; default: stderr)
  -o HOST, --host HOST  Miner hostname or IP address, optionally HOST:PORT
                        (env MINER_HOST; default: 127.0.0.1)
  -u USERNAME, --username USERNAME
                        Miner API username (env MINER_USERNAME)
  -p PASSWORD, --password PASSWORD
                        Miner API password (env MINER_PASSWORD)
  --password-file PATH  Read the miner API password from the first line of PATH
                        (env MINER_PASSWORD_FILE); keeps it out of `ps`
  -a, --plain_credentials
                        Use login credentials without MD5 hashing
                        (env PLAIN_CREDENTIALS)
  -d, --debug           Enable debug mode (env EXPORTER_DEBUG)
  -r REFRESH_INTERVAL, --refresh_interval REFRESH_INTERVAL
                        Refresh rate of reading miner API (seconds)
                        (env EXPORTER_REFRESH; default: 60)
  -t PORT, --port PORT  TCP port number of exporter listens
                        (env EXPORTER_PORT; default: 8061)
  --timeout SECONDS     Timeout of each miner API request (default: 5)
  --bind-address BIND_ADDRESS
                        IPv6 or IPv4 address to listen on
                        (default: ::, or 0.0.0.0 without IPv6)
  --bind-port BIND_PORT
                        Port to listen on (same as --port)
  --bind-v6only {0,1}   If 1, prevent IPv6 sockets from accepting IPv4
                        connections; if 0, allow; if unspecified, use OS
                        default
  --thread-count THREAD_COUNT
                        Number of request-handling threads to spawn (default: 4)
  --no-temper           Do not read TEMPer USB sensors (env EXPORTER_NO_TEMPER)
  --temper-offset PHY:NAME=DELTA
                        Add DELTA degrees C to sensor NAME (internal, external,
                        empty, or *) of the TEMPer device at PHY; repeatable
                        (env TEMPER_OFFSETS, space-separated)
  --temper-humidity-offset PHY:NAME=DELTA
                        Add DELTA %RH to a humidity reading; repeatable
  --temper-rescan SECONDS
                        How often to look for plugged or unplugged TEMPer
                        devices (default: 10)
  --list-sensors        Print each recognised TEMPer device with a fresh reading
                        and exit
  --version             show program's version number and exit

Long options are also accepted with hyphens (--log-file, --plain-credentials,
--refresh-interval) and as --option=value. A flag beats its environment variable.
Without a username and a password the miner is not polled; everything else is served.
";
