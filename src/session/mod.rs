//! The scimsession file: create it, load it, keep it fresh while the bridge runs.
//!
//! The file is the bridge's secret. It holds a format version, a verifier (SHA-256) of every
//! bearer token that may call the bridge — never a token itself — and a random 256-bit key
//! for encrypting secrets at rest. Tokens carry 256 bits from the OS CSPRNG, so a fast
//! unsalted hash is a sound verifier: there is no dictionary to attack.
//!
//! * [`reload`]: the live snapshot, re-read on an interval.
//! * [`rotate`]: pure token rotation, revocation and listing.
//! * [`last_use`]: the in-memory last-use clock of each live token (the file stays read-only).
//!
//! Must not know about HTTP routing, the store or Redis.

mod file;
pub mod last_use;
pub mod reload;
pub mod rotate;

use std::path::PathBuf;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use file::{create, load, parse, CreateOptions};

/// The current session file format version.
pub const FORMAT_VERSION: u32 = 1;
/// The prefix of every bearer token, so secret scanners and people can recognise one.
pub const TOKEN_PREFIX: &str = "sbt_";

/// What can go wrong with the session file.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The file does not exist.
    #[error(
        "session file {path} does not exist (create one with `scim-bridge init --session {path}`)"
    )]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// The file exists and `--force` was not given.
    #[error("session file {path} already exists; pass --force to replace it (the old token stops working)")]
    Exists {
        /// The path.
        path: PathBuf,
    },
    /// The file could not be read or written.
    #[error("cannot access session file {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Users other than the owner (and its group, for reading) may read or change the file.
    #[error(
        "session file {path} has mode {mode:04o}, so {who}; run `chmod 600 {path}` (or 0640 / 0440 for a group-readable secret mount)"
    )]
    Permissions {
        /// The path (as given; the mode is the target's when it is a symlink).
        path: PathBuf,
        /// The permission bits found.
        mode: u32,
        /// Who may do what, in words.
        who: &'static str,
    },
    /// The file's content is not a valid session.
    #[error("session file {path} is malformed: {reason}")]
    Malformed {
        /// The path.
        path: PathBuf,
        /// What is wrong (never the file's content).
        reason: String,
    },
}

/// A bearer token as issued: shown once, never stored.
pub struct BearerToken(String);

impl BearerToken {
    /// A fresh random token with 256 bits of entropy.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The token text, to print once.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// The verifier stored in the session file.
    pub fn verifier(&self) -> Verifier {
        Verifier::of(self.0.as_bytes())
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// The SHA-256 digest of a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier(pub [u8; 32]);

impl Verifier {
    /// The verifier of presented token bytes.
    pub fn of(token: &[u8]) -> Self {
        Self(Sha256::digest(token).into())
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(..)")
    }
}

/// What a token opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// The SCIM API, the operator's endpoints (the status page's data, `/health`, `/logs`) and
    /// the events feed: what an identity provider and an operator use. Every token made
    /// before scopes existed has it.
    #[default]
    Scim,
    /// The events feed (`/events`) and nothing else: for an application that follows the
    /// directory's changes.
    Events,
}

impl Scope {
    /// Its name in the session file, the CLI and `/status.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Scim => "scim",
            Scope::Events => "events",
        }
    }

    /// The scope named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "scim" => Some(Scope::Scim),
            "events" => Some(Scope::Events),
            _ => None,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One token the bridge accepts.
#[derive(Clone, Debug)]
pub struct TokenEntry {
    /// A name for operators (`initial`, or the one given at rotation).
    pub label: String,
    /// What it opens.
    pub scope: Scope,
    /// The token's verifier.
    pub verifier: Verifier,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops being accepted (during rotation), if ever.
    pub expires_at: Option<OffsetDateTime>,
}

/// The 256-bit key for secrets at rest.
#[derive(Clone)]
pub struct EncryptionKey(pub [u8; 32]);

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey(<redacted>)")
    }
}

/// A loaded session.
#[derive(Clone, Debug)]
pub struct Session {
    /// When the session was created.
    pub created_at: OffsetDateTime,
    /// The accepted tokens.
    pub tokens: Vec<TokenEntry>,
    /// The at-rest encryption key.
    pub encryption_key: EncryptionKey,
}

impl Session {
    /// A new session with one token labelled `initial`; returns the token to show once.
    pub fn generate() -> (Self, BearerToken) {
        let token = BearerToken::generate();
        let now = OffsetDateTime::now_utc();
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let session = Session {
            created_at: now,
            tokens: vec![TokenEntry {
                label: "initial".into(),
                scope: Scope::Scim,
                verifier: token.verifier(),
                created_at: now,
                expires_at: None,
            }],
            encryption_key: EncryptionKey(key),
        };
        (session, token)
    }
}

/// Replaces the session file at `path` with `session`, atomically and with mode 0600.
pub fn save(path: &std::path::Path, session: &Session) -> Result<(), SessionError> {
    file::write(path, session, CreateOptions { force: true })
}

/// Writes a session file directly (tests only).
#[cfg(test)]
pub(crate) fn file_write_for_tests(path: &std::path::Path, session: &Session) {
    file::write(path, session, CreateOptions { force: true }).expect("test session file");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = BearerToken::generate();
        let b = BearerToken::generate();
        assert_ne!(a.reveal(), b.reveal());
        assert!(a.reveal().starts_with(TOKEN_PREFIX));
        let body = &a.reveal()[TOKEN_PREFIX.len()..];
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let (session, token) = Session::generate();
        let printed = format!("{session:?} {token:?}");
        assert!(!printed.contains(token.reveal()));
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn verifier_is_the_sha256_of_the_token() {
        let token = BearerToken::generate();
        assert_eq!(token.verifier(), Verifier::of(token.reveal().as_bytes()));
        assert_ne!(token.verifier(), Verifier::of(b"other"));
    }
}
