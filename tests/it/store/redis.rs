//! The Redis backend against its own `redis-server`: conformance, unreachable server, outage.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use scim_bridge::store::{
    redis::{RedisOptions, RedisStore},
    Change, SharedStore, StateStore, StoreError, StoreKey, WriteBatch,
};

use crate::helpers::redis::{free_port, RedisServer};

pub(super) fn options(url: String, timeout: Duration) -> RedisOptions {
    RedisOptions {
        url,
        key_prefix: format!("t{}:", uuid::Uuid::new_v4().simple()),
        insecure_tls: false,
        connect_timeout: timeout,
        command_timeout: timeout,
        replication: None,
    }
}

/// A store on a fresh server (the server lives as long as the returned guard).
async fn redis() -> (SharedStore, RedisServer) {
    let server = RedisServer::start();
    let store = RedisStore::connect(options(server.url(), Duration::from_secs(5)))
        .await
        .expect("connecting to the test redis-server");
    (super::guarded(Arc::new(store)), server)
}

crate::store::conformance_tests!(redis_conformance, super::redis);

#[tokio::test(flavor = "multi_thread")]
async fn redis_ping_and_kind() {
    let (store, _server) = redis().await;
    assert_eq!(store.kind(), "redis");
    store.ping().await.expect("ping");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_unreachable_port_fails_within_timeout() {
    let port = free_port();
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        RedisStore::connect(options(
            format!("redis://user:secret@127.0.0.1:{port}"),
            Duration::from_secs(1),
        )),
    )
    .await
    .expect("connect must not hang");
    let err = result.err().expect("connecting to a closed port must fail");
    assert!(
        matches!(err, StoreError::Unavailable { .. }),
        "want Unavailable, got {err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        !err.to_string().contains("secret"),
        "the password must not leak: {err}"
    );
    assert!(
        err.to_string().contains(&port.to_string()),
        "the error names the server: {err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_silent_server_fails_within_timeout() {
    // Accepts TCP (kernel backlog) but never answers a byte.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "redis://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(15),
        RedisStore::connect(options(url, Duration::from_secs(1))),
    )
    .await
    .expect("connect to a silent server must not hang");
    let err = result.err().expect("a silent server must fail the connect");
    assert!(err.is_outage(), "want Unavailable/Timeout, got {err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_outage_gives_errors_then_recovers() {
    let mut server = RedisServer::start();
    let port = server.port();
    let store = RedisStore::connect(options(server.url(), Duration::from_secs(1)))
        .await
        .expect("connect");
    let key = StoreKey::new("outage", "k");
    store
        .write(WriteBatch::new().put(key.clone(), "before"))
        .await
        .expect("write before the outage");

    server.kill();
    for step in 0..3 {
        let started = Instant::now();
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            store.write(WriteBatch::new().put(key.clone(), "during")),
        )
        .await
        .expect("a write during an outage must not hang");
        let err = result
            .err()
            .unwrap_or_else(|| panic!("write {step} during the outage succeeded"));
        assert!(err.is_outage(), "want Unavailable/Timeout, got {err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        let read = tokio::time::timeout(Duration::from_secs(10), store.get(&key))
            .await
            .expect("a read must not hang");
        assert!(
            read.as_ref().is_err_and(StoreError::is_outage),
            "want an outage error, got {read:?}"
        );
    }

    // A new, empty server on the same port: the store reconnects by itself and works again.
    let _server = RedisServer::start_on(port);
    let mut feed = store.watch();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut recovered = false;
    while Instant::now() < deadline && !recovered {
        if store
            .write(WriteBatch::new().put(key.clone(), "after"))
            .await
            .is_ok()
        {
            // Re-subscription happens shortly after the reconnect; a later write must reach the feed.
            recovered = tokio::time::timeout(Duration::from_millis(500), async {
                loop {
                    match feed.recv().await {
                        Ok(Change::Record(k)) if k == key => return true,
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            continue
                        }
                        Err(_) => return false,
                    }
                }
            })
            .await
            .unwrap_or(false);
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(
        recovered,
        "writes and the change feed must work again within 20 s of the server's return"
    );
    let rec = store
        .get(&key)
        .await
        .expect("get after recovery")
        .expect("record written after recovery");
    assert_eq!(rec.value.as_ref(), b"after");
    store.ping().await.expect("ping after recovery");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_tls_insecure_accepts_self_signed_and_strict_refuses() {
    let server = RedisServer::start_tls();
    let mut opts = options(server.url(), Duration::from_secs(3));
    opts.insecure_tls = true;
    let store = RedisStore::connect(opts.clone())
        .await
        .expect("insecure_tls accepts a self-signed certificate");
    store.ping().await.expect("ping over TLS");
    let key = StoreKey::new("tls", "k");
    store
        .write(WriteBatch::new().put(key.clone(), "v"))
        .await
        .expect("write over TLS");
    assert_eq!(
        store.get(&key).await.expect("get").map(|r| r.value),
        Some("v".into())
    );

    opts.insecure_tls = false;
    let started = Instant::now();
    let strict = tokio::time::timeout(Duration::from_secs(15), RedisStore::connect(opts))
        .await
        .expect("no hang");
    let err = strict
        .err()
        .expect("an untrusted certificate must be refused without insecure_tls");
    assert!(err.is_outage(), "want Unavailable/Timeout, got {err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
}

/// Records written by earlier builds are hashes `{v, d}`; this build stores strings
/// `<version>:<value>` (one `MGET` per page). Both are read and written, and a new connection
/// converts the hashes in the background, leaving keys of any other shape alone.
#[tokio::test(flavor = "multi_thread")]
async fn records_written_as_hashes_are_read_written_and_converted() {
    let server = RedisServer::start();
    let opts = options(server.url(), Duration::from_secs(5));
    let prefix = opts.key_prefix.clone();
    let store = RedisStore::connect(opts.clone()).await.expect("connect");
    let (old, new, gone) = (
        StoreKey::new("scim.users", "old"),
        StoreKey::new("scim.users", "new"),
        StoreKey::new("scim.users", "gone"),
    );
    store
        .write(
            WriteBatch::new()
                .put(old.clone(), "x")
                .put(new.clone(), "fresh"),
        )
        .await
        .expect("put");
    let key = |id: &str| format!("{prefix}r:10:scim.users:{id}");
    assert_eq!(server.command(&format!("TYPE {}", key("new"))), "+string");
    // As an earlier build left it: a hash at version 7.
    server.command(&format!("DEL {}", key("old")));
    server.command(&format!("HSET {} v 7 d as-a-hash", key("old")));

    let got = store
        .get(&old)
        .await
        .expect("get")
        .expect("the hash is read");
    assert_eq!((got.version, &got.value[..]), (7, &b"as-a-hash"[..]));
    let many = store
        .get_many("scim.users", &["old".into(), "gone".into(), "new".into()])
        .await
        .expect("get_many");
    let versions: Vec<Option<u64>> = many.iter().map(|r| r.as_ref().map(|r| r.version)).collect();
    assert_eq!(versions, [Some(7), None, Some(1)]);
    let listed = store.list("scim.users", 0, 10).await.expect("list");
    assert_eq!(listed.len(), 2, "both forms are listed");
    assert!(store.get(&gone).await.expect("get").is_none());

    // A versioned write reads the hash's version and leaves a string.
    store
        .write(
            WriteBatch::new()
                .require(scim_bridge::store::Precondition::Version(old.clone(), 7))
                .put(old.clone(), "rewritten"),
        )
        .await
        .expect("a write at the hash's version");
    assert_eq!(server.command(&format!("GET {}", key("old"))), "$11");
    assert_eq!(store.get(&old).await.unwrap().unwrap().version, 8);

    // Back to a hash, plus a hash of another shape under a matching name: a new connection
    // converts the first and leaves the second.
    server.command(&format!("DEL {}", key("old")));
    server.command(&format!("HSET {} v 3 d again", key("old")));
    server.command(&format!("HSET {} v 1 d x other y", key("odd")));
    let _second = RedisStore::connect(opts).await.expect("second connect");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.command(&format!("TYPE {}", key("old"))) != "+string" {
        assert!(
            Instant::now() < deadline,
            "the hash was not converted within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = store.get(&old).await.unwrap().unwrap();
    assert_eq!((got.version, &got.value[..]), (3, &b"again"[..]));
    assert_eq!(server.command(&format!("TYPE {}", key("odd"))), "+hash");
}

/// A trim takes its entries out of the per-key index itself, not only out of reads: the
/// sorted set of a key whose entries are all trimmed is gone, and so are their fields in the
/// entry-keys hash (`log_by_key` skips trimmed entries anyway, so only the keys show a leak).
#[tokio::test(flavor = "multi_thread")]
async fn a_trim_leaves_nothing_of_its_entries_in_the_index() {
    let server = RedisServer::start();
    let opts = options(server.url(), Duration::from_secs(5));
    let prefix = opts.key_prefix.clone();
    let store = RedisStore::connect(opts).await.expect("connect");
    let append = super::append;
    store
        .write(
            WriteBatch::new()
                .then(append(&["a", "b"]))
                .then(append(&["b"])),
        )
        .await
        .expect("append");
    let (qa, qb, qe) = (
        format!("{prefix}qk:2:ev:a"),
        format!("{prefix}qk:2:ev:b"),
        format!("{prefix}qe:ev"),
    );
    assert_eq!(server.command(&format!("ZCARD {qb}")), ":2");
    assert_eq!(server.command(&format!("HLEN {qe}")), ":2");
    let trim = |before| scim_bridge::store::Mutation::Trim {
        log: "ev".into(),
        before,
    };
    store
        .write(WriteBatch::new().then(trim(2)))
        .await
        .expect("trim 1");
    assert_eq!(server.command(&format!("EXISTS {qa}")), ":0");
    assert_eq!(server.command(&format!("ZCARD {qb}")), ":1");
    assert_eq!(server.command(&format!("HLEN {qe}")), ":1");
    store
        .write(WriteBatch::new().then(trim(3)))
        .await
        .expect("trim 2");
    assert_eq!(server.command(&format!("EXISTS {qb}")), ":0");
    assert_eq!(server.command(&format!("EXISTS {qe}")), ":0");
}
