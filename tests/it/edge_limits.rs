//! Issue 9 item 1: silent and stalled connections cannot exhaust a listener. With the cap at
//! 100, 300 sockets that send nothing, (HTTPS) 50 that finish TLS and go silent, and 20 that
//! pipeline requests and never read, all from 127.0.0.2, leave `/ping` and an authenticated
//! `GET /scim/v2/Users` from 127.0.0.1 answered within 1 s, and every one of them is closed
//! within its deadline. Plus the per-client cap and the HTTP/2 idle deadline.
//!
//! Whether a connection is closed is read from `/proc/net/tcp` (the bridge's side no longer
//! `ESTABLISHED`), so the test never reads from a client that is meant not to read.

use std::{
    collections::HashMap,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tokio_util::sync::CancellationToken;

use crate::{
    helpers::{
        bridge::{Bridge, Options},
        pebble::free_port,
    },
    tls::{edge::TestCa, https_client, DOMAIN},
};

const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// Every deadline in these tests.
const DEADLINE: Duration = Duration::from_secs(2);
/// The idle deadline (longer, so an idle close is told apart from the others).
const IDLE: Duration = Duration::from_secs(3);
/// Allowed lateness past a deadline (scheduling on a busy 2-core machine).
const SLACK: Duration = Duration::from_millis(1500);

fn limits(options: Options) -> Options {
    options
        .env("OP_MAX_CONNECTIONS", "100")
        .env("OP_FIRST_BYTE_TIMEOUT", "2s")
        .env("OP_WRITE_TIMEOUT", "2s")
        .env("OP_IDLE_TIMEOUT", "3s")
        .env("OP_HEADER_READ_TIMEOUT", "2s")
        .env("OP_TLS_HANDSHAKE_TIMEOUT", "2s")
}

/// A TCP connection to `to` from `from`, optionally with a small receive buffer.
async fn connect_from(from: Ipv4Addr, to: SocketAddr, rcvbuf: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size).unwrap();
    }
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    tokio::time::timeout(Duration::from_secs(5), socket.connect(to))
        .await
        .expect("connect within 5 s")
        .expect("connect")
}

fn hex_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let ip = u32::from_str_radix(addr, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddr::from((Ipv4Addr::from(ip.to_le_bytes()), port)))
}

/// Every IPv4 TCP socket: (local, remote, state, bytes in its send queue), where state `01`
/// is ESTABLISHED.
fn tcp_sockets() -> Vec<(SocketAddr, SocketAddr, String, u64)> {
    let text = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp (Linux)");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = hex_addr(fields.get(1)?)?;
            let remote = hex_addr(fields.get(2)?)?;
            let queued = u64::from_str_radix(fields.get(4)?.split(':').next()?, 16).ok()?;
            Some((local, remote, fields.get(3)?.to_string(), queued))
        })
        .collect()
}

/// The clients the bridge still holds established on `server`, by the remote address of its
/// ESTABLISHED sockets there, with the bytes each has queued for sending. The bridge's side
/// is what counts: once it closes a socket, that socket leaves ESTABLISHED at once, even when
/// a FIN waits behind data the client never reads.
fn held_by(server: SocketAddr) -> HashMap<SocketAddr, u64> {
    tcp_sockets()
        .into_iter()
        .filter(|(local, remote, state, _)| {
            *local == server && remote.ip() == ATTACKER && state == "01"
        })
        .map(|(_, remote, _, queued)| (remote, queued))
        .collect()
}

/// Which sockets from [`ATTACKER`] the bridge held established, poll by poll.
type History = Arc<Mutex<Vec<(Instant, HashMap<SocketAddr, u64>)>>>;

/// Polls `/proc/net/tcp` every 100 ms until `stop` (bounded: 60 s at most).
fn poll_attackers(
    server: SocketAddr,
    history: History,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for _ in 0..600 {
            let open = held_by(server);
            history.lock().unwrap().push((Instant::now(), open));
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    })
}

/// When the bridge closed `a`: the first poll after the last one that showed it established
/// (at or after its deadline started); a socket missing from one listing and present in a
/// later one is not closed. `None`: established at the last poll.
fn closed_at(history: &[(Instant, HashMap<SocketAddr, u64>)], a: &Attacker) -> Option<Instant> {
    let after: Vec<&(Instant, HashMap<SocketAddr, u64>)> =
        history.iter().filter(|(at, _)| *at > a.since).collect();
    match after
        .iter()
        .rposition(|(_, open)| open.contains_key(&a.local))
    {
        None => after.first().map(|(at, _)| *at),
        Some(i) => after.get(i + 1).map(|(at, _)| *at),
    }
}

/// When the bridge's write to `a` stopped making progress: the first poll from which on its
/// send queue kept the size it had at the last poll that showed it established. The client
/// blocks long before that (the bridge stops reading while it renders responses into a send
/// buffer that grows to megabytes), so this, not the client's view, starts the write deadline.
fn stalled_at(history: &[(Instant, HashMap<SocketAddr, u64>)], a: &Attacker) -> Option<Instant> {
    let seen: Vec<(Instant, u64)> = history
        .iter()
        .filter_map(|(at, open)| open.get(&a.local).map(|q| (*at, *q)))
        .collect();
    let (_, last) = *seen.last()?;
    let changed = seen.iter().rposition(|(_, q)| *q != last);
    seen.get(changed.map_or(0, |i| i + 1)).map(|(at, _)| *at)
}

/// One attacking socket: what it did, when its deadline started, and its stream (held open
/// on our side until the end).
struct Attacker {
    kind: &'static str,
    local: SocketAddr,
    since: Instant,
    deadline: Duration,
    _held: Box<dyn Send>,
}

fn tls_connector(ca_pem: &str, alpn: &[u8]) -> tokio_rustls::TlsConnector {
    let mut config = crate::tls::trusting(ca_pem);
    config.alpn_protocols = vec![alpn.to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Pipelines `GET /` (the status page, 4.5 kB, the cheapest large answer to render) without
/// reading, until a write blocks for 300 ms (the bridge stopped reading: it is busy filling
/// its send buffer, then stalled). Bounded by 64 MB and 10 s. Returns when the write blocked.
async fn pipeline_until_blocked<S: AsyncWrite + Unpin>(stream: &mut S) -> Instant {
    let request = format!("GET / HTTP/1.1\r\nHost: {DOMAIN}\r\n\r\n");
    let chunk = request.repeat(64).into_bytes();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut written = 0usize;
    while written < 64 << 20 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(300), stream.write_all(&chunk)).await {
            Ok(Ok(())) => written += chunk.len(),
            // Blocked (or already closed by the bridge): the stall has begun.
            Ok(Err(_)) | Err(_) => return Instant::now(),
        }
    }
    panic!("the bridge read {written} bytes of requests without ever blocking");
}

/// What the well-behaved client from 127.0.0.1 saw during the flood.
#[derive(Default)]
struct Served {
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

/// From 127.0.0.1, a new connection for each of `/ping` and `GET /scim/v2/Users` every
/// 200 ms until `stop`, each allowed 1 s.
fn well_behaved(
    client: reqwest::Client,
    base: String,
    bearer: String,
    stop: CancellationToken,
    served: Arc<Mutex<Served>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let begun = Instant::now();
        // Bounded: 150 rounds (30 s) at most.
        for _ in 0..150 {
            for (path, auth) in [("/ping", false), ("/scim/v2/Users", true)] {
                let mut req = client.get(format!("{base}{path}"));
                if auth {
                    req = req.header("authorization", &bearer);
                }
                let started = Instant::now();
                let outcome =
                    tokio::time::timeout(Duration::from_secs(1), async { req.send().await }).await;
                let took = started.elapsed();
                let mut s = served.lock().unwrap();
                match outcome {
                    Ok(Ok(res)) if res.status() == 200 => s.latencies.push(took),
                    Ok(Ok(res)) => s.failures.push(format!("{path}: {}", res.status())),
                    Ok(Err(e)) => s.failures.push(format!("{path}: {e}")),
                    Err(_) => s.failures.push(format!(
                        "{path}: no answer within 1 s (asked at {:?})",
                        started.duration_since(begun)
                    )),
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    })
}

/// Runs the flood against `target` (TLS when `ca` is given) and checks both promises.
async fn flood(bridge: &Bridge, target: SocketAddr, ca: Option<&TestCa>, good: reqwest::Client) {
    let base = match ca {
        Some(_) => format!("https://{DOMAIN}:{}", target.port()),
        None => format!("http://{target}"),
    };
    let (stop, served) = (CancellationToken::new(), Arc::default());
    let history: History = Arc::default();
    let poller = poll_attackers(target, Arc::clone(&history), stop.clone());
    let watcher = well_behaved(
        good,
        base,
        bridge.bearer(),
        stop.clone(),
        Arc::clone(&served),
    );
    let mut attackers = Vec::new();
    let silent_deadline = DEADLINE; // first byte, or the TLS handshake limit
    for _ in 0..300 {
        let tcp = connect_from(ATTACKER, target, None).await;
        attackers.push(Attacker {
            kind: "silent",
            local: tcp.local_addr().unwrap(),
            since: Instant::now(),
            deadline: silent_deadline,
            _held: Box::new(tcp),
        });
    }
    let mut tls_done = 0;
    if let Some(ca) = ca {
        let connector = tls_connector(&ca.pem, b"h2");
        let mut handshakes = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let connector = connector.clone();
            handshakes.spawn(async move {
                let tcp = connect_from(ATTACKER, target, None).await;
                let local = tcp.local_addr().unwrap();
                let name = rustls::pki_types::ServerName::try_from(DOMAIN).unwrap();
                let tls =
                    tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
                        .await
                        .ok()
                        .and_then(Result::ok);
                (local, Instant::now(), tls)
            });
        }
        while let Some(done) = handshakes.join_next().await {
            let (local, since, tls) = done.unwrap();
            tls_done += usize::from(tls.is_some());
            attackers.push(Attacker {
                kind: "tls-silent",
                local,
                since,
                deadline: DEADLINE,
                _held: Box::new(tls),
            });
        }
    }
    let mut stalled = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let connector = ca.map(|ca| tls_connector(&ca.pem, b"http/1.1"));
        stalled.spawn(async move {
            let tcp = connect_from(ATTACKER, target, Some(4096)).await;
            let local = tcp.local_addr().unwrap();
            let held: Box<dyn Send>;
            let since = match connector {
                None => {
                    let mut tcp = tcp;
                    let since = pipeline_until_blocked(&mut tcp).await;
                    held = Box::new(tcp);
                    since
                }
                Some(connector) => {
                    let name = rustls::pki_types::ServerName::try_from(DOMAIN).unwrap();
                    let mut tls = connector
                        .connect(name, tcp)
                        .await
                        .expect("TLS for a non-reader");
                    let since = pipeline_until_blocked(&mut tls).await;
                    held = Box::new(tls);
                    since
                }
            };
            (local, since, held)
        });
    }
    while let Some(done) = stalled.join_next().await {
        let (local, since, held) = done.unwrap();
        attackers.push(Attacker {
            kind: "non-reader",
            local,
            since,
            deadline: DEADLINE,
            _held: held,
        });
    }
    let flood_took = attackers[0].since.elapsed();

    // Wait until two polls in a row after the flood show no attacker held (bounded: 20 s);
    // each one's deadline is checked afterwards.
    let flood_done = Instant::now();
    while flood_done.elapsed() < Duration::from_secs(20) {
        let done = history
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(2)
            .filter(|(at, open)| {
                *at > flood_done && attackers.iter().all(|a| !open.contains_key(&a.local))
            })
            .count()
            == 2;
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    watcher.await.unwrap();
    poller.await.unwrap();
    let history = std::mem::take(&mut *history.lock().unwrap());
    for a in attackers.iter_mut().filter(|a| a.kind == "non-reader") {
        if let Some(at) = stalled_at(&history, a) {
            a.since = a.since.max(at);
        }
    }
    let closed_at: Vec<Option<Instant>> =
        attackers.iter().map(|a| closed_at(&history, a)).collect();

    let mut late = Vec::new();
    let mut worst: HashMap<&str, Duration> = HashMap::new();
    for (a, closed) in attackers.iter().zip(&closed_at) {
        match closed {
            Some(at) => {
                let after = at.saturating_duration_since(a.since);
                let w = worst.entry(a.kind).or_default();
                *w = (*w).max(after);
                if after > a.deadline + SLACK {
                    late.push(format!("{} {} closed after {after:?}", a.kind, a.local));
                }
            }
            None => late.push(format!("{} {} still open", a.kind, a.local)),
        }
    }
    let served = std::mem::take(&mut *served.lock().unwrap());
    let max_latency = served.latencies.iter().max().copied().unwrap_or_default();
    let metrics = bridge.metrics().await;
    let closed_lines: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("scim_bridge_connections_closed_total")
                || l.starts_with("scim_bridge_open_connections")
        })
        .collect();
    eprintln!(
        "flood on {}: {} attackers opened in {flood_took:?} ({tls_done} TLS handshakes completed); \
         slowest close after its deadline started, by kind: {worst:?}; well-behaved client: {} \
         answers, slowest {max_latency:?}, {} failures\n{}",
        if ca.is_some() { "https" } else { "http" },
        attackers.len(),
        served.latencies.len(),
        served.failures.len(),
        closed_lines.join("\n")
    );
    assert!(
        late.is_empty(),
        "{} not closed in time: {late:#?}",
        late.len()
    );
    assert!(
        served.failures.is_empty(),
        "the well-behaved client was not served: {:?}\n{}",
        served.failures,
        bridge.logs()
    );
    assert!(
        served.latencies.len() >= 10,
        "too few answers: {}",
        served.latencies.len()
    );
    assert!(max_latency < Duration::from_secs(1), "{max_latency:?}");
    assert!(
        late.is_empty(),
        "{} not closed in time: {late:#?}",
        late.len()
    );
    for reason in ["evicted", "write_timeout"] {
        assert!(
            closed_lines.iter().any(|l| l.contains(reason)),
            "{reason} not counted: {closed_lines:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_and_stalled_clients_cannot_exhaust_the_plain_http_listener() {
    let bridge = Bridge::start_with(limits(Options::default()));
    let good = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    flood(&bridge, bridge.addr, None, good).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_and_stalled_clients_cannot_exhaust_the_https_listener() {
    let (ca, dir, port) = (TestCa::new(), tempfile::tempdir().unwrap(), free_port());
    let (chain, key, _) = ca.leaf(DOMAIN);
    std::fs::write(dir.path().join("chain.pem"), chain).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    let bridge = Bridge::start_with(limits(
        Options::default()
            .env("OP_TLS_DOMAIN", DOMAIN)
            .env("OP_HTTPS_PORT", port.to_string())
            .env(
                "OP_TLS_CERT_FILE",
                dir.path().join("chain.pem").display().to_string(),
            )
            .env(
                "OP_TLS_KEY_FILE",
                dir.path().join("key.pem").display().to_string(),
            ),
    ));
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    flood(
        &bridge,
        target,
        Some(&ca),
        https_client(port, &ca.pem, false),
    )
    .await;
}

/// Reads until end of stream or error; returns how long that took (bounded by `limit`).
async fn until_closed<S: AsyncRead + Unpin>(stream: &mut S, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_client_address_is_capped_and_others_are_not() {
    let bridge =
        Bridge::start_with(limits(Options::default()).env("OP_MAX_CONNECTIONS_PER_CLIENT", "5"));
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from(ATTACKER, bridge.addr, None).await);
    }
    // Give the accept loop time to register them before the sixth.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sixth = connect_from(ATTACKER, bridge.addr, None).await;
    let took = until_closed(&mut sixth, Duration::from_secs(1)).await;
    assert!(
        took.is_some(),
        "the sixth connection from one address must be closed at once"
    );
    let res = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(bridge.url("/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "another address is served");
    let metrics = bridge.metrics().await;
    assert!(
        metrics.contains(
            r#"scim_bridge_connections_closed_total{listener="http",reason="per_client_limit"} 1"#
        ),
        "{metrics}"
    );
    // The five are still open (their first-byte deadline has not passed).
    let open = held_by(bridge.addr);
    for s in &held {
        assert!(open.contains_key(&s.local_addr().unwrap()));
    }
}

/// Reads HTTP/2 frames, acknowledging SETTINGS and PINGs (a live client that opens no
/// stream), until the connection ends; returns when, and whether a GOAWAY came first.
async fn h2_idle_client(stream: &mut TcpStream, limit: Duration) -> Option<(Duration, bool)> {
    let started = Instant::now();
    let mut goaway = false;
    // Bounded by `limit`.
    loop {
        let mut head = [0u8; 9];
        let read = tokio::time::timeout_at((started + limit).into(), stream.read_exact(&mut head));
        match read.await {
            Err(_) => return None,
            Ok(Err(_)) => return Some((started.elapsed(), goaway)),
            Ok(Ok(_)) => {}
        }
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let (kind, flags) = (head[3], head[4]);
        let mut payload = vec![0u8; len];
        if stream.read_exact(&mut payload).await.is_err() {
            return Some((started.elapsed(), goaway));
        }
        let reply: Option<Vec<u8>> = match (kind, flags & 1) {
            (4, 0) => Some(vec![0, 0, 0, 4, 1, 0, 0, 0, 0]),
            (6, 0) => Some([&[0, 0, 8, 6, 1, 0, 0, 0, 0][..], &payload].concat()),
            (7, _) => {
                goaway = true;
                None
            }
            _ => None,
        };
        if let Some(reply) = reply {
            let _ = stream.write_all(&reply).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http2_connection_without_streams_is_closed_at_the_idle_deadline() {
    let bridge = Bridge::start_with(limits(Options::default()));
    // HTTP/2 with prior knowledge: the preface and an empty SETTINGS frame, then no stream.
    let mut h2 = TcpStream::connect(bridge.addr).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let (took, goaway) = h2_idle_client(&mut h2, IDLE + SLACK * 2)
        .await
        .expect("closed within the idle deadline");
    eprintln!("idle HTTP/2 connection closed after {took:?} (GOAWAY first: {goaway})");
    assert!(took >= IDLE - Duration::from_millis(200), "{took:?}");
    assert!(goaway, "an idle HTTP/2 connection is closed with GOAWAY");
    let metrics = bridge.metrics().await;
    assert!(
        metrics.contains(
            r#"scim_bridge_connections_closed_total{listener="http",reason="idle_timeout"} 1"#
        ),
        "{metrics}"
    );
}
