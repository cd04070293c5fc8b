//! Discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas. The
//! documents come from the schema tables, so they describe exactly what is implemented.

use http::StatusCode;
use serde_json::Value;

use crate::{
    http::{
        response::{self, Body},
        AppState,
    },
    scim::{discovery, engine::Ctx, error::ScimError, list::ListResponse},
};

type Answer = Result<http::Response<Body>, ScimError>;

/// `GET /ServiceProviderConfig`.
pub(super) fn service_provider_config(state: &AppState, ctx: &Ctx) -> http::Response<Body> {
    let doc = discovery::service_provider_config(
        &ctx.base_url,
        discovery::BulkLimits {
            max_operations: crate::scim::bulk::MAX_OPERATIONS,
            max_payload_size: state.limits.max_body_bytes,
        },
        state.engine_max_page,
    );
    response::scim_json(StatusCode::OK, &doc)
}

fn listed(all: Vec<Value>, id: Option<&str>, what: &str) -> Answer {
    match id {
        None => {
            let list = ListResponse::of(all.len(), 1, &all);
            Ok(response::scim_json_bytes(StatusCode::OK, list.into_bytes()))
        }
        Some(id) => all
            .into_iter()
            .find(|d| d["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
            .map(|d| response::scim_json(StatusCode::OK, &d))
            .ok_or_else(|| ScimError::NotFound(format!("no {what} {id}"))),
    }
}

/// `GET /ResourceTypes[/{id}]`.
pub(super) fn resource_types(id: Option<&str>, ctx: &Ctx) -> Answer {
    listed(
        discovery::resource_types(&ctx.base_url),
        id,
        "resource type",
    )
}

/// `GET /Schemas[/{id}]`.
pub(super) fn schemas(id: Option<&str>, ctx: &Ctx) -> Answer {
    listed(discovery::schemas(&ctx.base_url), id, "schema")
}
