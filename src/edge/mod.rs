//! The edge: TCP accept loops, the TLS handshake (with TLS-ALPN-01 answers), and HTTP/1.1 +
//! HTTP/2 connections.
//!
//! Must not know about SCIM, ACME ordering or the store.

pub mod handshake;
pub mod listener;

pub use handshake::TlsHandshake;
pub use listener::{
    bind, serve, serve_with, ClientAddr, ConnOptions, Handshake, Plain, TlsConnection,
};
