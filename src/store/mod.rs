//! The storage layer: one small set of async, object-safe traits and two backends.
//!
//! Everything the bridge keeps — SCIM resources, unique-name indexes, group memberships,
//! certificates, leases — goes through [`StateStore`]. Callers see only opaque byte values under
//! namespaced keys; each backend owns its own physical layout:
//!
//! * [`embedded`]: a redb database in a data directory (the default; one node; crash-safe, every
//!   acknowledged write is fsynced, concurrent writers share one commit).
//! * [`redis`]: Redis through fred, so several replicas share one state (atomic writes are one
//!   Lua script each; durability as configured on the Redis server, see the README).
//!
//! The model is deliberately small:
//! * **records** (`space`, `id`) → versioned bytes, listed in `id` order;
//! * **unique indexes** (`index`, `term`) → the owning record id, claimed and released atomically
//!   with the records they describe;
//! * **sets** (`set`) → ordered members, for memberships and non-unique lookups;
//! * **leases** with expiry, so one replica at a time does singleton work;
//! * **logs** (`log`) → append-only entries numbered 1, 2, 3, … with no gaps, appended in the
//!   same batch as the records they describe, read in order after a sequence number and trimmed
//!   from the oldest end;
//! * a **change feed** of record keys, so replicas notice each other's writes.
//!
//! Callers hold the store through [`guard`], which checks every argument, bounds reads by
//! `OP_STORE_TIMEOUT` and observes each call's latency; backends do none of that themselves.
//!
//! All writes go through [`WriteBatch`]: every precondition is checked and, only if all hold,
//! every mutation is applied, atomically. A failed batch changes nothing.
//!
//! Must not know about SCIM, certificates or any caller's value format.

mod check;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod embedded;
pub mod guard;
pub mod redis;

use std::{fmt, sync::Arc, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::broadcast;

/// A record's version: 1 on creation, incremented by every put.
pub type Version = u64;

/// The key of one record: a namespace (`space`, such as `scim.users`) and an id within it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreKey {
    /// The namespace; records are listed and counted per space.
    pub space: String,
    /// The record's id, unique within its space.
    pub id: String,
}

impl StoreKey {
    /// Builds a key from a space and an id.
    pub fn new(space: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            space: space.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.space, self.id)
    }
}

/// A stored value with its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The version the value was written at.
    pub version: Version,
    /// The caller's opaque bytes.
    pub value: Bytes,
}

/// A condition that must hold for a [`WriteBatch`] to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// The record must not exist.
    Absent(StoreKey),
    /// The record must exist, at any version.
    Exists(StoreKey),
    /// The record must exist at exactly this version.
    Version(StoreKey, Version),
}

impl Precondition {
    /// The record must be as it was read: at `version`, or absent when it was (`None`), the
    /// condition of a read-modify-write.
    pub fn unchanged(key: StoreKey, version: Option<Version>) -> Self {
        match version {
            Some(v) => Precondition::Version(key, v),
            None => Precondition::Absent(key),
        }
    }
}

/// One change inside a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Writes a record; its version becomes the previous version + 1, or 1 if it was absent.
    Put {
        /// The record's key.
        key: StoreKey,
        /// The new value.
        value: Bytes,
    },
    /// Removes a record if present.
    Delete {
        /// The record's key.
        key: StoreKey,
    },
    /// Claims `term` in unique index `index` for `owner`. Fails the whole batch with
    /// [`StoreError::Unique`] if another owner holds it; a no-op if `owner` already does.
    Claim {
        /// The index name.
        index: String,
        /// The indexed value, already normalised by the caller (e.g. lower-cased).
        term: String,
        /// The id that owns the term.
        owner: String,
    },
    /// Releases `term` in `index` if, and only if, `owner` holds it.
    Release {
        /// The index name.
        index: String,
        /// The indexed value.
        term: String,
        /// The id expected to own it.
        owner: String,
    },
    /// Adds `member` to `set` (a no-op if present).
    SetAdd {
        /// The set name.
        set: String,
        /// The member.
        member: String,
    },
    /// Removes `member` from `set` (a no-op if absent).
    SetRemove {
        /// The set name.
        set: String,
        /// The member.
        member: String,
    },
    /// Removes every member of `set`.
    SetClear {
        /// The set name.
        set: String,
    },
    /// Appends `value` to `log` as the entry numbered one past the log's last (the first entry
    /// of a log is 1). Several appends in one batch take consecutive numbers; a refused batch
    /// takes none, so committed entries never leave a gap.
    Append {
        /// The log name.
        log: String,
        /// The entry's bytes.
        value: Bytes,
        /// Names the entry is also found under, by [`StateStore::log_by_key`], until it is
        /// trimmed (the ids of the resources an event is about). Each non-empty, without a
        /// newline.
        keys: Vec<String>,
    },
    /// Removes the entries of `log` numbered below `before` (a no-op for those already gone).
    /// The numbering continues from the last entry ever appended, even when every entry is
    /// trimmed.
    Trim {
        /// The log name.
        log: String,
        /// The lowest entry number kept.
        before: Seq,
    },
}

/// The number of a log entry: 1 for a log's first entry, one more for each after it.
pub type Seq = u64;

/// One entry of a log, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Its number in the log.
    pub seq: Seq,
    /// When the store appended it, in milliseconds since the unix epoch (the backend's clock).
    pub at_ms: u64,
    /// The bytes appended.
    pub value: Bytes,
}

/// Where a log stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogBounds {
    /// The number of the oldest entry still held, `None` when the log holds none.
    pub oldest: Option<Seq>,
    /// The number of the last entry ever appended (0 for a log never appended to).
    pub head: Seq,
}

/// An atomic write: preconditions checked first, then all mutations applied, or nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// Conditions that must all hold.
    pub preconditions: Vec<Precondition>,
    /// Changes applied in order when they do.
    pub mutations: Vec<Mutation>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a precondition.
    pub fn require(mut self, precondition: Precondition) -> Self {
        self.preconditions.push(precondition);
        self
    }

    /// Adds a mutation.
    pub fn then(mut self, mutation: Mutation) -> Self {
        self.mutations.push(mutation);
        self
    }

    /// Adds a put of `value` at `key`.
    pub fn put(self, key: StoreKey, value: impl Into<Bytes>) -> Self {
        self.then(Mutation::Put {
            key,
            value: value.into(),
        })
    }

    /// Adds a delete of `key`.
    pub fn delete(self, key: StoreKey) -> Self {
        self.then(Mutation::Delete { key })
    }
}

/// What a successful [`WriteBatch`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// The new version of each key put by the batch, in mutation order.
    pub versions: Vec<(StoreKey, Version)>,
    /// The number each [`Mutation::Append`] took, in mutation order.
    pub appended: Vec<(String, Seq)>,
}

impl Committed {
    /// The new version of `key`, if the batch put it.
    pub fn version_of(&self, key: &StoreKey) -> Option<Version> {
        self.versions
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }
}

/// A notice of a committed change — from this process or another replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A record was put or deleted.
    Record(StoreKey),
    /// A batch appended to `log`; its last entry took `head`.
    Appended {
        /// The log.
        log: String,
        /// The number of the batch's last entry in it.
        head: Seq,
    },
}

/// Everything that can go wrong in the store, one enum for every backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A [`Precondition`] did not hold; nothing was written.
    #[error("precondition failed for {key}")]
    Conflict {
        /// The key whose precondition failed.
        key: StoreKey,
    },
    /// A [`Mutation::Claim`] met a term owned by someone else; nothing was written.
    #[error("unique index {index} already holds the term for {owner}")]
    Unique {
        /// The index.
        index: String,
        /// The owner that already holds the term.
        owner: String,
    },
    /// The backend could not be reached or answered with an error.
    #[error("store unavailable: {context}")]
    Unavailable {
        /// What was being done.
        context: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A store call did not finish within its time limit.
    #[error("store call timed out: {context}")]
    Timeout {
        /// What was being done.
        context: String,
    },
    /// The batch was committed on the Redis master, but fewer replicas than required
    /// acknowledged it within the wait: it is stored, and would be lost if the master failed
    /// before a replica caught up. The one error after which a write is nonetheless present.
    #[error("write on the master, acknowledged by {acked} of {wanted} replicas within {waited:?}")]
    Unreplicated {
        /// Replicas that acknowledged.
        acked: u32,
        /// Replicas required.
        wanted: u32,
        /// How long the master waited.
        waited: std::time::Duration,
    },
    /// Stored data is not in the shape the backend wrote.
    #[error("store data corrupt: {context}")]
    Corrupt {
        /// What was found.
        context: String,
    },
    /// The caller passed something the store cannot hold (e.g. an empty name).
    #[error("invalid store request: {context}")]
    Invalid {
        /// What was wrong.
        context: String,
    },
}

impl StoreError {
    /// Wraps a backend error as [`StoreError::Unavailable`].
    pub fn unavailable(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Unavailable {
            context: context.into(),
            source: Box::new(source),
        }
    }

    /// True for errors caused by the backend being down or slow, not by the request.
    pub fn is_outage(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Timeout { .. })
    }
}

/// The storage capability every backend provides. Object safe; held as `Arc<dyn StateStore>`.
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// A short name of the backend for logs, metrics and `/health` (`embedded` or `redis`).
    fn kind(&self) -> &'static str;

    /// Whether other processes may share this state (replicas on one Redis): what callers ask
    /// instead of comparing [`kind`](Self::kind) names.
    fn shared(&self) -> bool;

    /// Checks that the backend is reachable and writable.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Reads one record.
    async fn get(&self, key: &StoreKey) -> Result<Option<Record>, StoreError>;

    /// Reads several records of one space in one round trip; the result is in `ids` order.
    async fn get_many(
        &self,
        space: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Record>>, StoreError>;

    /// Lists up to `limit` records of `space` in ascending `id` order, skipping the first `offset`.
    async fn list(
        &self,
        space: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, Record)>, StoreError>;

    /// The number of records in `space`.
    async fn count(&self, space: &str) -> Result<usize, StoreError>;

    /// The owner of `term` in unique index `index`.
    async fn lookup(&self, index: &str, term: &str) -> Result<Option<String>, StoreError>;

    /// Up to `limit` members of `set` in ascending order, strictly after `after` when given.
    async fn members(
        &self,
        set: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// The first `limit` members of each of `sets`, in ascending order, in one round trip; the
    /// result is in `sets` order (a page of users' groups). A set with `limit` members may
    /// hold more: continue it with [`members`](Self::members).
    async fn members_many(
        &self,
        sets: &[String],
        limit: usize,
    ) -> Result<Vec<Vec<String>>, StoreError>;

    /// A record and the first `limit` members of `set`, read together: a GET of a user with
    /// its groups, in one read transaction on the embedded store and one round trip on Redis.
    /// No members are read for a missing record. As with [`members`](Self::members), a set
    /// with `limit` members may hold more.
    async fn get_with_members(
        &self,
        key: &StoreKey,
        set: &str,
        limit: usize,
    ) -> Result<(Option<Record>, Vec<String>), StoreError>;

    /// Whether `member` is in `set`.
    async fn is_member(&self, set: &str, member: &str) -> Result<bool, StoreError>;

    /// The number of members of `set`.
    async fn set_len(&self, set: &str) -> Result<usize, StoreError>;

    /// Up to `limit` entries of `log` numbered above `after`, in order.
    async fn log_read(
        &self,
        log: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError>;

    /// Up to `limit` entries of `log` appended with `key` among their keys and numbered above
    /// `after`, in order (a resource's history). Trimmed entries leave this index with the
    /// trim that removes them.
    async fn log_by_key(
        &self,
        log: &str,
        key: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError>;

    /// The oldest entry held and the last appended.
    async fn log_bounds(&self, log: &str) -> Result<LogBounds, StoreError>;

    /// Applies a batch atomically: all preconditions hold and every mutation lands, or nothing
    /// changes. A returned `Ok` means the write is durable as the backend defines it.
    async fn write(&self, batch: WriteBatch) -> Result<Committed, StoreError>;

    /// Takes or extends lease `name` for `holder` for `ttl`. Returns false if another holder has
    /// an unexpired lease.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Gives up lease `name` if `holder` has it; returns whether it did.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError>;

    /// The current holder of lease `name`, if unexpired.
    async fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Subscribes to the change feed: every record put or deleted and every log appended to
    /// after this call, by any process sharing the backend. A lagging receiver loses old
    /// notices, never the newest. Notices are hints: a Redis reconnect can lose some, so a
    /// watcher that must not miss one also looks at the store now and then.
    fn watch(&self) -> broadcast::Receiver<Change>;
}

/// The shared handle to the chosen backend.
pub type SharedStore = Arc<dyn StateStore>;
