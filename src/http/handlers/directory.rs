//! `GET /groups/{id}/members`: a group's members a page at a time, for the status page's
//! directory browser. A group's SCIM representation lists every member at once (100,000 on a
//! large group); this pages the member set by id with a cursor (`after`), so a page costs the
//! same on any group, and names each member (a user's `userName`, a group's `displayName`).

use http::{request::Parts, Response, StatusCode};
use serde_json::{json, Value};

use super::param;
use crate::{
    http::{response, response::Body, AppState},
    scim::{
        engine::store_error,
        error::ScimError,
        schema::{GROUP_TYPE, USER_TYPE},
    },
};

/// Members per page unless `count` says otherwise.
const DEFAULT_COUNT: usize = 50;
/// The most members one page names.
const MAX_COUNT: usize = 500;

/// The page: `totalResults` (the group's size), `members` (`value`, `type`, `display`) in id
/// order after `after`, and `next` (the cursor of the next page, `null` after the last).
pub async fn members(state: &AppState, parts: &Parts, group_id: &str) -> Response<Body> {
    match page(state, parts, group_id).await {
        Ok(doc) => response::json(StatusCode::OK, &doc),
        Err(e) => response::scim_error(&e),
    }
}

async fn page(state: &AppState, parts: &Parts, group_id: &str) -> Result<Value, ScimError> {
    let count = match param(parts, "count") {
        None => DEFAULT_COUNT,
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| {
                ScimError::InvalidValue(format!("count must be a whole number, not {v:?}"))
            })?
            .min(MAX_COUNT),
    };
    let after = param(parts, "after").filter(|a| !a.is_empty());
    let records = state.engine.records();
    let group = records
        .load(&GROUP_TYPE, group_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ScimError::NotFound(format!("Group {group_id} not found")))?;
    let total = records.member_count(group_id).await.map_err(store_error)?;
    // One more than asked tells whether a next page exists.
    let mut ids = records
        .members(group_id, after.as_deref(), count + 1)
        .await
        .map_err(store_error)?;
    let more = ids.len() > count;
    ids.truncate(count);
    let users = records
        .load_many(&USER_TYPE, &ids)
        .await
        .map_err(store_error)?;
    let mut named: std::collections::HashMap<String, (&str, Value)> = users
        .into_iter()
        .map(|u| (u.id, ("User", u.stored.doc["userName"].clone())))
        .collect();
    let rest: Vec<String> = ids
        .iter()
        .filter(|id| !named.contains_key(*id))
        .cloned()
        .collect();
    if !rest.is_empty() {
        for g in records
            .load_many(&GROUP_TYPE, &rest)
            .await
            .map_err(store_error)?
        {
            named.insert(g.id, ("Group", g.stored.doc["displayName"].clone()));
        }
    }
    let members: Vec<Value> = ids
        .iter()
        .map(|id| match named.remove(id) {
            Some((kind, display)) => json!({"value": id, "type": kind, "display": display}),
            None => json!({"value": id, "type": null, "display": null}),
        })
        .collect();
    let next = if more { ids.last().cloned() } else { None };
    Ok(json!({
        "id": group.id,
        "displayName": group.stored.doc["displayName"],
        "totalResults": total,
        "members": members,
        "next": next,
    }))
}
