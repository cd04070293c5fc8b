//! A Google user or group as a SCIM resource (the table in the README): the connector writes
//! what this returns through the engine, like any client's body.
//!
//! | Google | SCIM |
//! | --- | --- |
//! | `primaryEmail` | `userName`, and the primary work entry of `emails` |
//! | `emails[].address` (others) | `emails` (type kept: `work`, `home`, `other`) |
//! | `id` | `externalId` |
//! | `name.givenName`, `name.familyName`, `name.fullName` | `name.givenName`, `name.familyName`, `name.formatted`, `displayName` |
//! | `suspended`, `archived` | `active` = neither |
//! | `organizations[primary].title` | `title` |
//! | `organizations[primary].department`, `.costCenter`, `.name` | enterprise `department`, `costCenter`, `organization` |
//! | `orgUnitPath` | enterprise `division` |
//! | `externalIds[type=organization].value` | enterprise `employeeNumber` |
//! | `phones[].value`, `.type` | `phoneNumbers` (`work`, `home`, `mobile`, else `other`) |
//! | a group's `name`, `id` | `displayName`, `externalId` |

use serde_json::{json, Map, Value};

use crate::scim::schema::{ENTERPRISE_USER, GROUP, USER};

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The primary entry of a Google list (`organizations`), else its first.
fn primary(list: Option<&Value>) -> Option<&Value> {
    let items = list?.as_array()?;
    items
        .iter()
        .find(|o| o.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| items.first())
}

/// The SCIM user for a Google user; `None` without an `id` or a `primaryEmail`.
pub fn user(google: &Value) -> Option<Value> {
    let id = text(google, "id")?;
    let email = text(google, "primaryEmail")?;
    let mut doc = Map::new();
    let mut schemas = vec![json!(USER)];
    doc.insert("userName".into(), json!(email));
    doc.insert("externalId".into(), json!(id));
    let name = google.get("name").cloned().unwrap_or_default();
    let mut scim_name = Map::new();
    for (from, to) in [
        ("givenName", "givenName"),
        ("familyName", "familyName"),
        ("fullName", "formatted"),
    ] {
        if let Some(v) = text(&name, from) {
            scim_name.insert(to.into(), json!(v));
        }
    }
    if let Some(full) = text(&name, "fullName") {
        doc.insert("displayName".into(), json!(full));
    }
    if !scim_name.is_empty() {
        doc.insert("name".into(), Value::Object(scim_name));
    }
    let suspended = google.get("suspended") == Some(&Value::Bool(true));
    let archived = google.get("archived") == Some(&Value::Bool(true));
    doc.insert("active".into(), json!(!suspended && !archived));

    let mut emails = vec![json!({"value": email, "type": "work", "primary": true})];
    for e in google
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(address) = text(e, "address") else {
            continue;
        };
        if address.eq_ignore_ascii_case(&email) {
            continue;
        }
        let kind = e
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| matches!(*t, "work" | "home"))
            .unwrap_or("other");
        emails.push(json!({"value": address, "type": kind}));
    }
    doc.insert("emails".into(), Value::Array(emails));

    let phones: Vec<Value> = google
        .get("phones")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let value = text(p, "value")?;
            let kind = p
                .get("type")
                .and_then(Value::as_str)
                .filter(|t| matches!(*t, "work" | "home" | "mobile"))
                .unwrap_or("other");
            Some(json!({"value": value, "type": kind}))
        })
        .collect();
    if !phones.is_empty() {
        doc.insert("phoneNumbers".into(), Value::Array(phones));
    }

    let mut enterprise = Map::new();
    if let Some(org) = primary(google.get("organizations")) {
        if let Some(title) = text(org, "title") {
            doc.insert("title".into(), json!(title));
        }
        for (from, to) in [
            ("department", "department"),
            ("costCenter", "costCenter"),
            ("name", "organization"),
        ] {
            if let Some(v) = text(org, from) {
                enterprise.insert(to.into(), json!(v));
            }
        }
    }
    if let Some(unit) = text(google, "orgUnitPath").filter(|u| u != "/") {
        enterprise.insert("division".into(), json!(unit));
    }
    let employee = google
        .get("externalIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| e.get("type").and_then(Value::as_str) == Some("organization"))
        .and_then(|e| text(e, "value"));
    if let Some(n) = employee {
        enterprise.insert("employeeNumber".into(), json!(n));
    }
    if !enterprise.is_empty() {
        schemas.push(json!(ENTERPRISE_USER));
        doc.insert(ENTERPRISE_USER.into(), Value::Object(enterprise));
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    Some(Value::Object(doc))
}

/// The SCIM group for a Google group, without members (the sync sets those).
pub fn group(id: &str, name: &str, email: &str) -> Value {
    let display = if name.trim().is_empty() {
        email
    } else {
        name.trim()
    };
    json!({"schemas": [GROUP], "displayName": display, "externalId": id})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_google_user_maps_to_core_and_enterprise_attributes() {
        let google = json!({
            "kind": "admin#directory#user", "id": "104857", "primaryEmail": "ann@example.com",
            "name": {"givenName": "Ann", "familyName": "Lee", "fullName": "Ann Lee"},
            "suspended": false, "archived": false, "orgUnitPath": "/Engineering",
            "emails": [{"address": "ann@example.com", "primary": true},
                       {"address": "ann.lee@example.org", "type": "home"},
                       {"address": "al@example.net", "type": "custom"}],
            "phones": [{"value": "+1 555 0100", "type": "work"}, {"value": "+1 555 0101", "type": "pager"}],
            "organizations": [{"title": "Intern", "department": "Sales"},
                              {"title": "CTO", "department": "R&D", "costCenter": "42", "name": "Example Inc", "primary": true}],
            "externalIds": [{"value": "E-7", "type": "organization"}]
        });
        let doc = user(&google).unwrap();
        assert_eq!(doc["userName"], "ann@example.com");
        assert_eq!(doc["externalId"], "104857");
        assert_eq!(doc["displayName"], "Ann Lee");
        assert_eq!(
            doc["name"],
            json!({"givenName": "Ann", "familyName": "Lee", "formatted": "Ann Lee"})
        );
        assert_eq!(doc["active"], true);
        assert_eq!(
            doc["emails"],
            json!([{"value": "ann@example.com", "type": "work", "primary": true},
                   {"value": "ann.lee@example.org", "type": "home"},
                   {"value": "al@example.net", "type": "other"}])
        );
        assert_eq!(doc["phoneNumbers"][1]["type"], "other");
        assert_eq!(doc["title"], "CTO");
        let ent = &doc[ENTERPRISE_USER];
        assert_eq!(ent["department"], "R&D");
        assert_eq!(ent["costCenter"], "42");
        assert_eq!(ent["organization"], "Example Inc");
        assert_eq!(ent["division"], "/Engineering");
        assert_eq!(ent["employeeNumber"], "E-7");
        assert_eq!(doc["schemas"], json!([USER, ENTERPRISE_USER]));
    }

    #[test]
    fn a_suspended_or_archived_user_is_inactive_and_a_bare_one_is_minimal() {
        for flag in ["suspended", "archived"] {
            let doc = user(&json!({"id": "1", "primaryEmail": "a@x", flag: true})).unwrap();
            assert_eq!(doc["active"], false, "{flag}");
        }
        let bare = user(&json!({"id": "1", "primaryEmail": "a@x", "orgUnitPath": "/"})).unwrap();
        assert_eq!(
            bare,
            json!({"userName": "a@x", "externalId": "1", "active": true,
                   "emails": [{"value": "a@x", "type": "work", "primary": true}], "schemas": [USER]})
        );
        assert!(user(&json!({"primaryEmail": "a@x"})).is_none());
        assert!(user(&json!({"id": "1"})).is_none());
    }

    #[test]
    fn a_group_is_named_by_its_name_or_else_its_email() {
        assert_eq!(
            group("g1", "Engineering", "eng@x")["displayName"],
            "Engineering"
        );
        assert_eq!(group("g1", " ", "eng@x")["displayName"], "eng@x");
        assert_eq!(group("g1", "E", "e@x")["externalId"], "g1");
    }
}
