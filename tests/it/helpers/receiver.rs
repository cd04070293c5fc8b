//! A real webhook receiver on loopback: a hyper HTTP/1.1 server that keeps every delivery
//! (headers and body) and answers as the test says (2xx, another status, or not at all: the
//! test drops it and starts another on the same port).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`.
    pub signature: String,
    /// The body as JSON.
    pub event: serde_json::Value,
    /// The status it was answered.
    pub answered: u16,
}

/// A receiver; stops when dropped.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    got: Arc<Mutex<Vec<Delivery>>>,
    status: Arc<Mutex<u16>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts one on a free loopback port, answering 204.
    pub async fn start() -> Receiver {
        Self::start_on(0).await
    }

    /// Starts one on `port` (0: a free one).
    pub async fn start_on(port: u16) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let status = Arc::new(Mutex::new(204u16));
        let task = {
            let (got, status) = (Arc::clone(&got), Arc::clone(&status));
            tokio::spawn(async move {
                // Connections live in the accept task's set, so dropping the receiver closes
                // them too (a receiver that is down answers nothing on an open connection).
                let mut connections = tokio::task::JoinSet::new();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    while connections.try_join_next().is_some() {}
                    let (got, status) = (Arc::clone(&got), Arc::clone(&status));
                    connections.spawn(async move {
                        let service = service_fn(move |req: Request<Incoming>| {
                            let (got, status) = (Arc::clone(&got), Arc::clone(&status));
                            async move {
                                let header = |name: &str| {
                                    req.headers()
                                        .get(name)
                                        .and_then(|v| v.to_str().ok())
                                        .unwrap_or_default()
                                        .to_owned()
                                };
                                let (id, timestamp, signature) = (
                                    header("webhook-id"),
                                    header("webhook-timestamp"),
                                    header("webhook-signature"),
                                );
                                let body = req.into_body().collect().await?.to_bytes();
                                let answered = *status.lock().unwrap();
                                got.lock().unwrap().push(Delivery {
                                    id,
                                    timestamp,
                                    signature,
                                    event: serde_json::from_slice(&body)
                                        .unwrap_or(serde_json::Value::Null),
                                    answered,
                                });
                                let mut res = Response::new(Full::new(Bytes::new()));
                                *res.status_mut() = http::StatusCode::from_u16(answered).unwrap();
                                Ok::<_, hyper::Error>(res)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        };
        Receiver {
            addr,
            got,
            status,
            task,
        }
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Answers `status` from now on.
    pub fn answer(&self, status: u16) {
        *self.status.lock().unwrap() = status;
    }

    /// Every delivery so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds of the deliveries, or panics after `within`.
    pub async fn wait_until(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.deliveries();
            if done(&got) {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} within {within:?}; got {} deliveries: {:?}",
                got.len(),
                got.iter()
                    .map(|d| (&d.event["seq"], d.answered))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
