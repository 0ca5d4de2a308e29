//! The kernel's `HID_PHYS` of a hidraw node: the `phy` label.
//!
//! hidapi does not expose it. It is the `HID_PHYS=` line of the parent hid
//! device's `uevent` file: `<sysfs>/class/hidraw/hidrawN/device/uevent`. The
//! sysfs root is a parameter so tests can point it at a directory of their
//! own.

use std::io::Read;
use std::path::Path;

/// `HID_PHYS` of the hidraw node `devnode` (`/dev/hidraw3`), if sysfs says.
pub(crate) fn hid_phys(sysfs_root: &Path, devnode: &str) -> Option<String> {
    let name = Path::new(devnode).file_name()?.to_str()?;
    if !name.starts_with("hidraw") || name.len() == "hidraw".len() {
        return None;
    }
    let path = sysfs_root
        .join("class/hidraw")
        .join(name)
        .join("device/uevent");
    let mut text = String::new();
    // A uevent file is a few hundred bytes; cap what we read all the same.
    std::fs::File::open(path)
        .ok()?
        .take(64 * 1024)
        .read_to_string(&mut text)
        .ok()?;
    parse_hid_phys(&text)
}

/// The value of the `HID_PHYS=` line of a uevent text; `None` if missing or empty.
pub(crate) fn parse_hid_phys(uevent: &str) -> Option<String> {
    uevent
        .lines()
        .find_map(|line| line.strip_prefix("HID_PHYS="))
        .map(str::trim)
        .filter(|phys| !phys.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_uevent_line() {
        let text = "DRIVER=hid-generic\nHID_ID=0003:00000C45:00007401\n\
                    HID_NAME=RDing TEMPer2_V3.3\nHID_PHYS=usb-3f980000.usb-1.4/input1\n\
                    HID_UNIQ=\nMODALIAS=hid:b0003g0001v00000C45p00007401\n";
        assert_eq!(
            parse_hid_phys(text).as_deref(),
            Some("usb-3f980000.usb-1.4/input1")
        );
        assert_eq!(parse_hid_phys("HID_PHYS=\n"), None);
        assert_eq!(parse_hid_phys("HID_NAME=x\n"), None);
    }

    #[test]
    fn reads_from_an_injected_sysfs_root() {
        let root = std::env::temp_dir().join(format!("temper-sysfs-{}", std::process::id()));
        let dir = root.join("class/hidraw/hidraw12/device");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("uevent"),
            "HID_ID=0003:00001A86:0000E025\nHID_PHYS=usb-xhci-hcd.0-1.2/input1\n",
        )
        .unwrap();
        assert_eq!(
            hid_phys(&root, "/dev/hidraw12").as_deref(),
            Some("usb-xhci-hcd.0-1.2/input1")
        );
        assert_eq!(hid_phys(&root, "/dev/hidraw13"), None);
        assert_eq!(hid_phys(&root, "/dev/hidraw"), None);
        assert_eq!(hid_phys(&root, "/dev/../etc/passwd"), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
