//! The HTTPS posture (issue 9, items 7 and 8): HSTS on every HTTPS answer, plain HTTP serving
//! only the probes beside HTTPS, `/metrics` over HTTPS behind `OP_METRICS_TOKEN`, and
//! `Location` that a forged `Host` cannot redirect. Self-managed certificate files, loopback.

use reqwest::{redirect::Policy, StatusCode};
use serde_json::Value;

use super::{
    edge::{files_bridge_with, TestCa},
    https_client, https_client_builder, DOMAIN,
};
use crate::helpers::{
    bridge::{client, run, Bridge, Options},
    pebble::free_port,
};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn start(options: Options) -> (TestCa, tempfile::TempDir, u16, Bridge) {
    let (ca, dir, port) = (TestCa::new(), tempfile::tempdir().unwrap(), free_port());
    let (bridge, _) = files_bridge_with(&ca, dir.path(), port, options);
    (ca, dir, port, bridge)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_https_answer_has_hsts_and_plain_http_serves_only_the_probes() {
    let (ca, _dir, port, bridge) = start(Options::default());
    let https = https_client(port, &ca.pem, false);
    let url = |path: &str| format!("https://{DOMAIN}:{port}{path}");
    for (path, bearer, status) in [
        ("/ping", None, 200),
        ("/", None, 200),
        ("/nope", None, 404),
        ("/scim/v2/Users", None, 401),
        ("/scim/v2/Users", Some(bridge.bearer()), 200),
    ] {
        let mut req = https.get(url(path));
        if let Some(b) = &bearer {
            req = req.header("authorization", b);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
        assert_eq!(
            res.headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path}"
        );
    }

    // Plain HTTP: the probes as before, the page redirected, everything else refused.
    let plain = no_redirects();
    for path in ["/ping", "/ready", "/metrics"] {
        let res = plain.get(bridge.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers().get("strict-transport-security").is_none());
    }
    let res = plain.get(bridge.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    let https_root = format!("https://{DOMAIN}:{port}/");
    assert_eq!(res.headers()["location"], https_root.as_str());
    for (method, path) in [
        ("GET", "/scim/v2/Users"),
        ("POST", "/scim/v2/Users"),
        ("GET", "/status.json"),
        ("GET", "/logs"),
        ("GET", "/health"),
        ("GET", "/status/app.js"),
        ("POST", "/"),
    ] {
        let res = plain
            .request(method.parse().unwrap(), bridge.url(path))
            .header("authorization", bridge.bearer())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{method} {path}");
        let doc: Value = res.json().await.unwrap();
        assert_eq!(doc["status"], "403");
        assert!(
            doc["detail"].as_str().unwrap().contains(&https_root),
            "{doc}"
        );
    }
}

/// `scim-bridge ping` with the HTTPS settings asks plain HTTP (`OP_PORT`), which answers the
/// probes beside HTTPS, so the image's health check works with TLS on.
#[test]
fn ping_asks_the_plain_port_beside_https() {
    let (_ca, dir, https_port, bridge) = start(Options::default());
    let file = |name: &str| dir.path().join(name).display().to_string();
    let (https_port, plain_port) = (https_port.to_string(), bridge.addr.port().to_string());
    let (cert, key) = (file("chain.pem"), file("key.pem"));
    let (status, _, stderr) = run(
        &["ping"],
        &[
            ("OP_TLS_DOMAIN", DOMAIN),
            ("OP_HTTPS_PORT", &https_port),
            ("OP_TLS_CERT_FILE", &cert),
            ("OP_TLS_KEY_FILE", &key),
            ("OP_PORT", &plain_port),
        ],
        dir.path(),
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_all_restores_everything_and_hsts_can_be_turned_off() {
    let (ca, _dir, port, bridge) = start(
        Options::default()
            .env("OP_PLAIN_HTTP", "all")
            .env("OP_HSTS_MAX_AGE", "0"),
    );
    assert_eq!(bridge.users_status(&bridge.token).await, 200);
    let res = no_redirects().get(bridge.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = https_client(port, &ca.pem, false)
        .get(format!("https://{DOMAIN}:{port}/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("strict-transport-security").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_over_https_need_the_metrics_token() {
    let url = |port| format!("https://{DOMAIN}:{port}/metrics");
    // Without OP_METRICS_TOKEN: absent over HTTPS, open on plain HTTP.
    let (ca, _dir, port, bridge) = start(Options::default());
    let https = https_client(port, &ca.pem, false);
    let res = https
        .get(url(port))
        .header("authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(bridge.metrics().await.contains("scim_bridge_build_info"));
    drop(bridge);

    const TOKEN: &str = "metrics-scrape-token-0123456789";
    let (ca, _dir, port, bridge) = start(Options::default().env("OP_METRICS_TOKEN", TOKEN));
    let https = https_client(port, &ca.pem, false);
    for (auth, status) in [
        (None, 401),
        (
            Some("Bearer metrics-scrape-token-012345678".to_owned()),
            401,
        ),
        (Some(bridge.bearer()), 401),
        (Some(format!("Bearer {TOKEN}")), 200),
    ] {
        let mut req = https.get(url(port));
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{auth:?}");
        if status == 200 {
            assert!(res.text().await.unwrap().contains("scim_bridge_build_info"));
        }
    }
    assert!(bridge.metrics().await.contains("scim_bridge_build_info"));
    // check-config and the logs never show it.
    assert!(!bridge.logs().contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_host_cannot_redirect_locations_over_https() {
    let (ca, _dir, port, bridge) = start(Options::default());
    let https = https_client_builder(port, &ca.pem, true).build().unwrap();
    let res = https
        .post(format!("https://{DOMAIN}:{port}/scim/v2/Users"))
        .header("host", "evil.example:4443")
        .header("authorization", bridge.bearer())
        .header("content-type", "application/scim+json")
        .body(r#"{"userName":"host.test@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("https://{DOMAIN}:4443/scim/v2/Users/")),
        "{location}"
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["meta"]["location"], location.as_str());
    drop(bridge);

    // OP_PUBLIC_URL wins over any Host, on either listener.
    let (ca, _dir, port, bridge) = start(
        Options::default()
            .env("OP_PUBLIC_URL", "https://scim.example.com/")
            .env("OP_PLAIN_HTTP", "all"),
    );
    let https = https_client(port, &ca.pem, false);
    let res = https
        .post(format!("https://{DOMAIN}:{port}/scim/v2/Users"))
        .header("authorization", bridge.bearer())
        .header("content-type", "application/scim+json")
        .body(r#"{"userName":"public.tls@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://scim.example.com/scim/v2/Users/"),
        "{location}"
    );
    let res = client()
        .post(bridge.url("/scim/v2/Users"))
        .header("authorization", bridge.bearer())
        .header("content-type", "application/scim+json")
        .header("x-forwarded-proto", "https")
        .body(r#"{"userName":"public.url@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://scim.example.com/scim/v2/Users/"),
        "{location}"
    );
}
