//! Conformance checks for leases, the change feed and many concurrent writers.
//!
//! Must not know which backend it is testing.

use std::{collections::HashSet, time::Duration};

use super::{bounded, fresh, ok};
use crate::store::{Change, SharedStore, StoreKey, WriteBatch};

/// Acquire, refusal for a second holder, extension, expiry after the ttl, release.
///
/// The ttl leaves each step 500 ms of slack: a write on a loaded machine (an fsync behind other
/// tests' commits) took longer than the 100 ms a 300 ms ttl once left.
pub async fn leases(store: SharedStore) {
    const C: &str = "leases";
    let name = fresh("lease");
    let ttl = Duration::from_millis(1500);
    assert_eq!(
        ok(C, "holder none", store.lease_holder(&name).await),
        None,
        "[{C}] no holder yet"
    );
    assert!(
        ok(C, "acquire", store.acquire_lease(&name, "a", ttl).await),
        "[{C}] free lease is taken"
    );
    assert!(
        !ok(C, "second", store.acquire_lease(&name, "b", ttl).await),
        "[{C}] second holder refused"
    );
    assert_eq!(
        ok(C, "holder a", store.lease_holder(&name).await).as_deref(),
        Some("a"),
        "[{C}] a holds it"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        ok(C, "extend", store.acquire_lease(&name, "a", ttl).await),
        "[{C}] same holder extends"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // 2 s after the first acquire: only the extension keeps it held.
    assert!(
        !ok(C, "still held", store.acquire_lease(&name, "b", ttl).await),
        "[{C}] extension must keep b out"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        ok(C, "expired", store.lease_holder(&name).await),
        None,
        "[{C}] expired lease has no holder"
    );
    assert!(
        ok(
            C,
            "b after expiry",
            store.acquire_lease(&name, "b", ttl).await
        ),
        "[{C}] b takes the expired lease"
    );
    assert!(
        !ok(C, "release by a", store.release_lease(&name, "a").await),
        "[{C}] a no longer holds it"
    );
    assert!(
        ok(C, "release by b", store.release_lease(&name, "b").await),
        "[{C}] b releases"
    );
    assert_eq!(
        ok(C, "released", store.lease_holder(&name).await),
        None,
        "[{C}] released lease is free"
    );
    assert!(
        ok(
            C,
            "a again",
            store
                .acquire_lease(&name, "a", Duration::from_secs(30))
                .await
        ),
        "[{C}] free again"
    );
}

/// A put and a delete each reach a receiver subscribed before the write, within a bound.
pub async fn change_feed(store: SharedStore) {
    const C: &str = "change_feed";
    let key = StoreKey::new(fresh("feed"), "id:1");
    let mut rx = store.watch();
    ok(
        C,
        "put",
        store.write(WriteBatch::new().put(key.clone(), "x")).await,
    );
    ok(
        C,
        "delete",
        store.write(WriteBatch::new().delete(key.clone())).await,
    );
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen < 2 {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(Change::Record(k))) if k == key => seen += 1,
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("[{C}] feed closed: {e}"),
            Err(_) => panic!("[{C}] saw {seen} of 2 changes for {key} within 10 s"),
        }
    }
}

/// 200 concurrent single-record writes are all acknowledged and all readable afterwards.
pub async fn concurrent_writes(store: SharedStore) {
    const C: &str = "concurrent_writes";
    let space = fresh("bulk");
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (store, key) = (store.clone(), StoreKey::new(&space, format!("{i:04}")));
            tokio::spawn(async move {
                store
                    .write(WriteBatch::new().put(key, format!("v{i}")))
                    .await
            })
        })
        .collect();
    for task in tasks {
        let r = bounded(C, "join", task)
            .await
            .unwrap_or_else(|e| panic!("[{C}] task panicked: {e}"));
        ok(C, "write", r);
    }
    assert_eq!(
        ok(C, "count", store.count(&space).await),
        200,
        "[{C}] all writes counted"
    );
    let all = ok(C, "list", store.list(&space, 0, 500).await);
    let ids: HashSet<String> = all.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids.len(), 200, "[{C}] all writes listed");
    for (id, rec) in &all {
        let i: usize = id.parse().unwrap_or_else(|_| panic!("[{C}] odd id {id}"));
        assert_eq!(
            (rec.version, rec.value.as_ref()),
            (1, format!("v{i}").as_bytes()),
            "[{C}] record {id}"
        );
    }
}
