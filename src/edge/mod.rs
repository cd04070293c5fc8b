//! The edge: TCP accept loops and HTTP connections. TLS termination joins it with the TLS
//! issue.
//!
//! Must not know about SCIM, ACME or the store.

pub mod listener;

pub use listener::{bind, serve, ConnOptions};
