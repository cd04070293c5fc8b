//! The ledger of token last use: where the persisted record lives, reading it, and merging
//! into it.
//!
//! * With a shared store (Redis), one record `session.usage/tokens` that every replica merges
//!   into with an optimistic version check, so concurrent replicas never lose each other's uses.
//! * With the embedded store, a JSON file `token-usage.json` beside the database in the data
//!   directory: redb locks its file while the bridge runs, so `token list` could not open it.
//!   Written atomically (temp file, fsync, rename) with mode 0600; one bridge owns the directory.
//!
//! Every call is bounded by the ledger's time limit. Must not know the session or scheduling.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use super::{UsageError, UsageRecord};
use crate::store::{Precondition, SharedStore, StoreError, StoreKey, WriteBatch};

/// The store space of the shared record.
pub const SPACE: &str = "session.usage";
/// The id of the shared record.
pub const RECORD_ID: &str = "tokens";
/// The file name in the data directory.
pub const FILE_NAME: &str = "token-usage.json";
/// How many times a merge retries after losing a race with another replica.
const MERGE_ATTEMPTS: usize = 5;

/// Where the last-use record is kept: read by [`Ledger::load`], written by
/// [`Ledger::merge_in`].
#[derive(Clone)]
pub enum Ledger {
    /// A record in a store shared by every replica.
    Store {
        /// The store.
        store: SharedStore,
        /// The limit on each store call.
        timeout: Duration,
    },
    /// A file in the embedded store's data directory.
    File {
        /// The data directory.
        dir: PathBuf,
        /// The limit on reading or writing the file.
        timeout: Duration,
    },
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Ledger {
    /// Where the record is, for logs and notes.
    pub fn describe(&self) -> String {
        match self {
            Ledger::Store { store, .. } => {
                format!("{} store record {SPACE}/{RECORD_ID}", store.kind())
            }
            Ledger::File { dir, .. } => dir.join(FILE_NAME).display().to_string(),
        }
    }

    /// Reads the record; `None` when nothing was persisted yet.
    ///
    /// A file ledger whose data directory does not exist is [`UsageError::NoDataDir`]: the
    /// bridge has not run with this directory (a different `OP_DATA_DIR`, or another cwd).
    pub async fn load(&self) -> Result<Option<UsageRecord>, UsageError> {
        match self {
            Ledger::Store { store, timeout } => {
                Ok(store_get(store, *timeout).await?.map(|(_, r)| r))
            }
            Ledger::File { dir, timeout } => {
                let dir = dir.clone();
                blocking(*timeout, move || read_file(&dir)).await
            }
        }
    }

    /// Merges `local` into the persisted record by max and returns the merged record. Writes
    /// only when `local` adds something.
    pub async fn merge_in(&self, local: &UsageRecord) -> Result<UsageRecord, UsageError> {
        match self {
            Ledger::Store { store, timeout } => store_merge(store, *timeout, local).await,
            Ledger::File { dir, timeout } => {
                let (dir, local) = (dir.clone(), local.clone());
                blocking(*timeout, move || {
                    let mut merged = read_file(&dir)?.unwrap_or_default();
                    if merged.merge(&local) {
                        write_file(&dir, &merged)?;
                    }
                    Ok(merged)
                })
                .await
            }
        }
    }
}

fn key() -> StoreKey {
    StoreKey::new(SPACE, RECORD_ID)
}

async fn bounded<T>(
    timeout: Duration,
    what: &str,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, UsageError> {
    crate::store::guard::within(timeout, || what.to_owned(), call)
        .await
        .map_err(UsageError::Store)
}

async fn store_get(
    store: &SharedStore,
    timeout: Duration,
) -> Result<Option<(u64, UsageRecord)>, UsageError> {
    let Some(found) = bounded(timeout, "reading token usage", store.get(&key())).await? else {
        return Ok(None);
    };
    let record = UsageRecord::parse(&found.value).map_err(|reason| UsageError::Malformed {
        place: format!("store record {}", key()),
        reason,
    })?;
    Ok(Some((found.version, record)))
}

async fn store_merge(
    store: &SharedStore,
    timeout: Duration,
    local: &UsageRecord,
) -> Result<UsageRecord, UsageError> {
    for _ in 0..MERGE_ATTEMPTS {
        let (precondition, mut merged) = match store_get(store, timeout).await? {
            Some((version, record)) => (Precondition::Version(key(), version), record),
            None => (Precondition::Absent(key()), UsageRecord::default()),
        };
        if !merged.merge(local) {
            return Ok(merged);
        }
        let batch = WriteBatch::new()
            .require(precondition)
            .put(key(), merged.to_json());
        match bounded(timeout, "writing token usage", store.write(batch)).await {
            Ok(_) => return Ok(merged),
            // Another replica wrote in between: read its record and merge again.
            Err(UsageError::Store(StoreError::Conflict { .. })) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(UsageError::Contended {
        attempts: MERGE_ATTEMPTS,
    })
}

/// Runs blocking file work off the async workers, within `timeout`.
async fn blocking<T: Send + 'static>(
    timeout: Duration,
    work: impl FnOnce() -> Result<T, UsageError> + Send + 'static,
) -> Result<T, UsageError> {
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(UsageError::Io {
            path: PathBuf::from(FILE_NAME),
            source: std::io::Error::other(join),
        }),
        Err(_) => Err(UsageError::Io {
            path: PathBuf::from(FILE_NAME),
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "file access timed out"),
        }),
    }
}

fn read_file(dir: &Path) -> Result<Option<UsageRecord>, UsageError> {
    if !dir.is_dir() {
        return Err(UsageError::NoDataDir {
            dir: dir.to_path_buf(),
        });
    }
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(UsageError::Io { path, source }),
    };
    UsageRecord::parse(&bytes)
        .map(Some)
        .map_err(|reason| UsageError::Malformed {
            place: path.display().to_string(),
            reason,
        })
}

fn write_file(dir: &Path, record: &UsageRecord) -> Result<(), UsageError> {
    let path = dir.join(FILE_NAME);
    crate::secret_file::replace(&path, &record.to_json())
        .map_err(|source| UsageError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use std::{os::unix::fs::PermissionsExt, sync::Arc};

    use super::*;
    use crate::{
        session::{last_use::TokenId, Verifier},
        store::embedded::EmbeddedStore,
    };

    fn id(n: u8) -> TokenId {
        TokenId::of(&Verifier::of(&[n]))
    }

    fn record(entries: &[(u8, i64)]) -> UsageRecord {
        let mut r = UsageRecord::default();
        for (n, at) in entries {
            r.note(id(*n), &format!("t{n}"), *at);
        }
        r
    }

    const LIMIT: Duration = Duration::from_secs(5);

    async fn merges_by_max(ledger: &Ledger) {
        assert_eq!(ledger.load().await.unwrap(), None, "nothing persisted yet");
        let first = ledger
            .merge_in(&record(&[(1, 100), (2, 200)]))
            .await
            .unwrap();
        assert_eq!(first, record(&[(1, 100), (2, 200)]));
        // Another writer (replica, earlier run) with older and newer news.
        let merged = ledger
            .merge_in(&record(&[(1, 50), (3, 300)]))
            .await
            .unwrap();
        assert_eq!(merged, record(&[(1, 100), (2, 200), (3, 300)]));
        assert_eq!(ledger.load().await.unwrap(), Some(merged));
    }

    #[tokio::test]
    async fn the_file_ledger_merges_by_max_and_writes_0600() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::File {
            dir: dir.path().to_path_buf(),
            timeout: LIMIT,
        };
        merges_by_max(&ledger).await;
        let meta = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temp file is left behind");

        let missing = Ledger::File {
            dir: dir.path().join("absent"),
            timeout: LIMIT,
        };
        assert!(matches!(
            missing.load().await,
            Err(UsageError::NoDataDir { .. })
        ));
        std::fs::write(dir.path().join(FILE_NAME), b"{ broken").unwrap();
        assert!(matches!(
            ledger.load().await,
            Err(UsageError::Malformed { .. })
        ));
        assert!(
            ledger.merge_in(&record(&[(1, 900)])).await.is_err(),
            "a broken file is reported, never silently replaced"
        );
    }

    #[tokio::test]
    async fn the_store_ledger_merges_by_max_and_skips_writes_that_add_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let ledger = Ledger::Store {
            store: Arc::clone(&store),
            timeout: LIMIT,
        };
        merges_by_max(&ledger).await;
        let version = store.get(&key()).await.unwrap().unwrap().version;
        ledger.merge_in(&record(&[(2, 150)])).await.unwrap();
        assert_eq!(
            store.get(&key()).await.unwrap().unwrap().version,
            version,
            "older news is not written"
        );
    }

    #[tokio::test]
    async fn concurrent_store_merges_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let ledger = Ledger::Store {
            store,
            timeout: LIMIT,
        };
        let merges = (0..4u8).map(|n| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.merge_in(&record(&[(n, 10 + i64::from(n))])).await })
        });
        for merge in merges {
            merge.await.unwrap().unwrap();
        }
        let all = ledger.load().await.unwrap().unwrap();
        assert_eq!(all, record(&[(0, 10), (1, 11), (2, 12), (3, 13)]));
    }
}
