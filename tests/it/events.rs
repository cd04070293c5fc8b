//! The pull feed, `GET /events`, over HTTP on both stores: pages after a cursor, the head,
//! long polls, server-sent events resumed from `Last-Event-ID`, a trimmed cursor's `410`, and
//! a replica woken by another replica's write.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::scim::{on_both_stores, Backend, Scim};

on_both_stores!(
    pages_follow_the_directory_in_order,
    events_name_the_quirks_the_bridge_applied,
    cursors_that_cannot_be_served_are_errors,
    a_long_poll_wakes_on_the_next_write,
    a_stream_sends_events_and_resumes_from_last_event_id,
    a_trimmed_cursor_is_gone,
    shutdown_ends_open_streams,
    events_older_than_the_retention_are_trimmed,
    a_resource_has_its_history_with_who_and_what,
    a_history_loses_what_retention_trims,
);

/// `GET /events` + `query` with the bearer token: status and JSON body.
async fn events(s: &Scim, query: &str) -> (StatusCode, Value) {
    s.operator(&format!("/events{query}")).await
}

fn seqs(page: &Value) -> Vec<u64> {
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}

fn types(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect()
}

async fn pages_follow_the_directory_in_order(b: Backend) {
    let s = Scim::start(b).await;
    let (status, empty) = events(&s, "").await;
    assert_eq!(status, 200);
    assert_eq!(empty, json!({"events": [], "next": 0}));

    let ann = s.user("ann@example.com").await;
    let bob = s.user("bob@example.com").await;
    let group = s.group("staff", &[&ann]).await;
    s.patch(
        &format!("/Users/{bob}"),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}]}),
    )
    .await
    .expect(200);
    s.delete(&format!("/Users/{ann}")).await.expect(204);

    let (status, all) = events(&s, "").await;
    assert_eq!(status, 200);
    assert_eq!(
        types(&all),
        [
            "user.created",
            "user.created",
            "group.created",
            "group.members.added",
            "user.deactivated",
            "user.deleted",
            "group.members.removed"
        ]
    );
    assert_eq!(seqs(&all), (1..=7).collect::<Vec<_>>());
    assert_eq!(all["next"], 7);
    assert_eq!(all["events"][0]["resource"]["id"], ann.as_str());
    assert_eq!(all["events"][3]["resource"]["id"], group.as_str());
    assert_eq!(all["events"][3]["members"], json!([ann]));
    assert_eq!(all["events"][6]["members"], json!([ann]), "{all}");

    // Paging: `next` is the cursor for the next page, and the pages add up to the whole.
    let (_, first) = events(&s, "?limit=3").await;
    assert_eq!((seqs(&first), &first["next"]), (vec![1, 2, 3], &json!(3)));
    let (_, second) = events(&s, "?after=3&limit=3").await;
    assert_eq!(seqs(&second), [4, 5, 6]);
    let (_, last) = events(&s, "?after=6&limit=3").await;
    assert_eq!((seqs(&last), &last["next"]), (vec![7], &json!(7)));
    let (_, none) = events(&s, "?after=7").await;
    assert_eq!(none, json!({"events": [], "next": 7}));
    // The same cursor reads the same events: an event's id is the same on every read.
    let (_, again) = events(&s, "?after=3&limit=3").await;
    assert_eq!(again, second);
    // `limit=0`: no events, and the head, whatever the cursor.
    let (_, head) = events(&s, "?limit=0").await;
    assert_eq!(head, json!({"events": [], "next": 7}));
}

/// Each event's `normalized` lists the identity-provider quirks the bridge applied to the
/// request that caused it, and is empty for a request in the RFC's own shapes.
async fn events_name_the_quirks_the_bridge_applied(b: Backend) {
    let s = Scim::start(b).await;
    let patch_op = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    let ann = s.user("ann@example.com").await;
    let okta = s
        .post(
            "/Users",
            &json!({"userName": "okta@example.com", "password": "hunter2",
                    "emails": {"value": "okta@example.com", "type": "work"}}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.patch(
        &format!("/Users/{ann}"),
        &json!({"schemas": [patch_op],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
    )
    .await
    .expect(200);
    s.patch(
        &format!("/Users/{okta}"),
        &json!({"schemas": [patch_op], "Operations": [{"op": "replace", "value": {"active": false}}]}),
    )
    .await
    .expect(200);
    let group = s.group("staff", &[&ann, &okta]).await;
    s.patch(
        &format!("/Groups/{group}"),
        &json!({"schemas": [patch_op],
                "Operations": [{"op": "Remove", "path": "members", "value": [{"value": ann}]}]}),
    )
    .await
    .expect(204);

    let (_, all) = events(&s, "").await;
    let noted: Vec<(String, Value)> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["normalized"].clone(),
            )
        })
        .collect();
    let want = [
        ("user.created", json!([])),
        (
            "user.created",
            json!(["okta.passwordIgnored", "onelogin.singleForArray"]),
        ),
        (
            "user.deactivated",
            json!(["entra.capitalizedOp", "entra.stringBoolean"]),
        ),
        ("user.deactivated", json!(["okta.noPathDeactivate"])),
        ("group.created", json!([])),
        ("group.members.added", json!([])),
        (
            "group.members.removed",
            json!(["entra.capitalizedOp", "entra.removeByValueList"]),
        ),
    ];
    let want: Vec<(String, Value)> = want.into_iter().map(|(t, n)| (t.to_owned(), n)).collect();
    assert_eq!(noted, want, "{all}");
}

async fn cursors_that_cannot_be_served_are_errors(b: Backend) {
    let s = Scim::start(b).await;
    s.user("ann@example.com").await;
    let (status, doc) = events(&s, "?after=5").await;
    assert_eq!(status, 400, "{doc}");
    assert_eq!(doc["scimType"], "invalidValue");
    assert!(doc["detail"]
        .as_str()
        .unwrap()
        .contains("past the last event"));
    for query in ["?after=x", "?limit=-1", "?wait=soon"] {
        let (status, doc) = events(&s, query).await;
        assert_eq!(status, 400, "{query}: {doc}");
        assert_eq!(doc["scimType"], "invalidValue", "{query}");
    }
    let res = crate::helpers::bridge::client()
        .get(s.url("/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the feed needs a token");
    let res = crate::helpers::bridge::client()
        .post(s.url("/events"))
        .header("Authorization", s.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
}

async fn a_long_poll_wakes_on_the_next_write(b: Backend) {
    let s = Scim::start(b).await;
    s.user("ann@example.com").await;
    // Nothing comes: the poll answers empty when its wait is over, not before.
    let started = Instant::now();
    let (status, page) = events(&s, "?after=1&wait=1").await;
    assert_eq!(status, 200);
    assert_eq!(page, json!({"events": [], "next": 1}));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    // A poll waiting on one replica wakes when a write lands on another (on the embedded
    // store, the same bridge: it has no replicas).
    let replica = match b {
        Backend::Redis => Some(s.app().replica().await),
        Backend::Embedded => None,
    };
    let writer = replica
        .as_ref()
        .map_or_else(|| s.url("/scim/v2/Users"), |r| r.url("/scim/v2/Users"));
    let poll = {
        let (url, bearer) = (s.url("/events?after=1&wait=20"), s.bearer());
        tokio::spawn(async move {
            let started = Instant::now();
            let res = crate::helpers::bridge::client()
                .get(url)
                .header("Authorization", bearer)
                .send()
                .await
                .expect("poll");
            (started.elapsed(), res.json::<Value>().await.expect("JSON"))
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let created = crate::helpers::bridge::client()
        .post(writer)
        .header("Authorization", s.bearer())
        .header("Content-Type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": "bob@example.com"})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let (took, page) = poll.await.unwrap();
    assert_eq!(seqs(&page), [2], "{page}");
    assert_eq!(page["events"][0]["data"]["userName"], "bob@example.com");
    assert!(
        took < Duration::from_secs(10),
        "the poll woke on the write, not at its deadline: {took:?}"
    );
}

/// An open `text/event-stream` response, read chunk by chunk into whole events.
struct Stream {
    res: reqwest::Response,
    text: String,
}

/// One server-sent event or comment as received.
#[derive(Debug)]
struct Sse {
    id: Option<u64>,
    event: Option<String>,
    data: Option<Value>,
    comment: bool,
}

impl Stream {
    async fn open(s: &Scim, query: &str, last_event_id: Option<&str>) -> reqwest::Response {
        let mut req = crate::helpers::bridge::client()
            .get(s.url(&format!("/events{query}")))
            .header("Authorization", s.bearer())
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        req.send().await.expect("GET /events as a stream")
    }

    async fn start(s: &Scim, query: &str, last_event_id: Option<&str>) -> Stream {
        let res = Self::open(s, query, last_event_id).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Stream {
            res,
            text: String::new(),
        }
    }

    /// The next event or comment within `within`; `None` when the stream ends.
    async fn next(&mut self, within: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut sse = Sse {
                    id: None,
                    event: None,
                    data: None,
                    comment: false,
                };
                let mut fields = 0;
                for line in block.lines().filter(|l| !l.is_empty()) {
                    if let Some(v) = line.strip_prefix("id: ") {
                        sse.id = Some(v.parse().expect("a numeric id"));
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        sse.event = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        sse.data = Some(serde_json::from_str(v).expect("JSON data"));
                    } else if line.starts_with(':') {
                        sse.comment = true;
                        continue;
                    } else if line.starts_with("retry: ") {
                        continue;
                    } else {
                        panic!("unexpected line {line:?}");
                    }
                    fields += 1;
                }
                if fields == 0 && !sse.comment {
                    continue; // the `retry:` block
                }
                return Some(sse);
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.chunk())
                .await
                .expect("an event within the time")
                .expect("the stream reads");
            match chunk {
                Some(bytes) => self.text.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => return None,
            }
        }
    }

    /// The next event (skipping comments).
    async fn event(&mut self) -> Sse {
        loop {
            let sse = self.next(Duration::from_secs(10)).await.expect("an event");
            if !sse.comment {
                return sse;
            }
        }
    }
}

async fn a_stream_sends_events_and_resumes_from_last_event_id(b: Backend) {
    let s = Scim::start(b).await;
    s.user("ann@example.com").await;
    s.user("bob@example.com").await;
    let mut stream = Stream::start(&s, "", None).await;
    for seq in [1, 2] {
        let e = stream.event().await;
        assert_eq!(e.id, Some(seq));
        let data = e.data.expect("data");
        assert_eq!(data["seq"], seq);
        assert_eq!(data["type"], "user.created");
    }
    // Live: a write made while the stream is open arrives on it.
    s.user("cat@example.com").await;
    let e = stream.event().await;
    assert_eq!(e.id, Some(3));
    assert_eq!(e.data.unwrap()["data"]["userName"], "cat@example.com");
    drop(stream);

    // A client reconnecting with the last id it saw gets what came after, over `after`.
    s.user("dan@example.com").await;
    let mut resumed = Stream::start(&s, "?after=0", Some("3")).await;
    let e = resumed.event().await;
    assert_eq!(e.id, Some(4));
    assert_eq!(e.data.unwrap()["data"]["userName"], "dan@example.com");
    // The cursor rules are the same as the page's.
    let res = Stream::open(&s, "", Some("99")).await;
    assert_eq!(res.status(), 400);
}

async fn a_trimmed_cursor_is_gone(b: Backend) {
    let s = Scim::start(b).await;
    for name in ["ann", "bob", "cat", "dan"] {
        s.user(&format!("{name}@example.com")).await;
    }
    // Events 1 and 2 go (retention does this; here the store is trimmed directly).
    let store = s.app().store();
    store
        .write(
            scim_bridge::store::WriteBatch::new().then(scim_bridge::store::Mutation::Trim {
                log: scim_bridge::scim::events::LOG.into(),
                before: 3,
            }),
        )
        .await
        .expect("trim");
    let (status, doc) = events(&s, "?after=1").await;
    assert_eq!(status, 410, "{doc}");
    assert_eq!(doc["status"], "410");
    assert_eq!(doc["oldest"], 3);
    assert_eq!(
        doc["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    // The cursor just before the oldest kept is still good.
    let (status, page) = events(&s, "?after=2").await;
    assert_eq!((status.as_u16(), seqs(&page)), (200, vec![3, 4]));
    let (_, head) = events(&s, "?limit=0").await;
    assert_eq!(head["next"], 4);
    // A stream resumed from a trimmed id is refused the same way (a stream that falls
    // behind a trim while open is a unit test of the handler).
    let res = Stream::open(&s, "", Some("1")).await;
    assert_eq!(res.status(), 410);
}

async fn shutdown_ends_open_streams(b: Backend) {
    let s = Scim::start(b).await;
    s.user("ann@example.com").await;
    let mut stream = Stream::start(&s, "", None).await;
    assert_eq!(stream.event().await.id, Some(1));
    let poll = {
        let (url, bearer) = (s.url("/events?after=1&wait=30"), s.bearer());
        tokio::spawn(async move {
            crate::helpers::bridge::client()
                .get(url)
                .header("Authorization", bearer)
                .send()
                .await
                .expect("poll")
                .json::<Value>()
                .await
                .expect("JSON")
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A graceful restart does not wait out the stream or the poll (the grace is 10 s or more).
    let started = Instant::now();
    let s = s.restart().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "restart took {:?}",
        started.elapsed()
    );
    assert!(
        stream.next(Duration::from_secs(5)).await.is_none(),
        "the stream ended"
    );
    assert_eq!(poll.await.unwrap(), json!({"events": [], "next": 1}));
    // And the log is there after the restart.
    let (_, page) = events(&s, "").await;
    assert_eq!(seqs(&page), [1]);
}

async fn events_older_than_the_retention_are_trimmed(b: Backend) {
    let s = Scim::start_with(
        b,
        crate::helpers::bridge::Options::default().env("OP_EVENTS_RETENTION", "1s"),
    )
    .await;
    for name in ["ann", "bob", "cat"] {
        s.user(&format!("{name}@example.com")).await;
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, doc) = events(&s, "?after=0").await;
        if status == 410 {
            // Everything is older than a second: nothing kept, the next event is 4.
            assert_eq!(doc["oldest"], 4, "{doc}");
            break;
        }
        assert!(Instant::now() < deadline, "never trimmed: {doc}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The head stays: a reader at it misses nothing, and numbering goes on.
    let (_, head) = events(&s, "?limit=0").await;
    assert_eq!(head["next"], 3);
    s.user("dan@example.com").await;
    let (status, page) = events(&s, "?after=3").await;
    assert_eq!((status.as_u16(), seqs(&page)), (200, vec![4]));
}

/// `GET /events?resource=User/{id}`: the user's own events and the membership events naming
/// it, in order, paged; the group's history beside it; a deleted user's history stays.
async fn a_resource_has_its_history_with_who_and_what(b: Backend) {
    let s = Scim::start(b).await;
    let ann = s.user("ann@example.com").await;
    let bob = s.user("bob@example.com").await;
    let staff = s.group("staff", &[&ann, &bob]).await;
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    s.patch(
        &format!("/Users/{ann}"),
        &patch(json!([{"op": "replace", "path": "displayName", "value": "Ann Lee"}])),
    )
    .await
    .expect(200);
    s.patch(
        &format!("/Groups/{staff}"),
        &patch(json!([{"op": "remove", "path": format!("members[value eq \"{ann}\"]")}])),
    )
    .await
    .expect(204);
    s.patch(
        &format!("/Users/{ann}"),
        &patch(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .await
    .expect(200);
    s.delete(&format!("/Users/{ann}")).await.expect(204);

    let (status, history) = events(&s, &format!("?resource=User/{ann}")).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(
        types(&history),
        [
            "user.created",
            "group.members.added",
            "user.updated",
            "group.members.removed",
            "user.deactivated",
            "user.deleted"
        ],
        "{history}"
    );
    let evs = history["events"].as_array().unwrap();
    // Who: the token's label; what: the paths with old and new values.
    assert!(
        evs.iter().all(|e| e["actor"]["token"] == "initial"),
        "{history}"
    );
    assert_eq!(evs[2]["changed"], json!(["displayName"]), "{}", evs[2]);
    assert_eq!(evs[2]["data"]["displayName"], "Ann Lee", "{}", evs[2]);
    assert_eq!(
        evs[1]["resource"]["id"],
        staff.as_str(),
        "the membership event is the group's"
    );
    let all_seqs = seqs(&history);
    assert_eq!(history["next"], *all_seqs.last().unwrap());

    // Paged like the feed.
    let (_, first) = events(&s, &format!("?resource=User/{ann}&limit=2")).await;
    assert_eq!(seqs(&first), all_seqs[..2]);
    let (_, rest) = events(&s, &format!("?resource=user/{ann}&after={}", first["next"])).await;
    assert_eq!(seqs(&rest), all_seqs[2..]);
    let (_, end) = events(&s, &format!("?resource=User/{ann}&after={}", rest["next"])).await;
    assert_eq!(end, json!({"events": [], "next": rest["next"]}));

    // The group's: created, its members added (both), ann removed; bob's has no update.
    let (_, group) = events(&s, &format!("?resource=Group/{staff}")).await;
    assert_eq!(
        types(&group),
        [
            "group.created",
            "group.members.added",
            "group.members.removed"
        ]
    );
    let (_, bobs) = events(&s, &format!("?resource=User/{bob}")).await;
    assert_eq!(types(&bobs), ["user.created", "group.members.added"]);
    let (_, nobody) = events(&s, "?resource=User/no-such-id").await;
    assert_eq!(nobody, json!({"events": [], "next": 0}));
    let (status, bad) = events(&s, "?resource=Users").await;
    assert_eq!(
        (status.as_u16(), bad["scimType"].as_str()),
        (400, Some("invalidValue"))
    );
}

/// Retention trims a history with the log: nothing points at a trimmed event.
async fn a_history_loses_what_retention_trims(b: Backend) {
    let s = Scim::start_with(
        b,
        crate::helpers::bridge::Options::default().env("OP_EVENTS_RETENTION", "1s"),
    )
    .await;
    let ann = s.user("ann@example.com").await;
    let (_, before) = events(&s, &format!("?resource=User/{ann}")).await;
    assert_eq!(types(&before), ["user.created"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while events(&s, "?after=0").await.0 != 410 {
        assert!(Instant::now() < deadline, "never trimmed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, after) = events(&s, &format!("?resource=User/{ann}")).await;
    assert_eq!(
        (status.as_u16(), after),
        (200, json!({"events": [], "next": 0}))
    );
}
