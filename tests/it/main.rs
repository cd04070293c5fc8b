//! The integration tests: one binary, a file per area, shared helpers in `helpers/`.

// Helpers are `pub` for the test modules of this one binary; nothing here is a public API.
#![allow(unreachable_pub)]

mod cli;
mod deploy;
mod deprovision;
mod edge_limits;
mod events;
mod exposure;
mod helpers;
mod lifecycle;
mod redis_backend;
mod scim;
mod serve;
mod status_page;
mod store;
mod tls;
mod tokens;
mod webhooks;
mod workspace;
