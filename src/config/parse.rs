//! The plain step: what each flag was given → one [`Config`], one line per
//! field. Each error names the flag or variable the bad value came from.

use super::args::{Args, Given};
use super::{
    Action, Config, ConfigError, EnvLookup, MinerConfig, Quantity, Secret, SensorOffset,
    TemperConfig, MAX_THREAD_COUNT,
};
use crate::probe::allow::{AllowList, Pattern};
use crate::probe::credentials::{self, Credentials};
use crate::probe::ProbeConfig;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Parses the arguments (without the program name) and the environment.
pub fn parse(argv: Vec<OsString>, env: EnvLookup) -> Result<Action, ConfigError> {
    let args = Args::parse(argv, env)?;
    if args.on("--help") {
        return Ok(Action::Help);
    }
    if args.on("--version") {
        return Ok(Action::Version);
    }

    let host = check_host(args.value_or_default("--host"))?;
    // A dashboard other than the default (the local one) was named.
    let host_given = super::flags::FLAGS.iter().any(|f| {
        f.long == "--host" && !matches!(f.default, super::flags::Default::Value(d) if d == host)
    });
    let username = args.value("--username").map(|u| u.text);
    let password_file = args.value("--password-file");
    let password = match (args.value("--password"), &password_file) {
        (Some(p), _) => Some(Secret::new(p.text)),
        (None, Some(path)) => Some(read_password_file(path)?),
        (None, None) => None,
    };
    let refresh_interval = seconds(args.value_or_default("--refresh_interval"), 0.1)?;
    let timeout = whole_seconds(args.value_or_default("--timeout"))?;
    let port = match args.value("--bind-port") {
        Some(p) => port(p)?,
        None => port(args.value_or_default("--port"))?,
    };
    let bind_address = args.value("--bind-address").map(address).transpose()?;
    let bind_v6only = args.value("--bind-v6only").map(zero_or_one).transpose()?;
    let thread_count = thread_count(args.value_or_default("--thread-count"))?;
    let mut offsets = sensor_offsets(args.values("--temper-offset"), Quantity::Temperature)?;
    offsets.extend(sensor_offsets(
        args.values("--temper-humidity-offset"),
        Quantity::Humidity,
    )?);
    let temper = TemperConfig {
        enabled: !args.on("--no-temper"),
        rescan_interval: match args.value("--temper-rescan") {
            Some(older_name) => seconds(older_name, 0.1)?,
            None => seconds(args.value_or_default("--temper-interval"), 0.1)?,
        },
        offsets,
    };

    let (miner, miner_off_reason) = match (username, password) {
        (Some(username), Some(password)) => (
            Some(MinerConfig {
                host: host.clone(),
                username,
                password,
                plain_credentials: args.on("--plain_credentials"),
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
        (None, None) if host_given => (
            None,
            Some("no username and password (-u, and -p or --password-file)"),
        ),
        (None, None) => (None, Some(super::MINER_NOT_ASKED)),
    };

    let probe = probe_config(&args, &miner, timeout, refresh_interval)?;
    let config = Box::new(Config {
        log_file: args.value("--log_file").map(|f| PathBuf::from(f.text)),
        log_target: log_target(args.value_or_default("--log-target"))?,
        debug: args.on("--debug"),
        miner,
        host,
        miner_off_reason,
        bind_address,
        port,
        bind_v6only,
        thread_count,
        temper,
        probe,
        warnings: password_file
            .and_then(|path| password_file_warning(&path.text))
            .into_iter()
            .collect(),
    });
    Ok(if args.on("--list-sensors") {
        Action::ListSensors(config)
    } else {
        Action::Run(config)
    })
}

fn err<T>(message: String) -> Result<T, ConfigError> {
    Err(ConfigError(message))
}

fn log_target(v: Given) -> Result<crate::log::Target, ConfigError> {
    match crate::log::Target::parse(&v.text) {
        Some(target) => Ok(target),
        None => err(format!(
            "{}: '{}' is not {}",
            v.from,
            v.text,
            crate::log::Target::NAMES
        )),
    }
}

fn check_host(host: Given) -> Result<String, ConfigError> {
    let text = host.text;
    if text.trim().is_empty() || text.contains(['/', ' ', '?', '#', '@']) {
        // Named after the flag also when MINER_HOST gave it, as always.
        return err(format!(
            "--host: '{text}' is not a host name, address or HOST:PORT"
        ));
    }
    Ok(text)
}

/// The longest interval accepted: a year, in seconds.
const MAX_INTERVAL_SECS: f64 = 86_400.0 * 365.0;

fn seconds(v: Given, min: f64) -> Result<Duration, ConfigError> {
    match v.text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > MAX_INTERVAL_SECS => err(format!(
            "{}: '{}' seconds is more than a year ({MAX_INTERVAL_SECS} s)",
            v.from, v.text
        )),
        // NaN fails both comparisons, +inf the second.
        Ok(s) if s >= min && s <= MAX_INTERVAL_SECS => Ok(Duration::from_secs_f64(s)),
        _ => err(format!(
            "{}: '{}' is not a number of seconds from {min} up",
            v.from, v.text
        )),
    }
}

fn whole_seconds(v: Given) -> Result<Duration, ConfigError> {
    match v.text.trim().parse::<u64>() {
        Ok(s) if (1..=3600).contains(&s) => Ok(Duration::from_secs(s)),
        _ => err(format!(
            "{}: '{}' is not a whole number of seconds from 1 to 3600",
            v.from, v.text
        )),
    }
}

/// A TCP port; 0 asks the OS for a free one (the log line names it).
fn port(v: Given) -> Result<u16, ConfigError> {
    match v.text.trim().parse::<u16>() {
        Ok(p) => Ok(p),
        _ => err(format!(
            "{}: '{}' is not a TCP port (0-65535)",
            v.from, v.text
        )),
    }
}

fn address(v: Given) -> Result<IpAddr, ConfigError> {
    let bare = v.text.trim().trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().map_err(|_| {
        ConfigError(format!(
            "{}: '{}' is not an IPv4 or IPv6 address",
            v.from, v.text
        ))
    })
}

fn zero_or_one(v: Given) -> Result<bool, ConfigError> {
    match v.text.as_str() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => err(format!("{}: '{other}' is not 0 or 1", v.from)),
    }
}

fn thread_count(v: Given) -> Result<usize, ConfigError> {
    match v.text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREAD_COUNT).contains(&n) => Ok(n),
        _ => err(format!(
            "{}: '{}' is not a whole number from 1 to {MAX_THREAD_COUNT}",
            v.from, v.text
        )),
    }
}

fn sensor_offsets(list: Vec<Given>, quantity: Quantity) -> Result<Vec<SensorOffset>, ConfigError> {
    list.into_iter()
        .map(|v| {
            SensorOffset::parse(&v.text, quantity)
                .map_err(|e| ConfigError(format!("{}: {e}", v.from)))
        })
        .collect()
}

/// `/probe`'s settings: the patterns, and the credentials file read once
/// here so that a bad one stops the exporter at start.
fn probe_config(
    args: &Args,
    miner: &Option<MinerConfig>,
    timeout: Duration,
    refresh_interval: Duration,
) -> Result<ProbeConfig, ConfigError> {
    let mut patterns = Vec::new();
    for v in args.values("--probe-allow") {
        patterns
            .push(Pattern::parse(&v.text).map_err(|e| ConfigError(format!("{}: {e}", v.from)))?);
    }
    let mut probe = ProbeConfig::new(AllowList(patterns));
    if let Some(path) = args.value("--probe-credentials") {
        credentials::load_file(std::path::Path::new(&path.text))
            .map_err(|e| ConfigError(format!("{}: {e}", path.from)))?;
        probe.credentials_file = Some(PathBuf::from(path.text));
    }
    probe.default_credentials = miner.as_ref().map(|m| Credentials {
        username: m.username.clone(),
        password: m.password.clone(),
        plain: m.plain_credentials,
    });
    probe.timeout = timeout;
    probe.refresh_interval = refresh_interval;
    Ok(probe)
}

fn read_password_file(path: &Given) -> Result<Secret, ConfigError> {
    let (what, path) = (path.from, &path.text);
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{what}: cannot read password file '{path}': {e}")))?;
    let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if first.is_empty() {
        return err(format!(
            "{what}: password file '{path}' has an empty first line"
        ));
    }
    Ok(Secret::new(first.to_string()))
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

#[cfg(test)]
mod tests {
    use super::super::flags::{Default, FLAGS};
    use super::*;

    fn run(argv: &[&str]) -> Result<Action, ConfigError> {
        parse(argv.iter().map(OsString::from).collect(), &|_| None)
    }

    /// A documented default is the real one: giving it changes nothing.
    #[test]
    fn documented_defaults_are_the_defaults() {
        let plain = run(&[]).unwrap();
        for flag in FLAGS {
            if let Default::Value(text) = flag.default {
                assert_eq!(run(&[flag.long, text]).unwrap(), plain, "{}", flag.long);
            }
        }
    }
}
