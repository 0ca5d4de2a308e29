//! PCsensor TEMPer USB sensors (placeholder until the TEMPer work lands).

use crate::collector::Collector;
use crate::config::TemperConfig;
use crate::exposition::{Exposition, MetricType};

pub struct TemperCollector;

impl TemperCollector {
    pub fn start(_config: &TemperConfig) -> TemperCollector {
        TemperCollector
    }
}

impl Collector for TemperCollector {
    fn collect(&self, out: &mut Exposition) {
        out.family(
            "temper_temperature_celsius",
            "Temperature reading",
            MetricType::Gauge,
        );
        out.family(
            "temper_humidity_rh",
            "Relative humidity reading",
            MetricType::Gauge,
        );
    }
}

/// `--list-sensors`: prints what is found; returns the exit status.
pub fn list_sensors(_config: &TemperConfig) -> i32 {
    0
}
