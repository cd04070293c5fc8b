//! `POST /Bulk`: decodes the body and sends the BulkResponse that `scim::bulk` builds.

use http::StatusCode;

use super::request;
use crate::{
    http::{
        response::{self, Body},
        AppState,
    },
    scim::{bulk, engine::Ctx, error::ScimError},
};

/// `POST /Bulk`.
pub(super) async fn handle(
    state: &AppState,
    body: &[u8],
    ctx: &Ctx,
) -> Result<http::Response<Body>, ScimError> {
    let doc = bulk::run(&state.engine, request::json_body(body)?, ctx).await?;
    Ok(response::scim_json(StatusCode::OK, &doc))
}
