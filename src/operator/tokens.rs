//! The `tokens` array of `/status.json`: each token's label, scope, creation, expiry, state and last
//! use as this replica knows it (its own requests, plus what it read from or merged into the
//! shared record). Never a token, verifier or token id.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::rfc3339;
use crate::session::{reload::Live, rotate};

/// The tokens of the live session, in file order.
pub fn document(live: &Live, now: OffsetDateTime) -> Value {
    let rows = rotate::list(&live.session, now)
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            json!({
                "label": t.label,
                "scope": t.scope.as_str(),
                "createdAt": rfc3339(t.created_at),
                "expiresAt": t.expires_at.map(rfc3339),
                "active": t.active,
                "lastUsedAt": live.last_use.last_used(i).map(rfc3339),
            })
        })
        .collect();
    Value::Array(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{create, reload::SessionHandle, CreateOptions};

    #[test]
    fn tokens_show_state_and_last_use_but_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        let (_, token) = create(&path, CreateOptions::default()).unwrap();
        let handle = SessionHandle::load(&path).unwrap();
        let now = OffsetDateTime::now_utc();
        let doc = document(&handle.live(), now);
        assert_eq!(doc[0]["label"], "initial");
        assert_eq!(doc[0]["active"], true);
        assert_eq!(doc[0]["scope"], "scim");
        assert!(doc[0]["expiresAt"].is_null() && doc[0]["lastUsedAt"].is_null());
        assert!(doc[0]["createdAt"].is_string());

        handle.live().last_use.record(0, 1_764_378_000);
        let doc = document(&handle.live(), now);
        assert_eq!(doc[0]["lastUsedAt"], "2025-11-29T01:00:00Z");
        let text = doc.to_string();
        let verifier = &std::fs::read_to_string(&path).unwrap();
        let verifier = verifier
            .split("sha256:")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(
            !text.contains(token.reveal()) && !text.contains(verifier),
            "{text}"
        );
        assert_eq!(doc[0].as_object().unwrap().len(), 6, "{text}");
    }
}
