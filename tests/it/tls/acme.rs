//! ACME against pebble: issuance over h2 and HTTP/1.1, restart without a new order,
//! `cert status`, renewal under load, an unreachable CA, External Account Binding.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{
    acme_options, https_client, https_health_report, list_users, peer_cert, wait_https, DOMAIN,
};
use crate::helpers::{
    bridge::{client, run, Bridge, Options},
    pebble::{free_port, Pebble},
};

#[tokio::test(flavor = "multi_thread")]
async fn acme_certificate_serves_h2_and_http1_and_a_restart_places_no_new_order() {
    let port = free_port();
    let pebble = Pebble::start(port, None);
    let dir = tempfile::tempdir().unwrap();
    let options = acme_options(&pebble, port);
    let bridge = Bridge::start_with(Options {
        dir: Some(dir.path().to_path_buf()),
        ..options
    });
    let root = pebble.issuing_root().await;
    let h2 = https_client(port, &root, false);
    let took = wait_https(&h2, port, Duration::from_secs(60)).await;
    eprintln!("first certificate served {took:?} after start");
    let res = list_users(&h2, port, &bridge.bearer()).await;
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["totalResults"], 0);
    let res = list_users(&https_client(port, &root, true), port, &bridge.bearer()).await;
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    let first = peer_cert(&res);
    assert_eq!(pebble.orders(), 1, "{}", pebble.logs());

    // A user created over HTTPS gets an https location (meta and Location header).
    let created = h2
        .post(format!("https://{DOMAIN}:{port}/scim/v2/Users"))
        .header("authorization", bridge.bearer())
        .header("content-type", "application/scim+json")
        .body(r#"{"userName":"tls.user@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("https://{DOMAIN}:{port}/scim/v2/Users/")),
        "{location}"
    );

    let report = https_health_report(&h2, port, &bridge.bearer(), "CertificateManager").await;
    assert_eq!(report["state"], "healthy", "{report}");
    assert!(report["details"][0].as_str().unwrap().contains(DOMAIN));
    let metrics = bridge.metrics().await;
    assert!(
        metrics.contains(r#"scim_bridge_acme_orders_total{outcome="issued"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("scim_bridge_tls_certificate_expiry_seconds"));

    let token = bridge.bearer();
    drop(bridge);
    // `cert status` reads the same from the store (the embedded store is free once stopped).
    let (session, data) = (dir.path().join("scimsession"), dir.path().join("data"));
    let (port_text, roots) = (port.to_string(), pebble.api_ca.display().to_string());
    let env = [
        ("OP_SESSION", session.to_str().unwrap()),
        ("OP_DATA_DIR", data.to_str().unwrap()),
        ("OP_TLS_DOMAIN", DOMAIN),
        ("OP_HTTPS_PORT", port_text.as_str()),
        ("OP_ACME_DIRECTORY_URL", pebble.directory_url.as_str()),
        ("OP_ACME_CA_ROOTS", roots.as_str()),
    ];
    let (status, stdout, stderr) = run(&["cert", "status"], &env, dir.path());
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains(&format!("domain: {DOMAIN}")), "{stdout}");
    assert!(
        stdout.contains("issuer: CN=Pebble Intermediate"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not after: 20") && stdout.contains("next renewal: 20"),
        "{stdout}"
    );
    let options = acme_options(&pebble, port);
    let again = Bridge::start_with(Options {
        dir: Some(dir.path().to_path_buf()),
        ..options
    });
    let took = wait_https(&h2, port, Duration::from_secs(10)).await;
    assert!(
        took < Duration::from_secs(3),
        "the stored certificate must be served at once ({took:?})"
    );
    let res = list_users(&https_client(port, &root, true), port, &token).await;
    assert_eq!(peer_cert(&res), first, "the stored certificate is served");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        pebble.orders(),
        1,
        "a restart with a valid stored certificate orders nothing"
    );
    assert!(
        !again.logs().contains("PRIVATE KEY"),
        "key material must never be logged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_under_continuous_load_fails_no_request() {
    let port = free_port();
    let pebble = Pebble::start(port, Some(Duration::from_secs(30)));
    let bridge = Bridge::start_with(acme_options(&pebble, port));
    let root = pebble.issuing_root().await;
    let client = https_client(port, &root, false);
    wait_https(&client, port, Duration::from_secs(60)).await;
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let certs: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut workers = Vec::new();
    for w in 0..3 {
        let client = https_client(port, &root, w == 0);
        let (ok, failed, certs, bearer) =
            (ok.clone(), failed.clone(), certs.clone(), bridge.bearer());
        workers.push(tokio::spawn(async move {
            // Bounded: at most 45 s and 20 000 requests per worker. One renewal (a third of
            // the 30 s lifetime before expiry) served to a request is the case; waiting for a
            // second would only repeat it, for 20 s more.
            for _ in 0..20_000 {
                if Instant::now() >= deadline || certs.lock().unwrap().len() >= 2 {
                    break;
                }
                let url = format!("https://{DOMAIN}:{port}/scim/v2/Users");
                match client
                    .get(url)
                    .header("authorization", &bearer)
                    .send()
                    .await
                {
                    Ok(res) if res.status() == 200 => {
                        let cert = peer_cert(&res);
                        let mut seen = certs.lock().unwrap();
                        if !seen.contains(&cert) {
                            seen.push(cert);
                        }
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        eprintln!("request failed: {other:?}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let distinct = certs.lock().unwrap().len();
    eprintln!("renewal under load: {ok} requests ok, {failed} failed, {distinct} certificates seen, {} orders", pebble.orders());
    assert_eq!(failed, 0, "no request may fail during renewal");
    assert!(
        distinct >= 2,
        "the renewed certificate must be served (saw {distinct})\n{}",
        bridge.logs()
    );
    assert!(pebble.orders() >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_ca_degrades_health_but_never_stops_the_bridge() {
    let (port, dead) = (free_port(), free_port());
    let bridge = Bridge::start_with(
        Options::default()
            .env("OP_TLS_DOMAIN", DOMAIN)
            .env("OP_HTTPS_PORT", port.to_string())
            .env(
                "OP_ACME_DIRECTORY_URL",
                format!("https://127.0.0.1:{dead}/dir"),
            )
            // Without a certificate HTTPS cannot answer; this test reads plain HTTP.
            .env("OP_PLAIN_HTTP", "all"),
    );
    assert!(
        bridge.wait_for_log("certificate renewal failed", Duration::from_secs(20)),
        "{}",
        bridge.logs()
    );
    let report = bridge.health_report("CertificateManager").await;
    assert_eq!(report["state"], "degraded", "{report}");
    let res = client()
        .get(bridge.url("/scim/v2/Users"))
        .header("authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "plain HTTP keeps working");
    let metrics = bridge.metrics().await;
    assert!(
        metrics.contains(r#"scim_bridge_acme_orders_total{outcome="failed"}"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn external_account_binding_is_required_and_used() {
    const KID: &str = "kid-1";
    const KEY: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let port = free_port();
    let pebble = Pebble::start_with(port, None, Some((KID, KEY)));
    // Without EAB the CA refuses the account: the bridge reports it and keeps running.
    let without = Bridge::start_with(acme_options(&pebble, free_port()));
    assert!(
        without.wait_for_log("certificate renewal failed", Duration::from_secs(20)),
        "{}",
        without.logs()
    );
    assert!(
        without.logs().contains("externalAccountRequired"),
        "{}",
        without.logs()
    );
    let res = client().get(without.url("/ping")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    drop(without);
    let with = Bridge::start_with(
        acme_options(&pebble, port)
            .env("OP_ACME_EAB_KID", KID)
            .env("OP_ACME_EAB_HMAC_KEY", KEY),
    );
    let root = pebble.issuing_root().await;
    wait_https(
        &https_client(port, &root, true),
        port,
        Duration::from_secs(60),
    )
    .await;
    assert!(
        !with.logs().contains(KEY),
        "the HMAC key must never be logged"
    );
}
