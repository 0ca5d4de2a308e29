//! A password ([`Secret`]) and the one way a password file is read and its
//! permissions judged. A leaf: it imports nothing of the crate, so the
//! miner, `/probe` and the configuration can all use it.

use std::fmt;
use std::path::Path;

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

/// The first line of a password file (a trailing `\r` dropped); it must not
/// be empty.
pub(crate) fn read_password_file(path: &Path) -> Result<Secret, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read password file '{shown}': {e}"))?;
    let first = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if first.is_empty() {
        return Err(format!("password file '{shown}' has an empty first line"));
    }
    Ok(Secret::new(first.to_string()))
}

/// The one rule for files that hold or lead to passwords: a warning when
/// group or others may read `path` (`what` names the kind of file).
pub(crate) fn readable_by_others(path: &Path, what: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o044 != 0).then(|| {
        format!(
            "{what} '{}' can be read by other users (mode {:03o}): chmod 600 it",
            path.display(),
            mode & 0o777
        )
    })
}
