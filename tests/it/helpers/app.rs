//! The bridge started inside the test process: [`scim_bridge::app::start`] on the test's own
//! runtime, on a loopback port 0, with its own session and data directory.
//!
//! For tests of behaviour over HTTP (the SCIM API), where spawning the binary, running `init`
//! and scraping a log line for the port only cost time. Tests of the binary itself (the CLI,
//! exit codes, signals, its log output, fault hooks read from its environment) start it with
//! [`super::bridge::Bridge`] instead.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
};

use scim_bridge::{
    app::{self, Running},
    config,
    logging::RecentLogs,
    session::{self, CreateOptions},
};

use super::bridge::Options;

/// A bridge running in this process; stopped (its tasks aborted) on drop.
pub struct App {
    running: Option<Running>,
    /// The plain-HTTP address.
    pub addr: SocketAddr,
    /// The bearer token of the session it created.
    pub token: String,
    root: PathBuf,
    env: Vec<(String, String)>,
    config: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl App {
    /// Starts a bridge with a new session and embedded store.
    pub async fn start() -> App {
        Self::start_with(Options::default()).await
    }

    /// Starts a bridge with a new session in a new temporary directory. Settings come from
    /// `options.env` exactly as the binary reads its `OP_*` environment, over the loopback
    /// defaults [`Bridge`](super::bridge::Bridge) uses.
    pub async fn start_with(options: Options) -> App {
        let (dir, root) = super::bridge::workspace(options.dir);
        let session = root.join("scimsession");
        let token = if session.exists() {
            String::new()
        } else {
            let (_, token) =
                session::create(&session, CreateOptions::default()).expect("create a session");
            token.reveal().to_owned()
        };
        let running = run(&root, &options.env, options.config.as_deref()).await;
        App {
            addr: running.http_addr,
            running: Some(running),
            token,
            root,
            env: options.env,
            config: options.config,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `Bearer <token>`.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// The store this bridge runs on.
    pub fn store(&self) -> scim_bridge::store::SharedStore {
        std::sync::Arc::clone(self.running.as_ref().expect("running").store())
    }

    /// Another bridge on the same session, settings and (with Redis) store: a replica. Its
    /// token is this one's.
    pub async fn replica(&self) -> App {
        let running = run(&self.root, &self.env, self.config.as_deref()).await;
        App {
            addr: running.http_addr,
            running: Some(running),
            token: self.token.clone(),
            root: self.root.clone(),
            env: self.env.clone(),
            config: self.config.clone(),
            _dir: None,
        }
    }

    /// Shuts this bridge down gracefully (waiting for its tasks, closing the store) and starts
    /// it again on the same session, data and settings.
    pub async fn restart(mut self) -> App {
        if let Some(running) = self.running.take() {
            running.shutdown();
            running.wait().await;
        }
        let running = run(&self.root, &self.env, self.config.as_deref()).await;
        self.addr = running.http_addr;
        self.running = Some(running);
        self
    }
}

/// Loads settings from `env` (nothing from this process's environment) and starts the app.
/// With `TEST_LOG` set, the bridge's logs go to the test's output, as the binary's do.
async fn run(root: &Path, env: &[(String, String)], config: Option<&str>) -> Running {
    if std::env::var_os("TEST_LOG").is_some() {
        // Once per process; later calls find the subscriber in place.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_test_writer()
            .try_init();
    }
    let mut vars: HashMap<String, String> = [
        ("OP_SESSION", root.join("scimsession").display().to_string()),
        ("OP_DATA_DIR", root.join("data").display().to_string()),
        ("OP_BIND_ADDRESS", "127.0.0.1".to_owned()),
        ("OP_PORT", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    vars.extend(env.iter().cloned());
    let settings = config::load(config, &|name| vars.get(name).cloned()).expect("valid settings");
    app::start(settings, RecentLogs::default())
        .await
        .expect("the bridge starts")
}

impl Drop for App {
    fn drop(&mut self) {
        // Dropping `Running` aborts its listeners and background tasks.
        if let Some(running) = self.running.take() {
            running.shutdown();
        }
    }
}
