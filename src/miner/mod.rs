//! The miner's embedded dashboard: [`client`] logs in and fetches,
//! [`system`] reads its JSON into a snapshot, [`poller`] refreshes the
//! snapshot in the background, and [`collector`] renders it.

pub mod client;
pub mod collector;
mod config;
mod poller;
pub mod system;

pub use collector::{render, Gauge, MinerCollector};
pub use config::{dialable, Config};
pub use poller::{outcome, MinerState};
