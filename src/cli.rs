//! Command-line arguments (clap). Knows nothing of how the commands are carried out.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// scim-bridge: a SCIM 2.0 bridge between your identity provider and your directory.
#[derive(Debug, Parser)]
#[command(name = "scim-bridge", version, about, long_about = None)]
pub struct Cli {
    /// The TOML config file [default: config/scim-bridge.toml when it exists].
    /// Environment variables (OP_*) override it. Example: --config /etc/scim-bridge.toml
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bridge (the default).
    ///
    /// Example: OP_PORT=3002 scim-bridge serve
    Serve,
    /// Create a scimsession file and print its bearer token once, alone on standard output.
    ///
    /// Example: TOKEN=$(scim-bridge init --session ./scimsession)
    Init {
        /// Where to write the session file. Example: --session /run/secrets/scimsession
        #[arg(long, value_name = "PATH", default_value = crate::config::DEFAULT_SESSION)]
        session: PathBuf,
        /// Replace an existing session file (its token stops working).
        #[arg(long)]
        force: bool,
    },
    /// Validate the configuration and print the effective settings (secrets redacted).
    ///
    /// Example: OP_REDIS_URL=redis://redis:6379 scim-bridge check-config
    CheckConfig,
    /// Certificate commands (HTTPS with OP_TLS_DOMAIN).
    Cert {
        /// What to do.
        #[command(subcommand)]
        command: CertCommand,
    },
}

/// The `cert` sub-commands.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Print the stored certificate: domain, issuer, expiry, next renewal.
    ///
    /// With the embedded store, run it while the bridge is stopped (the store is locked while
    /// it runs); with Redis, any time. Example: OP_TLS_DOMAIN=scim.example.com scim-bridge cert status
    Status,
}
