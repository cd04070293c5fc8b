//! The status page: `/` and its files with strict security headers, `/status.json` and
//! `/logs` behind the bearer token (served in-process), and the page itself in a real headless
//! Chromium against the binary.

mod browser;
mod directory;
mod logs;
mod walkthrough;
mod workspace;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{app::App, bridge::client};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn assert_page_headers(res: &reqwest::Response) {
    let h = res.headers();
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(get("content-security-policy"), CSP, "{}", res.url());
    assert_eq!(get("x-frame-options"), "DENY");
    assert_eq!(get("x-content-type-options"), "nosniff");
    assert_eq!(get("referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn the_page_and_its_files_carry_a_strict_policy_and_no_inline_script() {
    let bridge = App::start().await;
    let res = client().get(bridge.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_page_headers(&res);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = res.text().await.unwrap();
    // Every <script> element has a src and an empty body.
    for part in html.split("<script").skip(1) {
        let (tag, rest) = part.split_once('>').expect("a closed script tag");
        assert!(
            tag.contains("src=\"/status/"),
            "inline script: <script{tag}>"
        );
        assert!(rest.starts_with("</script>"), "script with content");
    }
    assert!(html.contains("/status/app.js") && html.contains("/status/style.css"));
    for (path, kind) in [
        ("/status/app.js", "text/javascript"),
        ("/status/style.css", "text/css"),
    ] {
        let res = client().get(bridge.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_page_headers(&res);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
    }
}

async fn status(bridge: &App, authorization: Option<&str>) -> reqwest::Response {
    let mut req = client().get(bridge.url("/status.json"));
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    req.send().await.expect("GET /status.json")
}

async fn status_json(bridge: &App) -> Value {
    let res = status(bridge, Some(&bridge.bearer())).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("/status.json is JSON")
}

#[tokio::test]
async fn status_json_needs_the_token_and_counts_users_and_activity() {
    let bridge = App::start().await;
    for auth in [None, Some("Bearer wrong")] {
        let res = status(&bridge, auth).await;
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_page_headers(&res);
        assert!(res.headers().contains_key("www-authenticate"));
    }
    // Every answer of the page's routes carries its headers, a refused method too.
    for path in ["/", "/status.json", "/status/app.js"] {
        let res = client().delete(bridge.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 405, "{path}");
        assert_page_headers(&res);
    }
    let res = status(&bridge, Some(&bridge.bearer())).await;
    assert_eq!(res.status(), 200);
    assert_page_headers(&res);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert!(doc["build"].is_string() && doc["uptimeSeconds"].is_u64());
    assert_eq!(doc["store"]["kind"], "embedded");
    assert!(doc["certificate"].is_null(), "no HTTPS, no certificate");
    assert!(doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["source"] == "Store" && r["state"] == "healthy"));
    assert_eq!(doc["counts"]["users"]["total"], 0);
    assert_eq!(doc["activity"], json!([]));

    let scim = |body: Value| {
        client()
            .post(bridge.url("/scim/v2/Users"))
            .header("Authorization", bridge.bearer())
            .header("User-Agent", "status-test-idp/1.0")
            .header("Content-Type", "application/scim+json")
            .json(&body)
            .send()
    };
    let mut ids = Vec::new();
    for (name, active) in [
        ("ada@example.com", true),
        ("bob@example.com", false),
        ("cy@example.com", true),
    ] {
        let res = scim(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name, "active": active}),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 201);
        let created: Value = res.json().await.unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }

    // Totals are immediate; active/inactive come from a scan cached for at least a second.
    let doc = status_json(&bridge).await;
    assert_eq!(doc["counts"]["users"]["total"], 3);
    assert_eq!(doc["counts"]["groups"], 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let doc = loop {
        let doc = status_json(&bridge).await;
        if doc["counts"]["users"]["active"] == 2 {
            break doc;
        }
        assert!(
            Instant::now() < deadline,
            "active count never reached 2: {}",
            doc["counts"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(doc["counts"]["users"]["inactive"], 1);

    let activity = doc["activity"].as_array().unwrap();
    assert_eq!(activity.len(), 3, "{activity:?}");
    for (entry, id) in activity.iter().zip(ids.iter().rev()) {
        assert_eq!(entry["userAgent"], "status-test-idp/1.0");
        assert_eq!(entry["method"], "POST");
        assert_eq!(entry["resourceType"], "User");
        assert_eq!(entry["status"], 201);
        assert_eq!(&entry["resourceId"], id);
        assert!(entry["latencyMs"].is_number() && entry["time"].is_string());
    }
    let text = doc.to_string();
    assert!(
        !text.contains("example.com"),
        "personal data in /status.json: {text}"
    );
}

#[tokio::test]
async fn a_groups_members_come_a_page_at_a_time_with_their_names() {
    let bridge = App::start().await;
    let post = |path: &'static str, body: Value| {
        client()
            .post(bridge.url(path))
            .header("Authorization", bridge.bearer())
            .header("Content-Type", "application/scim+json")
            .json(&body)
            .send()
    };
    let mut ids = Vec::new();
    for i in 0..120 {
        let res = post(
            "/scim/v2/Users",
            json!({"userName": format!("m{i:03}@example.com")}),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 201);
        let doc: Value = res.json().await.unwrap();
        ids.push(doc["id"].as_str().unwrap().to_owned());
    }
    let inner = post("/scim/v2/Groups", json!({"displayName": "Inner"}))
        .await
        .unwrap();
    let inner: Value = inner.json().await.unwrap();
    let mut members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    members.push(json!({"value": inner["id"]}));
    let res = post(
        "/scim/v2/Groups",
        json!({"displayName": "Everyone", "members": members}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let group: Value = res.json().await.unwrap();
    let gid = group["id"].as_str().unwrap();

    let page = |after: Option<String>| {
        let mut url = format!("/groups/{gid}/members?count=50");
        if let Some(a) = after {
            url.push_str(&format!("&after={a}"));
        }
        client()
            .get(bridge.url(&url))
            .header("Authorization", bridge.bearer())
            .send()
    };
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let res = page(after.clone()).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_page_headers(&res);
        let doc: Value = res.json().await.unwrap();
        assert_eq!(doc["totalResults"], 121);
        assert_eq!(doc["displayName"], "Everyone");
        let list = doc["members"].as_array().unwrap();
        pages += 1;
        seen.extend(list.iter().cloned());
        match doc["next"].as_str() {
            Some(next) => {
                assert_eq!(list.len(), 50);
                assert_eq!(list.last().unwrap()["value"], next);
                after = Some(next.to_owned());
            }
            None => break,
        }
        assert!(pages < 5, "the pages never end");
    }
    assert_eq!((pages, seen.len()), (3, 121));
    let values: Vec<&str> = seen.iter().map(|m| m["value"].as_str().unwrap()).collect();
    let mut sorted = values.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(values, sorted, "in id order, each once");
    let user = seen.iter().find(|m| m["value"] == ids[7].as_str()).unwrap();
    assert_eq!(user["type"], "User");
    assert_eq!(user["display"], "m007@example.com");
    let nested = seen.iter().find(|m| m["value"] == inner["id"]).unwrap();
    assert_eq!(
        (&nested["type"], &nested["display"]),
        (&json!("Group"), &json!("Inner"))
    );

    let get = |path: String, auth: Option<String>| {
        let mut req = client().get(bridge.url(&path));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.send()
    };
    let res = get("/groups/nope/members".into(), Some(bridge.bearer()))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = get(format!("/groups/{gid}/members"), None).await.unwrap();
    assert_eq!(res.status(), 401);
    let res = get(
        format!("/groups/{gid}/members?count=x"),
        Some(bridge.bearer()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["scimType"], "invalidValue");
}

#[tokio::test]
async fn status_json_charts_the_last_hour_of_scim_requests_by_outcome() {
    let bridge = App::start().await;
    for _ in 0..3 {
        let res = client()
            .get(bridge.url("/scim/v2/Users"))
            .header("Authorization", bridge.bearer())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = client()
        .get(bridge.url("/scim/v2/Users/none"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let doc = status_json(&bridge).await;
    let minutes = doc["charts"]["requests"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    // The requests fall in the last minute or, across a minute's turn, the one before.
    let sum = |k: &str| minutes.iter().map(|m| m[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("2xx"), sum("4xx"), sum("5xx")), (3, 1, 0));
    let last = minutes
        .iter()
        .rev()
        .find(|m| m["2xx"].as_u64() > Some(0))
        .unwrap();
    assert!(
        last["p50Ms"].as_f64().unwrap() > 0.0 && last["p99Ms"].as_f64() >= last["p50Ms"].as_f64()
    );
    assert!(doc["charts"]["start"].is_string());
    assert_eq!(
        doc["charts"]["lag"],
        json!({}),
        "no webhooks, no lag series"
    );
}

#[tokio::test]
async fn status_json_charts_each_webhook_endpoints_delivery_lag() {
    let receiver = crate::helpers::receiver::Receiver::start().await;
    let bridge = App::start_with(
        crate::helpers::bridge::Options::default()
            .env("OP_WEBHOOK_URL", receiver.url())
            .env(
                "OP_WEBHOOK_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
    )
    .await;
    let res = client()
        .post(bridge.url("/scim/v2/Users"))
        .header("Authorization", bridge.bearer())
        .header("Content-Type", "application/scim+json")
        .json(&json!({"userName": "lag@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    receiver
        .wait_until(Duration::from_secs(20), "the event delivered", |d| {
            d.iter().any(|d| d.answered == 204 || d.answered == 200)
        })
        .await;
    let doc = status_json(&bridge).await;
    let lag = doc["charts"]["lag"]["default"]
        .as_array()
        .expect("a lag series for `default`");
    assert_eq!(lag.len(), 60);
    // The delivery (and this read of the backlog) fall in the last minute or the one before.
    let seen: Vec<f64> = lag[58..].iter().filter_map(Value::as_f64).collect();
    assert!(!seen.is_empty(), "{lag:?}");
    assert!(seen.iter().all(|s| (0.0..20.0).contains(s)), "{seen:?}");
    assert!(lag[..58].iter().all(Value::is_null), "{lag:?}");
}
