//! The Workspace connector's operator endpoints (bearer token, `scim` scope), for the status
//! page: `GET /workspace/groups` (Google's groups, to pick from), `PUT /workspace/selection`
//! (the groups to sync, kept in the store) and `POST /workspace/sync` (sync now).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Value};

use crate::{
    http::{response, response::Body, AppState},
    scim::error::ScimError,
    workspace::{state, state::Selection, Connector},
};

fn connector(state: &AppState) -> Result<&Connector, ScimError> {
    state.workspace.as_deref().ok_or_else(|| {
        ScimError::NotFound(
            "the Google Workspace connector is off (OP_WORKSPACE_CREDENTIALS is not set)".into(),
        )
    })
}

fn answer(result: Result<Value, ScimError>, ok: StatusCode) -> Response<Body> {
    match result {
        Ok(doc) => response::json(ok, &doc),
        Err(e) => response::scim_error(&e),
    }
}

/// `GET /workspace/groups`: every Google group (`id`, `email`, `name`), read from Google now,
/// and whether each is selected.
pub async fn groups(state: &AppState) -> Response<Body> {
    let work = async {
        let c = connector(state)?;
        let selection = c
            .selection()
            .await
            .map_err(crate::scim::engine::store_error)?;
        let groups = c
            .google_groups()
            .await
            .map_err(|e| ScimError::Unavailable(format!("Google's Directory API: {e}")))?;
        let list: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({"id": g.id, "email": g.email, "name": g.name,
                       "selected": selection.as_ref().is_some_and(|s| s.includes(&g.email))})
            })
            .collect();
        Ok(json!({"groups": list, "all": selection == Some(Selection::All)}))
    };
    answer(work.await, StatusCode::OK)
}

/// `PUT /workspace/selection` with `{"groups": ["eng@example.com", …]}` or `{"groups": "*"}`:
/// stores the selection (`409` when `OP_WORKSPACE_GROUPS` fixes it) and starts a sync.
pub async fn select(state: &AppState, body: Bytes) -> Response<Body> {
    let work = async {
        let c = connector(state)?;
        if c.configured_groups().is_some() {
            return Err(ScimError::Conflict(
                "OP_WORKSPACE_GROUPS sets the groups to sync; change it there".into(),
            ));
        }
        let doc: Value = serde_json::from_slice(&body)
            .map_err(|_| ScimError::InvalidSyntax("the body is not JSON".into()))?;
        let bad = || {
            ScimError::InvalidValue(
                "groups must be \"*\" or a list of group email addresses".into(),
            )
        };
        let selection = match &doc["groups"] {
            Value::String(s) if s == "*" => Selection::All,
            Value::Array(items) => {
                let emails: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                let emails = emails.ok_or_else(bad)?;
                Selection::parse(&emails.join(",")).unwrap_or(Selection::Groups(Vec::new()))
            }
            _ => return Err(bad()),
        };
        state::set_selection(c.store(), &selection)
            .await
            .map_err(crate::scim::engine::store_error)?;
        tracing::info!("workspace groups selected on the status page");
        c.sync_now();
        Ok(json!({"groups": selection.to_json()}))
    };
    answer(work.await, StatusCode::OK)
}

/// `POST /workspace/sync`: a sync now (`202`; it runs in the background).
pub fn sync(state: &AppState) -> Response<Body> {
    let work = connector(state).map(|c| {
        c.sync_now();
        json!({"sync": "requested"})
    });
    answer(work, StatusCode::ACCEPTED)
}
