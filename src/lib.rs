//! linxdot-exporter: Prometheus metrics for a Linxdot LoRaWAN miner and the
//! PCsensor TEMPer USB sensors plugged into it.
//!
//! Data flows one way: sources (the miner's dashboard, USB sensors,
//! `/proc/self`) → snapshots → the exposition writer → the HTTP server.
//! Nothing under [`http`] knows what a miner is.

#[macro_use]
pub mod log;

pub mod build_info;
pub mod collector;
pub mod config;
pub mod decimal;
pub mod exporter;
pub mod exposition;
pub mod http;
pub mod landing;
pub mod lora;
pub mod miner;
pub mod probe;
pub mod process;
pub mod temper;

#[cfg(test)]
mod testing;
