//! What the TEMPer collector is asked to do: on or off, how often, and the
//! calibration offsets.

use std::time::Duration;

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
        let (target, delta_text) = text.rsplit_once('=').ok_or_else(bad)?;
        let (phy, name) = target.rsplit_once(':').ok_or_else(bad)?;
        let delta: f64 = delta_text.trim().parse().map_err(|_| bad())?;
        if phy.is_empty() {
            return Err(format!(
                "'{text}' has no PHY before ':' (--list-sensors shows each sensor's phy)"
            ));
        }
        // "inf" and "NaN" parse as floats, but no calibration adds them.
        if !delta.is_finite() {
            return Err(format!(
                "'{text}': the offset '{}' is not a finite number",
                delta_text.trim()
            ));
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
pub struct Config {
    pub enabled: bool,
    /// `--temper-interval`: how often each device is read and the bus
    /// scanned for plugged or unplugged devices (one clock for both).
    pub rescan_interval: Duration,
    pub offsets: Vec<SensorOffset>,
}
