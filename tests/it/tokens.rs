//! Token rotation against a running bridge: no failed request across the switch, the old token
//! stops after its grace period, the last active token cannot be revoked, `list` shows no secret.
//! Last use: recorded per token by the running bridge, persisted (a file beside the embedded
//! store, a record in Redis shared by replicas) and shown by `token list` and `/status.json`.

use std::{
    os::unix::fs::PermissionsExt,
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use crate::helpers::{
    bridge::{client, run, Bridge, Options},
    redis::{free_port, RedisServer},
};

/// Runs `scim-bridge token ARGS --session PATH` off the async runtime.
async fn token_cmd(args: &[&str], session: &Path) -> (i32, String, String) {
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.insert(0, "token".into());
    args.push("--session".into());
    args.push(session.display().to_string());
    let dir = session.parent().expect("session dir").to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, out, err) = run(&args, &[], &dir);
        (status.code().unwrap_or(-1), out, err)
    })
    .await
    .expect("token command task")
}

fn encryption_key(session: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(session).expect("read session");
    serde_json::from_str::<serde_json::Value>(&text).expect("session JSON")["encryptionKey"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_overlaps_without_a_failed_request_then_the_old_token_expires() {
    let bridge = Bridge::start_with(Options::default().env("OP_SESSION_RELOAD_INTERVAL", "100ms"));
    let old = bridge.token.clone();
    assert_eq!(bridge.users_status(&old).await, 200);
    let key_before = encryption_key(&bridge.session);

    // A bounded request loop (count and time) on loopback, with whichever token is current.
    let current = Arc::new(Mutex::new(old.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let url = bridge.url("/scim/v2/Users");
    let worker = {
        let (current, stop, ok, failed) =
            (current.clone(), stop.clone(), ok.clone(), failed.clone());
        tokio::spawn(async move {
            let http = client();
            let deadline = Instant::now() + Duration::from_secs(30);
            for _ in 0..5_000 {
                if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                    break;
                }
                let token = current.lock().unwrap().clone();
                let status = http
                    .get(&url)
                    .header("Authorization", format!("Bearer {token}"))
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16());
                let counter = if status == 200 { &ok } else { &failed };
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let rotated_at = Instant::now();
    let (code, out, err) = token_cmd(
        &["rotate", "--grace", "5s", "--label", "second"],
        &bridge.session,
    )
    .await;
    assert_eq!(code, 0, "rotate failed: {err}");
    let new = out.trim().to_owned();
    assert!(
        new.starts_with("sbt_") && !out.contains(' '),
        "stdout is the token alone: {out:?}"
    );
    assert_ne!(new, old);
    let mode = std::fs::metadata(&bridge.session)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        encryption_key(&bridge.session),
        key_before,
        "the at-rest key must not change"
    );

    let deadline = Instant::now() + Duration::from_secs(4);
    while bridge.users_status(&new).await != 200 {
        assert!(
            Instant::now() < deadline,
            "the bridge never accepted the new token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_switch = ok.load(Ordering::SeqCst);
    *current.lock().unwrap() = new.clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    worker.await.expect("request loop");
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no request may fail across the switch"
    );
    assert!(
        before_switch > 10,
        "too few requests with the old token: {before_switch}"
    );
    assert!(
        ok.load(Ordering::SeqCst) > before_switch + 10,
        "too few with the new token"
    );
    assert!(
        rotated_at.elapsed() < Duration::from_secs(5),
        "the switch ran past the grace period"
    );
    assert_eq!(
        bridge.users_status(&old).await,
        200,
        "old token valid during grace"
    );

    // After the grace period the old token is refused and the new one still works.
    let deadline = rotated_at + Duration::from_secs(15);
    while bridge.users_status(&old).await != 401 {
        assert!(
            Instant::now() < deadline,
            "the old token still works after its grace period"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        rotated_at.elapsed() >= Duration::from_secs(4),
        "old token refused too early"
    );
    assert_eq!(bridge.users_status(&new).await, 200);

    let (code, _, err) = token_cmd(&["revoke", "second"], &bridge.session).await;
    assert_eq!(code, 64, "revoking the last active token must be refused");
    assert!(err.contains("last active scim token"), "{err}");
    let (code, _, err) = token_cmd(&["revoke", "nope"], &bridge.session).await;
    assert_eq!(code, 64, "{err}");
    assert_eq!(bridge.users_status(&new).await, 200);

    let (code, out, _) = token_cmd(&["list"], &bridge.session).await;
    assert_eq!(code, 0);
    assert!(out.contains("initial") && out.contains("second"), "{out}");
    assert!(out.contains("expired") && out.contains("never"), "{out}");
    assert!(
        !out.contains("sbt_") && !out.contains("sha256:"),
        "list leaks a secret: {out}"
    );

    let missing = bridge.session.with_file_name("no-such-session");
    let (code, _, err) = token_cmd(&["list"], &missing).await;
    assert_eq!(code, 66);
    assert!(err.contains("no-such-session"), "{err}");
}

#[test]
fn token_subcommands_explain_their_flags_and_refuse_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    for (cmd, flags) in [
        (
            "rotate",
            &["--session", "--grace", "--label", "--scope"][..],
        ),
        ("add", &["--session", "--label", "--scope"][..]),
        ("list", &["--session"][..]),
        ("revoke", &["--session", "<LABEL>"][..]),
    ] {
        let (status, stdout, _) = run(&["token", cmd, "--help"], &[], dir.path());
        assert!(status.success());
        assert!(stdout.contains("Example"), "{stdout}");
        for flag in flags {
            assert!(stdout.contains(flag), "{cmd} --help lacks {flag}: {stdout}");
        }
    }
    let (status, _, err) = run(&["token", "rotate", "--grace", "soon"], &[], dir.path());
    assert_eq!(status.code(), Some(64), "{err}");
    let (status, _, err) = run(
        &["token", "add", "--label", "x", "--scope", "admin"],
        &[],
        dir.path(),
    );
    assert_eq!(status.code(), Some(64), "{err}");
    assert!(err.contains("scim or events"), "{err}");
    let (status, _, err) = run(&["token", "rotate"], &[], dir.path());
    assert_eq!(
        status.code(),
        Some(66),
        "the default path is missing: {err}"
    );
    assert!(err.contains("scimsession"), "{err}");
}

/// Runs `scim-bridge token list --session PATH` in the session's directory with `env` only.
async fn token_list(session: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let session = session.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let path = session.display().to_string();
        let dir = session.parent().expect("session dir");
        let (status, out, err) = run(&["token", "list", "--session", &path], &env, dir);
        (status.code().unwrap_or(-1), out, err)
    })
    .await
    .expect("token list task")
}

/// The LAST USE column of `label`'s row in `token list` output.
fn last_use_of<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(label))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no row for {label}: {out}"))
}

/// Asserts `text` is an RFC 3339 time within `window` (whole seconds, so widened by 1 s).
fn assert_within(text: &str, window: (time::OffsetDateTime, time::OffsetDateTime)) {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| panic!("not an RFC 3339 time: {text:?}"));
    let second = time::Duration::seconds(1);
    assert!(
        t >= window.0 - second && t <= window.1 + second,
        "{text} is not between {} and {}",
        window.0,
        window.1
    );
}

/// Rotates to a second token (the first stays valid for an hour) and waits until the bridge
/// accepts it; returns the new token. No request uses the initial token.
async fn rotate_to_second(bridge: &Bridge, session: &Path) -> String {
    let (code, out, err) =
        token_cmd(&["rotate", "--grace", "1h", "--label", "second"], session).await;
    assert_eq!(code, 0, "rotate failed: {err}");
    let new = out.trim().to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    while bridge.users_status(&new).await != 200 {
        assert!(
            Instant::now() < deadline,
            "the new token was never accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    new
}

/// `GET /status.json` with `token`: the `tokens` array.
async fn status_tokens(bridge: &Bridge, token: &str) -> Vec<serde_json::Value> {
    let res = client()
        .get(bridge.url("/status.json"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("GET /status.json");
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.expect("status JSON");
    doc["tokens"].as_array().cloned().expect("a tokens array")
}

fn token_row<'a>(tokens: &'a [serde_json::Value], label: &str) -> &'a serde_json::Value {
    tokens
        .iter()
        .find(|t| t["label"] == label)
        .unwrap_or_else(|| panic!("no {label} in {tokens:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn last_use_survives_a_graceful_stop_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let options = || {
        Options {
            dir: Some(dir.path().to_path_buf()),
            ..Options::default()
        }
        .env("OP_SESSION_RELOAD_INTERVAL", "100ms")
    };
    let mut bridge = Bridge::start_with(options());
    let (initial, session) = (bridge.token.clone(), bridge.session.clone());
    let (code, out, err) = token_list(&session, &[]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(last_use_of(&out, "initial"), "never", "{out}\n{err}");

    let before = time::OffsetDateTime::now_utc();
    let second = rotate_to_second(&bridge, &session).await;
    for _ in 0..5 {
        assert_eq!(bridge.users_status(&second).await, 200);
    }
    let tokens = status_tokens(&bridge, &second).await;
    let after = time::OffsetDateTime::now_utc();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert!(token_row(&tokens, "initial")["lastUsedAt"].is_null());
    assert_eq!(token_row(&tokens, "initial")["active"], true);
    assert!(token_row(&tokens, "initial")["expiresAt"].is_string());
    let row = token_row(&tokens, "second");
    assert!(row["expiresAt"].is_null() && row["createdAt"].is_string());
    assert_within(
        row["lastUsedAt"].as_str().expect("lastUsedAt"),
        (before, after),
    );
    let text = serde_json::Value::Array(tokens.clone()).to_string();
    assert!(
        !text.contains("sbt_") && !text.contains("sha256:"),
        "{text}"
    );

    // The default flush period (30 s) is far off: the graceful stop persists the uses.
    bridge.terminate();
    assert!(bridge.wait_exit(Duration::from_secs(20)).success());
    let file = dir.path().join("data/token-usage.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (code, out, err) = token_list(&session, &[]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(last_use_of(&out, "initial"), "never", "{out}");
    assert_within(last_use_of(&out, "second"), (before, after));
    assert!(err.is_empty(), "no note when last use was read: {err}");
    assert!(!out.contains("sbt_") && !out.contains("sha256:"), "{out}");

    // A restarted bridge starts from the persisted uses. Ask with the initial token, so the
    // request itself does not move the second token's clock.
    let persisted = last_use_of(&out, "second").to_owned();
    let bridge = Bridge::start_with(options());
    let tokens = status_tokens(&bridge, &initial).await;
    assert_eq!(
        token_row(&tokens, "second")["lastUsedAt"],
        persisted.as_str()
    );
    assert!(token_row(&tokens, "initial")["lastUsedAt"].is_string());
    drop(bridge);

    // Pointed at a data directory the bridge never used: listed, but last use unknown.
    let elsewhere = dir.path().join("elsewhere");
    let elsewhere = elsewhere.to_str().unwrap();
    let (code, out, err) = token_list(&session, &[("OP_DATA_DIR", elsewhere)]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(last_use_of(&out, "initial"), "unknown", "{out}");
    assert_eq!(last_use_of(&out, "second"), "unknown", "{out}");
    assert_eq!(err.lines().count(), 1, "one note: {err}");
    assert!(
        err.contains("elsewhere") && err.contains("does not exist"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_on_redis_share_last_use_while_they_run() {
    let redis = RedisServer::start();
    let url = redis.url();
    let env = [("OP_REDIS_URL", url.as_str())];
    let options = |dir: &Path| {
        Options {
            dir: Some(dir.to_path_buf()),
            ..Options::default()
        }
        .env("OP_REDIS_URL", redis.url())
        .env("OP_SESSION_RELOAD_INTERVAL", "100ms")
        .env("OP_TOKEN_USAGE_FLUSH", "200ms")
    };
    let dir_a = tempfile::tempdir().unwrap();
    let mut a = Bridge::start_with(options(dir_a.path()));
    let initial = a.token.clone();
    let session = a.session.clone();

    let before = time::OffsetDateTime::now_utc();
    let second = rotate_to_second(&a, &session).await;
    assert_eq!(a.users_status(&second).await, 200);
    let after = time::OffsetDateTime::now_utc();

    // Persisted within the flush period while the bridge runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let (code, out, err) = token_list(&session, &env).await;
        assert_eq!(code, 0, "{err}");
        assert!(err.is_empty(), "{err}");
        if last_use_of(&out, "second") != "never" {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "last use never reached Redis: {out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_within(last_use_of(&out, "second"), (before, after));
    assert_eq!(last_use_of(&out, "initial"), "never", "{out}");

    // A second replica with the same session uses the initial token; both uses are kept.
    let dir_b = tempfile::tempdir().unwrap();
    std::fs::copy(&session, dir_b.path().join("scimsession")).unwrap();
    let mut b = Bridge::start_with(options(dir_b.path()));
    let before_b = time::OffsetDateTime::now_utc();
    assert_eq!(b.users_status(&initial).await, 200);
    let after_b = time::OffsetDateTime::now_utc();
    b.terminate();
    assert!(b.wait_exit(Duration::from_secs(20)).success());
    let (code, out, err) = token_list(&session, &env).await;
    assert_eq!(code, 0, "{err}");
    assert_within(last_use_of(&out, "initial"), (before_b, after_b));
    assert_within(last_use_of(&out, "second"), (before, after));

    // Replica A learns B's use when it next merges (after a use of its own), and shows it on
    // its status page.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert_eq!(a.users_status(&second).await, 200);
        let tokens = status_tokens(&a, &second).await;
        if let Some(at) = token_row(&tokens, "initial")["lastUsedAt"].as_str() {
            assert_within(at, (before_b, after_b));
            break;
        }
        assert!(Instant::now() < deadline, "A never saw B's use: {tokens:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.terminate();
    assert!(a.wait_exit(Duration::from_secs(20)).success());
}

#[test]
fn an_unreachable_redis_lists_tokens_with_last_use_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("scimsession");
    crate::helpers::bridge::init_session(&session, false);
    let url = format!("redis://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let path = session.display().to_string();
    let (status, out, err) = run(
        &["token", "list", "--session", &path],
        &[("OP_REDIS_URL", url.as_str())],
        dir.path(),
    );
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(last_use_of(&out, "initial"), "unknown", "{out}");
    assert_eq!(err.lines().count(), 1, "one note: {err}");
    assert!(
        err.contains("last use unknown") && err.contains("redis"),
        "{err}"
    );
}

/// `GET path` with `token`: the status and the SCIM error's detail, if any.
async fn get_with(bridge: &Bridge, path: &str, token: &str) -> (u16, serde_json::Value) {
    let res = client()
        .get(bridge.url(path))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("GET");
    let status = res.status().as_u16();
    let body = res.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_events_token_reads_the_feed_and_nothing_else_and_changes_no_other_token() {
    let bridge = Bridge::start_with(Options::default().env("OP_SESSION_RELOAD_INTERVAL", "100ms"));
    let scim = bridge.token.clone();
    let before = std::fs::read_to_string(&bridge.session).unwrap();
    let (code, out, err) = token_cmd(
        &["add", "--label", "billing-app", "--scope", "events"],
        &bridge.session,
    )
    .await;
    assert_eq!(code, 0, "token add failed: {err}");
    let feed = out.trim().to_owned();
    assert!(!feed.is_empty(), "{out}");
    assert_eq!(out.lines().count(), 1, "only the token on stdout: {out}");
    assert!(err.contains("events token"), "{err}");
    // The other token is byte for byte as it was: no expiry started, nothing pruned.
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bridge.session).unwrap()).unwrap();
    let before: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(after["tokens"][0], before["tokens"][0]);
    assert_eq!(after["tokens"][1]["scope"], "events");
    assert!(
        after["tokens"][0].get("scope").is_none(),
        "scim is the default, not written"
    );

    // Accepted once the bridge reloads the session.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_with(&bridge, "/events", &feed).await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the events token was never accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for path in [
        "/scim/v2/Users",
        "/events?resource=User/someone",
        "/health",
        "/status.json",
        "/logs",
        "/scim/v2/ServiceProviderConfig",
    ] {
        let (status, doc) = get_with(&bridge, path, &feed).await;
        assert_eq!(status, 403, "{path} with an events token: {doc}");
        if path.starts_with("/scim") {
            assert!(doc["detail"].as_str().unwrap().contains("/events"), "{doc}");
        }
    }
    let res = client()
        .post(bridge.url("/scim/v2/Users"))
        .header("Authorization", format!("Bearer {feed}"))
        .header("Content-Type", "application/scim+json")
        .body(r#"{"userName":"mallory@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "an events token writes nothing");
    // The scim token keeps everything, the feed included.
    assert_eq!(bridge.users_status(&scim).await, 200);
    assert_eq!(get_with(&bridge, "/events", &scim).await.0, 200);
    let (_, page) = get_with(&bridge, "/events", &feed).await;
    assert_eq!(
        page["events"],
        serde_json::json!([]),
        "the refused POST wrote no event"
    );
    // Scopes show in `token list` and `/status.json`.
    let tokens = status_tokens(&bridge, &scim).await;
    assert_eq!(token_row(&tokens, "billing-app")["scope"], "events");
    assert_eq!(token_row(&tokens, "initial")["scope"], "scim");
    let (code, out, _) = token_list(&bridge.session, &[]).await;
    assert_eq!(code, 0);
    let row = out
        .lines()
        .find(|l| l.starts_with("billing-app"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(row.split_whitespace().nth(1), Some("events"), "{out}");
    assert!(out.lines().next().unwrap().contains("SCOPE"), "{out}");
    // An events token is no way in: the last scim token still cannot be revoked.
    let (code, _, err) = token_cmd(&["revoke", "initial"], &bridge.session).await;
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("last active scim token"), "{err}");
    let metrics = crate::helpers::bridge::metrics(bridge.addr).await;
    assert!(
        metrics.contains("scim_bridge_auth_failures_total{reason=\"scope\"}"),
        "wrong-scope refusals are counted"
    );
}
