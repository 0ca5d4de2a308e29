//! Which credentials a probed target is logged in with.
//!
//! By default every target gets the `-u`/`-p` (or `--password-file`)
//! credentials. `--probe-credentials PATH` names a file that maps target
//! patterns (the syntax of `--probe-allow`) to a username, a password file
//! and the login style; the first entry whose pattern matches wins, and a
//! target that matches none falls back to the default credentials.
//!
//! The file is either lines,
//!
//! ```text
//! # PATTERN        USERNAME  PASSWORD_FILE                     [md5|plain]
//! 10.0.1.0/24      admin     /etc/linxdot-exporter/site-a.pw
//! *.site-b.lan     root      site-b.pw                         plain
//! ```
//!
//! or, when its first non-blank byte is `[`, a JSON array of objects with
//! the keys `target`, `username`, `password_file` and optionally
//! `credentials` (`"md5"`, the default, or `"plain"`). A relative password
//! file is relative to the credentials file's folder. The file holds no
//! password itself (a `password` key is refused), so it may be readable by
//! the exporter's user only or not; each password file should be 0600 and a
//! warning says when one is readable by group or others.
//!
//! The file is read at start (a bad file stops the exporter with a clear
//! error) and again after SIGHUP, when the next probe comes; a bad new file
//! is logged and the previous one stays in force.

use super::allow::Pattern;
use super::target::Target;
use crate::secret::{read_password_file, readable_by_others, Secret};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tinyjson::JsonValue;

/// The largest credentials file read.
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One set of dashboard credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
    pub plain: bool,
}

/// A parsed credentials file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CredentialsFile {
    pub entries: Vec<(Pattern, Arc<Credentials>)>,
    /// Group/world-readable password files, to log.
    pub warnings: Vec<String>,
}

/// Reads and parses the file at `path` (and the password files it names).
pub(crate) fn load_file(path: &Path) -> Result<CredentialsFile, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read '{shown}': {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("'{shown}' is larger than {MAX_FILE_BYTES} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read '{shown}': {e}"))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let rows = if text.trim_start().starts_with('[') {
        parse_json(&text)
    } else {
        parse_lines(&text)
    }
    .map_err(|e| format!("'{shown}': {e}"))?;
    let mut file = CredentialsFile::default();
    if let Some(w) = readable_by_others(path, "credentials file") {
        file.warnings.push(w);
    }
    for row in rows {
        let pw_path = base.join(&row.password_file);
        let password = read_password_file(&pw_path)
            .map_err(|e| format!("'{shown}' entry '{}': {e}", row.pattern))?;
        if let Some(w) = readable_by_others(&pw_path, "password file") {
            if !file.warnings.contains(&w) {
                file.warnings.push(w);
            }
        }
        file.entries.push((
            row.pattern,
            Arc::new(Credentials {
                username: row.username,
                password,
                plain: row.plain,
            }),
        ));
    }
    Ok(file)
}

struct Row {
    pattern: Pattern,
    username: String,
    password_file: PathBuf,
    plain: bool,
}

fn style(word: &str) -> Result<bool, String> {
    match word {
        "md5" => Ok(false),
        "plain" => Ok(true),
        other => Err(format!("'{other}' is neither 'md5' nor 'plain'")),
    }
}

fn check_username(name: &str) -> Result<String, String> {
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err("the username is empty or has a control character".into());
    }
    Ok(name.to_string())
}

fn parse_lines(text: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", n + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        if !(3..=4).contains(&words.len()) {
            return Err(at(format!(
                "{} fields; want PATTERN USERNAME PASSWORD_FILE [md5|plain]",
                words.len()
            )));
        }
        rows.push(Row {
            pattern: Pattern::parse(words[0]).map_err(at)?,
            username: check_username(words[1]).map_err(at)?,
            password_file: PathBuf::from(words[2]),
            plain: match words.get(3) {
                Some(w) => style(w).map_err(at)?,
                None => false,
            },
        });
    }
    Ok(rows)
}

fn parse_json(text: &str) -> Result<Vec<Row>, String> {
    if super::super::miner::system::json_depth(text.as_bytes()) > 8 {
        return Err("JSON nested too deep".into());
    }
    let value: JsonValue = text
        .parse()
        .map_err(|e: tinyjson::JsonParseError| format!("not JSON: {e}"))?;
    let JsonValue::Array(items) = value else {
        return Err("the JSON is not an array of objects".into());
    };
    let mut rows = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |e: String| format!("entry {}: {e}", i + 1);
        let JsonValue::Object(object) = item else {
            return Err(at("not an object".into()));
        };
        for key in object.keys() {
            match key.as_str() {
                "target" | "username" | "password_file" | "credentials" => {}
                "password" => {
                    return Err(at(
                        "a password does not go in this file: put it in a 0600 file and name it as 'password_file'".into(),
                    ))
                }
                other => return Err(at(format!("unknown key '{other}'"))),
            }
        }
        let string = |key: &str| match object.get(key) {
            Some(JsonValue::String(s)) => Ok(Some(s.as_str())),
            None => Ok(None),
            Some(_) => Err(at(format!("'{key}' is not a string"))),
        };
        let need = |key: &str| string(key)?.ok_or_else(|| at(format!("'{key}' is missing")));
        rows.push(Row {
            pattern: Pattern::parse(need("target")?).map_err(at)?,
            username: check_username(need("username")?).map_err(at)?,
            password_file: PathBuf::from(need("password_file")?),
            plain: match string("credentials")? {
                Some(w) => style(w).map_err(at)?,
                None => false,
            },
        });
    }
    Ok(rows)
}

static RELOAD_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sighup(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    RELOAD_REQUESTED.store(true, Ordering::SeqCst);
}

/// Makes SIGHUP ask for the credentials file to be read again (instead of
/// ending the process, its default). Nothing wakes up for it: the next
/// probe sees the request.
pub(crate) fn install_sighup_handler() -> std::io::Result<()> {
    crate::sys::install_handler(libc::SIGHUP, on_sighup, true)
}

/// The default credentials and the credentials file in force.
pub struct CredentialStore {
    default: Option<Arc<Credentials>>,
    path: Option<PathBuf>,
    file: Mutex<Arc<CredentialsFile>>,
}

impl CredentialStore {
    /// The defaults and the file as read at start (by
    /// [`super::Config::read_credentials_file`]); nothing is read here.
    pub fn new(
        default: Option<Credentials>,
        file: Option<(PathBuf, CredentialsFile)>,
    ) -> CredentialStore {
        let (path, file) = match file {
            Some((path, file)) => (Some(path), file),
            None => (None, CredentialsFile::default()),
        };
        CredentialStore {
            default: default.map(Arc::new),
            path,
            file: Mutex::new(Arc::new(file)),
        }
    }

    /// No default credentials and no file.
    pub fn empty() -> CredentialStore {
        CredentialStore {
            default: None,
            path: None,
            file: Mutex::new(Arc::new(CredentialsFile::default())),
        }
    }

    /// The file's warnings at start, to log.
    pub fn warnings(&self) -> Vec<String> {
        self.current().warnings.clone()
    }

    pub(crate) fn has_file(&self) -> bool {
        self.path.is_some()
    }

    fn current(&self) -> Arc<CredentialsFile> {
        Arc::clone(&self.file.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reads the file again if SIGHUP asked for it since the last call.
    pub(crate) fn reload_if_requested(&self) {
        if RELOAD_REQUESTED.swap(false, Ordering::SeqCst) {
            self.reload();
        }
    }

    /// Reads the file again; a bad file keeps the one in force.
    pub(crate) fn reload(&self) {
        let Some(path) = &self.path else {
            return;
        };
        match load_file(path) {
            Ok(file) => {
                for w in &file.warnings {
                    crate::warn!("probe: {w}");
                }
                crate::info!(
                    "probe: credentials file '{}' read again ({} entries)",
                    path.display(),
                    file.entries.len()
                );
                *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(file);
            }
            Err(e) => crate::error!("probe: keeping the credentials in force: {e}"),
        }
    }

    /// The credentials for `target`: the first matching file entry, else
    /// the defaults.
    pub(crate) fn for_target(&self, target: &Target) -> Option<Arc<Credentials>> {
        let file = self.current();
        file.entries
            .iter()
            .find(|(p, _)| p.matches(target))
            .map(|(_, c)| Arc::clone(c))
            .or_else(|| self.default.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::target::parse_target;
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn read(path: &Path) -> (PathBuf, CredentialsFile) {
        (path.to_path_buf(), load_file(path).unwrap())
    }

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("linxdot-probe-creds-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn user_for(store: &CredentialStore, target: &str) -> Option<(String, String, bool)> {
        store
            .for_target(&parse_target(target).unwrap())
            .map(|c| (c.username.clone(), c.password.expose().to_string(), c.plain))
    }

    #[test]
    fn line_and_json_files_map_patterns_in_order() {
        let d = dir("formats");
        write(&d.join("a.pw"), "secret-a\n", 0o600);
        write(&d.join("b.pw"), "secret-b\r\nignored\n", 0o644);
        let lines = d.join("creds");
        write(
            &lines,
            "# fleet\n\n10.0.1.0/24 admin a.pw\n*.b.lan  root  b.pw  plain\n10.0.0.0/8 other b.pw md5\n",
            0o600,
        );
        let json = d.join("creds.json");
        write(
            &json,
            r#" [{"target":"10.0.1.0/24","username":"admin","password_file":"a.pw"},
                {"target":"*.b.lan","username":"root","password_file":"b.pw","credentials":"plain"},
                {"target":"10.0.0.0/8","username":"other","password_file":"b.pw","credentials":"md5"}]"#,
            0o600,
        );
        let default = Credentials {
            username: "dflt".into(),
            password: Secret::new("dpw".into()),
            plain: false,
        };
        for path in [&lines, &json] {
            let store = CredentialStore::new(Some(default.clone()), Some(read(path)));
            let s = |u: &str, p: &str, plain| Some((u.to_string(), p.to_string(), plain));
            assert_eq!(user_for(&store, "10.0.1.5"), s("admin", "secret-a", false));
            assert_eq!(user_for(&store, "x.b.lan:81"), s("root", "secret-b", true));
            assert_eq!(user_for(&store, "10.9.0.1"), s("other", "secret-b", false));
            assert_eq!(user_for(&store, "192.0.2.1"), s("dflt", "dpw", false));
            let warnings = store.warnings();
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("b.pw") && warnings[0].contains("644"));
            assert!(!warnings[0].contains("secret"));
        }
        let store = CredentialStore::new(None, Some(read(&lines)));
        assert_eq!(user_for(&store, "192.0.2.1"), None);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn bad_files_say_where() {
        let d = dir("bad");
        write(&d.join("a.pw"), "pw\n", 0o600);
        write(&d.join("empty.pw"), "\n", 0o600);
        let table: &[(&str, &str)] = &[
            ("10.0.0.0/8 admin", "line 1: 2 fields"),
            ("\n10.0.0.0/33 admin a.pw", "line 2: '10.0.0.0/33'"),
            ("10.0.0.1 admin a.pw sha1", "'sha1' is neither"),
            ("10.0.0.1 admin missing.pw", "cannot read password file"),
            ("10.0.0.1 admin empty.pw", "empty first line"),
            ("[1,2]", "entry 1: not an object"),
            ("[{\"target\":\"10.0.0.1\"}]", "'username' is missing"),
            (
                "[{\"target\":\"10.0.0.1\",\"username\":\"a\",\"password\":\"pw\"}]",
                "does not go in this file",
            ),
            (
                "[{\"target\":1,\"username\":\"a\",\"password_file\":\"a.pw\"}]",
                "'target' is not a string",
            ),
            ("[{\"x\":", "not JSON"),
            ("[[[[[[[[[[[]]]]]]]]]]]", "too deep"),
        ];
        let path = d.join("creds");
        for (text, want) in table {
            write(&path, text, 0o600);
            let e = load_file(&path).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains("pw\n"));
        }
        assert!(load_file(&d.join("nothing"))
            .unwrap_err()
            .contains("cannot read"));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn reload_keeps_the_old_file_when_the_new_one_is_bad() {
        let d = dir("reload");
        write(&d.join("a.pw"), "one\n", 0o600);
        let path = d.join("creds");
        write(&path, "10.0.0.1 admin a.pw\n", 0o600);
        let store = CredentialStore::new(None, Some(read(&path)));
        write(&path, "10.0.0.1 admin\n", 0o600);
        store.reload();
        assert_eq!(user_for(&store, "10.0.0.1").unwrap().0, "admin");
        write(&d.join("a.pw"), "two\n", 0o600);
        write(&path, "10.0.0.1 root a.pw plain\n", 0o600);
        store.reload();
        assert_eq!(
            user_for(&store, "10.0.0.1"),
            Some(("root".into(), "two".into(), true))
        );
        let _ = std::fs::remove_dir_all(d);
    }
}
