//! A bridge facing the internet on its own certificate, on Redis behind sentinels, through the
//! SIGKILL of its master: every handshake is answered with the same certificate throughout,
//! `/health` reports the store's outage and then its recovery, and writes resume on the
//! promoted replica without a restart (acknowledged once the old master is back as its replica).

use std::time::{Duration, Instant};

use crate::{
    helpers::{
        bridge::{Bridge, Options},
        pebble::{free_port, Pebble},
        topology::SentinelGroup,
    },
    tls::{
        acme_options, https_client, https_health_report, https_json, peer_cert, wait_https, DOMAIN,
    },
};

#[tokio::test(flavor = "multi_thread")]
async fn a_sentinel_failover_keeps_the_certificate_served_and_health_tells_the_story() {
    let mut group = tokio::task::spawn_blocking(SentinelGroup::start)
        .await
        .unwrap();
    let port = free_port();
    let pebble = Pebble::start(port, None);
    let dir = tempfile::tempdir().unwrap();
    let token = crate::helpers::bridge::init_session(&dir.path().join("scimsession"), false);
    let bearer = format!("Bearer {token}");
    let _bridge = Bridge::start_with(Options {
        dir: Some(dir.path().to_path_buf()),
        ..acme_options(&pebble, port)
            .env("OP_REDIS_URL", group.url())
            // Store calls give up after 500 ms, so /health shows an outage this short.
            .env("OP_STORE_TIMEOUT", "500ms")
            .env("OP_REDIS_WAIT_TIMEOUT", "300ms")
    });
    let root = pebble.issuing_root().await;
    let client = https_client(port, &root, true);
    wait_https(&client, port, Duration::from_secs(60)).await;
    let first = client
        .get(format!("https://{DOMAIN}:{port}/ping"))
        .send()
        .await
        .unwrap();
    let cert = peer_cert(&first);
    let create = |name: String| {
        client
            .post(format!("https://{DOMAIN}:{port}/scim/v2/Users"))
            .header("authorization", bearer.clone())
            .header("content-type", "application/scim+json")
            .body(format!(
                r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"{name}"}}"#
            ))
            .send()
    };
    assert_eq!(create("before".into()).await.unwrap().status(), 201);
    assert_eq!(
        https_health_report(&client, port, &bearer, "Store").await["state"],
        "healthy"
    );

    let old = group.master.port();
    group.master.kill();
    let killed = Instant::now();
    // Every handshake meets the same certificate, whatever the store is doing.
    let same_cert = || async {
        let ping = client
            .get(format!("https://{DOMAIN}:{port}/ping"))
            .send()
            .await
            .expect("the TLS edge answers throughout");
        assert_eq!(peer_cert(&ping), cert, "the same certificate throughout");
    };
    let store_state =
        || async { https_health_report(&client, port, &bearer, "Store").await["state"].clone() };
    while store_state().await == "healthy" {
        same_cert().await;
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "/health never reported the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outage_seen = killed.elapsed();
    while store_state().await != "healthy" {
        same_cert().await;
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "/health never reported the recovery"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let healthy_again = killed.elapsed();
    // The old master comes back empty; the sentinels make it the new master's replica, and
    // writes are acknowledged again (until then they answer 503: no replica holds them).
    let _returned = crate::helpers::redis::RedisServer::start_on(old);
    let mut i = 0;
    loop {
        same_cert().await;
        i += 1;
        if create(format!("after{i}")).await.unwrap().status() == 201 {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "writes never acknowledged again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "failover through the bridge: unhealthy seen {outage_seen:?}, healthy {healthy_again:?}, \
         acknowledged writes again {:?} after the kill",
        killed.elapsed()
    );
    assert_eq!(group.current_master(), Some(group.replica.port()));
    // The write from before the kill is on the promoted master.
    let before = "/scim/v2/Users?filter=userName%20eq%20%22before%22";
    let list = https_json(&client, port, &bearer, before).await;
    assert_eq!(list["totalResults"], 1, "{list}");
}
