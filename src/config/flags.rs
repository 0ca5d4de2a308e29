//! Every flag, defined once: its spellings, environment variable, value
//! name, default, help, and how it applies to the configuration (`apply`).
//! Parsing ([`super::args`]), environment defaults, `--help` ([`help`], with
//! its generated "(env X; default: Y)" suffixes) and the flag table of
//! docs/configuration.md ([`readme_table`]) are all derived from [`FLAGS`].
//!
//! Adding a flag: one entry here (in `--help` order) whose `apply` writes a
//! field of the [`Draft`], and that field in the feature's `Config`. It
//! then still reaches, by hand: the OpenWrt UCI config and init script
//! (`openwrt/`), and the Debian default file (`packaging/`); a test in
//! `tests/config.rs` fails until they name its variable (or the flag is in
//! its exemption table, with the reason).

use super::draft::{self, named, Draft, Exit};
use super::{ConfigError, Given};
use crate::lora;
use crate::probe::allow::Pattern;
use crate::secret::{self, Secret};
use crate::temper::Quantity;
use std::path::{Path, PathBuf};

/// How a flag's value (or, for a switch, its being on) changes the [`Draft`].
pub type Apply = fn(&mut Draft, Given) -> Result<(), ConfigError>;

/// Adds a checked value to a list of the [`Draft`] (repeated flags).
fn push<T>(list: &mut Vec<T>, value: Result<T, ConfigError>) -> Result<(), ConfigError> {
    list.push(value?);
    Ok(())
}

/// Puts a checked value into its field of the [`Draft`].
fn set<T>(field: &mut T, value: Result<T, ConfigError>) -> Result<(), ConfigError> {
    *field = value?;
    Ok(())
}

/// What a flag takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Ends the run before anything else is read (`--help`, `--version`).
    Exit,
    /// On or off; its variable is a boolean (see `args::env_flag`).
    Switch,
    /// One value, named so in `--help`; given twice is an error.
    Value(&'static str),
    /// Any number of values; its variable holds them space-separated and is
    /// read only when the flag is not given.
    Repeated(&'static str),
}

/// The default a flag's documentation shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    None,
    /// A value the flag itself accepts: the `Config` step parses it as if it
    /// had been given (so the default is written only here).
    Value(&'static str),
    /// A description of what happens without the flag.
    Note(&'static str),
    /// Like `Note`, for the README; the help text says it in its own words
    /// (no generated "(default: …)").
    Prose(&'static str),
}

#[derive(Debug)]
pub struct Flag {
    pub short: Option<&'static str>,
    /// The name `--help` shows, and the one errors name.
    pub long: &'static str,
    /// Further accepted spellings (hyphens for underscores and back, `-V`).
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub env: Option<&'static str>,
    pub default: Default,
    /// Another flag (its `long`) that sets the same thing: giving both is an
    /// error, and the variables of the two are read only when neither is given.
    pub excludes: Option<&'static str>,
    /// A flag of the Python linxdot-exporter: the usage line lists these
    /// first, in this order, as its argparse did.
    pub upstream: bool,
    /// `--help` text without its "(env X; default: Y)" suffix, which
    /// [`Flag::help_text`] adds; wrapped by hand.
    pub help: &'static str,
    /// Help text that follows the generated suffix (rare).
    pub help_after: &'static str,
    /// What the flag does to the configuration.
    pub apply: Apply,
    /// The one-line meaning in docs/configuration.md's table.
    pub doc: &'static str,
}

const FLAG: Flag = Flag {
    short: None,
    long: "",
    aliases: &[],
    kind: Kind::Switch,
    env: None,
    default: Default::None,
    excludes: None,
    upstream: false,
    help: "",
    help_after: "",
    apply: |_, _| Ok(()),
    doc: "",
};

/// All flags, in `--help` order.
pub const FLAGS: &[Flag] = &[
    Flag {
        short: Some("-h"),
        long: "--help",
        kind: Kind::Exit,
        upstream: true,
        help: "show this help message and exit",
        apply: |d, _| set(&mut d.exit, Ok(Some(Exit::Help))),
        doc: "print this help and exit",
        ..FLAG
    },
    Flag {
        short: Some("-f"),
        long: "--log_file",
        aliases: &["--log-file"],
        kind: Kind::Value("LOG_FILE"),
        env: Some("LOG_FILE"),
        default: Default::Note("stderr"),
        upstream: true,
        help: "Path of log file",
        apply: |d, v| set(&mut d.log_file, Ok(Some(PathBuf::from(v.text)))),
        doc: "append log lines to this file",
        ..FLAG
    },
    Flag {
        long: "--log-target",
        aliases: &["--log_target"],
        kind: Kind::Value("{stderr,syslog,journal}"),
        default: Default::Value("stderr"),
        excludes: Some("--log_file"),
        help: "Where log lines go without a log file: stderr; syslog\n\
               (facility daemon, each line's level as its priority);\n\
               journal (stderr with journald's <N> priority prefixes)",
        apply: |d, v| set(&mut d.log_target, draft::log_target(&v)),
        doc: "`syslog`: to syslog, a priority per level (OpenWrt's init script); `journal`: stderr with journald's `<N>` prefixes (the Debian unit)",
        ..FLAG
    },
    Flag {
        short: Some("-o"),
        long: "--host",
        kind: Kind::Value("HOST"),
        env: Some("MINER_HOST"),
        default: Default::Value(draft::LOCAL_DASHBOARD),
        upstream: true,
        help: "Miner hostname or IP address, optionally HOST:PORT",
        apply: |d, v| set(&mut d.host, draft::host(&v)),
        doc: "the miner dashboard, `HOST` or `HOST:PORT` (the exporter runs on the miner)",
        ..FLAG
    },
    Flag {
        short: Some("-u"),
        long: "--username",
        kind: Kind::Value("USERNAME"),
        env: Some("MINER_USERNAME"),
        upstream: true,
        help: "Miner API username",
        apply: |d, v| set(&mut d.username, Ok(Some(v.text))),
        doc: "dashboard user",
        ..FLAG
    },
    Flag {
        short: Some("-p"),
        long: "--password",
        kind: Kind::Value("PASSWORD"),
        env: Some("MINER_PASSWORD"),
        upstream: true,
        help: "Miner API password",
        apply: |d, v| set(&mut d.password, Ok(Some(Secret::new(v.text)))),
        doc: "dashboard password (visible in `ps`: prefer the next one)",
        ..FLAG
    },
    Flag {
        long: "--password-file",
        aliases: &["--password_file"],
        kind: Kind::Value("PATH"),
        env: Some("MINER_PASSWORD_FILE"),
        excludes: Some("--password"),
        help: "Read the miner API password from the first line of PATH",
        help_after: "; keeps it out of `ps`",
        apply: |d, v| {
            let path = Path::new(&v.text);
            d.password = Some(named(&v, secret::read_password_file(path))?);
            d.warnings
                .extend(secret::readable_by_others(path, "password file"));
            Ok(())
        },
        doc: "the first line of this file is the password",
        ..FLAG
    },
    Flag {
        short: Some("-a"),
        long: "--plain_credentials",
        aliases: &["--plain-credentials"],
        env: Some("PLAIN_CREDENTIALS"),
        upstream: true,
        help: "Use login credentials without MD5 hashing",
        apply: |d, _| set(&mut d.plain_credentials, Ok(true)),
        doc: "send credentials as typed, not MD5-hex",
        ..FLAG
    },
    Flag {
        short: Some("-d"),
        long: "--debug",
        env: Some("EXPORTER_DEBUG"),
        upstream: true,
        help: "Enable debug mode",
        apply: |d, _| set(&mut d.debug, Ok(true)),
        doc: "debug lines",
        ..FLAG
    },
    Flag {
        short: Some("-r"),
        long: "--refresh_interval",
        aliases: &["--refresh-interval"],
        kind: Kind::Value("REFRESH_INTERVAL"),
        env: Some("EXPORTER_REFRESH"),
        default: Default::Value("60"),
        upstream: true,
        help: "Refresh rate of reading miner API (seconds)",
        apply: |d, v| set(&mut d.refresh_interval, draft::interval(&v)),
        doc: "seconds between two polls of the dashboard",
        ..FLAG
    },
    Flag {
        short: Some("-t"),
        long: "--port",
        kind: Kind::Value("PORT"),
        env: Some("EXPORTER_PORT"),
        default: Default::Value("8061"),
        upstream: true,
        help: "TCP port number the exporter listens on",
        apply: |d, v| set(&mut d.port, draft::port(&v)),
        doc: "port to listen on",
        ..FLAG
    },
    Flag {
        long: "--timeout",
        kind: Kind::Value("SECONDS"),
        default: Default::Value("5"),
        help: "Timeout of each miner API request, in seconds (1-3600)",
        apply: |d, v| set(&mut d.timeout, draft::timeout(&v)),
        doc: "deadline of each dashboard request (1–3600 s)",
        ..FLAG
    },
    Flag {
        long: "--bind-address",
        aliases: &["--bind_address"],
        kind: Kind::Value("ADDRESS"),
        default: Default::Note("::, or 0.0.0.0 without IPv6"),
        help: "IPv6 or IPv4 address to listen on",
        apply: |d, v| set(&mut d.bind_address, draft::address(&v).map(Some)),
        doc: "IPv4 or IPv6 address to listen on",
        ..FLAG
    },
    Flag {
        long: "--bind-port",
        aliases: &["--bind_port"],
        kind: Kind::Value("PORT"),
        excludes: Some("--port"),
        help: "Port to listen on (same as --port)",
        apply: |d, v| set(&mut d.port, draft::port(&v)),
        doc: "same as `--port`",
        ..FLAG
    },
    Flag {
        long: "--bind-v6only",
        aliases: &["--bind_v6only"],
        kind: Kind::Value("{0,1}"),
        default: Default::Prose("OS default"),
        help: "If 1, prevent IPv6 sockets from accepting IPv4\n\
               connections; if 0, allow; if unspecified, use OS\n\
               default",
        apply: |d, v| {
            d.bind_v6only = Some(draft::zero_or_one(&v)?);
            Ok(())
        },
        doc: "whether an IPv6 socket refuses IPv4",
        ..FLAG
    },
    Flag {
        long: "--thread-count",
        aliases: &["--thread_count"],
        kind: Kind::Value("N"),
        default: Default::Value("4"),
        help: "Number of threads that answer /probe",
        apply: |d, v| set(&mut d.thread_count, draft::thread_count(&v)),
        doc: "threads that answer `/probe` (1–64); scrapes are answered by the HTTP loop threads",
        ..FLAG
    },
    Flag {
        long: "--http-loops",
        aliases: &["--http_loops"],
        kind: Kind::Value("N"),
        default: Default::Value("0"),
        help: "HTTP loop threads that answer scrapes\n(0: one per core, at most 4)",
        apply: |d, v| set(&mut d.http_loops, draft::http_loops(&v)),
        doc: "HTTP loop threads that answer scrapes (0–64; 0: one per core, at most 4)",
        ..FLAG
    },
    Flag {
        long: "--no-temper",
        aliases: &["--no_temper"],
        env: Some("EXPORTER_NO_TEMPER"),
        help: "Do not read TEMPer USB sensors",
        apply: |d, _| set(&mut d.no_temper, Ok(true)),
        doc: "do not read USB sensors",
        ..FLAG
    },
    Flag {
        long: "--temper-offset",
        aliases: &["--temper_offset"],
        kind: Kind::Repeated("PHY:NAME=DELTA"),
        env: Some("TEMPER_OFFSETS"),
        help: "Add DELTA degrees C to sensor NAME (internal, external,\n\
               empty, or *) of the TEMPer device at PHY; repeatable",
        apply: |d, v| push(&mut d.offsets, draft::sensor_offset(&v, Quantity::Temperature)),
        doc: "temperature calibration, repeatable (the variable: space-separated)",
        ..FLAG
    },
    Flag {
        long: "--temper-humidity-offset",
        aliases: &["--temper_humidity_offset"],
        kind: Kind::Repeated("PHY:NAME=DELTA"),
        help: "Add DELTA %RH to a humidity reading; repeatable",
        apply: |d, v| push(&mut d.offsets, draft::sensor_offset(&v, Quantity::Humidity)),
        doc: "humidity calibration, repeatable",
        ..FLAG
    },
    Flag {
        long: "--temper-interval",
        aliases: &["--temper_interval"],
        kind: Kind::Value("SECONDS"),
        env: Some("TEMPER_INTERVAL"),
        default: Default::Value("5"),
        help: "How often to read each TEMPer device and to look for\n\
               plugged or unplugged ones",
        apply: |d, v| set(&mut d.temper_interval, draft::interval(&v)),
        doc: "how often to read the sensors and look for plugged/unplugged ones",
        ..FLAG
    },
    Flag {
        long: "--temper-rescan",
        aliases: &["--temper_rescan"],
        kind: Kind::Value("SECONDS"),
        excludes: Some("--temper-interval"),
        help: "Older name of --temper-interval (devices are looked for\n\
               at each reading)",
        apply: |d, v| set(&mut d.temper_interval, draft::interval(&v)),
        doc: "older name of `--temper-interval`",
        ..FLAG
    },
    Flag {
        long: "--lora-port",
        aliases: &["--lora_port"],
        kind: Kind::Value("PORT[,PORT...]"),
        env: Some("LORA_PORT"),
        default: Default::Note("off"),
        help: "Count the packet forwarder's Semtech UDP (GWMP)\n\
               datagrams to and from these UDP ports, by passive\n\
               capture; needs CAP_NET_RAW",
        apply: |d, v| set(&mut d.lora_ports, named(&v, lora::parse_ports(&v.text))),
        doc: "turns the LoRa radio collector on: capture GWMP to and from these UDP ports (1680 on a hotspot; needs `CAP_NET_RAW`, see docs/lora.md)",
        ..FLAG
    },
    Flag {
        long: "--lora-interface",
        aliases: &["--lora_interface"],
        kind: Kind::Value("INTERFACE"),
        env: Some("LORA_INTERFACE"),
        default: Default::Value("lo"),
        help: "Network interface the GWMP datagrams travel on",
        apply: |d, v| set(&mut d.lora_interface, named(&v, lora::check_interface(&v.text))),
        doc: "where the forwarder's datagrams travel (`lo` when it and the gateway share the host)",
        ..FLAG
    },
    Flag {
        long: "--probe-allow",
        aliases: &["--probe_allow"],
        kind: Kind::Repeated("PATTERN"),
        env: Some("PROBE_ALLOW"),
        default: Default::Note("none, /probe is off"),
        help: "Let /probe?target= poll the dashboards matching PATTERN:\n\
               an address, CIDR, host name or *.glob, optionally with\n\
               :PORT; repeatable",
        apply: |d, v| push(&mut d.probe.allow.0, named(&v, Pattern::parse(&v.text))),
        doc: "targets `/probe?target=` may poll: address, CIDR, host name or `*.glob`, optionally `:PORT`; repeatable (the variable: space-separated)",
        ..FLAG
    },
    Flag {
        long: "--probe-credentials",
        aliases: &["--probe_credentials"],
        kind: Kind::Value("PATH"),
        env: Some("PROBE_CREDENTIALS"),
        default: Default::Note("-u and -p"),
        help: "File of PATTERN USERNAME PASSWORD_FILE [md5|plain] lines\n\
               (or JSON) giving /probe targets their own credentials;\n\
               re-read on SIGHUP",
        apply: |d, v| {
            let read = d.probe.read_credentials_file(PathBuf::from(&v.text));
            named(&v, read)
        },
        doc: "per-target credentials for `/probe` (see [Many miners from one box](#many-miners-from-one-box)); re-read on SIGHUP",
        ..FLAG
    },
    Flag {
        long: "--list-sensors",
        aliases: &["--list_sensors"],
        help: "Print each recognised TEMPer device with a fresh reading\nand exit",
        apply: |d, _| set(&mut d.list_sensors, Ok(true)),
        doc: "print the recognised sensors with a reading, and exit",
        ..FLAG
    },
    Flag {
        long: "--version",
        aliases: &["-V"],
        kind: Kind::Exit,
        upstream: true,
        help: "show program's version number and exit",
        apply: |d, _| set(&mut d.exit, Ok(Some(Exit::Version))),
        doc: "print the version and exit",
        ..FLAG
    },
];

impl Flag {
    /// Every accepted spelling: short, long, then the aliases.
    pub fn spellings(&self) -> impl Iterator<Item = &'static str> {
        self.short
            .into_iter()
            .chain(std::iter::once(self.long))
            .chain(self.aliases.iter().copied())
    }

    fn value_name(&self) -> Option<&'static str> {
        match self.kind {
            Kind::Value(v) | Kind::Repeated(v) => Some(v),
            Kind::Exit | Kind::Switch => None,
        }
    }

    /// The help text with its generated "(env X; default: Y)" suffix: each
    /// part goes on the last line if it fits within [`HELP_WIDTH`], else
    /// starts a new one.
    pub(crate) fn help_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(env) = self.env {
            parts.push(match self.kind {
                Kind::Repeated(_) => format!("env {env}, space-separated"),
                _ => format!("env {env}"),
            });
        }
        if let Default::Value(text) | Default::Note(text) = self.default {
            parts.push(format!("default: {text}"));
        }
        let mut out = self.help.to_string();
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            let open = if i == 0 { "(" } else { "" };
            let close = if i == last { ")" } else { ";" };
            let piece = format!("{open}{part}{close}");
            let line = out.rsplit('\n').next().unwrap_or("").trim_start();
            if line.len() + 1 + piece.len() <= HELP_WIDTH {
                out.push(' ');
            } else {
                out.push('\n');
            }
            out.push_str(&piece);
        }
        out.push_str(self.help_after);
        out
    }

    /// `-f LOG_FILE, --log_file LOG_FILE`, as the option list shows it.
    fn invocation(&self) -> String {
        let with_value = |name: &str| match self.value_name() {
            Some(v) => format!("{name} {v}"),
            None => name.to_string(),
        };
        match self.short {
            Some(short) => format!("{}, {}", with_value(short), with_value(self.long)),
            None => with_value(self.long),
        }
    }

    /// `[-f LOG_FILE]`, as the usage line shows it.
    fn usage(&self) -> String {
        let name = self.short.unwrap_or(self.long);
        match self.value_name() {
            Some(v) => format!("[{name} {v}]"),
            None => format!("[{name}]"),
        }
    }
}

const PROGRAM: &str = "linxdot-exporter";
const DESCRIPTION: &str =
    "Exporter for metrics for Linxdot miner devices and PCsensor TEMPer USB sensors";
const EPILOGUE: &str = "\
Long options are also accepted with hyphens (--log-file, --plain-credentials,
--refresh-interval) and as --option=value. A flag beats its environment variable.
Without a username and a password the miner is not polled; everything else is served.
";
/// The usage line wraps before this column.
const USAGE_WIDTH: usize = 100;
/// Help texts start in this column (argparse's layout).
const HELP_COLUMN: usize = 24;
/// The longest line of a help text.
const HELP_WIDTH: usize = 56;

/// The `--help` text, laid out the way the upstream exporters' argparse did.
pub fn help() -> String {
    let mut out = String::new();
    let head = format!("usage: {PROGRAM}");
    let indent = " ".repeat(head.len() + 1);
    let mut line = head;
    let upstream_first = FLAGS
        .iter()
        .filter(|f| f.upstream)
        .chain(FLAGS.iter().filter(|f| !f.upstream));
    for flag in upstream_first {
        let usage = flag.usage();
        // With the space before it, the item would reach past the width.
        if line.len() + usage.len() >= USAGE_WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = indent.clone();
        } else {
            line.push(' ');
        }
        line.push_str(&usage);
    }
    out.push_str(&line);
    out.push_str("\n\n");
    out.push_str(DESCRIPTION);
    out.push_str("\n\noptional arguments:\n");
    let pad = " ".repeat(HELP_COLUMN);
    for flag in FLAGS {
        let invocation = format!("  {}", flag.invocation());
        let text = flag.help_text();
        let mut lines = text.lines();
        if invocation.len() + 2 <= HELP_COLUMN {
            out.push_str(&format!("{invocation:<HELP_COLUMN$}"));
            out.push_str(lines.next().unwrap_or(""));
            out.push('\n');
        } else {
            out.push_str(&invocation);
            out.push('\n');
        }
        for text in lines {
            out.push_str(&pad);
            out.push_str(text.trim_start());
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(EPILOGUE);
    out
}

/// The flag table of docs/configuration.md (markdown), between its two marker lines.
#[cfg(test)]
pub(crate) fn readme_table() -> String {
    let mut out = String::from("| flag | variable | default | meaning |\n|---|---|---|---|\n");
    for flag in FLAGS {
        let mut names: Vec<String> = flag.short.iter().map(|s| format!("`{s}`")).collect();
        names.push(match flag.value_name() {
            Some(v) => format!("`{} {v}`", flag.long),
            None => format!("`{}`", flag.long),
        });
        let env = flag.env.map(|e| format!("`{e}`")).unwrap_or_default();
        let default = match (flag.default, flag.kind) {
            (Default::None, Kind::Switch) => "off".to_string(),
            (Default::None, _) => String::new(),
            (Default::Value(v), _) => format!("`{v}`"),
            (Default::Note(n) | Default::Prose(n), _) => n.to_string(),
        };
        for cell in [names.join(", "), env, default, flag.doc.to_string()] {
            out.push_str("| ");
            if !cell.is_empty() {
                out.push_str(&cell);
                out.push(' ');
            }
        }
        out.push_str("|\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `UPDATE_HELP=1 cargo test --lib config` rewrites the pinned copy
    /// (only for a deliberate change of wording).
    #[test]
    fn help_is_unchanged() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/config/testdata/help.txt");
        if std::env::var_os("UPDATE_HELP").is_some() {
            std::fs::write(path, help()).unwrap();
        }
        assert_eq!(help(), include_str!("testdata/help.txt"));
    }

    #[test]
    fn help_names_each_variable_and_default() {
        for flag in FLAGS {
            // The suffix is generated, never written by hand.
            assert!(
                !flag.help.contains("(env ") && !flag.help.contains("default:"),
                "{}: {}",
                flag.long,
                flag.help
            );
            let text = flag.help_text();
            assert!(
                text.lines().all(|l| l.trim_start().len() <= HELP_WIDTH),
                "{text}"
            );
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if let Some(env) = flag.env {
                assert!(
                    text.contains(&format!("(env {env}")),
                    "{}: {text}",
                    flag.long
                );
            }
            let ok = match flag.default {
                Default::None => !text.contains("default:"),
                Default::Value(v) => text.contains(&format!("default: {v})")),
                Default::Note(note) => text.contains(&format!("default: {note})")),
                Default::Prose(note) => text.contains(note) && !text.contains("default:"),
            };
            assert!(ok, "{}: {text} vs {:?}", flag.long, flag.default);
        }
    }

    #[test]
    fn spellings_are_unique() {
        let mut all: Vec<&str> = FLAGS.iter().flat_map(Flag::spellings).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a spelling belongs to two flags");
        for flag in FLAGS {
            if let Some(other) = flag.excludes {
                assert!(FLAGS.iter().any(|f| f.long == other), "{other}");
            }
        }
    }

    /// docs/configuration.md's table is [`readme_table`]. `UPDATE_README=1
    /// cargo test --lib config` writes it there.
    #[test]
    fn readme_table_is_the_flag_table() {
        const BEGIN: &str = "<!-- flags: generated from src/config/flags.rs -->\n";
        const END: &str = "<!-- end of flags -->\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let start = readme
            .find(BEGIN)
            .expect("docs/configuration.md lacks the flags marker")
            + BEGIN.len();
        let end = start
            + readme[start..]
                .find(END)
                .expect("docs/configuration.md lacks the end marker");
        let want = readme_table();
        if readme[start..end] != want && std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{want}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, updated).unwrap();
            return;
        }
        assert_eq!(
            readme[start..end],
            want,
            "docs/configuration.md's flag table differs from FLAGS; UPDATE_README=1 cargo test --lib config rewrites it"
        );
    }
}
