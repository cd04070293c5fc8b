//! Shared test helpers: the real binary on loopback, and real backing services.

pub mod bridge;
pub mod pebble;
pub(crate) mod redis;
