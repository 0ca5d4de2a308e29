//! A small HTTP/1.1 server on `std` and `libc`: enough to serve scrapes,
//! bounded against slow and hostile clients, and asleep in the kernel
//! while nothing happens. It knows nothing about metrics.
//!
//! - [`listen`]: the listening socket and non-blocking accepts;
//! - [`reactor`]: the readiness loop (one thread over one epoll set);
//! - [`pool`]: the hand-off of requests that may wait to the handler threads;
//! - [`connection`]: one connection's request/response cycle;
//! - [`deadline`]: the per-connection deadlines and the timer behind them;
//! - [`request`], [`response`]: the bytes of a request head and an answer;
//! - [`server`]: configuration, the handler, starting and stopping.

mod connection;
mod deadline;
mod listen;
mod pool;
mod reactor;
pub mod request;
pub mod response;
pub mod server;

pub use listen::bind;
pub use request::Request;
pub use response::Response;
pub use server::{serve, Handler, ServerConfig, ServerHandle};
