//! Webhooks with real receivers on loopback, on both stores: signed deliveries in `seq` order,
//! retries and dead letters, a receiver that is down and comes back, `410 Gone` and the
//! operator's buttons, a restart resuming from the saved cursor, filters and a failing
//! endpoint that blocks no other, one deliverer per endpoint among replicas, and the
//! signature checked by the Python `standardwebhooks` library.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{
    helpers::{bridge::Options, receiver::Receiver},
    scim::{on_both_stores, Backend, Scim},
};

/// A Standard Webhooks secret (`whsec_` + base64 of 24 bytes).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

on_both_stores!(
    events_arrive_signed_and_in_order,
    failures_are_retried_then_dead_lettered_and_replayed,
    a_receiver_that_was_down_gets_the_whole_backlog,
    gone_disables_the_endpoint_until_an_operator_enables_it,
    a_restart_resumes_from_the_saved_cursor,
    a_failing_endpoint_blocks_no_other_and_filters_hold,
    sigkill_during_creates_and_delivery_loses_no_event,
    retention_trims_the_log_and_dead_letters_what_an_endpoint_missed,
);

/// Settings for quick retries: 50 ms doubling to 200 ms, three attempts.
fn quick(url: &str) -> Options {
    Options::default()
        .env("OP_WEBHOOK_URL", url)
        .env("OP_WEBHOOK_SECRET", SECRET)
        .env("OP_WEBHOOK_BACKOFF", "50ms")
        .env("OP_WEBHOOK_BACKOFF_MAX", "200ms")
        .env("OP_WEBHOOK_MAX_ATTEMPTS", "3")
        .env("OP_WEBHOOK_TIMEOUT", "2s")
}

/// The status page's report on endpoint `name`.
async fn report(s: &Scim, name: &str) -> Value {
    let (_, doc) = s.operator("/status.json").await;
    doc["webhooks"]
        .as_array()
        .unwrap_or_else(|| panic!("no webhooks in {doc}"))
        .iter()
        .find(|w| w["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no endpoint {name}"))
}

async fn wait_report(s: &Scim, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = report(s, name).await;
        if done(&r) {
            return r;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn press(s: &Scim, path: &str) -> u16 {
    crate::helpers::bridge::client()
        .post(s.url(path))
        .header("Authorization", s.bearer())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn seqs(deliveries: &[crate::helpers::receiver::Delivery]) -> Vec<u64> {
    deliveries
        .iter()
        .map(|d| d.event["seq"].as_u64().unwrap())
        .collect()
}

async fn events_arrive_signed_and_in_order(b: Backend) {
    let receiver = Receiver::start().await;
    let s = Scim::start_with(b, quick(&receiver.url())).await;
    let ann = s.user("ann@example.com").await;
    s.user("bob@example.com").await;
    let group = s.group("staff", &[&ann]).await;
    s.patch(
        &format!("/Users/{ann}"),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}]}),
    )
    .await
    .expect(200);
    s.delete(&format!("/Groups/{group}")).await.expect(204);
    let expected = events_after(&s, 0).await;
    assert_eq!(expected.len(), 6);
    let got = receiver
        .wait_until(Duration::from_secs(20), "every event delivered", |d| {
            d.len() >= 6
        })
        .await;
    assert_eq!(seqs(&got), [1, 2, 3, 4, 5, 6], "in seq order, once each");
    for (d, e) in got.iter().zip(&expected) {
        // The body is the feed's event, byte for byte as JSON; the headers sign it.
        assert_eq!(&d.event, e);
        assert_eq!(
            d.id,
            e["id"].as_str().unwrap(),
            "webhook-id is the event's id"
        );
        assert!(d.signature.starts_with("v1,"), "{}", d.signature);
        let ts: i64 = d.timestamp.parse().expect("a unix timestamp");
        assert!((ts - time::OffsetDateTime::now_utc().unix_timestamp()).abs() < 60);
    }
    assert_eq!(got[4].event["type"], "user.deactivated");
    let r = wait_report(&s, "default", "six delivered", |r| r["delivered"] == 6).await;
    assert_eq!(r["enabled"], true);
    assert_eq!(r["backlog"], 0);
    assert_eq!(r["url"], receiver.url());
}

async fn failures_are_retried_then_dead_lettered_and_replayed(b: Backend) {
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let s = Scim::start_with(b, quick(&receiver.url())).await;
    s.user("ann@example.com").await;
    // Three attempts at event 1, then it goes to the dead letters and delivery moves on.
    // The report reads the state and the dead letters one after the other, so wait for it to
    // see both sides of the batch that moved the event.
    let r = wait_report(&s, "default", "event 1 dead-lettered", |r| {
        r["deadLetters"] == 1 && r["deadLettered"] == 1
    })
    .await;
    assert_eq!(r["deadLettered"], 1);
    assert!(r["lastError"].as_str().unwrap().contains("500"), "{r}");
    let attempts = receiver.deliveries();
    assert_eq!(seqs(&attempts), [1, 1, 1], "three attempts, no more");
    assert!(
        attempts.iter().all(|d| d.id == attempts[0].id),
        "the same id on each retry"
    );
    // Health says the endpoint is failing.
    let (_, health) = s.operator("/health").await;
    let webhook = health["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "Webhooks")
        .unwrap_or_else(|| panic!("{health}"))
        .clone();
    assert_eq!(webhook["state"], "degraded", "{health}");

    receiver.answer(204);
    s.user("bob@example.com").await;
    receiver
        .wait_until(Duration::from_secs(10), "event 2 delivered", |d| {
            d.iter().any(|d| d.event["seq"] == 2 && d.answered == 204)
        })
        .await;
    assert_eq!(press(&s, "/webhooks/default/replay").await, 202);
    receiver
        .wait_until(Duration::from_secs(10), "event 1 replayed", |d| {
            d.iter().any(|d| d.event["seq"] == 1 && d.answered == 204)
        })
        .await;
    // The replayed letter leaves the list first and is counted at the next save of the state.
    let r = wait_report(&s, "default", "no dead letters left, two delivered", |r| {
        r["deadLetters"] == 0 && r["delivered"] == 2
    })
    .await;
    assert_eq!(r["deadLettered"], 1, "{r}");
    let metrics = s.metrics().await;
    for line in [
        "scim_bridge_webhook_deliveries_total{endpoint=\"default\",outcome=\"failed\"} 3",
        "scim_bridge_webhook_deliveries_total{endpoint=\"default\",outcome=\"dead_lettered\"} 1",
        "scim_bridge_webhook_deliveries_total{endpoint=\"default\",outcome=\"delivered\"} 2",
        "scim_bridge_webhook_backlog{endpoint=\"default\"} 0",
        "scim_bridge_events_head 2",
    ] {
        assert!(metrics.contains(line), "no {line} in:\n{metrics}");
    }
    assert_eq!(press(&s, "/webhooks/nope/replay").await, 404);
}

async fn a_receiver_that_was_down_gets_the_whole_backlog(b: Backend) {
    let receiver = Receiver::start().await;
    let port = receiver.addr.port();
    let url = receiver.url();
    drop(receiver);
    // Many attempts: a receiver that is away for a while loses nothing.
    let s = Scim::start_with(b, quick(&url).env("OP_WEBHOOK_MAX_ATTEMPTS", "1000")).await;
    for i in 0..20 {
        s.user(&format!("user{i}@example.com")).await;
    }
    wait_report(&s, "default", "failing while the receiver is down", |r| {
        r["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("connect"))
    })
    .await;
    let receiver = Receiver::start_on(port).await;
    let got = receiver
        .wait_until(Duration::from_secs(20), "the backlog delivered", |d| {
            d.len() >= 20
        })
        .await;
    assert_eq!(seqs(&got), (1..=20).collect::<Vec<_>>());
    let r = wait_report(&s, "default", "caught up", |r| r["backlog"] == 0).await;
    assert_eq!(r["deadLetters"], 0);
    assert!(r["lastError"].is_null(), "{r}");
}

async fn gone_disables_the_endpoint_until_an_operator_enables_it(b: Backend) {
    let receiver = Receiver::start().await;
    receiver.answer(410);
    let s = Scim::start_with(b, quick(&receiver.url())).await;
    s.user("ann@example.com").await;
    let r = wait_report(&s, "default", "disabled by 410", |r| r["enabled"] == false).await;
    assert!(
        r["disabled"]["reason"].as_str().unwrap().contains("410"),
        "{r}"
    );
    s.user("bob@example.com").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.deliveries().len(),
        1,
        "nothing more while disabled"
    );
    receiver.answer(204);
    assert_eq!(press(&s, "/webhooks/default/enable").await, 202);
    let got = receiver
        .wait_until(
            Duration::from_secs(15),
            "both delivered after enable",
            |d| d.iter().filter(|d| d.answered == 204).count() >= 2,
        )
        .await;
    let accepted: Vec<u64> = seqs(&got[1..]);
    assert_eq!(accepted, [1, 2], "from the refused event on");
    wait_report(&s, "default", "enabled", |r| {
        r["enabled"] == true && r["backlog"] == 0
    })
    .await;
}

async fn a_restart_resumes_from_the_saved_cursor(b: Backend) {
    let receiver = Receiver::start().await;
    let s = Scim::start_with(b, quick(&receiver.url())).await;
    for i in 0..5 {
        s.user(&format!("user{i}@example.com")).await;
    }
    receiver
        .wait_until(Duration::from_secs(10), "five delivered", |d| d.len() >= 5)
        .await;
    let s = s.restart().await;
    s.user("late@example.com").await;
    let got = receiver
        .wait_until(Duration::from_secs(15), "the sixth delivered", |d| {
            d.iter().any(|d| d.event["seq"] == 6)
        })
        .await;
    // A graceful stop saved the cursor: nothing came twice.
    assert_eq!(seqs(&got), [1, 2, 3, 4, 5, 6]);
}

async fn a_failing_endpoint_blocks_no_other_and_filters_hold(b: Backend) {
    let good = Receiver::start().await;
    let bad = Receiver::start().await;
    bad.answer(503);
    let config = format!(
        "[[webhooks]]\nname = \"good\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n\
         types = [\"user.created\", \"user.deleted\"]\n\n\
         [[webhooks]]\nname = \"bad\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        good.url(),
        bad.url()
    );
    let options = Options::default()
        .config(config)
        .env("OP_WEBHOOK_BACKOFF", "50ms")
        .env("OP_WEBHOOK_BACKOFF_MAX", "100ms")
        .env("OP_WEBHOOK_MAX_ATTEMPTS", "2");
    let s = Scim::start_with(b, options).await;
    let ann = s.user("ann@example.com").await;
    s.group("staff", &[&ann]).await;
    s.delete(&format!("/Users/{ann}")).await.expect(204);
    let got = good
        .wait_until(Duration::from_secs(15), "the good endpoint's events", |d| {
            d.len() >= 2
        })
        .await;
    let types: Vec<&str> = got
        .iter()
        .map(|d| d.event["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["user.created", "user.deleted"], "only its types");
    let r = wait_report(&s, "good", "good caught up", |r| r["backlog"] == 0).await;
    assert_eq!(r["types"], json!(["user.created", "user.deleted"]));
    assert_eq!(r["deadLetters"], 0);
    // The one that always fails fills its dead letters, event by event, in order.
    let events = events_after(&s, 0).await.len();
    let r = wait_report(&s, "bad", "every event dead-lettered", |r| {
        r["deadLetters"] == events && r["backlog"] == 0
    })
    .await;
    assert_eq!(r["delivered"], 0, "{r}");
    let tried: Vec<u64> = seqs(&bad.deliveries());
    let expected: Vec<u64> = (1..=events as u64).flat_map(|s| [s, s]).collect();
    assert_eq!(tried, expected, "two attempts each, in order");
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_deliver_each_event_once_and_another_takes_over_when_one_dies() {
    let redis = crate::helpers::redis::RedisServer::start();
    let receiver = Receiver::start().await;
    let first = crate::helpers::app::App::start_with(
        quick(&receiver.url()).env("OP_REDIS_URL", redis.url()),
    )
    .await;
    let second = first.replica().await;
    let create = |app: &crate::helpers::app::App, name: String| {
        let req = crate::helpers::bridge::client()
            .post(app.url("/scim/v2/Users"))
            .header("Authorization", app.bearer())
            .header("Content-Type", "application/scim+json")
            .body(json!({"userName": name}).to_string());
        async move { req.send().await.unwrap().status().as_u16() }
    };
    for i in 0..10 {
        let app = if i % 2 == 0 { &first } else { &second };
        assert_eq!(create(app, format!("user{i}@example.com")).await, 201);
    }
    receiver
        .wait_until(Duration::from_secs(15), "ten delivered", |d| d.len() >= 10)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        seqs(&receiver.deliveries()),
        (1..=10).collect::<Vec<_>>(),
        "one deliverer among the replicas, in order"
    );
    // The first dies without a word (its tasks are aborted, its lease is not released);
    // whichever held the lease, the one left delivers what comes next, within the lease's
    // life and a renewal period.
    drop(first);
    assert_eq!(create(&second, "late@example.com".into()).await, 201);
    receiver
        .wait_until(Duration::from_secs(30), "the survivor delivers", |d| {
            d.iter().any(|d| d.event["seq"] == 11)
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_standardwebhooks_library_verifies_each_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("events.jsonl");
    let port = crate::helpers::redis::free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/webhook_receiver.py");
    // Its standard error goes to a file: a pipe closed after the first line would break its
    // later messages (and its handler with them).
    let log = dir.path().join("receiver.log");
    let child = std::process::Command::new("python3")
        .args([script, "--port", &port.to_string(), "--jsonl"])
        .arg(&jsonl)
        .env("WEBHOOK_SECRET", SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("python3 runs the example receiver");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Kill(child);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("listening on") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the receiver did not start (pip install standardwebhooks; scripts/test does): {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("http://127.0.0.1:{port}/");
    let s = Scim::start_with(Backend::Embedded, quick(&url)).await;
    s.user("ann@example.com").await;
    s.user("bob@example.com").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let lines = loop {
        let text = std::fs::read_to_string(&jsonl).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= 2 {
            break lines;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "verified: {lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(lines[0]["event"]["seq"], 1);
    assert_eq!(lines[1]["event"]["data"]["userName"], "bob@example.com");
    assert_eq!(lines[0]["webhook-id"], lines[0]["event"]["id"]);
    // The check can fail: a bridge signing with another key is refused (400) and retried.
    let other = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let wrong = Scim::start_with(
        Backend::Embedded,
        quick(&url)
            .env("OP_WEBHOOK_SECRET", other)
            .env("OP_WEBHOOK_MAX_ATTEMPTS", "1000"),
    )
    .await;
    wrong.user("eve@example.com").await;
    wait_report(&wrong, "default", "refused for its signature", |r| {
        r["lastError"].as_str().is_some_and(|e| e.contains("400"))
    })
    .await;
    let text = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(text.lines().count(), 2, "nothing unverified was accepted");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("refused a delivery"), "{log}");
}

/// Every event after `after`, paged through the feed.
async fn events_after(s: &Scim, mut after: u64) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let res = crate::helpers::bridge::client()
            .get(s.url(&format!("/events?after={after}&limit=1000")))
            .header("Authorization", s.bearer())
            .send()
            .await
            .unwrap();
        let doc: Value = res.json().await.unwrap();
        let events = doc["events"].as_array().unwrap().clone();
        if events.is_empty() {
            return out;
        }
        after = doc["next"].as_u64().unwrap();
        out.extend(events);
    }
}

/// Creates users `name0…` from `from` to `to` on 8 connections; returns the ids of those
/// acknowledged (201). Failures (the bridge being killed) are allowed and not acknowledged.
async fn create_many(url: String, bearer: String, from: usize, to: usize) -> Vec<String> {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(from));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (url, bearer, next) = (url.clone(), bearer.clone(), next.clone());
            tokio::spawn(async move {
                let http = crate::helpers::bridge::client();
                let mut ids = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= to {
                        return ids;
                    }
                    let res = http
                        .post(&url)
                        .header("Authorization", &bearer)
                        .header("Content-Type", "application/scim+json")
                        .body(json!({"userName": format!("crash{i}@example.com")}).to_string())
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    let Ok(res) = res else { return ids };
                    if res.status() != 201 {
                        return ids;
                    }
                    match res.json::<Value>().await {
                        Ok(doc) => ids.push(doc["id"].as_str().unwrap().to_owned()),
                        // The answer was cut off: not acknowledged.
                        Err(_) => return ids,
                    }
                }
            })
        })
        .collect();
    let mut ids = Vec::new();
    for w in workers {
        ids.extend(w.await.unwrap());
    }
    ids
}

async fn sigkill_during_creates_and_delivery_loses_no_event(b: Backend) {
    let receiver = Receiver::start().await;
    let s = Scim::binary(
        b,
        quick(&receiver.url()).env("OP_WEBHOOK_MAX_ATTEMPTS", "1000"),
    );
    // A stream of 2,000 creates on 8 connections, and the SIGKILL in the middle of it, with
    // creates in flight (they fail and are not acknowledged) and delivery under way.
    let writer = tokio::spawn(create_many(s.url("/scim/v2/Users"), s.bearer(), 0, 2_000));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while receiver.deliveries().len() < 500 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery under way"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = s.kill_and_restart();
    let mut acknowledged = writer.await.unwrap();
    let got_before = receiver.deliveries().len();
    assert!(
        acknowledged.len() >= 500 && acknowledged.len() < 2_000,
        "killed mid-stream: {} acknowledged",
        acknowledged.len()
    );
    // The stream goes on after the restart.
    acknowledged.extend(create_many(s.url("/scim/v2/Users"), s.bearer(), 2_000, 2_500).await);

    // Every acknowledged write has its event; seq has no gaps.
    let events = events_after(&s, 0).await;
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "no gap"
    );
    let created: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "user.created")
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    for id in &acknowledged {
        assert!(
            created.contains(id.as_str()),
            "acknowledged {id} has no event"
        );
    }
    // And every event reaches the receiver at least once, first arrivals in seq order.
    let head = events.len() as u64;
    let got = receiver
        .wait_until(Duration::from_secs(60), "every event delivered", |d| {
            let seen: std::collections::HashSet<u64> =
                d.iter().filter_map(|d| d.event["seq"].as_u64()).collect();
            seen.len() as u64 >= head
        })
        .await;
    let mut first = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in &got {
        let seq = d.event["seq"].as_u64().unwrap();
        if seen.insert(seq) {
            first.push(seq);
        }
    }
    assert_eq!(
        first,
        (1..=head).collect::<Vec<_>>(),
        "in order, none missing"
    );
    // Redeliveries after the crash carry the same id as the first delivery.
    for d in &got {
        let seq = d.event["seq"].as_u64().unwrap() as usize;
        assert_eq!(d.id, events[seq - 1]["id"].as_str().unwrap());
    }
    eprintln!(
        "sigkill: {} acknowledged, {head} events, {got_before} delivered before the kill, {} deliveries in all",
        acknowledged.len(),
        got.len()
    );
}

async fn retention_trims_the_log_and_dead_letters_what_an_endpoint_missed(b: Backend) {
    let receiver = Receiver::start().await;
    receiver.answer(410);
    let s = Scim::start_with(b, quick(&receiver.url()).env("OP_EVENTS_MAX", "10")).await;
    s.user("first@example.com").await;
    wait_report(&s, "default", "disabled by 410", |r| r["enabled"] == false).await;
    for i in 0..24 {
        s.user(&format!("user{i}@example.com")).await;
    }
    // The log keeps the last ten; the endpoint, which received none, has the fifteen before
    // them in its dead letters and its cursor past them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, doc) = s.operator("/events?after=0").await;
        if status == 410 && doc["oldest"] == 16 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never trimmed to 16"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(events_after(&s, 15).await.len(), 10);
    let r = wait_report(&s, "default", "dead letters", |r| r["deadLetters"] == 15).await;
    assert_eq!(r["cursor"], 15, "{r}");
    receiver.answer(204);
    assert_eq!(press(&s, "/webhooks/default/enable").await, 202);
    receiver
        .wait_until(Duration::from_secs(15), "the kept ten delivered", |d| {
            d.iter().filter(|d| d.answered == 204).count() >= 10
        })
        .await;
    assert_eq!(press(&s, "/webhooks/default/replay").await, 202);
    let got = receiver
        .wait_until(
            Duration::from_secs(15),
            "the trimmed fifteen replayed",
            |d| d.iter().filter(|d| d.answered == 204).count() >= 25,
        )
        .await;
    let mut delivered: Vec<u64> = seqs(&got[1..]);
    delivered.sort_unstable();
    assert_eq!(
        delivered,
        (1..=25).collect::<Vec<_>>(),
        "nothing lost unseen"
    );
}
