//! The status page in a real headless Chromium, driven over plain WebDriver (the W3C JSON
//! wire protocol) with reqwest: `chromedriver` on a free loopback port, no WebDriver crate.
//! Needs the Debian packages `chromium` and `chromium-driver` (`scripts/test` installs them).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::helpers::bridge::{client, Bridge};

/// How long any one wait in the browser may take.
pub(super) const WAIT: Duration = Duration::from_secs(20);

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/lib/chromium")])
        .collect();
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

/// A `chromedriver` process on a free loopback port, killed on drop.
pub(super) struct Driver {
    child: Child,
    base: String,
}

impl Driver {
    pub(super) async fn start(log: &Path) -> Driver {
        let exe = find_program(&["chromedriver"]).unwrap_or_else(|| {
            panic!("chromedriver not found: install the Debian package `chromium-driver` (scripts/test does)")
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(exe)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(res) = client().get(format!("{}/status", driver.base)).send().await {
                if res.status().is_success() {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start in {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chromedriver with its own scratch directory (Chromium's profile, downloads and the
/// driver's log), all removed on drop.
pub(super) struct Browser {
    driver: Driver,
    tmp: tempfile::TempDir,
}

impl Browser {
    pub(super) async fn start() -> Browser {
        let tmp = tempfile::tempdir().expect("a scratch directory");
        let driver = Driver::start(&tmp.path().join("chromedriver.log")).await;
        std::fs::create_dir_all(tmp.path().join("downloads")).expect("the downloads directory");
        Browser { driver, tmp }
    }

    /// Where Chromium saves downloads.
    pub(super) fn downloads(&self) -> PathBuf {
        self.tmp.path().join("downloads")
    }

    /// A session with the page open at `url` and signed in with `token`.
    pub(super) async fn signed_in(&self, url: &str, token: &str) -> Session<'_> {
        let session = Session::new(
            &self.driver,
            &self.tmp.path().join("profile"),
            &self.downloads(),
        )
        .await;
        session.open(url).await;
        session.type_into("#token", token).await;
        session.click("#sign-in").await;
        session
    }
}

/// One browser session.
pub(super) struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl<'a> Session<'a> {
    pub(super) async fn new(driver: &'a Driver, profile: &Path, downloads: &Path) -> Session<'a> {
        Self::with_args(driver, profile, downloads, &[]).await
    }

    /// A session with extra Chromium switches (say, `--host-resolver-rules`).
    pub(super) async fn with_args(
        driver: &'a Driver,
        profile: &Path,
        downloads: &Path,
        extra: &[&str],
    ) -> Session<'a> {
        let chromium = find_program(&["chromium", "chromium-browser"]).unwrap_or_else(|| {
            panic!("chromium not found: install the Debian package `chromium` (scripts/test does)")
        });
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain(extra.iter().map(|a| a.to_string()))
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": chromium, "args": args, "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            }},
        }}});
        let res = call(
            reqwest::Method::POST,
            &format!("{}/session", driver.base),
            Some(caps),
        )
        .await;
        let id = res["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id from chromedriver: {res}"))
            .to_owned();
        Session { driver, id }
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/session/{}{}", self.driver.base, self.id, tail)
    }

    async fn post(&self, tail: &str, body: Value) -> Value {
        call(reqwest::Method::POST, &self.url(tail), Some(body)).await
    }

    async fn get(&self, tail: &str) -> Value {
        call(reqwest::Method::GET, &self.url(tail), None).await
    }

    pub(super) async fn open(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        // The W3C element reference is the object's one value.
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    pub(super) async fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.post(&format!("/element/{e}/clear"), json!({})).await;
        self.post(&format!("/element/{e}/value"), json!({ "text": text }))
            .await;
    }

    pub(super) async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.post(&format!("/element/{e}/click"), json!({})).await;
    }

    pub(super) async fn text(&self, css: &str) -> String {
        let e = self.element(css).await;
        self.get(&format!("/element/{e}/text"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(super) async fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Waits (bounded) until the element's visible text satisfies `ok`; returns it.
    pub(super) async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let t = self.text(css).await;
            if ok(&t) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "{css} still reads {t:?} after {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The browser console's errors so far (CSP violations, failed loads, script errors).
    pub(super) async fn console_errors(&self) -> Vec<String> {
        let log = self.post("/se/log", json!({"type": "browser"})).await;
        log.as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].to_string())
            .collect()
    }

    pub(super) async fn screenshot(&self, path: &Path) {
        let b64 = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        std::fs::create_dir_all(path.parent().expect("a parent directory"))
            .expect("create the artifacts directory");
        std::fs::write(path, png).expect("write the screenshot");
    }

    pub(super) async fn close(self) {
        call(reqwest::Method::DELETE, &self.url(""), None).await;
    }
}

/// One WebDriver command; returns its `value`, panicking on a WebDriver error.
async fn call(method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
    let mut req = client().request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("WebDriver {url}: {e}"));
    let status = res.status();
    let doc: Value = res
        .json()
        .await
        .unwrap_or_else(|e| panic!("WebDriver {url} answered no JSON: {e}"));
    assert!(
        status.is_success(),
        "WebDriver {url} failed ({status}): {doc}"
    );
    doc["value"].clone()
}

/// Waits (bounded) for a finished `scim-bridge-*.log` in `dir`; returns its name and text.
async fn wait_for_log_file(dir: &Path) -> (String, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = std::fs::read_dir(dir)
            .expect("read the downloads directory")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("scim-bridge-") && n.ends_with(".log"));
        if let Some(name) = found {
            // Chromium writes to a `.crdownload` file and renames it when done.
            let text = std::fs::read_to_string(dir.join(&name)).expect("read the log download");
            return (name, text);
        }
        let names: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "no scim-bridge-*.log in {} after {WAIT:?}: {names:?}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_page_signs_in_shows_counts_and_refuses_a_wrong_token() {
    let bridge = Bridge::start();
    for name in ["ann@example.com", "ben@example.com"] {
        let res = client()
            .post(bridge.url("/scim/v2/Users"))
            .header("Authorization", bridge.bearer())
            .header("Content-Type", "application/scim+json")
            .json(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let browser = Browser::start().await;
    let downloads = browser.downloads();
    let session = browser.signed_in(&bridge.url("/"), &bridge.token).await;
    session.wait_text("#users-total", |t| t == "2").await;
    session.wait_text("#users-active", |t| t == "2").await;
    assert_eq!(session.text("#store-kind").await, "embedded");
    assert_eq!(session.text("#version").await, env!("CARGO_PKG_VERSION"));
    assert!(session.text("#activity").await.contains("POST"));
    // The token table: the one token, active, used (the page's own requests use it).
    let tokens = session.text("#tokens").await;
    assert!(
        tokens.contains("initial") && tokens.contains("active") && tokens.contains("scim"),
        "{tokens}"
    );
    // It never expires, and its last use is today.
    assert_eq!(tokens.matches("never").count(), 1, "{tokens}");
    assert!(tokens.contains("(today)"), "{tokens}");
    // The token is in neither a cookie nor the URL.
    let leak = session
        .script("return [document.cookie, location.href].join(' ')")
        .await;
    let leak = leak.as_str().unwrap_or_default();
    assert!(!leak.contains(&bridge.token), "token leaked: {leak}");
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    session.screenshot(&artifacts.join("status-page.png")).await;

    // The activity download: a JSON file of what the page shows.
    session.click("#download-activity").await;
    let file = downloads.join("scim-bridge-activity.json");
    let deadline = Instant::now() + WAIT;
    let saved: Value = loop {
        if let Ok(Ok(v)) = std::fs::read(&file).map(|b| serde_json::from_slice(&b)) {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no download at {}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let saved = saved.as_array().cloned().unwrap_or_default();
    assert_eq!(saved.len(), 2, "{saved:?}");
    assert!(saved
        .iter()
        .all(|e| e["method"] == "POST" && e["status"] == 201));
    assert!(!Value::Array(saved).to_string().contains("example.com"));

    // The log download: fetched with the token, saved under the server's file name.
    session.click("#download-logs").await;
    let (name, log) = wait_for_log_file(&downloads).await;
    assert!(
        log.lines()
            .any(|l| l.contains("scim_bridge::app: listening")),
        "no start-up line in {name}:\n{log}"
    );
    assert!(!log.contains(&bridge.token), "the token is in {name}");
    assert!(
        !log.contains("example.com"),
        "personal data in {name}:\n{log}"
    );
    assert!(session.text("#download-error").await.is_empty());

    session.click("#sign-out").await;
    session.type_into("#token", "not-the-token").await;
    session.click("#sign-in").await;
    let error = session.wait_text("#error", |t| !t.is_empty()).await;
    assert!(error.contains("did not accept"), "{error}");
    // The console log is live: the refused request shows up in it.
    let errors = session.console_errors().await;
    assert!(errors.iter().any(|e| e.contains("401")), "{errors:?}");
    let stored = session
        .script("return sessionStorage.getItem('scim-bridge-token')")
        .await;
    assert!(stored.is_null(), "a refused token stays stored: {stored}");
    session.close().await;
}

#[tokio::test]
async fn the_webhook_card_shows_a_disabled_endpoint_and_its_enable_button_works() {
    let receiver = crate::helpers::receiver::Receiver::start().await;
    receiver.answer(410);
    let bridge = Bridge::start_with(
        crate::helpers::bridge::Options::default()
            .env("OP_WEBHOOK_URL", receiver.url())
            .env(
                "OP_WEBHOOK_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
    );
    let res = client()
        .post(bridge.url("/scim/v2/Users"))
        .header("Authorization", bridge.bearer())
        .header("Content-Type", "application/scim+json")
        .json(&json!({"userName": "ann@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let browser = Browser::start().await;
    let session = browser.signed_in(&bridge.url("/"), &bridge.token).await;
    let card = session
        .wait_text("#webhooks", |t| t.contains("disabled"))
        .await;
    assert!(card.contains("410") && card.contains("default"), "{card}");
    receiver.answer(204);
    session.click("button[data-action=\"enable\"]").await;
    let card = session
        .wait_text("#webhooks", |t| t.contains("delivering"))
        .await;
    assert!(!card.contains("Enable"), "{card}");
    receiver
        .wait_until(WAIT, "the event delivered after Enable", |d| {
            d.iter().any(|d| d.answered == 204 && d.event["seq"] == 1)
        })
        .await;
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    session.close().await;
}
