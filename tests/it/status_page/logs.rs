//! `/logs`: the recent log lines behind the bearer token, as an attachment, with no token and
//! no SCIM attribute value in them even at trace level.

use serde_json::{json, Value};

use super::assert_page_headers;
use crate::helpers::bridge::{client, Bridge, Options};

const USER_NAME: &str = "zelda.logtest.7f3a@example.org";
const EMAIL: &str = "zelda.mail.7f3a@example.net";
const DISPLAY_NAME: &str = "Zelda Logtest7f3a";
const GROUP_NAME: &str = "Logtest Group 7f3a";
const WRONG: &str = "sbt_WrongTokenForTheLogDownloadTest000000000000";

/// A SCIM request with the bridge's token; panics unless it answers `expect`.
async fn scim(
    bridge: &Bridge,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    expect: u16,
) -> Value {
    let mut req = client()
        .request(method, bridge.url(path))
        .header("Authorization", bridge.bearer());
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/scim+json")
            .body(b.to_string());
    }
    let res = req.send().await.expect("SCIM request");
    assert_eq!(res.status(), expect, "{path}");
    res.json().await.unwrap_or(Value::Null)
}

/// Provisions a user and a group, patches, filters, and is refused once: the traffic whose
/// values must stay out of the logs.
async fn provision(bridge: &Bridge) {
    use reqwest::Method;
    let user = scim(
        bridge,
        Method::POST,
        "/scim/v2/Users",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": USER_NAME, "displayName": DISPLAY_NAME,
            "emails": [{"value": EMAIL, "type": "work", "primary": true}]}),
        ),
        201,
    )
    .await;
    let id = user["id"].as_str().expect("a user id").to_owned();
    scim(
        bridge,
        Method::POST,
        "/scim/v2/Groups",
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": GROUP_NAME, "members": [{"value": id}]}),
        ),
        201,
    )
    .await;
    scim(
        bridge,
        Method::PATCH,
        &format!("/scim/v2/Users/{id}"),
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": format!("{DISPLAY_NAME} Patched")}]})),
        200,
    )
    .await;
    let filter = format!("userName eq \"{USER_NAME}\"");
    let found = scim(
        bridge,
        Method::GET,
        &format!(
            "/scim/v2/Users?filter={}",
            form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
        ),
        None,
        200,
    )
    .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let refused = client()
        .get(bridge.url("/scim/v2/Users"))
        .header("Authorization", format!("Bearer {WRONG}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `attachment; filename="scim-bridge-yyyymmddThhmmssZ.log"`.
fn is_attachment_name(disposition: &str) -> bool {
    let Some(name) = disposition
        .strip_prefix("attachment; filename=\"scim-bridge-")
        .and_then(|r| r.strip_suffix(".log\""))
    else {
        return false;
    };
    let b = name.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
}

#[tokio::test]
async fn logs_download_needs_the_token_and_holds_no_secrets_or_attribute_values() {
    // Pretty (coloured) standard error too: the ring must stay plain text regardless.
    let bridge = Bridge::start_with(
        Options::default()
            .env("OP_TRACE", "1")
            .env("OP_PRETTY_LOGS", "1"),
    );
    provision(&bridge).await;

    for auth in [None, Some(format!("Bearer {WRONG}"))] {
        let mut req = client().get(bridge.url("/logs"));
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_page_headers(&res);
        assert!(header(&res, "www-authenticate").starts_with("Bearer"));
        assert!(!res.headers().contains_key("content-disposition"));
    }
    let res = client()
        .post(bridge.url("/logs"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_page_headers(&res);

    let res = client()
        .get(bridge.url("/logs"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_page_headers(&res);
    assert_eq!(header(&res, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(header(&res, "cache-control"), "no-store");
    let disposition = header(&res, "content-disposition").to_owned();
    assert!(is_attachment_name(&disposition), "{disposition}");
    let text = res.text().await.unwrap();

    assert!(text.starts_with("# scim-bridge "), "{text}");
    assert!(text.contains(env!("CARGO_PKG_VERSION")));
    let listening = format!("addr={}", bridge.addr);
    assert!(
        text.lines()
            .any(|l| l.contains("scim_bridge::app: listening") && l.contains(&listening)),
        "no start-up line in the download:\n{text}"
    );
    // Trace level reaches the ring, with the request's span (its path, never its query).
    assert!(text.contains("request not authorised"), "{text}");
    assert!(
        text.contains("request{method=GET path=/scim/v2/Users"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in the download:\n{text}"
    );
    let token_body = &bridge.token["sbt_".len()..];
    for secret in [
        token_body,
        &WRONG["sbt_".len()..],
        USER_NAME,
        "zelda",
        EMAIL,
        DISPLAY_NAME,
        GROUP_NAME,
        "example.org",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} is in the download:\n{text}"
        );
    }

    let head = client()
        .head(bridge.url("/logs"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(is_attachment_name(header(&head, "content-disposition")));
    assert!(head.bytes().await.unwrap().is_empty());
}
