//! The command line: `init`, `check-config`, `ping`, and start-up failures with their exit
//! codes.

use std::os::unix::fs::PermissionsExt;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

use crate::helpers::bridge::{init_session, run, Bridge};

#[test]
fn init_prints_only_the_token_and_writes_a_0600_session_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stdout, stderr) = run(&["init", "--session", "s/scimsession"], &[], dir.path());
    assert!(status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout must hold the token alone: {stdout:?}"
    );
    let token = lines[0];
    let body = token.strip_prefix("sbt_").expect("token prefix");
    assert_eq!(
        URL_SAFE_NO_PAD.decode(body).unwrap().len(),
        32,
        "256 bits of entropy"
    );
    assert!(
        !stderr.contains(token),
        "hints on stderr must not repeat the token"
    );

    let path = dir.path().join("s/scimsession");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(token),
        "the session file must not contain the token"
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["version"], 1);
    assert!(doc["tokens"][0]["verifier"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let key = base64::engine::general_purpose::STANDARD
        .decode(doc["encryptionKey"].as_str().unwrap())
        .unwrap();
    assert_eq!(key.len(), 32);
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let (status, first, _) = run(&["init", "--session", "scimsession"], &[], dir.path());
    assert!(status.success());
    let before = std::fs::read(dir.path().join("scimsession")).unwrap();
    let (status, stdout, stderr) = run(&["init", "--session", "scimsession"], &[], dir.path());
    assert_eq!(status.code(), Some(64));
    assert!(stdout.is_empty());
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("scimsession")).unwrap(),
        before
    );

    let (status, second, _) = run(
        &["init", "--session", "scimsession", "--force"],
        &[],
        dir.path(),
    );
    assert!(status.success());
    assert_ne!(first.trim(), second.trim());
    assert_ne!(
        std::fs::read(dir.path().join("scimsession")).unwrap(),
        before
    );
}

#[test]
fn invalid_settings_exit_64_naming_the_setting_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let (status, _, stderr) = run(&["serve"], &[("OP_PORT", "eighty")], dir.path());
    assert_eq!(status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("OP_PORT") && stderr.contains("eighty"),
        "{stderr}"
    );

    std::fs::write(
        dir.path().join("bridge.toml"),
        "port = 3002\nlisten_port = 1\n",
    )
    .unwrap();
    let (status, _, stderr) = run(&["--config", "bridge.toml", "serve"], &[], dir.path());
    assert_eq!(status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("listen_port"), "{stderr}");

    let (status, _, stderr) = run(&["serve"], &[("OP_JSON_LOGS", "perhaps")], dir.path());
    assert_eq!(status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("OP_JSON_LOGS") && stderr.contains("perhaps"),
        "{stderr}"
    );

    let (status, _, stderr) = run(&["--config", "missing.toml"], &[], dir.path());
    assert_eq!(status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("missing.toml"), "{stderr}");
    assert!(
        !dir.path().join("scimsession").exists(),
        "nothing may start on bad config"
    );
}

#[test]
fn an_explicit_session_path_that_is_missing_is_an_error_not_a_new_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets/scimsession");
    let path_text = path.to_str().unwrap();
    let (status, stdout, stderr) = run(
        &["serve"],
        &[
            ("OP_SESSION", path_text),
            ("OP_PORT", "0"),
            ("OP_BIND_ADDRESS", "127.0.0.1"),
        ],
        dir.path(),
    );
    assert_eq!(status.code(), Some(66), "{stderr}");
    assert!(
        stderr.contains(path_text),
        "the error must name the path: {stderr}"
    );
    assert!(stdout.is_empty(), "no token may be printed");
    assert!(!path.exists());
}

#[test]
fn a_malformed_session_file_stops_start_up_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimsession");
    std::fs::write(&path, "{\"not\": \"a session\"}").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (status, _, stderr) = run(
        &["serve"],
        &[
            ("OP_SESSION", path.to_str().unwrap()),
            ("OP_PORT", "0"),
            ("OP_BIND_ADDRESS", "127.0.0.1"),
        ],
        dir.path(),
    );
    assert_eq!(status.code(), Some(66), "{stderr}");
    assert!(
        stderr.contains("malformed") && stderr.contains(path.to_str().unwrap()),
        "{stderr}"
    );
}

#[test]
fn a_session_file_others_may_read_or_write_stops_start_up_with_66_naming_the_path_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimsession");
    init_session(&path, false);
    let env = |p: &std::path::Path| {
        vec![
            ("OP_SESSION", p.to_str().unwrap().to_owned()),
            ("OP_PORT", "0".to_owned()),
            ("OP_BIND_ADDRESS", "127.0.0.1".to_owned()),
        ]
    };
    for mode in [0o666, 0o644, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let env = env(&path);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, stdout, stderr) = run(&["serve"], &env, dir.path());
        assert_eq!(status.code(), Some(66), "{mode:o}: {stderr}");
        assert!(
            stderr.contains(path.to_str().unwrap())
                && stderr.contains(&format!("{mode:04o}"))
                && stderr.contains("chmod 600"),
            "{stderr}"
        );
        assert!(stdout.is_empty());
        // The token commands read the file too, and refuse it alike.
        let (status, _, stderr) = run(
            &["token", "list", "--session", path.to_str().unwrap()],
            &[],
            dir.path(),
        );
        assert_eq!(status.code(), Some(66), "{stderr}");
    }
    // A symlink to a 0440 file (a Kubernetes Secret mount) is accepted: the bridge starts.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440)).unwrap();
    let link = dir.path().join("mounted");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let (status, _, stderr) = run(
        &["token", "list", "--session", link.to_str().unwrap()],
        &[],
        dir.path(),
    );
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[test]
fn check_config_prints_settings_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stdout, stderr) = run(
        &["check-config"],
        &[
            ("OP_REDIS_URL", "redis://bridge:hunter2@cache:6379"),
            ("OP_PORT", "8080"),
        ],
        dir.path(),
    );
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("port = 8080"), "{stdout}");
    assert!(stdout.contains("store = redis"), "{stdout}");
    assert!(
        !stdout.contains("hunter2") && !stderr.contains("hunter2"),
        "{stdout}"
    );
}

#[test]
fn usage_errors_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let (status, _, _) = run(&["frobnicate"], &[], dir.path());
    assert_eq!(status.code(), Some(64));
    let (status, stdout, _) = run(&["init", "--help"], &[], dir.path());
    assert!(status.success());
    assert!(
        stdout.contains("--session") && stdout.contains("Example"),
        "{stdout}"
    );
}

#[test]
fn every_command_explains_itself_with_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 11] = [
        &[],
        &["serve"],
        &["init"],
        &["check-config"],
        &["ping"],
        &["cert"],
        &["cert", "status"],
        &["token"],
        &["token", "rotate"],
        &["token", "list"],
        &["token", "revoke"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let (status, stdout, _) = run(&args, &[], dir.path());
        assert!(status.success(), "{args:?}");
        assert!(
            stdout.contains("Example"),
            "{args:?} --help gives no example:\n{stdout}"
        );
    }
}

#[test]
fn check_config_shows_the_exposure_settings_and_redacts_the_metrics_token() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "metrics-secret-0123456789abcdef";
    let (status, stdout, stderr) = run(
        &["check-config"],
        &[
            ("OP_TLS_DOMAIN", "scim.example.com"),
            ("OP_METRICS_TOKEN", secret),
            ("OP_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1"),
            ("OP_PUBLIC_URL", "https://scim.example.com/"),
        ],
        dir.path(),
    );
    assert!(status.success(), "{stderr}");
    for line in [
        "plain_http = probes",
        "hsts_max_age = 31536000",
        "public_url = https://scim.example.com",
        "metrics_token = <redacted>",
        "trusted_proxies = 10.0.0.0/8,192.0.2.1/32",
        "auth_failure_limit = 20",
        "auth_failure_window = 60s",
    ] {
        assert!(stdout.contains(line), "{line} in\n{stdout}");
    }
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
    // A refused value is not echoed either.
    let (status, _, stderr) = run(
        &["check-config"],
        &[("OP_METRICS_TOKEN", "short secret")],
        dir.path(),
    );
    assert_eq!(status.code(), Some(64));
    assert!(stderr.contains("OP_METRICS_TOKEN") && !stderr.contains("short secret"));
}

#[test]
fn ping_exits_0_when_the_running_bridge_answers_pong() {
    let bridge = Bridge::start();
    let dir = tempfile::tempdir().unwrap();
    let port = bridge.addr.port().to_string();
    // The bridge listens on 127.0.0.1; a bind address of 0.0.0.0 is asked on 127.0.0.1.
    for bind in ["127.0.0.1", "0.0.0.0"] {
        let (status, stdout, stderr) = run(
            &["ping"],
            &[("OP_BIND_ADDRESS", bind), ("OP_PORT", &port)],
            dir.path(),
        );
        assert_eq!(status.code(), Some(0), "{bind}: {stderr}");
        assert!(stdout.is_empty() && stderr.is_empty(), "{stdout}{stderr}");
    }
    // The port from the config file, as `serve` reads it.
    std::fs::write(dir.path().join("bridge.toml"), format!("port = {port}\n")).unwrap();
    let (status, _, stderr) = run(&["--config", "bridge.toml", "ping"], &[], dir.path());
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[test]
fn ping_exits_1_with_one_line_when_nothing_answers() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (status, stdout, stderr) = run(&["ping"], &[("OP_PORT", &port.to_string())], dir.path());
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{stderr}"
    );

    // A listener that accepts and never answers: the timeout, not a hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let started = std::time::Instant::now();
    let (status, _, stderr) = run(&["ping"], &[("OP_PORT", &port)], dir.path());
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no answer") && stderr.contains("within 2s"),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));

    // A configuration error is unhealthy too (1, not 64), on one line.
    let (status, _, stderr) = run(&["ping"], &[("OP_PORT", "eighty")], dir.path());
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("OP_PORT"), "{stderr}");
}
