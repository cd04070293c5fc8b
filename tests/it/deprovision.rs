//! The deprovisioning guard (`OP_DEPROVISION_LIMIT`), on both stores: the deactivation after
//! the limit is a `503` that changes nothing, the guard holds (deletions too) until an operator
//! releases it, `/health`, `/metrics` and `/status.json` say so, and the retried request then
//! succeeds. Other writes go on meanwhile.

use serde_json::{json, Value};

use crate::scim::{on_both_stores, Backend, Scim};

on_both_stores!(a_burst_of_deactivations_is_held_until_released);

fn deactivate() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "replace", "path": "active", "value": false}]})
}

async fn release(s: &Scim) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(s.url("/guard/release"))
        .header("Authorization", s.bearer())
        .send()
        .await
        .expect("POST /guard/release");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON"))
}

async fn a_burst_of_deactivations_is_held_until_released(b: Backend) {
    let s = Scim::start_with(
        b,
        crate::helpers::bridge::Options::default()
            .env("OP_DEPROVISION_LIMIT", "5")
            .env("OP_DEPROVISION_WINDOW", "1h"),
    )
    .await;
    let mut users = Vec::new();
    for i in 0..7 {
        users.push(s.user(&format!("user{i}@example.com")).await);
    }
    let (_, status) = s.operator("/status.json").await;
    assert_eq!(status["deprovisionGuard"]["holding"], false, "{status}");
    for id in &users[..5] {
        s.patch(&format!("/Users/{id}"), &deactivate())
            .await
            .expect(200);
    }

    // The sixth is refused and changes nothing; so is a deletion while the guard holds.
    let sixth = s
        .patch(&format!("/Users/{}", users[5]), &deactivate())
        .await;
    sixth.expect_error(503, None);
    assert_eq!(
        sixth.header("retry-after"),
        Some("60"),
        "{:?}",
        sixth.headers
    );
    let detail = sixth.body["detail"].as_str().unwrap();
    assert!(detail.contains("deprovisioning guard holds"), "{detail}");
    assert_eq!(
        s.get(&format!("/Users/{}", users[5])).await.expect(200)["active"],
        true
    );
    s.delete(&format!("/Users/{}", users[6]))
        .await
        .expect_error(503, None);
    s.get(&format!("/Users/{}", users[6])).await.expect(200);
    // Other writes go on: a creation, and a reactivation.
    s.user("newcomer@example.com").await;
    let reactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "replace", "path": "active", "value": true}]});
    s.patch(&format!("/Users/{}", users[0]), &reactivate)
        .await
        .expect(200);

    let (code, health) = s.operator("/health").await;
    let guard = health["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "DeprovisionGuard")
        .unwrap_or_else(|| panic!("{health}"))
        .clone();
    assert_eq!(guard["state"], "degraded", "{health}");
    assert_eq!(code, 200, "degraded is not unhealthy");
    let metrics = s.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "scim_bridge_deprovision_held_total 2"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("deprovision"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (_, status) = s.operator("/status.json").await;
    let g = &status["deprovisionGuard"];
    assert_eq!(
        (g["holding"].as_bool(), g["heldRequests"].as_u64()),
        (Some(true), Some(2)),
        "{g}"
    );
    let held: Vec<(&str, &str)> = g["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["type"].as_str().unwrap(), h["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        held,
        [
            ("user.deactivated", users[5].as_str()),
            ("user.deleted", users[6].as_str())
        ]
    );
    assert_eq!(g["recent"][0]["token"], "initial");

    // Time alone does not release it; an operator does, recorded with the token's label.
    let (code, released) = release(&s).await;
    assert_eq!(code, 200, "{released}");
    assert_eq!(released["heldRequests"], 2);
    let (_, feed) = s.operator("/events?after=0&limit=1000").await;
    let last = feed["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "guard.released", "{last}");
    assert_eq!(last["actor"]["token"], "initial", "{last}");
    s.patch(&format!("/Users/{}", users[5]), &deactivate())
        .await
        .expect(200);
    s.delete(&format!("/Users/{}", users[6])).await.expect(204);
    let (_, health) = s.operator("/health").await;
    assert!(
        health["reports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["source"] == "DeprovisionGuard" && r["state"] == "healthy"),
        "{health}"
    );
}

/// The README's example script, run as a user would: it poses as Okta and deactivates
/// everyone; with a limit of 5 the guard holds the rest, and the script says so.
#[tokio::test]
async fn the_example_mass_deactivation_is_stopped_by_the_guard() {
    let s = Scim::start_with(
        Backend::Embedded,
        crate::helpers::bridge::Options::default().env("OP_DEPROVISION_LIMIT", "5"),
    )
    .await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mass_deactivation.py");
    let url = s.url("");
    let token = s.bearer().trim_start_matches("Bearer ").to_owned();
    // Off the runtime's threads: the bridge runs in this process and must go on answering.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, "--url", &url, "--token", &token, "--users", "8"])
            .output()
    })
    .await
    .expect("the script's thread")
    .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("provisioned 8 users"), "{stdout}");
    assert!(
        stdout.contains("5 deactivated, 3 held by the deprovisioning guard"),
        "{stdout}"
    );
    assert!(
        stdout.contains("deactivate 5: 503 (Retry-After 60)"),
        "{stdout}"
    );
    let (_, status) = s.operator("/status.json").await;
    assert_eq!(status["deprovisionGuard"]["holding"], true);
    assert_eq!(status["deprovisionGuard"]["heldRequests"], 3);
}
