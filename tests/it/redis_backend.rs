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
