//! The Redis backend on real topologies: a three-master Cluster with replicas, and a master
//! with a replica behind three sentinels. Each test starts its own processes on free loopback
//! ports and runs the whole conformance suite through the URL an operator would write.

use std::{sync::Arc, time::Duration};

use scim_bridge::store::{
    conformance,
    redis::{RedisStore, Replication},
    SharedStore, StoreError, StoreKey, WriteBatch,
};

use crate::helpers::topology::{cli, RedisCluster, SentinelGroup};

async fn connect(url: String) -> SharedStore {
    let store = RedisStore::connect(super::redis::options(url, Duration::from_secs(10)))
        .await
        .expect("connecting through the topology's URL");
    super::guarded(Arc::new(store))
}

/// Keys held by the node on `port`.
fn dbsize(port: u16) -> u64 {
    cli(port, &["DBSIZE"]).trim().parse().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_passes_conformance_with_a_directory_in_one_slot() {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3, 1))
        .await
        .unwrap();
    let store = connect(cluster.url()).await;
    assert_eq!(store.kind(), "redis");
    conformance::run_all(store.clone()).await;
    // Every write script touched records, indexes, sets and logs together; a cross-slot key
    // would have failed it. And the directory lives on exactly one master.
    let masters_with_keys: Vec<u16> = cluster
        .nodes
        .iter()
        .map(|n| n.port())
        .filter(|&p| cli(p, &["ROLE"]).starts_with("master") && dbsize(p) > 0)
        .collect();
    assert_eq!(
        masters_with_keys.len(),
        1,
        "one directory, one slot, one master: {masters_with_keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sentinel_passes_conformance_on_the_master_it_names() {
    let group = tokio::task::spawn_blocking(SentinelGroup::start)
        .await
        .unwrap();
    assert_eq!(group.current_master(), Some(group.master.port()));
    let store = connect(group.url()).await;
    conformance::run_all(store.clone()).await;
    let on_master = dbsize(group.master.port());
    assert!(on_master > 0, "the writes went to the master");
    // The replica follows (asynchronously, until WAIT is in place).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while dbsize(group.replica.port()) != on_master && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        dbsize(group.replica.port()),
        on_master,
        "the replica has every key"
    );
}

fn put(id: &str) -> WriteBatch {
    WriteBatch::new().put(StoreKey::new("users", id), id.as_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_no_replica_acknowledged_is_reported_and_still_stored() {
    let mut group = tokio::task::spawn_blocking(SentinelGroup::start)
        .await
        .unwrap();
    let mut options = super::redis::options(group.url(), Duration::from_secs(5));
    options.replication = Some(Replication {
        replicas: 1,
        timeout: Duration::from_millis(300),
    });
    let store = super::guarded(Arc::new(
        RedisStore::connect(options).await.expect("connecting"),
    ));
    store
        .write(put("acked"))
        .await
        .expect("the replica acknowledges");

    group.replica.kill();
    let started = std::time::Instant::now();
    let err = store
        .write(put("unacked"))
        .await
        .expect_err("no replica left");
    assert!(
        matches!(
            err,
            StoreError::Unreplicated {
                acked: 0,
                wanted: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
    for id in ["acked", "unacked"] {
        let record = store.get(&StoreKey::new("users", id)).await.unwrap();
        assert!(record.is_some(), "{id} is on the master");
    }
    // Without a required replica the same store answers at once.
    let mut options = super::redis::options(group.url(), Duration::from_secs(5));
    options.replication = Some(Replication::NONE);
    let relaxed = super::guarded(Arc::new(
        RedisStore::connect(options).await.expect("connecting"),
    ));
    relaxed.write(put("relaxed")).await.expect("no wait");
}
