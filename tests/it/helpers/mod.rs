//! Shared test helpers: the bridge in-process or as the real binary on loopback, and real
//! backing services.

pub mod app;
pub mod bridge;
pub mod google;
pub mod pebble;
pub mod receiver;
pub(crate) mod redis;
pub(crate) mod topology;
