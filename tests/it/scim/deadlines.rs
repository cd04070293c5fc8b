//! Deadlines and write outcomes (issue 9, item 5), and the in-flight body budget (item 4).
//!
//! The bridge's debug build reads two fault-injection delays around its commit point:
//! `SCIM_BRIDGE_TEST_PRE_COMMIT_DELAY_MS` (before the batch reaches the store: the deadline
//! may cancel, and nothing is written) and `SCIM_BRIDGE_TEST_COMMIT_DELAY_MS` (after: the
//! request runs on to its real answer). The tests without them put real slow work, a paused
//! Redis or a real slow scan in the same places.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{on_both_stores, Backend, Scim};
use crate::helpers::bridge::Options;

on_both_stores!(
    a_request_slower_than_its_deadline_answers_what_the_store_holds,
    a_timeout_before_the_commit_point_writes_nothing,
    a_slow_commit_past_the_deadline_gets_its_real_answer,
    bodies_beyond_the_inflight_budget_get_503_with_retry_after,
);

fn emails(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"value": format!("user{i}@example.com"), "type": "work"}))
        .collect()
}

/// The case with no fault hook: a PATCH whose real work (decoding and applying ~4 MiB
/// in a debug build) outlives `OP_REQUEST_TIMEOUT` gets an answer that matches the store:
/// `503` and nothing written, or its real `200` and everything written; never `503` over a
/// committed write. The request must have outlived its deadline, or the test proves nothing.
async fn a_request_slower_than_its_deadline_answers_what_the_store_holds(b: Backend) {
    let s = Scim::start_with(b, Options::default().env("OP_REQUEST_TIMEOUT", "50ms")).await;
    let id = s.user("deadline@example.com").await;
    let path = format!("/Users/{id}");
    let body = json!({"Operations": [{"op": "add", "path": "emails", "value": emails(80_000)}]});
    let started = Instant::now();
    let a = s.patch(&path, &body).await;
    let took = started.elapsed();
    assert!(
        took > Duration::from_millis(50),
        "too fast to test: {took:?}"
    );
    // The check reads under the same 50 ms deadline, which a 4 MiB read may miss: a `503`
    // read is honest and retried (bounded), only a `200` says what is stored.
    let mut stored = s.get(&path).await;
    for _ in 0..50 {
        if stored.status == 200 {
            break;
        }
        assert_eq!(stored.status, 503, "{}", stored.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
        stored = s.get(&path).await;
    }
    assert_eq!(stored.status, 200, "no read got through: {}", stored.body);
    let stored_emails = stored.body["emails"].as_array().map_or(0, Vec::len);
    match a.status.as_u16() {
        200 => {
            assert_eq!(stored_emails, 80_001);
            assert_eq!(stored.header("etag"), a.header("etag"));
        }
        503 => assert_eq!(stored_emails, 1, "a 503 over a committed write"),
        other => panic!("unexpected {other}: {}", a.body),
    }
}

async fn a_timeout_before_the_commit_point_writes_nothing(b: Backend) {
    let s = Scim::binary(
        b,
        Options::default()
            .env("OP_REQUEST_TIMEOUT", "1s")
            .env("SCIM_BRIDGE_TEST_PRE_COMMIT_DELAY_MS", "2500"),
    );
    let started = Instant::now();
    let a = s
        .post("/Users", &json!({"userName": "late@example.com"}))
        .await;
    a.expect_error(503, None);
    assert!(started.elapsed() < Duration::from_millis(2400));
    assert_eq!(a.header("retry-after"), Some("1"));
    // Well after the delay would have ended: the dropped request wrote nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(s.get("/Users").await.expect(200)["totalResults"], 0);
}

async fn a_slow_commit_past_the_deadline_gets_its_real_answer(b: Backend) {
    let s = Scim::binary(
        b,
        Options::default()
            .env("OP_REQUEST_TIMEOUT", "1s")
            .env("SCIM_BRIDGE_TEST_COMMIT_DELAY_MS", "2000"),
    );
    let started = Instant::now();
    let id = s.user("slow@example.com").await;
    assert!(started.elapsed() >= Duration::from_secs(2));
    // The case: a PATCH of 25,000 emails committed past the deadline answers 200.
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "add", "path": "emails", "value": emails(25_000)}]}),
        )
        .await;
    assert_eq!(a.expect(200)["emails"].as_array().unwrap().len(), 25_001);
    let stored = s.get(&format!("/Users/{id}")).await;
    assert_eq!(stored.expect(200)["emails"], a.body["emails"]);
    assert_eq!(stored.header("etag"), a.header("etag"));
}

async fn bodies_beyond_the_inflight_budget_get_503_with_retry_after(b: Backend) {
    let s = Scim::binary(
        b,
        Options::default()
            .env("OP_MAX_BODY_BYTES", "1048576")
            .env("OP_MAX_INFLIGHT_BODY_BYTES", "1048576")
            // A request waits a quarter of its timeout for its share: 2 s here.
            .env("OP_REQUEST_TIMEOUT", "8s")
            .env("SCIM_BRIDGE_TEST_COMMIT_DELAY_MS", "3000"),
    );
    // Every commit waits 3 s: the three creates go at once.
    let (ua, ub, uc) = tokio::join!(
        s.user("a@example.com"),
        s.user("b@example.com"),
        s.user("c@example.com")
    );
    let ids = [ua, ub, uc];
    // Two PATCHes of nearly 1 MiB at once: large bodies share half the 1 MiB budget, so the
    // second waits 2 s for the first's share (held 3 s), then is refused. A small (~50 KB)
    // PATCH meanwhile takes the other half. (With one pool, the first body would have left it
    // 47 KiB, and it too would have been refused.)
    let body = json!({"Operations": [{"op": "add", "path": "emails", "value": emails(21_500)}]});
    let len = serde_json::to_vec(&body).unwrap().len();
    assert!((1_000_000..1_048_576).contains(&len), "{len}");
    let small = json!({"Operations": [{"op": "add", "path": "emails", "value": emails(1_150)}]});
    let len = serde_json::to_vec(&small).unwrap().len();
    assert!((50_000..64 * 1024).contains(&len), "{len}");
    let [first, second, third] = ids.clone().map(|id| format!("/Users/{id}"));
    let scim = &s;
    let later = |path: String, body: Value| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        scim.patch(&path, &body).await
    };
    let (x, y, z) = tokio::join!(
        s.patch(&first, &body),
        later(second, body.clone()),
        later(third, small)
    );
    x.expect(200);
    y.expect_error(503, None);
    assert_eq!(y.header("retry-after"), Some("1"));
    assert_eq!(z.expect(200)["emails"].as_array().unwrap().len(), 1_151);
    // Nothing of the refused request was written.
    let other = s.get(&format!("/Users/{}", ids[1])).await;
    assert_eq!(other.expect(200)["emails"].as_array().unwrap().len(), 1);
}

/// Issue 9, item 3: during two ~4 MiB PATCHes (decode and apply run off the async workers),
/// an unauthenticated `/ping` is answered within a second.
#[tokio::test(flavor = "multi_thread")]
async fn ping_stays_fast_during_two_huge_patches() {
    let s = Scim::start_with(
        Backend::Embedded,
        Options::default().env("OP_REQUEST_TIMEOUT", "120s"),
    )
    .await;
    let ids = [
        s.user("h1@example.com").await,
        s.user("h2@example.com").await,
    ];
    let body = json!({"Operations": [{"op": "add", "path": "emails", "value": emails(80_000)}]});
    assert!(serde_json::to_vec(&body).unwrap().len() > 3_500_000);
    let (first, second) = (format!("/Users/{}", ids[0]), format!("/Users/{}", ids[1]));
    let done = std::sync::atomic::AtomicBool::new(false);
    let ping = crate::helpers::bridge::client();
    let url = s.url("/ping");
    let patches = async {
        let both = tokio::join!(s.patch(&first, &body), s.patch(&second, &body));
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        both
    };
    let pinger = async {
        let mut slowest = Duration::ZERO;
        tokio::time::sleep(Duration::from_millis(200)).await;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let t = Instant::now();
            let r = ping.get(&url).send().await.expect("ping");
            assert_eq!(r.status(), 200);
            slowest = slowest.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        slowest
    };
    let ((x, y), slowest) = tokio::join!(patches, pinger);
    x.expect(200);
    y.expect(200);
    eprintln!("slowest /ping during two huge PATCHes: {slowest:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "slowest /ping {slowest:?}"
    );
}

/// With Redis paused, a read past `OP_STORE_TIMEOUT` is `503` (nothing was asked to change),
/// but a write whose script was sent and not confirmed in time is not: Redis runs it once the
/// pause ends, so the honest answer is "the outcome is unknown" (500), never a `503` that
/// tells the identity provider the write did not happen.
#[tokio::test(flavor = "multi_thread")]
async fn redis_a_store_timeout_on_a_read_is_503_and_on_a_write_says_the_outcome_is_unknown() {
    let s = Scim::start_with(
        Backend::Redis,
        Options::default().env("OP_STORE_TIMEOUT", "500ms"),
    )
    .await;
    let redis = s.redis().expect("the Redis backend");
    let id = s.user("paused@example.com").await;
    let path = format!("/Users/{id}");

    // Reads (and writes) stall: a GET answers 503 within a second or two, with Retry-After.
    assert_eq!(redis.command("CLIENT PAUSE 2000 ALL"), "+OK");
    let started = Instant::now();
    let a = s.get(&path).await;
    a.expect_error(503, None);
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(2200)).await;
    s.get(&path).await.expect(200);

    // Only writes stall: the read succeeds, the script is sent, and its confirmation is late.
    assert_eq!(redis.command("CLIENT PAUSE 2000 WRITE"), "+OK");
    let a = s
        .patch(
            &path,
            &json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Applied Later"}]}),
        )
        .await;
    a.expect_error(500, None);
    let detail = a.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("may have been applied"), "{}", a.body);
    // Once the pause ends Redis runs the script: the write was real, as the answer warned.
    // (Until then reads on the same connection wait behind the paused script: 503.)
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = s.get(&path).await;
        if now.status == 200 && now.body["displayName"] == "Applied Later" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the paused write never landed: {}",
            now.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issue 9, item 5, with no fault hook: Redis holds the write (`CLIENT PAUSE WRITE`) past the
/// request's deadline, after its commit point; the request waits for the store's outcome and
/// answers `200`, and the write is there.
#[tokio::test(flavor = "multi_thread")]
async fn redis_a_write_held_past_the_deadline_gets_its_real_answer() {
    let s = Scim::start_with(
        Backend::Redis,
        Options::default()
            .env("OP_REQUEST_TIMEOUT", "500ms")
            .env("OP_STORE_TIMEOUT", "5s"),
    )
    .await;
    let redis = s.redis().expect("the Redis backend");
    let id = s.user("held@example.com").await;
    let path = format!("/Users/{id}");
    assert_eq!(redis.command("CLIENT PAUSE 1500 WRITE"), "+OK");
    let started = Instant::now();
    let a = s
        .patch(
            &path,
            &json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Held"}]}),
        )
        .await;
    assert!(
        started.elapsed() > Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(a.expect(200)["displayName"], "Held");
    let stored = s.get(&path).await;
    assert_eq!(stored.expect(200)["displayName"], "Held");
    assert_eq!(stored.header("etag"), a.header("etag"));
}

/// Issue 9, item 5, the embedded store: `OP_STORE_TIMEOUT` bounds the SCIM path's reads (a
/// scan longer than the limit is `503`), and never a write: a large PATCH under the same limit
/// is committed and answered `200`, so no timeout answer hides a committed write. No fault
/// hook: the slow read is a real one, a page of 24 users of ~2 MB each (48 MB from redb)
/// against a 1 ms limit. (16 MB once copied in about the 1–2 ms the timer takes to fire, on a
/// quiet machine, so every try answered 200.) Point reads run inline, within the limit by
/// construction.
#[tokio::test(flavor = "multi_thread")]
async fn embedded_a_store_timeout_bounds_reads_and_never_cuts_a_write_short() {
    let s = Scim::start_with(
        Backend::Embedded,
        Options::default().env("OP_STORE_TIMEOUT", "1ms"),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..24 {
        let body = json!({"userName": format!("big{i}@example.com"), "emails": emails(45_000)});
        let created = s.post("/Users", &body).await;
        ids.push(created.expect(201)["id"].as_str().unwrap().to_owned());
    }
    // The scan outlives the limit: 503 with Retry-After. (A read that completes before the
    // runtime sees its timer still answers 200: on a loaded machine the thread can be
    // scheduled late, so a few tries are allowed, each either answer.)
    let mut refused = None;
    for _ in 0..10 {
        let page = s.get("/Users?count=24").await;
        match page.status.as_u16() {
            503 => {
                refused = Some(page);
                break;
            }
            200 => assert_eq!(page.body["totalResults"], 24),
            other => panic!("unexpected {other}"),
        }
    }
    let page = refused.expect("no scan was cut short by the 1 ms limit in 10 tries");
    page.expect_error(503, None);
    assert!(page.header("retry-after").is_some(), "{}", page.body);
    // A write under the same limit: its load is a point read, its commit is awaited.
    let more: Vec<Value> = (0..45_000)
        .map(|i| json!({"value": format!("more{i}@example.com")}))
        .collect();
    let path = format!("/Users/{}", ids[0]);
    let a = s
        .patch(
            &path,
            &json!({"Operations": [{"op": "add", "path": "emails", "value": more}]}),
        )
        .await;
    assert_eq!(a.expect(200)["emails"].as_array().unwrap().len(), 90_000);
    let stored = s.get(&path).await;
    assert_eq!(
        stored.expect(200)["emails"].as_array().unwrap().len(),
        90_000
    );
    assert_eq!(stored.header("etag"), a.header("etag"));
}
