//! The Redis backend on real topologies: a three-master Cluster with replicas, and a master
//! with a replica behind three sentinels. Each test starts its own processes on free loopback
//! ports and runs the whole conformance suite through the URL an operator would write.

use std::{sync::Arc, time::Duration};

use scim_bridge::store::{
    conformance,
    redis::{RedisStore, Replication},
    SharedStore, StoreError, StoreKey, WriteBatch,
};

use crate::helpers::{
    redis::RedisServer,
    topology::{cli, RedisCluster, SentinelGroup},
};

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
    let ttl = Duration::from_secs(30);
    assert!(store
        .acquire_lease("job", "a", ttl)
        .await
        .expect("replicated"));

    group.replica.kill();
    // A lease is a write too: taken on the master, reported as not replicated.
    let err = store
        .acquire_lease("job", "a", ttl)
        .await
        .expect_err("no replica for the lease");
    assert!(
        matches!(err, StoreError::Unreplicated { acked: 0, .. }),
        "{err:?}"
    );
    assert_eq!(
        store.lease_holder("job").await.unwrap().as_deref(),
        Some("a"),
        "the master holds it"
    );
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

/// One write's id, outcome and when it was answered.
type Outcome = (String, Result<(), StoreError>, std::time::Instant);

/// Writes `put(i)` for i = 0, 1, … until `stop` says so or `limit` writes, bounded by
/// `deadline`; returns each write's outcome in order.
async fn drive(
    store: SharedStore,
    limit: usize,
    deadline: std::time::Instant,
    stop: impl Fn(&[Outcome]) -> bool,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    for i in 0..limit {
        if std::time::Instant::now() > deadline || stop(&out) {
            break;
        }
        let id = format!("w{i}");
        let result = store.write(put(&id)).await.map(|_| ());
        if result.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        out.push((id, result, std::time::Instant::now()));
    }
    out
}

/// Whether a write reached a master (acknowledged, or stored without its replica).
fn reached_a_master(o: &Outcome) -> bool {
    matches!(o.1, Ok(()) | Err(StoreError::Unreplicated { .. }))
}

/// Whether a write met the outage (no master to take it).
fn refused_in_outage(o: &Outcome) -> bool {
    o.1.as_ref().is_err_and(StoreError::is_outage)
}

/// What a failover looked like to a writer.
struct Failover {
    /// From the SIGKILL to the first write that reached the promoted master.
    recovered_in: Duration,
    /// Writes refused while there was no master, and writes stored without a replica.
    refused: usize,
    unreplicated: usize,
}

/// Writes through `store`, cuts `replica` off (frozen, its replication link dropped, so the
/// master's latest writes cannot reach it), SIGKILLs `master` with writes in flight and lets
/// the stale replica be promoted; without WAIT the writes of that window would have been
/// acknowledged and lost. Checks that every acknowledged write is on the promoted master.
async fn kill_the_master_mid_stream(
    store: SharedStore,
    master: &mut RedisServer,
    replica: &RedisServer,
) -> Failover {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let before = drive(store.clone(), 200, deadline, |_| false).await;
    assert!(
        before.iter().all(|o| o.1.is_ok()),
        "all acknowledged while healthy"
    );
    let writer = tokio::spawn(drive(store.clone(), 100_000, deadline, |done| {
        // Stop once five writes in a row reached a master after the outage began.
        let Some(outage) = done.iter().position(refused_in_outage) else {
            return false;
        };
        done[outage..]
            .iter()
            .rev()
            .take_while(|o| reached_a_master(o))
            .count()
            >= 5
    }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    replica.freeze(true);
    // What the kernel already buffered for the frozen replica would otherwise still reach it.
    let dropped = master.command("CLIENT KILL TYPE replica");
    assert_eq!(dropped, ":1", "one replica link dropped");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let killed_at = std::time::Instant::now();
    master.kill();
    tokio::time::sleep(Duration::from_millis(200)).await;
    replica.freeze(false);
    let during = writer.await.unwrap();
    let outage = during
        .iter()
        .position(refused_in_outage)
        .expect("the outage was seen by the writer");
    let back = during[outage..]
        .iter()
        .find(|o| reached_a_master(o))
        .expect("writes reached the new master");
    let failover = Failover {
        recovered_in: back.2 - killed_at,
        refused: during.iter().filter(|o| refused_in_outage(o)).count(),
        unreplicated: during
            .iter()
            .filter(|o| matches!(o.1, Err(StoreError::Unreplicated { .. })))
            .count(),
    };
    eprintln!(
        "failover: {} writes; writing on the new master {:?} after the kill; {} refused in \
         the outage, {} unreplicated",
        during.len(),
        failover.recovered_in,
        failover.refused,
        failover.unreplicated
    );
    assert!(
        failover.unreplicated > 0,
        "the cut-off replica's writes were not acknowledged"
    );
    assert!(
        failover.recovered_in < Duration::from_secs(10),
        "back on the new master within {:?}",
        failover.recovered_in
    );
    let acknowledged: Vec<&String> = before
        .iter()
        .chain(&during)
        .filter(|o| o.1.is_ok())
        .map(|o| &o.0)
        .collect();
    assert!(acknowledged.len() >= 200, "{}", acknowledged.len());
    for id in acknowledged {
        let record = store
            .get(&StoreKey::new("users", id))
            .await
            .expect("reading");
        assert!(
            record.is_some(),
            "acknowledged write {id} lost in the failover"
        );
    }
    failover
}

/// A store through `url` that waits for one replica at most 500 ms per write.
async fn waiting_store(url: String) -> SharedStore {
    let mut options = super::redis::options(url, Duration::from_secs(2));
    options.replication = Some(Replication {
        replicas: 1,
        timeout: Duration::from_millis(500),
    });
    super::guarded(Arc::new(
        RedisStore::connect(options).await.expect("connecting"),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sentinel_failover_loses_no_acknowledged_write_and_the_store_follows_the_new_master() {
    let mut group = tokio::task::spawn_blocking(SentinelGroup::start)
        .await
        .unwrap();
    let store = waiting_store(group.url()).await;
    let old = group.master.port();
    kill_the_master_mid_stream(store, &mut group.master, &group.replica).await;
    let promoted = group.current_master();
    assert_eq!(
        promoted,
        Some(group.replica.port()),
        "the replica was promoted"
    );
    assert_ne!(promoted, Some(old));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_failover_loses_no_acknowledged_write_and_the_store_follows_the_new_master() {
    let mut cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3, 1))
        .await
        .unwrap();
    let store = waiting_store(cluster.url()).await;
    store.write(put("probe")).await.expect("a first write");
    // The directory's master is the one master holding keys; its replica follows it.
    let ports: Vec<u16> = cluster.nodes.iter().map(RedisServer::port).collect();
    let master = ports
        .iter()
        .position(|&p| cli(p, &["ROLE"]).starts_with("master") && dbsize(p) > 0)
        .expect("the directory's master");
    let replica = ports
        .iter()
        .position(|&p| {
            let role = cli(p, &["ROLE"]);
            role.starts_with("slave")
                && role.lines().nth(2).map(str::trim) == Some(&ports[master].to_string())
        })
        .expect("its replica");
    let (m, r) = if master < replica {
        let (low, high) = cluster.nodes.split_at_mut(replica);
        (&mut low[master], &high[0])
    } else {
        let (low, high) = cluster.nodes.split_at_mut(master);
        (&mut high[0], &low[replica])
    };
    let replica_port = r.port();
    kill_the_master_mid_stream(store, m, r).await;
    assert!(
        cli(replica_port, &["ROLE"]).starts_with("master"),
        "the replica was promoted"
    );
}
