//! The store conformance suite against both backends, plus backend-specific behaviour:
//! durability across reopen (embedded: records, counters, leases and logs), unreachable server and outage recovery (Redis).

use std::{sync::Arc, time::Duration};

use scim_bridge::store::{
    conformance, embedded::EmbeddedStore, Mutation, Precondition, SharedStore, StateStore,
    StoreKey, WriteBatch,
};

mod perf;
mod redis;
mod topology;

/// A backend as the bridge holds it: inside the store guard (argument checks, read limit).
fn guarded(store: SharedStore) -> SharedStore {
    scim_bridge::store::guard::Guarded::wrap(store, Duration::from_secs(5), None)
}

/// A fresh embedded store in its own temp dir (kept alive by the returned guard).
async fn embedded() -> (SharedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path()).expect("opening the embedded store");
    (guarded(Arc::new(store)), dir)
}

/// One `#[tokio::test]` per conformance check and backend, so a failure names both.
macro_rules! conformance_tests {
    ($backend:ident, $make:path) => {
        mod $backend {
            crate::store::conformance_tests!(@each $make; versioned_cas, failed_batch_writes_nothing, get_many_order,
                list_and_count, list_offsets, invalid_names, unique_index, concurrent_claims, sets, members_many, get_with_members, leases,
                change_feed, concurrent_writes, log_appends, log_trim, log_by_key, log_concurrent_appends, log_notices);
        }
    };
    (@each $make:path; $($check:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $check() {
                let (store, _guard) = $make().await;
                scim_bridge::store::conformance::$check(store).await;
            }
        )*
    };
}

pub(crate) use conformance_tests;

conformance_tests!(embedded_conformance, super::embedded);

#[tokio::test(flavor = "multi_thread")]
async fn embedded_run_all() {
    let (store, _dir) = embedded().await;
    conformance::run_all(store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_ping_and_kind() {
    let (store, _dir) = embedded().await;
    assert_eq!(store.kind(), "embedded");
    store.ping().await.expect("ping");
}

/// An entry `x` of the log `ev`, indexed under `keys` (the trim tests of both stores).
fn append(keys: &[&str]) -> Mutation {
    Mutation::Append {
        log: "ev".into(),
        value: "x".into(),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
    }
}

/// A trim takes its entries out of the per-key index tables themselves (reads skip trimmed
/// entries anyway, so only the tables can show a leak): read back with redb after closing.
#[tokio::test(flavor = "multi_thread")]
async fn embedded_a_trim_leaves_nothing_of_its_entries_in_the_index() {
    use redb::{ReadableDatabase, ReadableTable};
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = EmbeddedStore::open(dir.path()).expect("open");
        store
            .write(
                WriteBatch::new()
                    .then(append(&["a", "b"]))
                    .then(append(&["b"])),
            )
            .await
            .expect("append");
        store
            .write(WriteBatch::new().then(Mutation::Trim {
                log: "ev".into(),
                before: 2,
            }))
            .await
            .expect("trim");
    }
    let db = redb::Database::open(dir.path().join("scim-bridge.redb")).expect("reopen");
    let txn = db.begin_read().expect("read");
    let by_key: redb::TableDefinition<(&str, &str, u64), ()> =
        redb::TableDefinition::new("log_keys");
    let of_entry: redb::TableDefinition<(&str, u64), &str> =
        redb::TableDefinition::new("log_entry_keys");
    let rows: Vec<(String, String, u64)> = txn
        .open_table(by_key)
        .expect("log_keys")
        .iter()
        .expect("iter")
        .map(|r| {
            let (k, _) = r.expect("row");
            let (log, key, seq) = k.value();
            (log.to_owned(), key.to_owned(), seq)
        })
        .collect();
    assert_eq!(rows, [("ev".to_owned(), "b".to_owned(), 2)]);
    let entries: Vec<(u64, String)> = txn
        .open_table(of_entry)
        .expect("log_entry_keys")
        .iter()
        .expect("iter")
        .map(|r| {
            let (k, v) = r.expect("row");
            (k.value().1, v.value().to_owned())
        })
        .collect();
    assert_eq!(entries, [(2, "b".to_owned())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_reopen_keeps_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = StoreKey::new("scim.users", "u:1");
    {
        let store = EmbeddedStore::open(dir.path()).expect("open");
        store
            .write(WriteBatch::new().put(key.clone(), "one"))
            .await
            .expect("put 1");
        store
            .write(
                WriteBatch::new()
                    .put(key.clone(), "two")
                    .then(Mutation::Append {
                        log: "events".into(),
                        value: "e1".into(),
                        keys: Vec::new(),
                    }),
            )
            .await
            .expect("put 2 and append");
        assert!(store
            .acquire_lease("leader", "me", Duration::from_secs(60))
            .await
            .expect("lease"));
    }
    let store = EmbeddedStore::open(dir.path()).expect("reopen");
    let rec = store
        .get(&key)
        .await
        .expect("get")
        .expect("record survives reopen");
    assert_eq!((rec.version, rec.value.as_ref()), (2, &b"two"[..]));
    assert_eq!(
        store.count("scim.users").await.expect("count"),
        1,
        "counter survives reopen"
    );
    assert_eq!(
        store
            .lease_holder("leader")
            .await
            .expect("lease")
            .as_deref(),
        Some("me")
    );
    let next = store
        .write(
            WriteBatch::new()
                .require(Precondition::Version(key.clone(), 2))
                .put(key.clone(), "3")
                .then(Mutation::Append {
                    log: "events".into(),
                    value: "e2".into(),
                    keys: Vec::new(),
                }),
        )
        .await
        .expect("cas after reopen");
    assert_eq!(next.version_of(&key), Some(3));
    assert_eq!(
        next.appended,
        vec![("events".to_owned(), 2)],
        "the log continues"
    );
    let log = store.log_read("events", 0, 10).await.expect("log read");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].value.as_ref(), b"e1", "the entry survives reopen");
}

#[test]
fn embedded_open_error_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"file").expect("write blocker");
    let err = match EmbeddedStore::open(&blocker.join("data")) {
        Ok(_) => panic!("opening under a regular file must fail"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&blocker.display().to_string()),
        "error must name the path: {err}"
    );
}
