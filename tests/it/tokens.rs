//! Token rotation against a running bridge: no failed request across the switch, the old token
//! stops after its grace period, the last active token cannot be revoked, `list` shows no secret.

use std::{
    os::unix::fs::PermissionsExt,
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use crate::helpers::bridge::{client, run, Bridge, Options};

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
    assert!(err.contains("last active token"), "{err}");
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
        ("rotate", &["--session", "--grace", "--label"][..]),
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
    let (status, _, err) = run(&["token", "rotate"], &[], dir.path());
    assert_eq!(
        status.code(),
        Some(66),
        "the default path is missing: {err}"
    );
    assert!(err.contains("scimsession"), "{err}");
}
