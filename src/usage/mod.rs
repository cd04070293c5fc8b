//! When each bearer token was last used, persisted so `token list` and other replicas see it.
//!
//! The session file stays read-only (in Kubernetes it is a Secret mount), so last use lives
//! elsewhere. [`crate::auth`] records each authorised request in the live session's in-memory
//! clocks ([`crate::session::last_use`]); this module persists them, coarsely:
//!
//! * [`record`]: the persisted document, keyed by token id, merged by max (pure);
//! * [`ledger`]: where it lives — a record in the shared store with Redis, a JSON file in the data
//!   directory with the embedded store (whose database is locked while the bridge runs);
//! * [`flush`]: the bridge's task that seeds the clocks at start, merges them into the ledger
//!   every `OP_TOKEN_USAGE_FLUSH` when they changed, and once more at shutdown.
//!
//! Must not know about HTTP, the backend kind behind a store, or the session file's format.

pub mod flush;
pub mod ledger;
pub mod record;

use std::path::PathBuf;

pub use ledger::Ledger;
pub use record::{TokenUse, UsageRecord};

use crate::store::StoreError;

/// Why last use could not be read or persisted. Never fatal: callers warn or print `unknown`.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The store failed or timed out.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data directory does not exist (the bridge never ran with it).
    #[error("data directory {dir} does not exist (is OP_DATA_DIR the bridge's?)")]
    NoDataDir {
        /// The directory.
        dir: PathBuf,
    },
    /// The usage file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The persisted record is not a usage document this build reads; it is left alone.
    #[error("{place} is malformed: {reason}")]
    Malformed {
        /// The file or store record.
        place: String,
        /// What is wrong (never the content).
        reason: String,
    },
    /// Other replicas kept winning the race to write the shared record.
    #[error("the shared record kept changing under {attempts} merge attempts")]
    Contended {
        /// How many merges were tried.
        attempts: usize,
    },
}
