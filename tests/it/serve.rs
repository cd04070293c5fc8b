//! The running bridge over plain HTTP: the README's curl journey, authentication, health,
//! metrics, ping, HTTP/2, limits and malformed input.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

use serde_json::Value;

use crate::helpers::bridge::{client, Bridge, Options};

fn raw_request(bridge: &Bridge, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(bridge.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

async fn assert_scim_error(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status);
    assert_eq!(res.headers()["content-type"], "application/scim+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], status.to_string());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_curl_lists_users_under_both_prefixes() {
    let bridge = Bridge::start();
    for path in [
        "/scim/v2/Users",
        "/scim/Users",
        "/scim/v2/Groups",
        "/scim/Groups/",
    ] {
        let res = client()
            .get(bridge.url(path))
            .header("Authorization", bridge.bearer())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "application/scim+json");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:ListResponse"
        );
        assert_eq!(body["totalResults"], 0);
        assert!(body["totalResults"].is_u64() && body["startIndex"].is_u64());
        assert_eq!(body["Resources"], Value::Array(vec![]));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_failures_are_401_scim_errors_with_a_bearer_challenge() {
    let bridge = Bridge::start();
    let c = client();
    let cases: [(&str, Option<&str>); 5] = [
        ("/scim/v2/Users", None),
        ("/scim/v2/Users", Some("Bearer sbt_not-the-token")),
        ("/scim/v2/Users", Some("Basic dXNlcjpwYXNz")),
        ("/scim/v2/Users", Some("Bearer")),
        ("/health", Some("Bearer wrong")),
    ];
    for (path, header) in cases {
        let mut req = c.get(bridge.url(path));
        if let Some(h) = header {
            req = req.header("Authorization", h);
        }
        let res = req.send().await.unwrap();
        let challenge = res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert_scim_error(res, 401).await;
    }
    // Bytes that are not even text in the header: still a clean 401.
    let raw = raw_request(
        &bridge,
        b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\xfd\r\nConnection: close\r\n\r\n",
    );
    assert!(raw.starts_with("HTTP/1.1 401"), "{raw}");
    // The right token with the scheme in another case is accepted.
    let res = c
        .get(bridge.url("/scim/v2/Users"))
        .header("Authorization", format!("bearer {}", bridge.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reports_store_session_and_server() {
    let bridge = Bridge::start();
    let res = client()
        .get(bridge.url("/health"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["build"].is_string() && body["retrievedAt"].is_string());
    let sources: Vec<&str> = body["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["state"], "healthy", "{r}");
            assert!(r["time"].is_string() && r["expires"].is_string());
            r["source"].as_str().unwrap()
        })
        .collect();
    assert_eq!(sources, ["Store", "Session", "SCIMServer"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn ping_and_metrics_need_no_token_and_metrics_count_by_route_template() {
    let bridge = Bridge::start();
    let c = client();
    let res = c.get(bridge.url("/ping")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "pong");
    for id in ["a", "b", "c"] {
        let res = c
            .get(bridge.url(&format!("/scim/v2/Users/{id}")))
            .header("Authorization", bridge.bearer())
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error() || res.status().is_server_error());
    }
    let _ = c.get(bridge.url("/scim/v2/Users")).send().await.unwrap();
    let res = c.get(bridge.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    assert!(
        text.contains(
            r#"scim_bridge_http_requests_total{method="GET",route="/scim/v2/Users",status="4xx"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/scim/v2/Users/{id}""#),
        "ids must not become labels"
    );
    assert!(!text.contains("Users/a"), "{text}");
    assert!(text.contains("scim_bridge_http_request_duration_seconds_bucket"));
    assert!(text.contains(r#"route="/ping""#));
    // Every store call is observed by the store guard: at least the start-up and scrape pings.
    assert!(
        text.contains(
            r#"scim_bridge_store_operation_duration_seconds_count{operation="ping",outcome="ok"}"#
        ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_with_prior_knowledge_is_served() {
    let bridge = Bridge::start();
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let res = h2
        .get(bridge.url("/scim/v2/Users"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ping_server_answers_on_its_own_port() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let bridge = Bridge::start_with(
        Options::default()
            .env("OP_PING_SERVER", "1")
            .env("OP_PING_PORT", port.to_string()),
    );
    assert!(bridge.wait_for_log("ping server listening", Duration::from_secs(5)));
    let c = client();
    let res = c
        .get(format!("http://127.0.0.1:{port}/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "pong");
    let res = c
        .get(format!("http://127.0.0.1:{port}/scim/v2/Users"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "the ping port serves nothing else");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_paths_methods_and_oversized_bodies_get_scim_errors() {
    let bridge = Bridge::start_with(Options::default().env("OP_MAX_BODY_BYTES", "1024"));
    let c = client();
    let res = c.get(bridge.url("/nowhere")).send().await.unwrap();
    assert_scim_error(res, 404).await;
    let res = c
        .get(bridge.url("/scim/v2/Widgets"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_scim_error(res, 404).await;
    let res = c.post(bridge.url("/ping")).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    assert_scim_error(res, 405).await;
    let res = c
        .post(bridge.url("/scim/v2/Users"))
        .header("Authorization", bridge.bearer())
        .header("Content-Type", "application/scim+json")
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    assert_scim_error(res, 413).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_bytes_close_that_connection_only() {
    let bridge = Bridge::start();
    let raw = raw_request(&bridge, b"\x16\x03\x01\x02\x00garbage\r\n\r\n");
    assert!(raw.is_empty() || raw.starts_with("HTTP/1.1 400"), "{raw:?}");
    let raw = raw_request(&bridge, b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    assert!(raw.is_empty() || raw.starts_with("HTTP/1.1 400"), "{raw:?}");
    let res = client()
        .get(bridge.url("/scim/v2/Users"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the server keeps serving others");
}

#[test]
fn slow_headers_are_cut_off_by_the_header_read_limit() {
    let bridge = Bridge::start_with(Options::default().env("OP_HEADER_READ_TIMEOUT", "1s"));
    let mut stream = TcpStream::connect(bridge.addr).unwrap();
    stream
        .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(8),
        "connection held for {waited:?}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "closed too early: {waited:?}"
    );
}
