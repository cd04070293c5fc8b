//! The engine's own rules on a real embedded store in a temporary directory: uniqueness under
//! concurrent creates, per-resource write locks, version checks and the retry after a lost
//! race (two engines on one store are two replicas: no lock is shared between them),
//! all-or-nothing PATCH, no-op writes, partial PUTs, and membership kept as sets on both sides.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Ctx, Engine, EngineLimits, Input};
use crate::scim::{
    error::ScimError,
    project::Projection,
    records::Loaded,
    schema::{ResourceType, GROUP_TYPE, USER_TYPE},
};
use crate::store::{embedded::EmbeddedStore, guard::Guarded, SharedStore};

/// An engine on a fresh embedded store (kept alive by the returned directory).
fn engine() -> (Engine, tempfile::TempDir) {
    let (store, dir) = store();
    (Engine::new(store, EngineLimits::default()), dir)
}

/// A fresh guarded embedded store, for one engine or several.
fn store() -> (SharedStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: SharedStore = Arc::new(EmbeddedStore::open(dir.path()).expect("embedded store"));
    (
        Guarded::wrap(store, std::time::Duration::from_secs(5), None),
        dir,
    )
}

/// Two engines on one store: two replicas, each with its own write locks.
fn replicas() -> ([Engine; 2], tempfile::TempDir) {
    let (store, dir) = store();
    let engine = || Engine::new(Arc::clone(&store), EngineLimits::default());
    ([engine(), engine()], dir)
}

fn ctx() -> Ctx {
    Ctx {
        base_url: "https://scim.example.com/scim/v2".into(),
        actor: crate::scim::events::Actor {
            token: "test".into(),
            user_agent: Some("engine-tests/1".into()),
        },
    }
}

async fn create(e: &Engine, rt: &'static ResourceType, body: Value) -> Result<String, ScimError> {
    Ok(e.create(rt, body, &Projection::default_for(rt), &ctx())
        .await?
        .id)
}

async fn patch(
    e: &Engine,
    rt: &'static ResourceType,
    id: &str,
    body: Value,
) -> Result<Loaded, ScimError> {
    let again = {
        let body = body.clone();
        move || Ok(body.clone())
    };
    e.patch(rt, id, Input::new(body, &again), None, &ctx())
        .await
}

fn op(op: &str, path: &str, value: Value) -> Value {
    json!({"Operations": [{"op": op, "path": path, "value": value}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_creates_of_one_user_name_leave_exactly_one() {
    let (e, _dir) = engine();
    let tries = (0..16).map(|i| {
        let e = e.clone();
        tokio::spawn(async move {
            // Case differs: userName is unique case-insensitively.
            let name = if i % 2 == 0 {
                "Ann@Example.com"
            } else {
                "ann@example.com"
            };
            create(&e, &USER_TYPE, json!({"userName": name})).await
        })
    });
    let results: Vec<_> = futures_util::future::join_all(tries).await;
    let won = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(ScimError::Uniqueness(_)))))
        .count();
    assert_eq!((won, refused), (1, 15), "{results:?}");
    assert_eq!(e.records().count(&USER_TYPE).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_patches_of_one_group_all_land() {
    let (e, _dir) = engine();
    let group = create(&e, &GROUP_TYPE, json!({"displayName": "Everyone"}))
        .await
        .unwrap();
    let mut users = Vec::new();
    for i in 0..24 {
        users.push(
            create(
                &e,
                &USER_TYPE,
                json!({"userName": format!("u{i}@example.com")}),
            )
            .await
            .unwrap(),
        );
    }
    // Every PATCH reads and writes the same group: the write lock queues them, none fails.
    let adds = users.iter().map(|u| {
        let (e, group, u) = (e.clone(), group.clone(), u.clone());
        tokio::spawn(async move {
            patch(
                &e,
                &GROUP_TYPE,
                &group,
                op("add", "members", json!([{"value": u}])),
            )
            .await
        })
    });
    for r in futures_util::future::join_all(adds).await {
        r.unwrap().expect("every PATCH lands");
    }
    assert_eq!(e.records().all_members(&group).await.unwrap().len(), 24);
    for u in &users {
        assert_eq!(e.records().groups_of(u).await.unwrap(), vec![group.clone()]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_racing_on_one_group_all_land_through_version_retries() {
    let ([a, b], _dir) = replicas();
    let group = create(&a, &GROUP_TYPE, json!({"displayName": "Everyone"}))
        .await
        .unwrap();
    let mut users = Vec::new();
    for i in 0..16 {
        let user = json!({"userName": format!("r{i}@example.com")});
        users.push(create(&a, &USER_TYPE, user).await.unwrap());
    }
    // Half the PATCHes go through each replica: their locks do not see each other, so a
    // write that loses the race finds the version moved and plans again.
    let adds = users.iter().enumerate().map(|(i, u)| {
        let e = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (group, u) = (group.clone(), u.clone());
        tokio::spawn(async move {
            let add = op("add", "members", json!([{"value": u}]));
            patch(&e, &GROUP_TYPE, &group, add).await
        })
    });
    for r in futures_util::future::join_all(adds).await {
        r.unwrap().expect("every PATCH lands");
    }
    let mut members = b.records().all_members(&group).await.unwrap();
    members.sort();
    users.sort();
    assert_eq!(members, users, "no member lost to a race");
    for u in &users {
        assert_eq!(a.records().groups_of(u).await.unwrap(), vec![group.clone()]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_creating_one_user_name_leave_exactly_one() {
    let ([a, b], _dir) = replicas();
    let tries = (0..12).map(|i| {
        let e = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move {
            create(&e, &USER_TYPE, json!({"userName": "twin@example.com"})).await
        })
    });
    let results: Vec<_> = futures_util::future::join_all(tries).await;
    let won = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(Ok(_)) | Ok(Err(ScimError::Uniqueness(_))))));
    assert_eq!(b.records().count(&USER_TYPE).await.unwrap(), 1);
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_writes_nothing() {
    let (e, _dir) = engine();
    let id = create(&e, &USER_TYPE, json!({"userName": "v@example.com"}))
        .await
        .unwrap();
    let v1 = e.load(&USER_TYPE, &id).await.unwrap().version;
    patch(
        &e,
        &USER_TYPE,
        &id,
        op("replace", "displayName", json!("One")),
    )
    .await
    .unwrap();
    let body = op("replace", "displayName", json!("Two"));
    let again = || Ok(op("replace", "displayName", json!("Two")));
    let stale = e
        .patch(&USER_TYPE, &id, Input::new(body, &again), Some(v1), &ctx())
        .await;
    assert!(
        matches!(stale, Err(ScimError::PreconditionFailed(_))),
        "{stale:?}"
    );
    assert_eq!(
        e.load(&USER_TYPE, &id).await.unwrap().stored.doc["displayName"],
        "One"
    );
}

#[tokio::test]
async fn a_failing_operation_leaves_the_whole_patch_unwritten() {
    let (e, _dir) = engine();
    let id = create(&e, &USER_TYPE, json!({"userName": "atomic@example.com"}))
        .await
        .unwrap();
    let before = e.load(&USER_TYPE, &id).await.unwrap();
    let body = json!({"Operations": [
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "id", "value": "forged"},
    ]});
    let r = patch(&e, &USER_TYPE, &id, body).await;
    assert!(matches!(r, Err(ScimError::Mutability(_))), "{r:?}");
    assert_eq!(e.load(&USER_TYPE, &id).await.unwrap(), before);
}

#[tokio::test]
async fn a_patch_that_changes_nothing_keeps_the_version_and_timestamp() {
    let (e, _dir) = engine();
    let id = create(
        &e,
        &USER_TYPE,
        json!({"userName": "same@example.com", "displayName": "Same",
        "emails": [{"value": "same@example.com", "type": "work"}]}),
    )
    .await
    .unwrap();
    let before = e.load(&USER_TYPE, &id).await.unwrap();
    // Resent values, as identity providers do every cycle, in another key order.
    let again = patch(&e, &USER_TYPE, &id, json!({"Operations": [
        {"op": "replace", "value": {"displayName": "Same"}},
        {"op": "add", "path": "emails", "value": [{"type": "work", "value": "same@example.com"}]},
    ]})).await.unwrap();
    assert_eq!(again.version, before.version);
    assert_eq!(again.stored.last_modified, before.stored.last_modified);
    assert_eq!(e.load(&USER_TYPE, &id).await.unwrap(), before);
}

#[tokio::test]
async fn a_partial_put_keeps_active_and_members() {
    let (e, _dir) = engine();
    let user = create(
        &e,
        &USER_TYPE,
        json!({"userName": "p@example.com", "active": false}),
    )
    .await
    .unwrap();
    let group = create(
        &e,
        &GROUP_TYPE,
        json!({"displayName": "G", "members": [{"value": user}]}),
    )
    .await
    .unwrap();
    let body = json!({"userName": "p@example.com", "displayName": "P"});
    let again = || Ok(json!({"userName": "p@example.com", "displayName": "P"}));
    let u = e
        .replace(&USER_TYPE, &user, Input::new(body, &again), None, &ctx())
        .await
        .unwrap();
    assert_eq!(
        u.stored.doc["active"], false,
        "an absent active is kept, not reset"
    );
    let body = json!({"displayName": "G2"});
    let again = || Ok(json!({"displayName": "G2"}));
    e.replace(&GROUP_TYPE, &group, Input::new(body, &again), None, &ctx())
        .await
        .unwrap();
    assert_eq!(
        e.records().all_members(&group).await.unwrap(),
        vec![user.clone()]
    );
}

#[tokio::test]
async fn deleting_a_user_removes_it_from_every_group() {
    let (e, _dir) = engine();
    let user = create(&e, &USER_TYPE, json!({"userName": "gone@example.com"}))
        .await
        .unwrap();
    let mut groups = Vec::new();
    for name in ["A", "B", "C"] {
        groups.push(
            create(
                &e,
                &GROUP_TYPE,
                json!({"displayName": name, "members": [{"value": user}]}),
            )
            .await
            .unwrap(),
        );
    }
    e.delete(&USER_TYPE, &user, None, &ctx()).await.unwrap();
    for g in &groups {
        assert!(e.records().all_members(g).await.unwrap().is_empty());
    }
    assert!(e.records().groups_of(&user).await.unwrap().is_empty());
    // The name is free again.
    create(&e, &USER_TYPE, json!({"userName": "gone@example.com"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unknown_member_is_refused_and_nothing_is_written() {
    let (e, _dir) = engine();
    let group = create(&e, &GROUP_TYPE, json!({"displayName": "Strict"}))
        .await
        .unwrap();
    let before = e.load(&GROUP_TYPE, &group).await.unwrap();
    let r = patch(
        &e,
        &GROUP_TYPE,
        &group,
        op("add", "members", json!([{"value": "no-such-id"}])),
    )
    .await;
    assert!(matches!(r, Err(ScimError::InvalidValue(_))), "{r:?}");
    assert_eq!(e.load(&GROUP_TYPE, &group).await.unwrap(), before);
    assert!(e.records().all_members(&group).await.unwrap().is_empty());
}

/// The events in the log, as the feed shows them.
async fn events(e: &Engine) -> Vec<Value> {
    let log = e
        .records()
        .store()
        .log_read(crate::scim::events::LOG, 0, 10_000)
        .await
        .unwrap();
    log.iter()
        .map(|x| serde_json::from_slice(&crate::scim::events::with_seq(x.seq, &x.value)).unwrap())
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn each_change_appends_its_events_and_a_no_op_or_a_failure_none() {
    let (e, _dir) = engine();
    let user = create(
        &e,
        &USER_TYPE,
        json!({"userName": "ev@example.com", "active": true}),
    )
    .await
    .unwrap();
    let group = create(
        &e,
        &GROUP_TYPE,
        json!({"displayName": "Ops", "members": [{"value": user}]}),
    )
    .await
    .unwrap();
    patch(&e, &USER_TYPE, &user, op("replace", "active", json!(false)))
        .await
        .unwrap();
    // The same again changes nothing and appends nothing; a failing PATCH appends nothing.
    patch(&e, &USER_TYPE, &user, op("replace", "active", json!(false)))
        .await
        .unwrap();
    let remove_required = json!({"Operations": [{"op": "remove", "path": "userName"}]});
    patch(&e, &USER_TYPE, &user, remove_required)
        .await
        .unwrap_err();
    patch(&e, &USER_TYPE, &user, op("replace", "active", json!(true)))
        .await
        .unwrap();
    patch(
        &e,
        &GROUP_TYPE,
        &group,
        op("replace", "displayName", json!("SRE")),
    )
    .await
    .unwrap();
    e.delete(&USER_TYPE, &user, None, &ctx()).await.unwrap();
    let log = events(&e).await;
    assert_eq!(
        types(&log),
        [
            "user.created",
            "group.created",
            "group.members.added",
            "user.deactivated",
            "user.reactivated",
            "group.updated",
            "user.deleted",
            "group.members.removed",
        ],
        "{log:#?}"
    );
    let seqs: Vec<u64> = log.iter().map(|x| x["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>(), "no gaps");
    let created = &log[0];
    assert_eq!(created["resource"]["type"], "User");
    assert_eq!(created["resource"]["id"], user.as_str());
    assert_eq!(created["resource"]["version"], 1);
    assert_eq!(created["data"]["userName"], "ev@example.com");
    assert_eq!(created["data"]["meta"]["resourceType"], "User");
    assert_eq!(
        created["actor"],
        json!({"token": "test", "userAgent": "engine-tests/1"})
    );
    assert!(created["id"].is_string() && created["time"].is_string());
    assert_eq!(log[2]["members"], json!([user]));
    assert_eq!(log[2]["resource"]["id"], group.as_str());
    assert!(
        log[1]["data"].get("members").is_none(),
        "groups without members"
    );
    let deactivated = &log[3];
    assert_eq!(deactivated["changed"], json!(["active"]));
    assert_eq!(deactivated["previous"], json!({"active": true}));
    assert_eq!(deactivated["resource"]["version"], 2);
    assert_eq!(log[5]["previous"], json!({"displayName": "Ops"}));
    assert!(log[6].get("data").is_none(), "a deletion carries no data");
    assert_eq!(log[7]["members"], json!([user]));
    assert_eq!(log[7]["resource"]["id"], group.as_str());
}

#[tokio::test]
async fn a_big_member_change_comes_in_events_of_a_thousand_and_ids_mode_keeps_data_out() {
    let (store, _dir) = store();
    let e = Engine::new(store, EngineLimits::default())
        .with_event_data(crate::scim::events::DataMode::Ids);
    let mut users = Vec::new();
    for i in 0..2_100 {
        let user = json!({"userName": format!("m{i}@example.com")});
        users.push(json!({"value": create(&e, &USER_TYPE, user).await.unwrap()}));
    }
    let group = create(&e, &GROUP_TYPE, json!({"displayName": "All"}))
        .await
        .unwrap();
    patch(&e, &GROUP_TYPE, &group, op("add", "members", json!(users)))
        .await
        .unwrap();
    let log = events(&e).await;
    let added: Vec<usize> = log
        .iter()
        .filter(|x| x["type"] == "group.members.added")
        .map(|x| x["members"].as_array().unwrap().len())
        .collect();
    assert_eq!(added, [1_000, 1_000, 100]);
    assert!(log
        .iter()
        .all(|x| x.get("data").is_none() && x.get("previous").is_none()));
    assert!(!serde_json::to_string(&log).unwrap().contains("example.com"));
}
