//! The bridge on Redis: the same journey as on the embedded store, start-up against an
//! unreachable server, and an outage in the middle of serving.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{
    bridge::{client, run, Bridge, Options},
    redis::{free_port, RedisServer},
};

async fn get(bridge: &Bridge, path: &str) -> reqwest::Response {
    client()
        .get(bridge.url(path))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bridge_serves_from_redis() {
    let redis = RedisServer::start();
    let bridge = Bridge::start_with(Options::default().env("OP_REDIS_URL", redis.url()));
    assert!(
        bridge.logs().contains("store=\"redis\""),
        "{}",
        bridge.logs()
    );
    let res = get(&bridge, "/scim/v2/Users").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["totalResults"], 0);
    let health: Value = get(&bridge, "/health").await.json().await.unwrap();
    assert_eq!(health["reports"][0]["source"], "Store");
    assert_eq!(health["reports"][0]["state"], "healthy");
}

#[test]
fn an_unreachable_redis_at_start_up_is_a_clear_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let (status, stdout, stderr) = run(
        &["serve"],
        &[
            ("OP_REDIS_URL", &url),
            ("OP_PORT", "0"),
            ("OP_BIND_ADDRESS", "127.0.0.1"),
        ],
        dir.path(),
    );
    assert_eq!(status.code(), Some(69), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        stderr.to_lowercase().contains("redis") || stderr.contains("store"),
        "{stderr}"
    );
    // The session was created (default path) before the store check; the token went to stdout.
    assert!(stdout.trim().starts_with("sbt_"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_outage_degrades_to_503_and_recovers_without_a_restart() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let bridge = Bridge::start_with(
        Options::default()
            .env("OP_REDIS_URL", redis.url())
            .env("OP_STORE_TIMEOUT", "1s"),
    );
    assert_eq!(get(&bridge, "/scim/v2/Users").await.status(), 200);

    redis.kill();
    let res = get(&bridge, "/scim/v2/Users").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "503");
    let res = get(&bridge, "/health").await;
    assert_eq!(res.status(), 503);
    let health: Value = res.json().await.unwrap();
    assert_eq!(health["reports"][0]["state"], "unhealthy");
    let ping = client().get(bridge.url("/ping")).send().await.unwrap();
    assert_eq!(ping.status(), 200, "liveness must not depend on the store");
    let ready = client().get(bridge.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "readiness follows the store");

    let _redis = RedisServer::start_on(port);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if get(&bridge, "/scim/v2/Users").await.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bridge did not recover after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get(&bridge, "/health").await.status(), 200);
    let ready = client().get(bridge.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "ready again once the store answers");
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_sentinels_a_write_no_replica_holds_is_a_503_that_says_so_and_is_counted() {
    let mut group = tokio::task::spawn_blocking(crate::helpers::topology::SentinelGroup::start)
        .await
        .unwrap();
    let bridge = Bridge::start_with(
        Options::default()
            .env("OP_REDIS_URL", group.url())
            .env("OP_REDIS_WAIT_TIMEOUT", "300ms"),
    );
    let create = |name: &'static str| {
        client()
            .post(bridge.url("/scim/v2/Users"))
            .header("Authorization", bridge.bearer())
            .header("Content-Type", "application/scim+json")
            .body(format!(
                r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"{name}"}}"#
            ))
            .send()
    };
    assert_eq!(create("ann").await.unwrap().status(), 201);

    group.replica.kill();
    let res = create("bob").await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(
        res.headers().contains_key("retry-after"),
        "{:?}",
        res.headers()
    );
    let body: Value = res.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("reached the Redis master") && detail.contains("409"),
        "{body}"
    );
    // It is stored: the retry the README warns about meets the first attempt.
    let res = get(&bridge, "/scim/v2/Users?filter=userName%20eq%20%22bob%22").await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["totalResults"], 1, "{list}");
    let retry = create("bob").await.unwrap();
    assert_eq!(
        retry.status(),
        409,
        "the retried create meets the stored one"
    );
    let body: Value = retry.json().await.unwrap();
    assert_eq!(body["scimType"], "uniqueness", "{body}");
    let metrics = bridge.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("store_operation_duration_seconds_count")
                && l.contains("outcome=\"unreplicated\"")),
        "{metrics}"
    );
}

/// `tests/fixtures/redis-0.1-adbb79c.rdb`: `SAVE` of a Redis that the release before Cluster
/// support (commit adbb79c) filled through its SCIM API: three users (one deactivated), a group
/// of two, six events, token last use. Kept so every later layout change is checked against it.
const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/redis-0.1-adbb79c.rdb"
);

#[tokio::test(flavor = "multi_thread")]
async fn a_store_written_by_the_release_before_clusters_is_served_unchanged() {
    let redis = RedisServer::start_from_snapshot(std::path::Path::new(SNAPSHOT));
    let bridge = Bridge::start_with(Options::default().env("OP_REDIS_URL", redis.url()));
    let users: Value = get(&bridge, "/scim/v2/Users?sortBy=userName")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users["totalResults"], 3, "{users}");
    let names: Vec<&str> = users["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ann.lee@example.com",
            "bob.ray@example.com",
            "cy.diaz@example.com"
        ]
    );
    assert_eq!(users["Resources"][2]["active"], false);
    // Its records were hashes; the start-up conversion leaves none.
    let hashes = r#"EVAL "return #redis.call('SCAN', '0', 'MATCH', '*r:*', 'TYPE', 'hash', 'COUNT', '10000')[2]" 0"#;
    let records =
        r#"EVAL "return #redis.call('SCAN', '0', 'MATCH', '*r:*', 'COUNT', '10000')[2]" 0"#;
    assert_eq!(
        redis.command(records),
        ":5",
        "three users, a group, a token's use"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while redis.command(hashes) != ":0" {
        assert!(
            std::time::Instant::now() < deadline,
            "records still hashes after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let groups: Value = get(&bridge, "/scim/v2/Groups").await.json().await.unwrap();
    assert_eq!(groups["Resources"][0]["displayName"], "Engineering");
    assert_eq!(
        groups["Resources"][0]["members"].as_array().unwrap().len(),
        2
    );
    // The unique index still holds: the same userName is refused.
    let again = client()
        .post(bridge.url("/scim/v2/Users"))
        .header("Authorization", bridge.bearer())
        .header("Content-Type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ANN.LEE@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    // The event log goes on from its head.
    let create = client()
        .post(bridge.url("/scim/v2/Users"))
        .header("Authorization", bridge.bearer())
        .header("Content-Type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"dee@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 201);
    let events: Value = get(&bridge, "/events?after=0").await.json().await.unwrap();
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "user.created",
            "user.created",
            "user.created",
            "group.created",
            "group.members.added",
            "user.deactivated",
            "user.created"
        ]
    );
    assert_eq!(events["next"], 7);
}

/// Two bridges on one directory, as two replicas behind a load balancer: a write on one is read
/// at once on the other, and of concurrent creates of one userName on both exactly one wins.
async fn two_bridges_share_one_directory(redis_url: String) {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let token = crate::helpers::bridge::init_session(&dir_a.path().join("scimsession"), false);
    std::fs::copy(
        dir_a.path().join("scimsession"),
        dir_b.path().join("scimsession"),
    )
    .unwrap();
    let start = |dir: &std::path::Path| {
        Bridge::start_with(Options {
            dir: Some(dir.to_path_buf()),
            ..Options::default().env("OP_REDIS_URL", redis_url.clone())
        })
    };
    let (a, b) = (start(dir_a.path()), start(dir_b.path()));
    let bearer = format!("Bearer {token}");
    let send = |req: reqwest::RequestBuilder| {
        req.header("Authorization", bearer.clone())
            .header("Content-Type", "application/scim+json")
            .send()
    };
    let user = |name: &str| {
        format!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"{name}"}}"#
        )
    };

    // Read your writes across replicas.
    let created = send(client().post(a.url("/scim/v2/Users")).body(user("ann")))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let path = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let seen = send(client().get(b.url(&path))).await.unwrap();
    assert_eq!(seen.status(), 200, "written on A, read on B at once");
    let patched = send(client().patch(b.url(&path)).body(
        r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations":[{"op":"replace","path":"displayName","value":"Ann Lee"}]}"#,
    ))
    .await
    .unwrap();
    assert_eq!(patched.status(), 200);
    let etag = patched.headers()["etag"].clone();
    let back = send(client().get(a.url(&path))).await.unwrap();
    assert_eq!(back.headers()["etag"], etag, "the same version on A");
    let back: Value = back.json().await.unwrap();
    assert_eq!(back["displayName"], "Ann Lee");

    // One winner of concurrent creates, whichever replica each lands on.
    let racers = (0..8).map(|i| {
        let target = if i % 2 == 0 { &a } else { &b };
        send(
            client()
                .post(target.url("/scim/v2/Users"))
                .body(user("race")),
        )
    });
    let statuses: Vec<u16> = futures_util::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 201 | 409)),
        "{statuses:?}"
    );
    for bridge in [&a, &b] {
        let list: Value = send(client().get(bridge.url("/scim/v2/Users")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["totalResults"], 2, "{list}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_bridges_on_one_redis_share_one_directory() {
    let redis = RedisServer::start();
    two_bridges_share_one_directory(redis.url()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_bridges_on_a_cluster_share_one_directory() {
    let cluster =
        tokio::task::spawn_blocking(|| crate::helpers::topology::RedisCluster::start(3, 1))
            .await
            .unwrap();
    two_bridges_share_one_directory(cluster.url()).await;
}
