//! The miner dashboard.
