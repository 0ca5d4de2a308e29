//! linxdot-exporter: Prometheus metrics for a Linxdot LoRaWAN miner and the
//! PCsensor TEMPer USB sensors plugged into it.
//!
//! Data flows one way: sources (the miner's dashboard, USB sensors,
//! `/proc/self`) → snapshots → the exposition writer → the HTTP server.
//! Nothing under [`http`] knows what a miner is.

// `unsafe` only in `sys` (the exporter's own system calls; the HTTP
// server's are in its crate's own `sys`).
#![deny(unsafe_code)]

#[macro_use]
pub mod log;

pub mod build_info;
pub mod collector;
pub mod config;
pub mod error;
pub mod exporter;
pub mod exposition;
pub mod health;
pub mod hostport;
/// The HTTP server: the workspace crate `crates/http`.
pub use http;
pub mod landing;
pub mod lora;
pub mod miner;
pub mod probe;
pub mod process;
pub mod secret;
pub mod sync;
#[allow(unsafe_code)]
pub mod sys;
pub mod temper;

#[cfg(test)]
mod testing;
