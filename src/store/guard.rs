//! The one decorator around the store the bridge uses, applied at start-up: the argument
//! checks of `store::check`, the read time limit (`OP_STORE_TIMEOUT`) and the store
//! latency histogram, so no backend and no caller repeats them.
//!
//! Reads (and the reachability ping) past the limit fail with [`StoreError::Timeout`]. Writes and
//! leases are never cut short here: once a batch is handed to a backend its real outcome is
//! awaited, so a timeout answer never hides a committed write (a Redis command's own timeout
//! still ends a script the server never confirms; the engine says the outcome is unknown).

use std::{future::Future, sync::Arc, time::Duration};

use async_trait::async_trait;
use prometheus::HistogramVec;
use tokio::{sync::broadcast, time::Instant};

use super::{
    check, Change, Committed, LogBounds, LogEntry, Record, Seq, SharedStore, StateStore,
    StoreError, StoreKey, WriteBatch,
};

/// Awaits `fut` for at most `limit`; past it, a [`StoreError::Timeout`] with `context`. The one
/// time limit on store calls: the guard's reads, and the callers that bound their own compound
/// steps (the certificate manager, the token-usage ledger).
pub async fn within<T, E: From<StoreError>>(
    limit: Duration,
    context: impl FnOnce() -> String,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Timeout { context: context() }.into()),
    }
}

/// A store with the checks, the read limit and the histogram applied.
pub struct Guarded {
    inner: SharedStore,
    read_timeout: Duration,
    latency: Option<HistogramVec>,
}

impl Guarded {
    /// Wraps `inner`: reads are bounded by `read_timeout`; each call is observed in `latency`
    /// (labels `operation` and `outcome`) when given.
    pub fn wrap(
        inner: SharedStore,
        read_timeout: Duration,
        latency: Option<HistogramVec>,
    ) -> SharedStore {
        Arc::new(Self {
            inner,
            read_timeout,
            latency,
        })
    }

    async fn read<T>(
        &self,
        operation: &'static str,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let limit = self.read_timeout;
        let context = || format!("{operation} took longer than {limit:?}");
        self.observed(operation, within(limit, context, fut)).await
    }

    async fn observed<T>(
        &self,
        operation: &'static str,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = fut.await;
        if let Some(h) = &self.latency {
            let outcome = match &result {
                Ok(_) => "ok",
                Err(StoreError::Timeout { .. }) => "timeout",
                Err(StoreError::Conflict { .. } | StoreError::Unique { .. }) => "refused",
                Err(StoreError::Unreplicated { .. }) => "unreplicated",
                Err(_) => "error",
            };
            h.with_label_values(&[operation, outcome])
                .observe(started.elapsed().as_secs_f64());
        }
        result
    }
}

#[async_trait]
impl StateStore for Guarded {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn shared(&self) -> bool {
        self.inner.shared()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read("ping", self.inner.ping()).await
    }

    async fn get(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        check::name("space", &key.space)?;
        self.read("get", self.inner.get(key)).await
    }

    async fn get_many(
        &self,
        space: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Record>>, StoreError> {
        check::name("space", space)?;
        self.read("get_many", self.inner.get_many(space, ids)).await
    }

    async fn list(
        &self,
        space: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, Record)>, StoreError> {
        check::name("space", space)?;
        self.read("list", self.inner.list(space, offset, limit))
            .await
    }

    async fn count(&self, space: &str) -> Result<usize, StoreError> {
        check::name("space", space)?;
        self.read("count", self.inner.count(space)).await
    }

    async fn lookup(&self, index: &str, term: &str) -> Result<Option<String>, StoreError> {
        check::name("index", index)?;
        self.read("lookup", self.inner.lookup(index, term)).await
    }

    async fn members(
        &self,
        set: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        check::name("set", set)?;
        self.read("members", self.inner.members(set, after, limit))
            .await
    }

    async fn members_many(
        &self,
        sets: &[String],
        limit: usize,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        for set in sets {
            check::name("set", set)?;
        }
        self.read("members_many", self.inner.members_many(sets, limit))
            .await
    }

    async fn get_with_members(
        &self,
        key: &StoreKey,
        set: &str,
        limit: usize,
    ) -> Result<(Option<Record>, Vec<String>), StoreError> {
        check::name("space", &key.space)?;
        check::name("set", set)?;
        self.read(
            "get_with_members",
            self.inner.get_with_members(key, set, limit),
        )
        .await
    }

    async fn is_member(&self, set: &str, member: &str) -> Result<bool, StoreError> {
        check::name("set", set)?;
        self.read("is_member", self.inner.is_member(set, member))
            .await
    }

    async fn set_len(&self, set: &str) -> Result<usize, StoreError> {
        check::name("set", set)?;
        self.read("set_len", self.inner.set_len(set)).await
    }

    async fn log_read(
        &self,
        log: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        check::name("log", log)?;
        self.read("log_read", self.inner.log_read(log, after, limit))
            .await
    }

    async fn log_by_key(
        &self,
        log: &str,
        key: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        check::name("log", log)?;
        check::entry_key(key)?;
        self.read("log_by_key", self.inner.log_by_key(log, key, after, limit))
            .await
    }

    async fn log_bounds(&self, log: &str) -> Result<LogBounds, StoreError> {
        check::name("log", log)?;
        self.read("log_bounds", self.inner.log_bounds(log)).await
    }

    async fn write(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        check::batch(&batch)?;
        self.observed("write", self.inner.write(batch)).await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        check::name("lease", name)?;
        check::name("lease holder", holder)?;
        self.observed("acquire_lease", self.inner.acquire_lease(name, holder, ttl))
            .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        check::name("lease", name)?;
        self.observed("release_lease", self.inner.release_lease(name, holder))
            .await
    }

    async fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError> {
        check::name("lease", name)?;
        self.read("lease_holder", self.inner.lease_holder(name))
            .await
    }

    fn watch(&self) -> broadcast::Receiver<Change> {
        self.inner.watch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{embedded::EmbeddedStore, Mutation};

    /// A real embedded store whose reads of one space take 200 ms: a slow disk, in one place.
    struct SlowReads(SharedStore);

    #[async_trait]
    impl StateStore for SlowReads {
        fn kind(&self) -> &'static str {
            self.0.kind()
        }
        fn shared(&self) -> bool {
            self.0.shared()
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.0.ping().await
        }
        async fn get(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.0.get(key).await
        }
        async fn get_many(
            &self,
            space: &str,
            ids: &[String],
        ) -> Result<Vec<Option<Record>>, StoreError> {
            self.0.get_many(space, ids).await
        }
        async fn list(
            &self,
            space: &str,
            offset: usize,
            limit: usize,
        ) -> Result<Vec<(String, Record)>, StoreError> {
            self.0.list(space, offset, limit).await
        }
        async fn count(&self, space: &str) -> Result<usize, StoreError> {
            self.0.count(space).await
        }
        async fn lookup(&self, index: &str, term: &str) -> Result<Option<String>, StoreError> {
            self.0.lookup(index, term).await
        }
        async fn members(
            &self,
            set: &str,
            after: Option<&str>,
            limit: usize,
        ) -> Result<Vec<String>, StoreError> {
            self.0.members(set, after, limit).await
        }
        async fn members_many(
            &self,
            sets: &[String],
            limit: usize,
        ) -> Result<Vec<Vec<String>>, StoreError> {
            self.0.members_many(sets, limit).await
        }
        async fn get_with_members(
            &self,
            key: &StoreKey,
            set: &str,
            limit: usize,
        ) -> Result<(Option<Record>, Vec<String>), StoreError> {
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.0.get_with_members(key, set, limit).await
        }
        async fn is_member(&self, set: &str, member: &str) -> Result<bool, StoreError> {
            self.0.is_member(set, member).await
        }
        async fn set_len(&self, set: &str) -> Result<usize, StoreError> {
            self.0.set_len(set).await
        }
        async fn log_read(
            &self,
            log: &str,
            after: Seq,
            limit: usize,
        ) -> Result<Vec<LogEntry>, StoreError> {
            self.0.log_read(log, after, limit).await
        }
        async fn log_by_key(
            &self,
            log: &str,
            key: &str,
            after: Seq,
            limit: usize,
        ) -> Result<Vec<LogEntry>, StoreError> {
            self.0.log_by_key(log, key, after, limit).await
        }
        async fn log_bounds(&self, log: &str) -> Result<LogBounds, StoreError> {
            self.0.log_bounds(log).await
        }
        async fn write(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.0.write(batch).await
        }
        async fn acquire_lease(
            &self,
            name: &str,
            holder: &str,
            ttl: Duration,
        ) -> Result<bool, StoreError> {
            self.0.acquire_lease(name, holder, ttl).await
        }
        async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
            self.0.release_lease(name, holder).await
        }
        async fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError> {
            self.0.lease_holder(name).await
        }
        fn watch(&self) -> broadcast::Receiver<Change> {
            self.0.watch()
        }
    }

    #[tokio::test]
    async fn reads_past_the_limit_time_out_and_writes_are_awaited() {
        let dir = tempfile::tempdir().unwrap();
        let real: SharedStore = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let latency = HistogramVec::new(
            prometheus::HistogramOpts::new("t", "t"),
            &["operation", "outcome"],
        )
        .unwrap();
        let store = Guarded::wrap(
            Arc::new(SlowReads(real)),
            Duration::from_millis(50),
            Some(latency.clone()),
        );
        let key = StoreKey::new("s", "a");
        let mut batch = WriteBatch::default();
        batch.mutations.push(Mutation::Put {
            key: key.clone(),
            value: bytes::Bytes::from_static(b"v"),
        });
        // The write takes 200 ms, four times the limit, and lands.
        store.write(batch).await.expect("a slow write is awaited");
        let r = store.get(&key).await;
        assert!(matches!(r, Err(StoreError::Timeout { .. })), "{r:?}");
        // Refused before the backend sees it.
        let r = store.get(&StoreKey::new("", "a")).await;
        assert!(matches!(r, Err(StoreError::Invalid { .. })), "{r:?}");
        assert_eq!(
            latency
                .with_label_values(&["write", "ok"])
                .get_sample_count(),
            1
        );
        assert_eq!(
            latency
                .with_label_values(&["get", "timeout"])
                .get_sample_count(),
            1
        );
    }
}
