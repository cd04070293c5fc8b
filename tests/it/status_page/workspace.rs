//! The status page's Google Workspace card in a real headless Chromium: nothing is synced
//! until groups are picked; the operator picks one from Google's list, saves, and watches the
//! users arrive; *Sync now* asks for another sync.

use std::path::Path;

use serde_json::json;

use super::browser::Browser;
use crate::helpers::{
    bridge::Bridge,
    google::{Google, KEY},
};

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_picks_a_group_and_watches_its_users_arrive() {
    let google = Google::start();
    let users: Vec<_> = (1..=3)
        .map(|i| {
            json!({"id": format!("30{i}"), "primaryEmail": format!("p{i}@example.com"),
                        "name": {"givenName": "P", "familyName": format!("{i}")}})
        })
        .collect();
    let members: Vec<_> = (1..=3)
        .map(|i| json!({"id": format!("30{i}"), "type": "USER"}))
        .collect();
    google
        .control(
            "directory",
            json!({"users": users, "groups": [
                {"id": "g1", "email": "eng@example.com", "name": "Engineering", "members": members},
                {"id": "g2", "email": "ops@example.com", "name": "Operations", "members": []}]}),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    // Syncs only at start and when asked, so the card keeps the pick's own summary.
    let bridge = Bridge::start_with(
        google
            .options(dir.path(), KEY)
            .env("OP_WORKSPACE_SYNC_INTERVAL", "1h"),
    );
    let browser = Browser::start().await;
    let session = browser.signed_in(&bridge.url("/"), &bridge.token).await;
    session
        .wait_text("#workspace-selection", |t| t.starts_with("none picked yet"))
        .await;
    session.wait_text("#workspace-state", |t| t == "idle").await;
    session.click("#workspace-pick").await;
    let list = session
        .wait_text("#workspace-list", |t| t.contains("Engineering"))
        .await;
    assert!(list.contains("Operations (ops@example.com)"), "{list}");
    session
        .click("#workspace-list input[value=\"eng@example.com\"]")
        .await;
    session.click("#workspace-save").await;
    let applied = session
        .wait_text("#workspace-applied", |t| t.starts_with("3 created"))
        .await;
    assert!(applied.contains("members +3"), "{applied}");
    assert_eq!(
        session.text("#workspace-selection").await,
        "eng@example.com"
    );
    assert_eq!(session.text("#workspace-state").await, "ok");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    session
        .screenshot(&artifacts.join("workspace-card.png"))
        .await;
    session.click("#workspace-sync").await;
    session
        .wait_text("#workspace-message", |t| t.contains("sync has started"))
        .await;
    session
        .wait_text("#workspace-applied", |t| {
            t.starts_with("0 created, 0 updated, 3 unchanged")
        })
        .await;
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    session.close().await;
}
