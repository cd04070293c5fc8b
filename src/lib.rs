//! # scim-bridge
//!
//! A single-binary SCIM 2.0 bridge. Identity providers (Entra ID, Okta, OneLogin, JumpCloud,
//! Rippling, ...) provision users and groups through its RFC 7643/7644 API; it keeps them in an
//! embedded store or in Redis shared by several replicas.
//!
//! Data flows one way: bytes in at the edge, a SCIM request in the engine, a record in the store;
//! certificates flow from the ACME manager through the store to the TLS resolver.
//!
//! ```text
//!  identity provider ──▶ edge (TLS, listeners) ──▶ http router ──▶ auth ──▶ scim api ──▶ engine ──▶ store
//!        ACME CA ──acme-tls/1──▶ edge ◀── tls resolver ◀── tls manager ──▶ store
//!        Prometheus ──▶ /metrics          load balancer ──▶ /ping, /health
//!        operator ──▶ / (status page) ──▶ /status.json, /logs ◀── logging ring ◀── tracing
//! ```
//!
//! ## Module map
//! * [`cli`]: command-line arguments (clap); knows nothing of how commands run.
//! * [`config`]: one validated [`config::Settings`] from `config/*.toml` and `OP_*` variables.
//! * [`app`]: the composition root; builds everything and owns graceful shutdown.
//! * [`session`], [`auth`]: the scimsession file and constant-time bearer verification; auth
//!   records each token's last use in the live session's in-memory clocks and throttles failed
//!   checks per client address ([`auth::throttle`]).
//! * [`secret_file`]: atomic, exclusive 0600 writes of files that hold secrets.
//! * [`usage`]: token last use persisted (a store record with Redis, a file beside the embedded
//!   store) for `token list`, the status page and other replicas.
//! * [`client_addr`]: client addresses as the per-client limits key them (mapped IPv4, IPv6 /64).
//! * [`edge`]: TCP accept loops and the connection table (caps, eviction), the TLS handshake
//!   and the HTTPS allowlist, HTTP/1.1 + HTTP/2 connections (hyper-util) within deadlines.
//! * [`error_chain`]: an error and its causes as one line, for logs and CLI notes.
//! * [`tls`]: certificates: resolver, ACME (TLS-ALPN-01), lifecycle manager, PEM files.
//! * [`http`]: the route table and the tower-http stack; renders responses; the client address
//!   behind trusted proxies, the HTTPS posture (HSTS, plain HTTP beside HTTPS, `/metrics`
//!   token) and the base URL of locations.
//! * [`scim`]: the SCIM protocol and the provisioning engine.
//! * [`operator`]: operators' read-outs: `/health`, `/ping`, and the status page with
//!   `/status.json` and the `/logs` download.
//! * [`outbox`]: the event log as readers see it: pages after a cursor, the head, waits for
//!   the next event (the pull feed `/events` reads through it).
//! * [`metrics`]: Prometheus metrics registered into a registry passed in.
//! * [`store`]: storage traits and the `embedded` (redb) and `redis` (fred) backends.
//! * [`logging`]: tracing subscriber set-up (plain, JSON, colour) and the bounded ring of recent
//!   log lines ([`logging::recent`]) that the status page downloads.
//! * [`shutdown`]: the SIGTERM/SIGINT future.
//! * [`probe`]: the `ping` command's client: `GET /ping` on the bridge's own plain-HTTP port.
//! * [`outbound`]: the outbound HTTP(S) client webhooks and the Workspace connector share.
//! * [`backoff`]: exponential backoff with jitter for retries against other services.
//! * [`workspace`]: the Google Workspace connector (Directory API pull, applied through the
//!   engine).

pub mod app;
pub mod auth;
pub mod backoff;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod edge;
pub mod error_chain;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod operator;
pub mod outbound;
pub mod outbox;
pub mod probe;
pub mod scim;
pub mod secret_file;
pub mod session;
pub mod shutdown;
pub mod store;
pub mod tls;
pub mod usage;
pub mod workspace;
