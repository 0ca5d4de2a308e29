//! A small HTTP/1.1 server on `std::net`: enough to serve scrapes, bounded
//! against slow and hostile clients. It knows nothing about metrics.

pub mod request;
pub mod response;
pub mod server;

pub use request::Request;
pub use response::Response;
pub use server::{bind, serve, Handler, ServerConfig, ServerHandle};
