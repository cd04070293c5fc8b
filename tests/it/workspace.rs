//! The Google Workspace connector against a loopback stand-in of Google's token endpoint and
//! Directory API (`tests/support/google_directory.py`: PyJWT verifies every assertion), with
//! the bridge binary's own client, auth and sync code unchanged.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{
    bridge::{client, Bridge},
    google::{Google, KEY, OTHER_KEY},
};

/// How long any wait for a sync may take.
const WAIT: Duration = Duration::from_secs(90);

async fn status(bridge: &Bridge) -> Value {
    client()
        .get(bridge.url("/status.json"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .expect("GET /status.json")
        .json()
        .await
        .expect("JSON")
}

/// Waits (bounded) until the stored last sync satisfies `ok`; returns it.
async fn synced(bridge: &Bridge, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let last = status(bridge).await["workspace"]["lastSync"].clone();
        if !last.is_null() && ok(&last) {
            return last;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the last sync is still {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Asks for a sync (`POST /workspace/sync`) and waits for its summary: the first one that
/// began after `previous` (a summary, or `null` when there was none).
async fn sync(bridge: &Bridge, previous: &Value) -> Value {
    let res = client()
        .post(bridge.url("/workspace/sync"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .expect("POST /workspace/sync");
    assert_eq!(res.status(), 202);
    let before = previous["startedAt"].clone();
    synced(bridge, "the requested sync", |s| s["startedAt"] != before).await
}

/// Releases the deprovisioning guard, as an operator does.
async fn release(bridge: &Bridge) {
    let res = client()
        .post(bridge.url("/guard/release"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .expect("POST /guard/release");
    assert_eq!(res.status(), 200);
}

/// Options that sync only at start and when asked, so each summary stays to be read.
fn on_request(google: &Google, dir: &std::path::Path) -> crate::helpers::bridge::Options {
    google
        .options(dir, KEY)
        .env("OP_WORKSPACE_SYNC_INTERVAL", "1h")
}

async fn get(bridge: &Bridge, path: &str) -> Value {
    let res = client()
        .get(bridge.url(path))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.expect("JSON")
}

async fn user(bridge: &Bridge, user_name: &str) -> Option<Value> {
    let filter: String =
        form_urlencoded::byte_serialize(format!("userName eq \"{user_name}\"").as_bytes())
            .collect();
    let list = get(bridge, &format!("/scim/v2/Users?filter={filter}")).await;
    list["Resources"]
        .as_array()
        .and_then(|r| r.first())
        .cloned()
}

async fn total(bridge: &Bridge, kind: &str) -> u64 {
    get(bridge, &format!("/scim/v2/{kind}?count=0")).await["totalResults"]
        .as_u64()
        .unwrap()
}

fn google_user(i: u32, group_member: bool) -> (Value, Option<Value>) {
    let email = format!("u{i}@example.com");
    let user = json!({"kind": "admin#directory#user", "id": format!("20{i}"), "primaryEmail": email,
        "name": {"givenName": "U", "familyName": format!("N{i}"), "fullName": format!("U N{i}")},
        "suspended": false, "orgUnitPath": "/"});
    let member =
        group_member.then(|| json!({"id": format!("20{i}"), "email": email, "type": "USER"}));
    (user, member)
}

/// Users u1…u`n`, all in `eng@example.com`.
fn directory(n: u32) -> Value {
    let (users, members): (Vec<_>, Vec<_>) = (1..=n).map(|i| google_user(i, true)).unzip();
    json!({"users": users, "groups": [{"id": "g-eng", "email": "eng@example.com", "name": "Engineering",
        "members": members.into_iter().flatten().collect::<Vec<_>>()}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_sync_of_5000_users_and_a_2000_member_group_then_nothing_to_do() {
    let google = Google::start();
    google
        .control(
            "generate",
            json!({"users": 5000, "groups": [
                {"email": "big@example.com", "name": "Big", "members": 2000, "nested": ["small@example.com"]},
                {"email": "small@example.com", "name": "Small", "members": 10, "offset": 4000},
                {"email": "other@example.com", "name": "Other", "members": 50, "offset": 4500}]}),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start_with(
        on_request(&google, dir.path()).env("OP_WORKSPACE_GROUPS", "big@example.com"),
    );
    let first = synced(&bridge, "the first sync", |s| s["state"] == "ok").await;
    // Big's 2,000 and, through the nested Small, 10 more.
    assert_eq!(first["usersSeen"], 5000, "{first}");
    assert_eq!(first["usersInScope"], 2010, "{first}");
    assert_eq!(first["created"], 2010, "{first}");
    assert_eq!(
        (&first["groupsSeen"], &first["groupsSynced"]),
        (&json!(3), &json!(1))
    );
    assert_eq!(first["errors"], json!([]));
    assert_eq!(total(&bridge, "Users").await, 2010);
    assert_eq!(total(&bridge, "Groups").await, 1);
    let u = user(&bridge, "user000005@example.com")
        .await
        .expect("a synced user");
    assert_eq!(u["externalId"], "100000005");
    assert_eq!(u["name"]["familyName"], "000005");
    assert_eq!(u["title"], "Engineer");
    assert_eq!(
        u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "R&D"
    );
    assert_eq!(u["groups"][0]["display"], "Big");
    assert!(
        user(&bridge, "user004002@example.com").await.is_some(),
        "nested member"
    );
    assert!(
        user(&bridge, "user004600@example.com").await.is_none(),
        "unselected group"
    );
    let groups = get(
        &bridge,
        "/scim/v2/Groups?filter=displayName%20eq%20%22Big%22&excludedAttributes=members",
    )
    .await;
    let gid = groups["Resources"][0]["id"].as_str().unwrap();
    let members = get(&bridge, &format!("/groups/{gid}/members?count=1")).await;
    assert_eq!(members["totalResults"], 2010);
    // Events name the connector as the actor.
    let events = get(&bridge, "/events?limit=1").await;
    assert_eq!(
        events["events"][0]["actor"]["token"], "workspace",
        "{events}"
    );

    // The next sync finds nothing to change and writes nothing.
    let second = sync(&bridge, &first).await;
    assert_eq!(
        (&second["state"], &second["created"]),
        (&json!("ok"), &json!(0)),
        "{second}"
    );
    assert_eq!(second["unchanged"], 2010, "{second}");
    assert_eq!(second["updated"], 0);
    let stats = google.stats().await;
    // One token for every sync (cached), every page read: 5,000 users in pages of 500.
    assert_eq!(stats["token_granted"], 1, "{stats}");
    assert!(stats["users_page"].as_u64().unwrap() >= 20, "{stats}");
    let logs = bridge.logs();
    for secret in ["PRIVATE KEY", "ya29.", "eyJ", "MIIE"] {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
    assert!(
        !logs.contains("user000005@example.com"),
        "personal data in the logs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rename_suspend_leave_and_deletion_reach_the_directory() {
    let google = Google::start();
    google.control("directory", directory(6)).await;
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start_with(
        on_request(&google, dir.path()).env("OP_WORKSPACE_GROUPS", "eng@example.com"),
    );
    let first = synced(&bridge, "the first sync", |s| s["created"] == 6).await;
    // u1 renamed, u2 suspended, u3 out of the group, u4 deleted in Google.
    let mut next = directory(6);
    next["users"][0]["name"]["familyName"] = json!("Renamed");
    next["users"][1]["suspended"] = json!(true);
    let users = next["users"].as_array_mut().unwrap();
    users.remove(3);
    let members = next["groups"][0]["members"].as_array_mut().unwrap();
    members.retain(|m| m["id"] != "203" && m["id"] != "204");
    google.control("directory", next).await;
    let changes = sync(&bridge, &first).await;
    assert_eq!(
        (&changes["deactivated"], &changes["updated"]),
        (&json!(2), &json!(2)),
        "{changes}"
    );
    let u1 = user(&bridge, "u1@example.com").await.unwrap();
    assert_eq!(u1["name"]["familyName"], "Renamed");
    let u2 = user(&bridge, "u2@example.com").await.unwrap();
    assert_eq!(u2["active"], false, "suspended in Google");
    for gone in ["u3@example.com", "u4@example.com"] {
        let u = user(&bridge, gone).await.unwrap();
        assert_eq!(
            u["active"], false,
            "{gone} left the scope and is deactivated"
        );
        assert!(u["groups"].as_array().is_none_or(Vec::is_empty), "{u}");
    }
    assert_eq!(
        user(&bridge, "u5@example.com").await.unwrap()["active"],
        true
    );
    // The history says who and why: the connector deactivated u3.
    let u3 = user(&bridge, "u3@example.com").await.unwrap();
    let history = get(
        &bridge,
        &format!("/events?resource=User/{}", u3["id"].as_str().unwrap()),
    )
    .await;
    let deactivated = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "user.deactivated")
        .expect("a deactivation in the history");
    assert_eq!(deactivated["actor"]["token"], "workspace");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scim_user_is_left_alone_a_matching_one_is_adopted_and_the_picked_groups_survive_a_restart(
) {
    let google = Google::start();
    google.control("directory", directory(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let options = |google: &Google| {
        let mut o = on_request(google, dir.path());
        o.dir = Some(work.path().to_owned());
        o
    };
    let bridge = Bridge::start_with(options(&google));
    // No groups picked: nothing syncs.
    let idle = synced(&bridge, "an idle sync", |s| s["state"] == "idle").await;
    assert_eq!(total(&bridge, "Users").await, 0);
    let scim = |body: Value| {
        client()
            .post(bridge.url("/scim/v2/Users"))
            .header("Authorization", bridge.bearer())
            .header("Content-Type", "application/scim+json")
            .json(&body)
            .send()
    };
    assert_eq!(
        scim(json!({"userName": "okta-only@example.com", "title": "From Okta"}))
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        scim(json!({"userName": "u2@example.com", "title": "Old"}))
            .await
            .unwrap()
            .status(),
        201
    );
    // Pick the group as the status page does.
    let res = client()
        .put(bridge.url("/workspace/selection"))
        .header("Authorization", bridge.bearer())
        .json(&json!({"groups": ["ENG@example.com"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let groups = get(&bridge, "/workspace/groups").await;
    assert_eq!(groups["groups"][0]["email"], "eng@example.com");
    assert_eq!(groups["groups"][0]["selected"], true);
    let before = idle["startedAt"].clone();
    let s = synced(&bridge, "the sync after the pick", |s| {
        s["startedAt"] != before
    })
    .await;
    assert_eq!(s["state"], "ok", "{s}");
    assert_eq!(
        (&s["created"], &s["adopted"]),
        (&json!(2), &json!(1)),
        "{s}"
    );
    let adopted = user(&bridge, "u2@example.com").await.unwrap();
    assert_eq!(s["adoptions"], json!([adopted["id"]]));
    assert_eq!(adopted["externalId"], "202");
    let alone = user(&bridge, "okta-only@example.com").await.unwrap();
    assert_eq!(alone["title"], "From Okta");
    assert_eq!(
        alone["meta"]["version"], "W/\"1\"",
        "never written by a sync"
    );

    // A restart keeps the pick: the next sync needs no one to sign in.
    let bridge = bridge.restart();
    let doc = status(&bridge).await;
    assert_eq!(doc["workspace"]["selection"], json!(["eng@example.com"]));
    let at = s["startedAt"].clone();
    let after = synced(&bridge, "a sync after the restart", |s| {
        s["startedAt"] != at
    })
    .await;
    assert_eq!(
        (&after["state"], &after["unchanged"]),
        (&json!("ok"), &json!(3)),
        "{after}"
    );
    assert_eq!(total(&bridge, "Users").await, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_page_and_an_expired_token_are_retried() {
    let google = Google::start();
    google.control("directory", directory(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start_with(
        on_request(&google, dir.path()).env("OP_WORKSPACE_GROUPS", "eng@example.com"),
    );
    let first = synced(&bridge, "the first sync", |s| s["created"] == 3).await;
    google
        .control(
            "fail",
            json!({"path": "/admin/directory/v1/users", "status": 403, "reason": "rateLimitExceeded", "times": 2}),
        )
        .await;
    google
        .control("fail", json!({"path": "/admin/directory/v1/groups", "status": 503, "reason": "backendError", "times": 1}))
        .await;
    google
        .control("fail", json!({"path": "/admin/directory/v1/groups/", "status": 429, "reason": "rateLimitExceeded", "times": 1}))
        .await;
    google.control("expire-tokens", json!({})).await;
    let mut next = directory(3);
    next["users"][0]["name"]["familyName"] = json!("After the retries");
    google.control("directory", next).await;
    let through = sync(&bridge, &first).await;
    assert_eq!(
        (&through["state"], &through["updated"]),
        (&json!("ok"), &json!(1)),
        "{through}"
    );
    let stats = google.stats().await;
    assert_eq!(stats["injected_403"], 2, "{stats}");
    assert_eq!(stats["injected_503"], 1, "{stats}");
    assert_eq!(stats["injected_429"], 1, "a members page: {stats}");
    assert_eq!(
        stats["token_granted"], 2,
        "a new token after the 401: {stats}"
    );
    assert!(stats["api_unauthorized"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(
        user(&bridge, "u1@example.com").await.unwrap()["name"]["familyName"],
        "After the retries"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_key_degrades_health_leaves_scim_working_and_a_fixed_key_is_picked_up() {
    let google = Google::start();
    google.control("directory", directory(2)).await;
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start_with(
        google
            .options(dir.path(), OTHER_KEY)
            .env("OP_WORKSPACE_GROUPS", "eng@example.com"),
    );
    let deadline = Instant::now() + WAIT;
    let report = loop {
        let r = bridge.health_report("Workspace").await;
        if r["state"] == "degraded" {
            break r;
        }
        assert!(Instant::now() < deadline, "Workspace never degraded: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let details = report.to_string();
    assert!(
        details.contains("invalid_grant") && details.contains("Invalid JWT Signature"),
        "{details}"
    );
    assert_eq!(
        bridge.users_status(&bridge.token).await,
        200,
        "SCIM is unaffected"
    );
    assert_eq!(total(&bridge, "Users").await, 0);
    let stats = google.stats().await;
    assert!(stats["token_refused"].as_u64().unwrap() >= 1, "{stats}");
    assert!(
        stats.get("api").is_none(),
        "no API call without a token: {stats}"
    );
    // The operator replaces the key file; the next sync uses it, without a restart.
    crate::helpers::google::write_key(
        &dir.path().join("workspace-credentials.json"),
        KEY,
        &format!("{}/token", google.base),
    );
    synced(&bridge, "a sync with the fixed key", |s| s["state"] == "ok").await;
    assert_eq!(total(&bridge, "Users").await, 2);
    assert_eq!(bridge.health_report("Workspace").await["state"], "healthy");
    let logs = bridge.logs();
    for secret in ["PRIVATE KEY", "ya29.", "eyJ", "MIIE"] {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mass_removal_is_held_by_the_deprovisioning_guard_and_resumes_after_release() {
    let google = Google::start();
    google.control("directory", directory(6)).await;
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start_with(
        on_request(&google, dir.path())
            .env("OP_WORKSPACE_GROUPS", "eng@example.com")
            .env("OP_DEPROVISION_LIMIT", "2"),
    );
    let first = synced(&bridge, "the first sync", |s| s["created"] == 6).await;
    // Someone empties the group in Google: five leave at once.
    let mut next = directory(6);
    next["groups"][0]["members"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    google.control("directory", next).await;
    let held = sync(&bridge, &first).await;
    assert_eq!(
        (&held["state"], &held["deactivated"]),
        (&json!("held"), &json!(2)),
        "{held}"
    );
    assert_eq!(bridge.health_report("Workspace").await["state"], "degraded");
    assert_eq!(
        bridge.health_report("DeprovisionGuard").await["state"],
        "degraded"
    );
    release(&bridge).await;
    // After the release the next sync goes on: two more (the limit), then the guard holds
    // again, until a second release lets the last one through.
    let again = sync(&bridge, &held).await;
    assert_eq!(
        (&again["state"], &again["deactivated"]),
        (&json!("held"), &json!(2)),
        "{again}"
    );
    release(&bridge).await;
    let last = sync(&bridge, &again).await;
    assert_eq!(
        (&last["state"], &last["deactivated"]),
        (&json!("ok"), &json!(1)),
        "{last}"
    );
    let inactive = get(&bridge, "/scim/v2/Users?filter=active%20eq%20false&count=0").await;
    assert_eq!(inactive["totalResults"], 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_killed_part_way_resumes_after_the_restart_without_duplicates() {
    let google = Google::start();
    google
        .control(
            "generate",
            json!({"users": 1500, "groups": [{"email": "all@example.com", "members": 1500}]}),
        )
        .await;
    // Each page of users takes a second, so the sync is caught in the middle.
    google
        .control(
            "delay",
            json!({"path": "/admin/directory/v1/users", "seconds": 1.0}),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut options = google
        .options(dir.path(), KEY)
        .env("OP_WORKSPACE_GROUPS", "all@example.com");
    options.dir = Some(work.path().to_owned());
    let bridge = Bridge::start_with(options);
    let deadline = Instant::now() + WAIT;
    loop {
        let n = total(&bridge, "Users").await;
        if n > 0 {
            assert!(n < 1500, "the sync ended before it could be interrupted");
            break;
        }
        assert!(Instant::now() < deadline, "no user arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bridge = bridge.kill_and_restart();
    google
        .control("delay", json!({"path": null, "seconds": 0}))
        .await;
    synced(&bridge, "the resumed sync", |s| s["state"] == "ok").await;
    assert_eq!(total(&bridge, "Users").await, 1500);
    let groups = get(&bridge, "/scim/v2/Groups?excludedAttributes=members").await;
    assert_eq!(groups["totalResults"], 1, "{groups}");
    let gid = groups["Resources"][0]["id"].as_str().unwrap();
    assert_eq!(
        get(&bridge, &format!("/groups/{gid}/members?count=1")).await["totalResults"],
        1500
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_redis_sync_one_directory_and_leavers_are_deleted_when_asked() {
    let redis = crate::helpers::redis::RedisServer::start();
    let google = Google::start();
    google.control("directory", directory(40)).await;
    let dir = tempfile::tempdir().unwrap();
    let options = || {
        google
            .options(dir.path(), KEY)
            .env("OP_WORKSPACE_GROUPS", "eng@example.com")
            .env("OP_WORKSPACE_LEAVE", "delete")
            .env("OP_REDIS_URL", redis.url())
    };
    let a = Bridge::start_with(options());
    let b = Bridge::start_with(options());
    let first = synced(&a, "the first sync", |s| {
        s["state"] == "ok" && s["usersInScope"] == 40
    })
    .await;
    assert_eq!(first["errors"], json!([]), "{first}");
    // Either replica may have synced; both see one directory, with no user twice.
    for bridge in [&a, &b] {
        assert_eq!(total(bridge, "Users").await, 40);
        assert_eq!(total(bridge, "Groups").await, 1);
    }
    // Ten leave the group: with OP_WORKSPACE_LEAVE=delete they are deleted, not deactivated.
    let mut next = directory(40);
    next["groups"][0]["members"]
        .as_array_mut()
        .unwrap()
        .truncate(30);
    google.control("directory", next).await;
    // (Both replicas sync every second, so a summary may be replaced before it is read: the
    // directory is what the test watches.)
    let deadline = Instant::now() + WAIT;
    while total(&a, "Users").await != 30 {
        assert!(Instant::now() < deadline, "the leavers were never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(user(&b, "u35@example.com").await.is_none());
    let feed = get(&b, "/events?limit=1000").await;
    let deletions: Vec<&Value> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "user.deleted")
        .collect();
    assert_eq!(deletions.len(), 10, "one deletion each, by one replica");
    assert!(deletions.iter().all(|e| e["actor"]["token"] == "workspace"));
    let quiet = synced(&a, "a quiet sync", |s| {
        s["state"] == "ok" && s["usersInScope"] == 30 && s["deleted"] == 0
    })
    .await;
    assert_eq!(
        (&quiet["unchanged"], &quiet["created"]),
        (&json!(30), &json!(0))
    );
}
