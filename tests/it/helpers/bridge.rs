//! Starts the real `scim-bridge` binary on a loopback port with its own session and data
//! directory, captures its logs, and stops it on drop.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_scim-bridge")
}

/// Runs `scim-bridge init --session PATH` and returns the token it printed.
pub fn init_session(path: &Path, force: bool) -> String {
    let mut cmd = Command::new(binary());
    cmd.args(["init", "--session"]).arg(path);
    if force {
        cmd.arg("--force");
    }
    let out = cmd.output().expect("run scim-bridge init");
    assert!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).expect("token is UTF-8");
    token.trim().to_owned()
}

/// A running bridge process.
pub struct Bridge {
    child: Child,
    /// The plain-HTTP address.
    pub addr: SocketAddr,
    /// The token from `init`.
    pub token: String,
    /// The session file.
    pub session: PathBuf,
    logs: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<String>>>,
    /// The extra environment it was started with (a restart reuses it).
    env: Vec<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// Options for [`Bridge::start`].
#[derive(Default)]
pub struct Options {
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Use this directory instead of a new temporary one.
    pub dir: Option<PathBuf>,
    /// The TOML config file's text (for settings only a file can hold, such as
    /// `[[webhooks]]`); only the in-process [`App`](super::app::App) reads it.
    pub config: Option<String>,
}

impl Options {
    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets the config file's text (in-process bridges only).
    pub fn config(mut self, toml: impl Into<String>) -> Self {
        self.config = Some(toml.into());
        self
    }
}

/// Removes ANSI colour sequences (`OP_PRETTY_LOGS`), so tests read the text.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip up to and including the final byte of the CSI sequence.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn pump(stream: impl std::io::Read + Send + 'static, sink: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let line = strip_ansi(&line);
            if std::env::var_os("TEST_LOG").is_some() {
                eprintln!("[bridge] {line}");
            }
            sink.lock().unwrap().push(line);
        }
    });
}

fn listening_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains("listening") || line.contains("ping server") {
        return None;
    }
    let rest = line
        .split_once("addr=")
        .or_else(|| line.split_once("\"addr\":\""))?
        .1;
    let end = rest.find([' ', '"']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The directory a bridge keeps its session and data in: `dir`, or a new temporary one (owned by
/// the first value, removed when it is dropped).
pub fn workspace(dir: Option<PathBuf>) -> (Option<tempfile::TempDir>, PathBuf) {
    match dir {
        Some(d) => (None, d),
        None => {
            let t = tempfile::tempdir().expect("temp dir");
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

impl Bridge {
    /// Starts a bridge with a fresh session and embedded store.
    pub fn start() -> Bridge {
        Self::start_with(Options::default())
    }

    /// Starts a bridge with options; panics if it is not listening within 30 s.
    pub fn start_with(options: Options) -> Bridge {
        assert!(
            options.config.is_none(),
            "config text is read only by the in-process App"
        );
        let (dir, root) = workspace(options.dir);
        let session = root.join("scimsession");
        let token = if session.exists() {
            String::new()
        } else {
            init_session(&session, false)
        };
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .current_dir(&root)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OP_SESSION", &session)
            .env("OP_DATA_DIR", root.join("data"))
            .env("OP_BIND_ADDRESS", "127.0.0.1")
            .env("OP_PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let env = options.env;
        let mut child = cmd.spawn().expect("spawn scim-bridge serve");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        pump(child.stderr.take().unwrap(), Arc::clone(&logs));
        pump(child.stdout.take().unwrap(), Arc::clone(&stdout));
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            if let Some(addr) = logs.lock().unwrap().iter().find_map(|l| listening_addr(l)) {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "scim-bridge exited early with {status}:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "scim-bridge did not start listening in 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Bridge {
            child,
            addr,
            token,
            session,
            logs,
            stdout,
            env,
            _dir: dir,
        }
    }

    /// Stops this bridge with SIGTERM (asserting a clean exit) and starts a new process on the
    /// same directory (session, embedded data) and environment (a Redis URL, say).
    pub fn restart(mut self) -> Bridge {
        self.terminate();
        let status = self.wait_exit(Duration::from_secs(15));
        assert!(status.success(), "exit {status}:\n{}", self.logs());
        self.respawn()
    }

    /// Kills this bridge with SIGKILL (no shutdown of any kind: a crash) and starts a new
    /// process on the same directory and environment.
    pub fn kill_and_restart(mut self) -> Bridge {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.respawn()
    }

    /// A new process on this one's directory, environment and token (this one has exited).
    fn respawn(mut self) -> Bridge {
        let root = self
            .session
            .parent()
            .expect("a session in a directory")
            .to_path_buf();
        let mut next = Bridge::start_with(Options {
            env: std::mem::take(&mut self.env),
            dir: Some(root),
            config: None,
        });
        next.token = std::mem::take(&mut self.token);
        next._dir = self._dir.take();
        next
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `Bearer <token>`.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// `GET /health` with the bridge's token, as JSON (any status).
    pub async fn health(&self) -> serde_json::Value {
        self.health_with(&self.bearer()).await
    }

    /// `GET /health` with the given `Authorization` value, as JSON (any status).
    pub async fn health_with(&self, authorization: &str) -> serde_json::Value {
        client()
            .get(self.url("/health"))
            .header("Authorization", authorization)
            .send()
            .await
            .expect("GET /health")
            .json()
            .await
            .expect("/health answers JSON")
    }

    /// The report of one component in `/health`.
    pub async fn health_report(&self, source: &str) -> serde_json::Value {
        let health = self.health().await;
        health["reports"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["source"] == source))
            .cloned()
            .unwrap_or_else(|| panic!("no {source} report in {health}"))
    }

    /// The status of `GET /scim/v2/Users` with `token`; 0 when no answer came (connection
    /// refused or reset), so callers can count failures.
    pub async fn users_status(&self, token: &str) -> u16 {
        client()
            .get(self.url("/scim/v2/Users"))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16())
    }

    /// `GET /metrics` as text.
    pub async fn metrics(&self) -> String {
        metrics(self.addr).await
    }

    /// Everything written to standard error so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Everything written to standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the log pumps drain.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "scim-bridge did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a log line contains `needle`, up to `limit`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.logs.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion with the given arguments and environment (nothing else).
pub fn run(args: &[&str], env: &[(&str, &str)], dir: &Path) -> (ExitStatus, String, String) {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn scim-bridge");
    let out = wait_output(child, Duration::from_secs(30));
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn wait_output(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("collect output");
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("scim-bridge did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET /metrics` of the bridge listening on `addr`, as text.
pub async fn metrics(addr: SocketAddr) -> String {
    client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("/metrics body")
}

/// An HTTP client for tests (no proxies: everything stays on loopback).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}
