//! The process over its life: session hot reload, secrets kept out of logs, graceful shutdown.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use crate::helpers::bridge::{client, init_session, Bridge, Options};

async fn wait_for_status(bridge: &Bridge, token: &str, want: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if bridge.users_status(token).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_session_file_is_picked_up_and_a_malformed_one_refused() {
    let bridge = Bridge::start_with(Options::default().env("OP_SESSION_RELOAD_INTERVAL", "100ms"));
    let old = bridge.token.clone();
    assert_eq!(bridge.users_status(&old).await, 200);

    let new = init_session(&bridge.session, true);
    assert!(
        wait_for_status(&bridge, &new, 200).await,
        "new token not accepted"
    );
    assert_eq!(
        bridge.users_status(&old).await,
        401,
        "replaced token must stop working"
    );

    std::fs::write(&bridge.session, b"{\"format\": \"half-written").unwrap();
    assert!(bridge.wait_for_log("session file change refused", Duration::from_secs(10)));
    assert_eq!(
        bridge.users_status(&new).await,
        200,
        "the previous session stays in force"
    );
    let health = bridge.health_with(&format!("Bearer {new}")).await;
    let session = health["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "Session")
        .unwrap();
    assert_eq!(session["state"], "degraded", "{session}");
    let metrics = bridge.metrics().await;
    assert!(
        metrics.contains(r#"scim_bridge_session_reloads_total{outcome="refused"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"scim_bridge_session_reloads_total{outcome="reloaded"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_file_others_may_write_is_refused_on_reload_and_the_previous_one_serves() {
    use std::os::unix::fs::PermissionsExt;
    let bridge = Bridge::start_with(Options::default().env("OP_SESSION_RELOAD_INTERVAL", "100ms"));
    let old = bridge.token.clone();
    // Someone widens the mode and writes a session of their own (a new token) into the file.
    let planted = init_session(&bridge.session, true);
    std::fs::set_permissions(&bridge.session, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(bridge.wait_for_log("session file change refused", Duration::from_secs(10)));
    assert_eq!(
        bridge.users_status(&planted).await,
        401,
        "the planted token must not work"
    );
    assert_eq!(
        bridge.users_status(&old).await,
        200,
        "the previous session stays in force"
    );
    let health = bridge.health_with(&format!("Bearer {old}")).await;
    let session = health["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "Session")
        .unwrap();
    assert_eq!(session["state"], "degraded", "{session}");
    // Put right, the new file is taken.
    std::fs::set_permissions(&bridge.session, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(
        wait_for_status(&bridge, &planted, 200).await,
        "the mended file is loaded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_keys_and_authorization_headers_never_reach_a_log_line() {
    for (format_var, level_var) in [("OP_JSON_LOGS", "OP_TRACE"), ("OP_PRETTY_LOGS", "OP_DEBUG")] {
        let mut bridge = Bridge::start_with(
            Options::default()
                .env(format_var, "1")
                .env(level_var, "1")
                .env("OP_SESSION_RELOAD_INTERVAL", "100ms"),
        );
        let wrong = "sbt_ThisIsAWrongTokenThatMustNotBeLogged0000000";
        let c = client();
        for (path, token) in [
            ("/scim/v2/Users", bridge.token.as_str()),
            (
                "/scim/v2/Users?filter=userName%20eq%20%22alice%40example.com%22",
                bridge.token.as_str(),
            ),
            ("/health", bridge.token.as_str()),
            ("/scim/v2/Users", wrong),
            ("/scim/v2/Nope", bridge.token.as_str()),
        ] {
            let _ = c
                .get(bridge.url(path))
                .header("Authorization", format!("Bearer {token}"))
                .send()
                .await
                .unwrap();
        }
        let _ = c
            .post(bridge.url("/scim/v2/Users"))
            .header("Authorization", format!("Bearer {}", bridge.token))
            .body(r#"{"userName":"alice@example.com","password":"hunter2-secret"}"#)
            .send()
            .await
            .unwrap();
        // Force a reload and a refusal, so session handling logs too.
        std::fs::write(&bridge.session, b"not json").unwrap();
        assert!(bridge.wait_for_log("refused", Duration::from_secs(10)));
        bridge.terminate();
        assert!(bridge.wait_exit(Duration::from_secs(20)).success());

        let logs = format!("{}\n{}", bridge.logs(), bridge.stdout());
        assert!(
            logs.contains("listening"),
            "the test must see real log output: {logs}"
        );
        assert!(
            logs.lines().count() > 5,
            "expected debug/trace lines: {logs}"
        );
        let token_body = &bridge.token["sbt_".len()..];
        for secret in [
            token_body,
            &wrong[4..],
            "hunter2-secret",
            "alice@example.com",
        ] {
            assert!(
                !logs.contains(secret),
                "{secret} leaked into logs ({format_var}):\n{logs}"
            );
        }
        assert!(
            !logs.to_ascii_lowercase().contains("authorization: bearer"),
            "{logs}"
        );
    }
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_exits_0() {
    let mut bridge = Bridge::start();
    let body = br#"{"userName":"in-flight"}"#;
    let mut stream = TcpStream::connect(bridge.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
        bridge.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    bridge.terminate();
    assert!(bridge.wait_for_log("stopped accepting", Duration::from_secs(10)));
    assert!(
        TcpStream::connect_timeout(&bridge.addr, Duration::from_secs(2)).is_err(),
        "new connections must be refused once shutdown begins"
    );
    stream.write_all(&body[5..]).unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&response).contains("\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "connection closed before the in-flight request was answered"
        );
        response.extend_from_slice(&buf[..n]);
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 "), "{response}");
    assert!(response.contains("application/scim+json"), "{response}");
    let status = bridge.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", bridge.logs());
}

#[test]
fn a_request_that_never_finishes_does_not_hold_shutdown_past_the_grace_period() {
    let mut bridge = Bridge::start_with(Options::default().env("OP_SHUTDOWN_GRACE", "1s"));
    let mut stream = TcpStream::connect(bridge.addr).unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 100\r\n\r\n{{",
        bridge.token
    );
    stream.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    bridge.terminate();
    let status = bridge.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "exited before the grace period: {took:?}"
    );
    assert!(
        bridge.logs().contains("grace period over"),
        "{}",
        bridge.logs()
    );
}
