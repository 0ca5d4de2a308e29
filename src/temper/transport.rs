//! How the collector reaches devices: a [`Backend`] lists candidate hidraw
//! nodes and opens them into [`Transport`]s. The real one is
//! [`HidapiBackend`] (hidapi's pure-Rust hidraw backend); the tests put a
//! simulated bus behind the same two traits.

use std::ffi::CString;
use std::fmt;
use std::io::ErrorKind;
use std::path::PathBuf;

use hidapi::{HidApi, HidDevice};

use super::sysfs;

/// A hidraw node as enumeration saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The device node, e.g. `/dev/hidraw3`.
    pub path: String,
    pub vendor_id: u16,
    pub product_id: u16,
    /// The USB interface number; -1 when unknown.
    pub interface: i32,
    /// The kernel's `HID_PHYS`, when sysfs gave it.
    pub phy: Option<String>,
}

/// An I/O failure talking to an open device (unplugged, broken pipe, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError(pub String);

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a node could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// No permission on the node (not root, no hotplug/udev rule).
    PermissionDenied(String),
    Other(String),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::PermissionDenied(m) | OpenError::Other(m) => f.write_str(m),
        }
    }
}

/// One open device. Used by one thread at a time (it is moved, never shared).
pub trait Transport: Send {
    /// Writes one output report; `data[0]` is the report id (0 here).
    fn write(&mut self, data: &[u8]) -> Result<usize, TransportError>;
    /// Reads one input report into `buf`, waiting at most `timeout_ms`
    /// milliseconds; `Ok(0)` when nothing came in time.
    fn read_timeout(&mut self, buf: &mut [u8], timeout_ms: i32) -> Result<usize, TransportError>;
}

/// Where devices come from.
pub trait Backend: Send {
    /// All hidraw nodes present now (every interface, every vendor).
    fn enumerate(&mut self) -> Result<Vec<Candidate>, String>;
    fn open(&mut self, candidate: &Candidate) -> Result<Box<dyn Transport>, OpenError>;
}

/// The real backend: hidapi over `/dev/hidraw*`, `HID_PHYS` from sysfs.
pub struct HidapiBackend {
    api: Option<HidApi>,
    sysfs_root: PathBuf,
}

impl HidapiBackend {
    pub fn new(sysfs_root: impl Into<PathBuf>) -> Self {
        HidapiBackend {
            api: None,
            sysfs_root: sysfs_root.into(),
        }
    }
}

impl Backend for HidapiBackend {
    fn enumerate(&mut self) -> Result<Vec<Candidate>, String> {
        let api = match &mut self.api {
            Some(api) => {
                api.refresh_devices()
                    .map_err(|e| format!("listing HID devices: {e}"))?;
                api
            }
            None => self
                .api
                .insert(HidApi::new().map_err(|e| format!("starting hidapi: {e}"))?),
        };
        let mut out: Vec<Candidate> = Vec::new();
        for info in api.device_list() {
            let path = info.path().to_string_lossy().into_owned();
            // hidapi lists a node once per top-level usage: keep one.
            if out.iter().any(|c| c.path == path) {
                continue;
            }
            out.push(Candidate {
                phy: sysfs::hid_phys(&self.sysfs_root, &path),
                path,
                vendor_id: info.vendor_id(),
                product_id: info.product_id(),
                interface: info.interface_number(),
            });
        }
        Ok(out)
    }

    fn open(&mut self, candidate: &Candidate) -> Result<Box<dyn Transport>, OpenError> {
        // hidapi folds the OS error into a message; open the node ourselves
        // first so that "permission denied" is told apart reliably.
        if let Err(e) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&candidate.path)
        {
            return Err(open_error(&e));
        }
        let api = self
            .api
            .as_ref()
            .ok_or_else(|| OpenError::Other("hidapi is not started".into()))?;
        let path = CString::new(candidate.path.as_bytes())
            .map_err(|_| OpenError::Other("device path contains a NUL byte".into()))?;
        let device = api
            .open_path(&path)
            .map_err(|e| OpenError::Other(e.to_string()))?;
        Ok(Box::new(HidTransport(device)))
    }
}

/// EACCES and EPERM are "permission denied"; anything else is not.
pub(crate) fn open_error(e: &std::io::Error) -> OpenError {
    if e.kind() == ErrorKind::PermissionDenied {
        OpenError::PermissionDenied(e.to_string())
    } else {
        OpenError::Other(e.to_string())
    }
}

struct HidTransport(HidDevice);

impl Transport for HidTransport {
    fn write(&mut self, data: &[u8]) -> Result<usize, TransportError> {
        self.0
            .write(data)
            .map_err(|e| TransportError(e.to_string()))
    }

    fn read_timeout(&mut self, buf: &mut [u8], timeout_ms: i32) -> Result<usize, TransportError> {
        self.0
            .read_timeout(buf, timeout_ms)
            .map_err(|e| TransportError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_are_told_apart() {
        for errno in [libc::EACCES, libc::EPERM] {
            let e = std::io::Error::from_raw_os_error(errno);
            assert!(
                matches!(open_error(&e), OpenError::PermissionDenied(_)),
                "{e}"
            );
        }
        for errno in [libc::ENOENT, libc::EBUSY, libc::ENODEV] {
            let e = std::io::Error::from_raw_os_error(errno);
            assert!(matches!(open_error(&e), OpenError::Other(_)), "{e}");
        }
    }

    #[test]
    fn the_real_backend_fails_politely_on_what_is_not_a_hidraw_node() {
        let mut backend = HidapiBackend::new("/sys");
        // Whatever this machine has: no panic.
        let _ = backend.enumerate();
        let candidate = |path: &str| Candidate {
            path: path.to_string(),
            vendor_id: 0x0c45,
            product_id: 0x7401,
            interface: 1,
            phy: None,
        };
        let missing = backend.open(&candidate("/dev/hidraw-does-not-exist"));
        assert!(matches!(missing, Err(OpenError::Other(_))));
        // A readable, writable file that is not a hidraw node.
        let file = std::env::temp_dir().join(format!("temper-not-hidraw-{}", std::process::id()));
        std::fs::write(&file, b"").unwrap();
        let not_hidraw = backend.open(&candidate(file.to_str().unwrap()));
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(not_hidraw, Err(OpenError::Other(_))));
    }
}
