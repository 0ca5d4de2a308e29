//! Simulators and test helpers for linxdot-exporter: what the integration
//! tests (`tests/`), the examples (`examples/`, run by `scripts/demo.sh`,
//! `scripts/bench.sh` and `scripts/soak.sh`) and the fuzz targets (`fuzz/`)
//! share. A dev-only crate: the exporter binary never depends on it
//! (`cargo tree -e normal` shows no `linxdot-sim`).
//!
//! Code map:
//!
//! - [`dashboard`]: a simulated Linxdot dashboard, a real HTTP server on
//!   loopback speaking the firmware's API (`POST /login_odd`,
//!   `GET /info/system`), with fault modes ([`dashboard::Fault`]) and a
//!   record of what it was asked ([`dashboard::SimState`]).
//! - [`gwmp`]: a simulated packet forwarder and Helium gateway speaking
//!   Semtech UDP (GWMP) over real UDP, with knobs; datagram builders, flood
//!   and noise senders, and a raw-socket IPv4 fragment for the LoRa tests.
//! - [`hid`]: a simulated USB bus of TEMPer devices behind the library's
//!   `temper::Backend` and `temper::Transport` traits; devices answer with raw
//!   report bytes and misbehave on demand.
//! - [`exporter`]: the real `linxdot-exporter` binary started on a free
//!   loopback port, its log collected, scraped over TCP.
//! - [`http`]: a minimal HTTP/1.1 client for raw requests and answers.
//! - [`text`]: reading samples and families out of a text-format body.
//! - [`procfs`]: what `/proc` says about a child process (memory,
//!   descriptors), and scrapes timed against a bound.
//! - [`wait`]: polling for a condition with a deadline (never a bare sleep).
//! - [`skip`]: saying, visibly, that part of a test cannot run here.
//!
//! A test that uses the dashboard simulator and the binary:
//!
//! ```no_run
//! use linxdot_sim::dashboard::Dashboard;
//! use linxdot_sim::exporter::Exporter;
//! use linxdot_sim::text::sample;
//! use std::time::Duration;
//!
//! let sim = Dashboard::start();
//! let host = sim.host();
//! let exp = Exporter::start(&["-o", &host, "-u", "admin", "-p", "admin"], &[]);
//! let body = exp.scrape_until(Duration::from_secs(10), |b| sample(b, "miner_up") == Some(1.0));
//! assert_eq!(sample(&body, "miner_cpu_temp"), Some(35.555));
//! ```
//!
//! Everything here listens and connects on 127.0.0.1 only, and every
//! thread or process it starts stops when its handle is dropped.

// Other helpers build on this API: every public item says what it does.
#![warn(missing_docs)]

pub mod dashboard;
pub mod exporter;
pub mod gwmp;
pub mod hid;
pub mod http;
pub mod procfs;
pub mod promtool;
pub mod skip;
pub mod text;
pub mod wait;
