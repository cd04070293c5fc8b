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
    /// Bearer-token commands: rotate with overlap, list, revoke.
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Ask the running bridge for /ping over plain HTTP on loopback: exit 0 when it answers
    /// 200 `pong` within 2 s, else 1 with the reason on standard error.
    ///
    /// Reads the same config file and OP_* variables as `serve` to find the port (OP_PORT, also
    /// with OP_TLS_DOMAIN) and the bind address (0.0.0.0 is asked on 127.0.0.1, :: on ::1). For
    /// container health checks; it checks that the bridge answers, not the store (that is
    /// /health, which needs the token). Example: HEALTHCHECK CMD ["scim-bridge", "ping"]
    Ping,
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

/// The `token` sub-commands. They edit the session file in place (atomically, mode 0600); a
/// running bridge picks the change up within OP_SESSION_RELOAD_INTERVAL.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a new token and print it once, alone on standard output; the old tokens stay
    /// valid for the grace period. Expired tokens are pruned. The encryption key is kept.
    ///
    /// Example: NEW=$(scim-bridge token rotate --session ./scimsession --grace 24h)
    Rotate {
        /// The session file to edit. Example: --session /run/secrets/scimsession
        #[arg(long, value_name = "PATH", default_value = crate::config::DEFAULT_SESSION)]
        session: PathBuf,
        /// How long the current tokens stay valid (ms, s, m, h); 0 revokes them at once.
        /// Example: --grace 1h
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::config::parse_duration)]
        grace: std::time::Duration,
        /// A unique label for the new token [default: rotated-YYYYMMDDTHHMMSSZ (UTC)].
        /// Example: --label okta-2026-11
        #[arg(long, value_name = "NAME")]
        label: Option<String>,
        /// The scope to rotate: the new token has it, and only the tokens of this scope start
        /// their grace period (scim: the SCIM API and the operator's endpoints; events: the
        /// events feed only). Example: --scope events
        #[arg(long, value_name = "SCOPE", default_value = "scim", value_parser = parse_scope)]
        scope: crate::session::Scope,
    },
    /// Add a token and print it once, alone on standard output; no other token changes (for a
    /// second identity provider, or an application that reads the events feed).
    ///
    /// Example: FEED=$(scim-bridge token add --label billing-app --scope events --session ./scimsession)
    Add {
        /// A unique label for the new token. Example: --label billing-app
        #[arg(long, value_name = "NAME")]
        label: String,
        /// What the token opens: scim (the SCIM API, the status page, /health, /status.json,
        /// /logs and the events feed) or events (GET /events only). Example: --scope events
        #[arg(long, value_name = "SCOPE", default_value = "scim", value_parser = parse_scope)]
        scope: crate::session::Scope,
        /// The session file to edit. Example: --session /run/secrets/scimsession
        #[arg(long, value_name = "PATH", default_value = crate::config::DEFAULT_SESSION)]
        session: PathBuf,
    },
    /// Print each token's label, creation time, expiry, state and last use (never a token or
    /// verifier).
    ///
    /// Last use comes from the running bridge, not the session file (which it never writes):
    /// the bridge persists it every OP_TOKEN_USAGE_FLUSH (30s) and at shutdown, in Redis when
    /// OP_REDIS_URL is set, else in token-usage.json in OP_DATA_DIR. So this command reads the
    /// same config file and OP_* variables as `serve`. It shows `never` for a token never used,
    /// and `unknown` (with a note on standard error) when that record cannot be read.
    ///
    /// Example: OP_DATA_DIR=/var/lib/scim-bridge scim-bridge token list --session ./scimsession
    List {
        /// The session file to read. Example: --session /run/secrets/scimsession
        #[arg(long, value_name = "PATH", default_value = crate::config::DEFAULT_SESSION)]
        session: PathBuf,
    },
    /// Remove the token with this label; the last active scim token cannot be removed.
    ///
    /// Example: scim-bridge token revoke initial --session ./scimsession
    Revoke {
        /// The label of the token to remove (see `token list`). Example: initial
        #[arg(value_name = "LABEL")]
        label: String,
        /// The session file to edit. Example: --session /run/secrets/scimsession
        #[arg(long, value_name = "PATH", default_value = crate::config::DEFAULT_SESSION)]
        session: PathBuf,
    },
}

fn parse_scope(text: &str) -> Result<crate::session::Scope, String> {
    crate::session::Scope::parse(text)
        .ok_or_else(|| format!("{text:?} is not a scope: use scim or events"))
}
