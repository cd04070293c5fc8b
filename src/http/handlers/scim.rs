//! SCIM endpoints. This foundation serves the collection listings from the store; the full
//! RFC 7644 protocol arrives with the provisioning engine.

use http::{Method, StatusCode};

use crate::{
    http::{
        response::{self, Body},
        router::{ResourceKind, ScimEndpoint},
        AppState,
    },
    scim::{error::ScimError, list::ListResponse},
    store::StoreError,
};

/// The store space of a resource kind.
pub fn space(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "scim.users",
        ResourceKind::Group => "scim.groups",
    }
}

fn store_error(e: StoreError) -> ScimError {
    if e.is_outage() {
        tracing::warn!(error = %e, "store unavailable");
        ScimError::Unavailable("the store is unavailable; retry later".into())
    } else {
        tracing::error!(error = ?e, "store error");
        ScimError::Internal
    }
}

/// Dispatches a SCIM request.
pub async fn handle(
    state: &AppState,
    method: &Method,
    endpoint: &ScimEndpoint,
    _body: bytes::Bytes,
) -> http::Response<Body> {
    let result = match (method, endpoint) {
        (&Method::GET, ScimEndpoint::Collection(kind)) => list(state, *kind).await,
        (_, ScimEndpoint::Collection(_) | ScimEndpoint::Resource(..)) => Err(
            ScimError::NotImplemented(format!("{method} on this endpoint is not implemented yet")),
        ),
        (_, ScimEndpoint::Unknown) => Err(ScimError::NotFound("no such SCIM endpoint".into())),
    };
    match result {
        Ok(res) => res,
        Err(e) => response::scim_error(&e),
    }
}

async fn list(state: &AppState, kind: ResourceKind) -> Result<http::Response<Body>, ScimError> {
    let space = space(kind);
    let total = state.store.count(space).await.map_err(store_error)?;
    let records = state.store.list(space, 0, 100).await.map_err(store_error)?;
    let resources = records
        .into_iter()
        .filter_map(|(_, r)| serde_json::from_slice(&r.value).ok())
        .collect();
    let doc = ListResponse {
        total_results: total,
        start_index: 1,
        resources,
    }
    .to_document();
    Ok(response::scim_json(StatusCode::OK, &doc))
}
