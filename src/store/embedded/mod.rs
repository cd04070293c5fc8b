//! The embedded backend: one redb file in the data directory, crash-safe and fsynced per commit.
//!
//! Owns the database handle, the writer thread (see `writer`) and the read paths. Every read runs
//! in its own read transaction, never on the writer thread: short reads (point lookups, counts,
//! batches and member pages of up to `INLINE_READS`) on the calling task, scans and larger
//! batches on tokio's blocking pool. Must not know about SCIM or any caller's value format.

mod apply;
mod tables;
mod writer;

use std::{
    path::{Path, PathBuf},
    sync::{mpsc, Arc},
    thread,
    time::Duration,
};

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, ReadableDatabase};
use tokio::sync::{broadcast, oneshot};

use self::tables::{
    now_ms, LEASES, LOG_ENTRIES, LOG_HEADS, LOG_KEYS, RECORDS, RECORD_BUCKETS, RECORD_COUNTS, SETS,
    SET_LENS, UNIQUE,
};
use self::writer::{Job, Reply, Request};
use super::{
    Change, Committed, LogBounds, LogEntry, Record, Seq, StateStore, StoreError, StoreKey,
    WriteBatch,
};

/// The database file name inside the data directory.
const FILE_NAME: &str = "scim-bridge.redb";
/// `get_many` batches and `members` pages of up to this many entries are read on the calling
/// task; larger ones on the blocking pool.
const INLINE_READS: usize = 128;
/// The redb page cache unless `store_cache_bytes` says otherwise: what a read finds without
/// going to the file (the OS page cache still holds the file, outside the process's resident
/// memory). Its trade-off at 100,000 users is in BENCHMARKS.md.
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;
/// Capacity of the change feed; slow watchers lose the oldest notices.
const FEED_CAPACITY: usize = 1024;

/// A [`StateStore`] on a local redb database.
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<thread::JoinHandle<()>>,
    changes: broadcast::Sender<Change>,
}

impl EmbeddedStore {
    /// Opens (or creates) `dir/scim-bridge.redb`, creating `dir` if needed, with the default
    /// page cache.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        EmbeddedStore::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// [`EmbeddedStore::open`] with a page cache of `cache_bytes`.
    pub fn open_with_cache(dir: &Path, cache_bytes: usize) -> Result<EmbeddedStore, StoreError> {
        let path = dir.join(FILE_NAME);
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::unavailable(format!("creating data directory {}", dir.display()), e)
        })?;
        // redb caches up to 1 GiB by default; the OS page cache still holds the file, so a
        // modest cache keeps the bridge's memory flat.
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(&path)
            .map_err(|e| {
                StoreError::unavailable(format!("opening database {}", path.display()), e)
            })?;
        tables::create_all(&db).map_err(|e| {
            StoreError::unavailable(format!("creating tables in {}", path.display()), e)
        })?;
        let db = Arc::new(db);
        let (changes, _) = broadcast::channel(FEED_CAPACITY);
        let (jobs, rx) = mpsc::channel();
        let writer = {
            let (db, changes) = (Arc::clone(&db), changes.clone());
            thread::Builder::new()
                .name("store-writer".into())
                .spawn(move || writer::run(db, rx, changes))
                .map_err(|e| StoreError::unavailable("starting the store writer thread", e))?
        };
        Ok(EmbeddedStore {
            db,
            path,
            jobs: Some(jobs),
            writer: Some(writer),
            changes,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends a request to the writer thread and waits for its post-commit answer.
    async fn submit(&self, request: Request) -> Result<Reply, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable {
            context: "embedded store writer".into(),
            source: "the writer thread has stopped".into(),
        };
        let jobs = self.jobs.as_ref().ok_or_else(gone)?;
        jobs.send(Job { request, reply }).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Runs a short read (a point lookup or a small batch: a few pages, microseconds from the
    /// page cache) on the calling task, inside a fresh read transaction; a hop to the blocking
    /// pool would cost more than the read.
    fn read_now<T, F>(&self, what: &'static str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error>,
    {
        let txn = self
            .db
            .begin_read()
            .map_err(|e| StoreError::unavailable(what, e))?;
        f(&txn).map_err(|e| StoreError::unavailable(what, e))
    }

    /// Runs a long read (scans, large batches) on the blocking pool, off the async workers,
    /// inside a fresh read transaction.
    async fn read<T, F>(&self, what: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&redb::ReadTransaction) -> Result<T, redb::Error> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read()?;
            f(&txn)
        })
        .await
        .map_err(|e| StoreError::unavailable(what, e))?
        .map_err(|e| StoreError::unavailable(what, e))
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Closing the channel ends the writer once it has answered every queued job; joining it
        // releases the file lock so the same directory can be reopened right away.
        self.jobs.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The record under `key`, inside `txn`.
fn read_record(txn: &redb::ReadTransaction, key: &StoreKey) -> Result<Option<Record>, redb::Error> {
    Ok(txn
        .open_table(RECORDS)?
        .get((key.space.as_str(), key.id.as_str()))?
        .map(|g| record(g.value())))
}

/// [`StateStore::get_with_members`] inside one read transaction.
fn record_and_members(
    txn: &redb::ReadTransaction,
    key: &StoreKey,
    set: &str,
    limit: usize,
) -> Result<(Option<Record>, Vec<String>), redb::Error> {
    let found = read_record(txn, key)?;
    let members = match found {
        Some(_) => set_page(&txn.open_table(SETS)?, set, None, limit)?,
        None => Vec::new(),
    };
    Ok((found, members))
}

/// Up to `limit` members of `set` in order, strictly after `after` when given.
fn set_page(
    t: &redb::ReadOnlyTable<(&'static str, &'static str), ()>,
    set: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<String>, redb::Error> {
    let mut out = Vec::new();
    for entry in t.range((set, after.unwrap_or(""))..)? {
        if out.len() >= limit {
            break;
        }
        let (k, _) = entry?;
        let (s, member) = k.value();
        if s != set {
            break;
        }
        // The range starts at `after` inclusive; paging wants strictly after.
        if after == Some(member) {
            continue;
        }
        out.push(member.to_owned());
    }
    Ok(out)
}

/// `limit` records of `space` in id order after the first `offset`. Finds the bucket holding
/// the record at `offset` from the bucket counts, then walks only within it: O(buckets +
/// bucket size), not O(offset).
fn list_in(
    txn: &redb::ReadTransaction,
    space: &str,
    offset: usize,
    limit: usize,
) -> Result<Vec<(String, Record)>, redb::Error> {
    let mut skipped = 0usize;
    let mut start = None;
    for entry in txn.open_table(RECORD_BUCKETS)?.range((space, "")..)? {
        let (k, n) = entry?;
        let (s, b) = k.value();
        if s != space {
            break;
        }
        let n = usize::try_from(n.value()).unwrap_or(usize::MAX);
        if skipped.saturating_add(n) > offset {
            start = Some(b.to_owned());
            break;
        }
        skipped = skipped.saturating_add(n);
    }
    let mut out = Vec::new();
    let Some(start) = start else { return Ok(out) };
    let t = txn.open_table(RECORDS)?;
    let mut seen = skipped;
    for entry in t.range((space, start.as_str())..)? {
        if out.len() >= limit {
            break;
        }
        let (k, v) = entry?;
        let (s, id) = k.value();
        if s != space {
            break;
        }
        seen += 1;
        if seen > offset {
            out.push((id.to_owned(), record(v.value())));
        }
    }
    Ok(out)
}

fn record(raw: (u64, &[u8])) -> Record {
    Record {
        version: raw.0,
        value: Bytes::copy_from_slice(raw.1),
    }
}

fn wrong_reply() -> StoreError {
    StoreError::Corrupt {
        context: "the store writer answered a different request".into(),
    }
}

#[async_trait]
impl StateStore for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn shared(&self) -> bool {
        false
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // An empty commit through the writer proves the thread runs and the file takes a commit.
        match self.submit(Request::Ping).await? {
            Reply::Ping => Ok(()),
            _ => Err(wrong_reply()),
        }
    }

    async fn get(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        self.read_now("reading a record", |txn| read_record(txn, key))
    }

    async fn get_many(
        &self,
        space: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Record>>, StoreError> {
        fn read_all(
            txn: &redb::ReadTransaction,
            space: &str,
            ids: &[String],
        ) -> Result<Vec<Option<Record>>, redb::Error> {
            let t = txn.open_table(RECORDS)?;
            ids.iter()
                .map(|id| Ok(t.get((space, id.as_str()))?.map(|g| record(g.value()))))
                .collect()
        }
        if ids.len() <= INLINE_READS {
            return self.read_now("reading records", |txn| read_all(txn, space, ids));
        }
        let (space, ids) = (space.to_owned(), ids.to_vec());
        self.read("reading records", move |txn| read_all(txn, &space, &ids))
            .await
    }

    async fn list(
        &self,
        space: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, Record)>, StoreError> {
        // Always on the blocking pool, even for a page of 100: records can be large (2 MB
        // each), and only a read that leaves the task can be cut short by the store's time
        // limit (tests/it/scim/deadlines.rs failed when pages of up to 128 ran here).
        let space = space.to_owned();
        self.read("listing records", move |txn| {
            list_in(txn, &space, offset, limit)
        })
        .await
    }

    async fn count(&self, space: &str) -> Result<usize, StoreError> {
        self.read_now("counting records", |txn| {
            let n = txn
                .open_table(RECORD_COUNTS)?
                .get(space)?
                .map_or(0, |g| g.value());
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    async fn lookup(&self, index: &str, term: &str) -> Result<Option<String>, StoreError> {
        self.read_now("looking up a unique term", |txn| {
            let t = txn.open_table(UNIQUE)?;
            Ok(t.get((index, term))?.map(|g| g.value().to_owned()))
        })
    }

    async fn members(
        &self,
        set: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let (set, after) = (set.to_owned(), after.map(str::to_owned));
        let scan = move |txn: &redb::ReadTransaction| {
            set_page(&txn.open_table(SETS)?, &set, after.as_deref(), limit)
        };
        if limit <= INLINE_READS {
            return self.read_now("listing set members", scan);
        }
        self.read("listing set members", scan).await
    }

    async fn members_many(
        &self,
        sets: &[String],
        limit: usize,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        fn scan(
            txn: &redb::ReadTransaction,
            sets: &[String],
            limit: usize,
        ) -> Result<Vec<Vec<String>>, redb::Error> {
            let t = txn.open_table(SETS)?;
            sets.iter().map(|s| set_page(&t, s, None, limit)).collect()
        }
        // Mostly empty or small sets (a page of users' groups): inline like `get_many`.
        if sets.len() <= INLINE_READS && limit <= INLINE_READS {
            return self.read_now("listing set members", |txn| scan(txn, sets, limit));
        }
        let sets = sets.to_vec();
        self.read("listing set members", move |txn| scan(txn, &sets, limit))
            .await
    }

    async fn get_with_members(
        &self,
        key: &StoreKey,
        set: &str,
        limit: usize,
    ) -> Result<(Option<Record>, Vec<String>), StoreError> {
        const WHAT: &str = "reading a record and set members";
        if limit <= INLINE_READS {
            return self.read_now(WHAT, |txn| record_and_members(txn, key, set, limit));
        }
        let (key, set) = (key.clone(), set.to_owned());
        self.read(WHAT, move |txn| record_and_members(txn, &key, &set, limit))
            .await
    }

    async fn is_member(&self, set: &str, member: &str) -> Result<bool, StoreError> {
        self.read_now("checking set membership", |txn| {
            Ok(txn.open_table(SETS)?.get((set, member))?.is_some())
        })
    }

    async fn set_len(&self, set: &str) -> Result<usize, StoreError> {
        self.read_now("counting set members", |txn| {
            let n = txn.open_table(SET_LENS)?.get(set)?.map_or(0, |g| g.value());
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    async fn log_read(
        &self,
        log: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let log = log.to_owned();
        let scan = move |txn: &redb::ReadTransaction| {
            let t = txn.open_table(LOG_ENTRIES)?;
            let mut out = Vec::new();
            if limit == 0 || after == Seq::MAX {
                return Ok(out);
            }
            for entry in t.range((log.as_str(), after + 1)..=(log.as_str(), Seq::MAX))? {
                if out.len() >= limit {
                    break;
                }
                let (k, v) = entry?;
                let (at_ms, value) = v.value();
                out.push(LogEntry {
                    seq: k.value().1,
                    at_ms,
                    value: Bytes::copy_from_slice(value),
                });
            }
            Ok(out)
        };
        if limit <= INLINE_READS {
            return self.read_now("reading a log", scan);
        }
        self.read("reading a log", scan).await
    }

    async fn log_by_key(
        &self,
        log: &str,
        key: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let (log, key) = (log.to_owned(), key.to_owned());
        let scan = move |txn: &redb::ReadTransaction| {
            let index = txn.open_table(LOG_KEYS)?;
            let entries = txn.open_table(LOG_ENTRIES)?;
            let mut out = Vec::new();
            if limit == 0 || after == Seq::MAX {
                return Ok(out);
            }
            let (log, key) = (log.as_str(), key.as_str());
            for row in index.range((log, key, after + 1)..=(log, key, Seq::MAX))? {
                if out.len() >= limit {
                    break;
                }
                let seq = row?.0.value().2;
                if let Some(v) = entries.get((log, seq))? {
                    let (at_ms, value) = v.value();
                    out.push(LogEntry {
                        seq,
                        at_ms,
                        value: Bytes::copy_from_slice(value),
                    });
                }
            }
            Ok(out)
        };
        if limit <= INLINE_READS {
            return self.read_now("reading a log by key", scan);
        }
        self.read("reading a log by key", scan).await
    }

    async fn log_bounds(&self, log: &str) -> Result<LogBounds, StoreError> {
        self.read_now("reading a log's bounds", |txn| {
            let head = txn
                .open_table(LOG_HEADS)?
                .get(log)?
                .map_or(0, |g| g.value());
            let oldest = txn
                .open_table(LOG_ENTRIES)?
                .range((log, 0)..=(log, Seq::MAX))?
                .next()
                .transpose()?
                .map(|(k, _)| k.value().1);
            Ok(LogBounds { oldest, head })
        })
    }

    async fn write(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        match self.submit(Request::Write(batch)).await? {
            Reply::Write(result) => result,
            _ => Err(wrong_reply()),
        }
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let request = Request::Acquire {
            name: name.to_owned(),
            holder: holder.to_owned(),
            ttl,
        };
        match self.submit(request).await? {
            Reply::Lease(taken) => Ok(taken),
            _ => Err(wrong_reply()),
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let request = Request::Release {
            name: name.to_owned(),
            holder: holder.to_owned(),
        };
        match self.submit(request).await? {
            Reply::Lease(released) => Ok(released),
            _ => Err(wrong_reply()),
        }
    }

    async fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read_now("reading a lease", |txn| {
            let t = txn.open_table(LEASES)?;
            let now = now_ms();
            Ok(t.get(name)?.and_then(|g| {
                let (holder, expires) = g.value();
                (expires > now).then(|| holder.to_owned())
            }))
        })
    }

    fn watch(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
