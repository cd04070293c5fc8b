//! Two replicas sharing one Redis and one session: exactly one ACME order (the store lease),
//! whichever replica the CA's validation reaches can answer (the shared challenge), and the
//! other replica serves the stored certificate (the change feed). The same on one Redis node
//! and on a three-master Cluster (the lease, challenge and certificate keys in one slot).

use std::time::Duration;

use crate::{
    helpers::{
        bridge::{Bridge, Options},
        pebble::{free_port, Pebble},
        redis::RedisServer,
        topology::RedisCluster,
    },
    tls::{acme_options, https_client, peer_cert, wait_https},
};

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_place_one_order_and_serve_the_same_certificate() {
    let redis = RedisServer::start();
    one_order_two_replicas(redis.url()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_a_cluster_place_one_order_and_serve_the_same_certificate() {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3, 1))
        .await
        .unwrap();
    one_order_two_replicas(cluster.url()).await;
}

async fn one_order_two_replicas(redis_url: String) {
    // The CA validates on replica A's port only; replica B may win the lease and order.
    let (port_a, port_b) = (free_port(), free_port());
    let pebble = Pebble::start(port_a, None);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    crate::helpers::bridge::init_session(&dir_a.path().join("scimsession"), false);
    std::fs::copy(
        dir_a.path().join("scimsession"),
        dir_b.path().join("scimsession"),
    )
    .unwrap();
    let start = |dir: &std::path::Path, port| {
        let o = acme_options(&pebble, port).env("OP_REDIS_URL", redis_url.clone());
        Bridge::start_with(Options {
            dir: Some(dir.to_path_buf()),
            ..o
        })
    };
    let a = start(dir_a.path(), port_a);
    let b = start(dir_b.path(), port_b);
    let root = pebble.issuing_root().await;
    let (client_a, client_b) = (
        https_client(port_a, &root, true),
        https_client(port_b, &root, true),
    );
    wait_https(&client_a, port_a, Duration::from_secs(60)).await;
    wait_https(&client_b, port_b, Duration::from_secs(60)).await;
    let res_a = client_a
        .get(format!("https://{}:{port_a}/ping", crate::tls::DOMAIN))
        .send()
        .await
        .unwrap();
    let res_b = client_b
        .get(format!("https://{}:{port_b}/ping", crate::tls::DOMAIN))
        .send()
        .await
        .unwrap();
    assert_eq!(
        peer_cert(&res_a),
        peer_cert(&res_b),
        "both replicas serve the one certificate"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        pebble.orders(),
        1,
        "only the lease holder orders\n{}",
        pebble.logs()
    );
    let ordered_by_b = b.logs().contains("ordering a certificate");
    if ordered_by_b {
        assert!(
            a.logs()
                .contains("answering a challenge shared by another replica"),
            "{}",
            a.logs()
        );
    }
    eprintln!(
        "the order was placed by replica {}",
        if ordered_by_b {
            "B (validated through A)"
        } else {
            "A"
        }
    );
}
