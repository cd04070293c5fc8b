//! The README's walkthrough, as a new user follows it: `scripts/pebble-demo` creates the
//! session, starts pebble and the bridge with `OP_TLS_DOMAIN`, and says when HTTPS is ready;
//! then the status page, opened over HTTPS on the domain in headless Chromium, signs in with
//! the printed token and shows the pebble-issued certificate. Everything on loopback ports.

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::browser::{Driver, Session};
use crate::{
    helpers::{bridge::binary, pebble::free_port},
    tls::{https_client, list_users, DOMAIN},
};

/// The demo script in its own process group, so the bridge and pebble stop with it.
struct Demo {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
}

impl Demo {
    fn signal(&self, signal: &str) {
        // A negative pid signals the whole process group.
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }

    /// Waits (bounded) until a line satisfies `ok`; returns it.
    fn wait_line(&mut self, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.out.lock().unwrap().iter().find(|l| ok(l)) {
                return line.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("pebble-demo exited with {status}:\n{}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "pebble-demo said nothing matching within {limit:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

fn collect(stream: impl std::io::Read + Send + 'static, sink: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_walkthrough_reaches_a_signed_in_page_with_a_pebble_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let demo_dir = tmp.path().join("pebble-demo");
    let https_port = free_port();
    let http_port = free_port();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("scripts/pebble-demo"))
        .current_dir(tmp.path())
        .env("SCIM_BRIDGE", binary())
        .env("DEMO_DIR", &demo_dir)
        .env("DEMO_DOMAIN", DOMAIN)
        .env("DEMO_HTTP_PORT", http_port.to_string())
        .env("DEMO_HTTPS_PORT", https_port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for name in [
        "DEMO_ACME_PORT",
        "DEMO_ACME_MGMT_PORT",
        "DEMO_DNS_PORT",
        "DEMO_DNS_MGMT_PORT",
    ] {
        cmd.env(name, free_port().to_string());
    }
    let mut child = cmd.spawn().expect("run scripts/pebble-demo");
    let out = Arc::new(Mutex::new(Vec::new()));
    collect(child.stdout.take().unwrap(), Arc::clone(&out));
    collect(child.stderr.take().unwrap(), Arc::clone(&out));
    let mut demo = Demo { child, out };

    // Step 1: the token, printed once (the only stdout line that looks like one).
    let token = demo.wait_line(Duration::from_secs(30), |l| l.starts_with("sbt_"));
    // Step 2: the certificate is issued and served.
    demo.wait_line(Duration::from_secs(60), |l| l.starts_with("HTTPS ready"));

    // Step 4 of the README: curl with pebble's root, here the same call through reqwest.
    let root_pem = std::fs::read_to_string(demo_dir.join("pebble-root.pem")).unwrap();
    let https = https_client(https_port, &root_pem, false);
    list_users(&https, https_port, &format!("Bearer {token}")).await;
    // The page is on HTTPS only: plain HTTP redirects to it, and the script says so.
    let plain = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = plain
        .get(format!("http://127.0.0.1:{http_port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(
        res.headers()["location"],
        format!("https://{DOMAIN}:{https_port}/").as_str()
    );
    assert!(
        !demo
            .output()
            .contains(&format!("open http://127.0.0.1:{http_port}/")),
        "{}",
        demo.output()
    );

    // Step 3, over HTTPS on the domain, as an operator visits it. Chromium resolves the test
    // name to loopback and, not trusting pebble's test root, is told to accept it (the chain
    // itself was just verified against that root above).
    let chrome = tmp.path().join("chrome");
    std::fs::create_dir_all(chrome.join("downloads")).unwrap();
    let driver = Driver::start(&chrome.join("chromedriver.log")).await;
    let rules = format!("--host-resolver-rules=MAP {DOMAIN} 127.0.0.1");
    let session = Session::with_args(
        &driver,
        &chrome.join("profile"),
        &chrome.join("downloads"),
        &[&rules, "--ignore-certificate-errors"],
    )
    .await;
    session
        .open(&format!("https://{DOMAIN}:{https_port}/"))
        .await;
    session.type_into("#token", &token).await;
    session.click("#sign-in").await;
    session.wait_text("#store-kind", |t| t == "embedded").await;
    session.wait_text("#cert-state", |t| t == "healthy").await;
    assert_eq!(session.text("#cert-domain").await, DOMAIN);
    let issuer = session.text("#cert-issuer").await;
    assert!(
        issuer.starts_with("Pebble"),
        "the issuer is pebble's: {issuer}"
    );
    // pebble issues five-year certificates; renewal comes at two thirds of that.
    let expires = session.text("#cert-expires").await;
    assert!(expires.contains("(in "), "{expires}");
    let renewal = session.text("#cert-renewal").await;
    assert!(renewal.contains("(in "), "{renewal}");
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let artifacts = root.join("target/test-artifacts");
    session
        .screenshot(&artifacts.join("walkthrough-https-status-page.png"))
        .await;
    session.close().await;

    // Ctrl-C: the script stops the bridge and pebble, and the bridge shuts down cleanly.
    demo.signal("-INT");
    let deadline = Instant::now() + Duration::from_secs(15);
    while demo.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "pebble-demo did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(demo_dir.join("bridge.log")).unwrap();
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains(&token), "the token reached the bridge's log");
}
