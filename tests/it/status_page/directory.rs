//! The operator's view in a real headless Chromium: a script posing as an identity provider
//! deactivates people until the deprovisioning guard holds; the operator signs in, searches a
//! user, opens her history and sees the deactivation with its actor and old → new value, opens
//! her group's paged members, sees the guard holding and what it held, releases it, and the
//! identity provider's retry goes through. The charts show the requests, the 503s among them.
//! Screenshots go to `target/test-artifacts/`.

use std::path::Path;

use serde_json::{json, Value};

use super::browser::Browser;
use crate::helpers::bridge::{client, Bridge, Options};

const OKTA: &str = "Okta SCIM Client 1.0.0";
const NAMES: [&str; 6] = ["ann", "ben", "cyd", "dee", "eve", "fay"];

async fn scim(bridge: &Bridge, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let res = client()
        .request(method, bridge.url(path))
        .header("Authorization", bridge.bearer())
        .header("User-Agent", OKTA)
        .header("Content-Type", "application/scim+json")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn deactivate() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "replace", "value": {"active": false}}]})
}

#[tokio::test]
async fn the_operator_finds_who_deactivated_a_user_and_releases_the_guard() {
    let bridge = Bridge::start_with(Options::default().env("OP_DEPROVISION_LIMIT", "3"));
    let mut ids = Vec::new();
    for name in NAMES {
        let (status, doc) = scim(
            &bridge,
            reqwest::Method::POST,
            "/scim/v2/Users",
            json!({"userName": format!("{name}@example.com"), "externalId": format!("okta-{name}"),
                   "name": {"givenName": name, "familyName": "Example"},
                   "emails": [{"value": format!("{name}.work@example.com"), "primary": true}]}),
        )
        .await;
        assert_eq!(status, 201, "{doc}");
        ids.push(doc["id"].as_str().unwrap().to_owned());
    }
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let (status, group) = scim(
        &bridge,
        reqwest::Method::POST,
        "/scim/v2/Groups",
        json!({"displayName": "Engineering", "members": members}),
    )
    .await;
    assert_eq!(status, 201);
    // The mass deactivation: three pass, the fourth and fifth are held.
    for (i, id) in ids.iter().enumerate().take(5) {
        let (status, doc) = scim(
            &bridge,
            reqwest::Method::PATCH,
            &format!("/scim/v2/Users/{id}"),
            deactivate(),
        )
        .await;
        let want = if i < 3 { 200 } else { 503 };
        assert_eq!(status, want, "deactivation {i}: {doc}");
    }

    let browser = Browser::start().await;
    let session = browser.signed_in(&bridge.url("/"), &bridge.token).await;
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    session.wait_text("#users-total", |t| t == "6").await;
    // Before a search there are no results and no pager (a CSS display must not undo `hidden`).
    let shown = session
        .script("return ['results-pager', 'results-table', 'resource'].map(id => getComputedStyle(document.getElementById(id)).display)")
        .await;
    assert_eq!(shown, json!(["none", "none", "none"]));

    // The guard holds, and says what it held (the fourth user, by the identity provider's token).
    let state = session
        .wait_text("#guard-state", |t| t.starts_with("Holding"))
        .await;
    assert!(
        state.contains("2 deactivations") && state.contains("3 of 3"),
        "{state}"
    );
    let held = session.text("#guard-recent").await;
    assert!(
        held.contains(&ids[3]) && held.contains(&ids[4]) && held.contains("initial"),
        "{held}"
    );
    session
        .screenshot(&artifacts.join("operator-guard-holding.png"))
        .await;

    // Search by part of an email address; open the user; her history names who and what.
    session.type_into("#search-text", "ann.work").await;
    session.click("#search").await;
    let results = session
        .wait_text("#results", |t| t.contains("ann@example.com"))
        .await;
    assert!(!results.contains("ben@example.com"), "{results}");
    assert_eq!(session.text("#results-range").await, "1–1 of 1");
    session.click("#results button.link").await;
    let history = session
        .wait_text("#history", |t| t.contains("user.deactivated"))
        .await;
    assert!(history.contains("user.created"), "{history}");
    assert!(
        history.contains(&format!("initial ({OKTA})")),
        "no actor in the history: {history}"
    );
    // She was created without `active` (unset counts as active), and Okta's path-less
    // deactivation is a quirk the bridge normalised.
    assert!(history.contains("active: (unset) → false"), "{history}");
    assert!(history.contains("okta.noPathDeactivate"), "{history}");
    assert!(
        history.contains("joined Engineering"),
        "the group's membership event: {history}"
    );
    let facts = session.text("#resource-facts").await;
    assert!(
        facts.contains("inactive") && facts.contains("okta-ann"),
        "{facts}"
    );
    let attributes = session.text("#resource-attributes").await;
    assert!(
        attributes.contains("name.givenName") && attributes.contains("ann"),
        "{attributes}"
    );
    assert!(session
        .text("#resource-groups")
        .await
        .contains("Engineering"));
    // The newest event comes first.
    let first = session
        .script("return document.querySelector('#history tr').dataset.type")
        .await;
    assert_eq!(first, "user.deactivated");
    session
        .screenshot(&artifacts.join("operator-user-history.png"))
        .await;

    // Her group: its size and its members, a page at a time.
    session.click("#resource-groups button.link").await;
    let title = session
        .wait_text("#resource-members-title", |t| t.contains("(6)"))
        .await;
    assert_eq!(title, "Members (6)");
    let members = session.text("#resource-members").await;
    assert!(
        NAMES
            .iter()
            .all(|n| members.contains(&format!("{n}@example.com"))),
        "{members}"
    );
    assert_eq!(session.text("#members-range").await, "1–6 of 6");
    let group_history = session
        .wait_text("#history", |t| t.contains("group.created"))
        .await;
    assert!(
        group_history.contains("6 members added:"),
        "{group_history}"
    );
    assert_eq!(
        session.text("#resource-title").await,
        format!("Group {}", group["displayName"].as_str().unwrap())
    );

    // The charts: bars per outcome, the 503s among them, and the latency lines.
    let drawn = session
        .script(
            "return ['rect.s-2xx','rect.s-4xx','rect.s-5xx','#chart-latency path.l-p50']\
             .map(s => document.querySelectorAll(s).length)",
        )
        .await;
    let drawn: Vec<u64> = drawn
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(drawn[0] >= 1 && drawn[2] >= 1 && drawn[3] == 1, "{drawn:?}");
    session
        .screenshot(&artifacts.join("operator-charts.png"))
        .await;

    // Release; the identity provider's retry of a held deactivation now goes through.
    session.click("#guard-release").await;
    let said = session
        .wait_text("#guard-message", |t| t.starts_with("Released"))
        .await;
    assert!(said.contains("2 refused"), "{said}");
    session
        .wait_text("#guard-state", |t| t.starts_with("Watching"))
        .await;
    let (status, doc) = scim(
        &bridge,
        reqwest::Method::PATCH,
        &format!("/scim/v2/Users/{}", ids[3]),
        deactivate(),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["active"], false);

    // Why is Fay not in Engineering? She was deleted: the group's history names her, and her
    // page says she is gone and still shows what happened to her.
    let res = client()
        .delete(bridge.url(&format!("/scim/v2/Users/{}", ids[5])))
        .header("Authorization", bridge.bearer())
        .header("User-Agent", OKTA)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    session
        .script("document.getElementById('search-kind').value = 'Groups'")
        .await;
    session.type_into("#search-text", "engineer").await;
    session.click("#search").await;
    session
        .wait_text("#results", |t| t.contains("Engineering"))
        .await;
    session.click("#results button.link").await;
    session
        .wait_text("#resource-members-title", |t| t == "Members (5)")
        .await;
    let group_history = session
        .wait_text("#history", |t| t.contains("group.members.removed"))
        .await;
    assert!(
        group_history.contains("1 member removed:"),
        "{group_history}"
    );
    session
        .click(&format!("#history button.link[data-id=\"{}\"]", ids[5]))
        .await;
    let gone = session
        .wait_text("#resource-error", |t| t.contains("no longer exists"))
        .await;
    assert!(gone.contains("history stays"), "{gone}");
    let history = session
        .wait_text("#history", |t| t.contains("user.deleted"))
        .await;
    assert!(
        history.contains("user.created") && history.contains("left "),
        "{history}"
    );
    // The one console error since is the browser's note of that 404.
    let errors = session.console_errors().await;
    assert!(
        errors
            .iter()
            .all(|e| e.contains(&ids[5]) && e.contains("404")),
        "console errors: {errors:#?}"
    );
    session.close().await;
    // No personal data reached a log line: no user name, email or externalId.
    let logs = bridge.logs();
    for needle in ["example.com", "okta-ann", "Engineering"] {
        assert!(!logs.contains(needle), "{needle} in the logs:\n{logs}");
    }
}

#[tokio::test]
async fn with_ids_only_events_the_history_shows_paths_and_no_values() {
    let bridge = Bridge::start_with(Options::default().env("OP_EVENTS_DATA", "ids"));
    let (status, user) = scim(
        &bridge,
        reqwest::Method::POST,
        "/scim/v2/Users",
        json!({"userName": "gus@example.com", "displayName": "Gus Old"}),
    )
    .await;
    assert_eq!(status, 201);
    let id = user["id"].as_str().unwrap();
    let (status, _) = scim(
        &bridge,
        reqwest::Method::PATCH,
        &format!("/scim/v2/Users/{id}"),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "path": "displayName", "value": "Gus New"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let browser = Browser::start().await;
    let session = browser.signed_in(&bridge.url("/"), &bridge.token).await;
    session.wait_text("#users-total", |t| t == "1").await;
    // A search by part of the display name, case-insensitively.
    session.type_into("#search-text", "us ne").await;
    session.click("#search").await;
    session
        .wait_text("#results", |t| t.contains("gus@example.com"))
        .await;
    session.click("#results button.link").await;
    let history = session
        .wait_text("#history", |t| t.contains("user.updated"))
        .await;
    assert!(
        history.contains("displayName") && history.contains("OP_EVENTS_DATA=ids"),
        "{history}"
    );
    assert!(
        !history.contains("Gus Old") && !history.contains("Gus New"),
        "values in an ids-only history: {history}"
    );
    // The page itself still shows the current value, read from the SCIM API.
    assert!(session
        .text("#resource-attributes")
        .await
        .contains("Gus New"));
    // The page's address now links to her (her id, never the token); opened afresh, the link
    // brings her page back (the tab still holds the token).
    let href = session.script("return location.href").await;
    let href = href.as_str().unwrap().to_owned();
    assert!(href.ends_with(&format!("/#Users/{id}")), "{href}");
    assert!(!href.contains(&bridge.token));
    session.open("about:blank").await;
    session.open(&href).await;
    session
        .wait_text("#resource-title", |t| t == "User gus@example.com")
        .await;
    session.click("#resource-close").await;
    let href = session.script("return location.href").await;
    assert!(!href.as_str().unwrap().contains('#'), "{href}");
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    session.close().await;
}
