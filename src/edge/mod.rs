//! The edge: TCP accept loops, the TLS handshake (with TLS-ALPN-01 answers), and HTTP/1.1 +
//! HTTP/2 connections.
//!
//! Must not know about SCIM, ACME ordering or the store.

pub mod allow;
pub mod conn;
pub mod handshake;
pub mod io;
pub mod listener;
pub mod registry;

pub use allow::AllowList;
pub use conn::Deadlines;
pub use handshake::TlsHandshake;
pub use listener::{
    bind, serve, serve_with, ClientAddr, ConnOptions, Handshake, Plain, TlsConnection,
};
