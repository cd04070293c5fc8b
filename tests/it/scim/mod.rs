//! The SCIM API end to end over HTTP, on BOTH stores: every test here is a function of a
//! [`Backend`] and runs once on the embedded store and once on Redis. The bridge runs inside
//! the test process ([`App`]); the few tests that read the binary's logs or set its fault hooks
//! start the binary ([`Scim::binary`]).
//! Identity-provider replays are named after their provider.

mod bulk;
mod crud;
mod deadlines;
mod discovery;
mod entra;
mod errors;
mod groups;
mod okta;
mod others;
mod query;
mod restart;
mod rfc;
mod versions;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{
    app::App,
    bridge::{Bridge, Options},
    redis::RedisServer,
};

/// Which store the bridge runs on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Backend {
    Embedded,
    Redis,
}

/// Generates one test per backend for each async test function `name(Backend)`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread")]
                async fn embedded() {
                    super::$name(crate::scim::Backend::Embedded).await
                }
                #[tokio::test(flavor = "multi_thread")]
                async fn redis() {
                    super::$name(crate::scim::Backend::Redis).await
                }
            }
        )*
    };
}
pub(crate) use on_both_stores;

/// A SCIM answer: status, headers, parsed body (Null when empty).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts a status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        &self.body
    }

    /// Asserts a SCIM error with this status and scimType.
    #[track_caller]
    pub fn expect_error(&self, status: u16, scim_type: Option<&str>) {
        self.expect(status);
        assert_eq!(self.headers["content-type"], "application/scim+json");
        assert_eq!(
            self.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(self.body["status"], status.to_string());
        assert_eq!(
            self.body.get("scimType").and_then(Value::as_str),
            scim_type,
            "{}",
            self.body
        );
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Where the bridge under test runs.
enum Host {
    /// Inside the test process (most tests).
    App(App),
    /// As the real binary, for tests that read its logs or set its fault hooks.
    Binary(Bridge),
}

/// A bridge on the chosen backend plus a SCIM client for it.
pub(crate) struct Scim {
    host: Host,
    _redis: Option<RedisServer>,
    http: reqwest::Client,
}

/// The Redis server a backend needs (none for the embedded store), and the options that point
/// the bridge at it.
fn backing(backend: Backend, options: Options) -> (Options, Option<RedisServer>) {
    match backend {
        Backend::Embedded => (options, None),
        Backend::Redis => {
            let redis = RedisServer::start();
            (options.env("OP_REDIS_URL", redis.url()), Some(redis))
        }
    }
}

impl Scim {
    /// Starts a bridge on `backend`, in this process.
    pub async fn start(backend: Backend) -> Scim {
        Self::start_with(backend, Options::default()).await
    }

    /// Starts a bridge on `backend` with extra settings, in this process.
    pub async fn start_with(backend: Backend, options: Options) -> Scim {
        let (options, redis) = backing(backend, options);
        Scim {
            host: Host::App(App::start_with(options).await),
            _redis: redis,
            http: crate::helpers::bridge::client(),
        }
    }

    /// Starts the real binary on `backend`: for tests that read its log output or set the
    /// `SCIM_BRIDGE_TEST_*` fault hooks it reads from its environment.
    pub fn binary(backend: Backend, options: Options) -> Scim {
        let (options, redis) = backing(backend, options);
        Scim {
            host: Host::Binary(Bridge::start_with(options)),
            _redis: redis,
            http: crate::helpers::bridge::client(),
        }
    }

    /// The Redis server under the bridge, on the Redis backend.
    pub fn redis(&self) -> Option<&RedisServer> {
        self._redis.as_ref()
    }

    /// The binary's process, for its logs; panics for a bridge started in-process.
    pub fn bridge(&self) -> &Bridge {
        match &self.host {
            Host::Binary(b) => b,
            Host::App(_) => panic!("this test needs the binary: start it with Scim::binary"),
        }
    }

    /// The bridge in this process; panics for the binary.
    pub fn app(&self) -> &App {
        match &self.host {
            Host::App(a) => a,
            Host::Binary(_) => panic!("this test needs the bridge in-process: Scim::start"),
        }
    }

    /// The plain-HTTP address.
    pub fn addr(&self) -> std::net::SocketAddr {
        match &self.host {
            Host::App(a) => a.addr,
            Host::Binary(b) => b.addr,
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        match &self.host {
            Host::App(a) => a.url(path),
            Host::Binary(b) => b.url(path),
        }
    }

    /// `Bearer <token>`.
    pub fn bearer(&self) -> String {
        match &self.host {
            Host::App(a) => a.bearer(),
            Host::Binary(b) => b.bearer(),
        }
    }

    /// `GET /metrics` as text.
    pub async fn metrics(&self) -> String {
        crate::helpers::bridge::metrics(self.addr()).await
    }

    /// Stops the bridge gracefully and starts it again on the same data, session and store.
    pub async fn restart(self) -> Scim {
        let host = match self.host {
            Host::App(a) => Host::App(a.restart().await),
            Host::Binary(b) => Host::Binary(b.restart()),
        };
        Scim {
            host,
            _redis: self._redis,
            http: self.http,
        }
    }

    /// SIGKILLs the binary and starts it again on the same data, session and store.
    pub fn kill_and_restart(self) -> Scim {
        let host = match self.host {
            Host::Binary(b) => Host::Binary(b.kill_and_restart()),
            Host::App(_) => panic!("a crash needs the binary: start it with Scim::binary"),
        };
        Scim {
            host,
            _redis: self._redis,
            http: self.http,
        }
    }

    /// `GET path` outside `/scim/v2` (`/events`, `/health`, `/status.json`) with the bearer
    /// token: the status and the JSON body.
    pub async fn operator(&self, path: &str) -> (reqwest::StatusCode, Value) {
        let res = self
            .http
            .get(self.url(path))
            .header("Authorization", self.bearer())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = res.status();
        let body = res
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"));
        (status, body)
    }

    /// Sends a request under `/scim/v2` with the bearer token.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = if path.starts_with("/scim") {
            self.url(path)
        } else {
            self.url(&format!("/scim/v2{path}"))
        };
        let mut req = self
            .http
            .request(method, url)
            .header("Authorization", self.bearer());
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(serde_json::to_vec(b).unwrap());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body");
        if !bytes.is_empty() || status.as_u16() >= 400 {
            assert_eq!(
                headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/scim+json"),
                "every SCIM response carries application/scim+json ({status})"
            );
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("non-JSON body ({e}): {bytes:?}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::PUT, path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Creates a user with this userName and returns its id.
    pub async fn user(&self, user_name: &str) -> String {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "name": {"givenName": "Test", "familyName": user_name},
            "emails": [{"value": user_name, "type": "work", "primary": true}],
            "active": true
        });
        let a = self.post("/Users", &body).await;
        a.expect(201)["id"].as_str().unwrap().to_owned()
    }

    /// Creates a group with these member ids and returns its id.
    pub async fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members
            .iter()
            .map(|m| serde_json::json!({"value": m}))
            .collect();
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": members
        });
        let a = self.post("/Groups", &body).await;
        a.expect(201)["id"].as_str().unwrap().to_owned()
    }

    /// The member ids of a group, sorted.
    pub async fn member_ids(&self, group: &str) -> Vec<String> {
        let a = self.get(&format!("/Groups/{group}")).await;
        let mut ids: Vec<String> = a.expect(200)["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|x| x["value"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }
}

/// URL-encodes a filter for a query string.
pub(crate) fn enc(filter: &str) -> String {
    let mut out = String::new();
    for b in filter.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
