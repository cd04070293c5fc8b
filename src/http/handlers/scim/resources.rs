//! `/Users` and `/Groups`: list, create, read, replace, patch, delete, search.

use bytes::Bytes;
use http::{header, request::Parts, HeaderValue, StatusCode};

use super::request;
use crate::{
    http::{
        response::{self, Body},
        router::ResourceKind,
        AppState,
    },
    scim::{
        engine::{Ctx, Input, Resource},
        error::ScimError,
        project::Projection,
        records::Loaded,
        resource::etag,
        schema::{GROUP_TYPE, USER_TYPE},
    },
};

type Answer = Result<http::Response<Body>, ScimError>;

/// Adds the weak `ETag` of `version`.
fn with_etag(mut res: http::Response<Body>, version: u64) -> http::Response<Body> {
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        res.headers_mut().insert(header::ETAG, tag);
    }
    res
}

/// A body-less answer (304, 204) that still carries the `ETag`.
fn empty_with_etag(status: StatusCode, version: u64) -> http::Response<Body> {
    with_etag(response::text(status, "application/scim+json", ""), version)
}

/// A resource with its `ETag` (and `Location` when created).
fn resource_response(
    status: StatusCode,
    resource: &Resource,
    location: bool,
) -> http::Response<Body> {
    let mut res = with_etag(response::scim_json(status, &resource.doc), resource.version);
    if location {
        if let Some(loc) = resource.doc["meta"]["location"]
            .as_str()
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            res.headers_mut().insert(header::LOCATION, loc);
        }
    }
    res
}

fn projection(parts: &Parts, kind: ResourceKind) -> Result<Projection, ScimError> {
    Projection::parse(
        request::param(parts, "attributes").as_deref(),
        request::param(parts, "excludedAttributes").as_deref(),
        kind.resource_type(),
    )
}

/// `GET /Users`: a filtered, sorted, paged ListResponse.
pub(super) async fn list(state: &AppState, parts: &Parts, kind: ResourceKind, ctx: &Ctx) -> Answer {
    let query = request::search_query(parts);
    let list = state
        .engine
        .search(kind.resource_type(), &query, ctx)
        .await?;
    Ok(response::scim_json_bytes(StatusCode::OK, list.into_bytes()))
}

/// `POST /Users/.search`, `POST /.search`.
pub(super) async fn search(
    state: &AppState,
    kind: Option<ResourceKind>,
    body: &Bytes,
    ctx: &Ctx,
) -> Answer {
    let query = request::search_body(&request::json_body(body)?)?;
    let list = match kind {
        Some(kind) => {
            state
                .engine
                .search(kind.resource_type(), &query, ctx)
                .await?
        }
        None => {
            state
                .engine
                .search_types(&[&USER_TYPE, &GROUP_TYPE], &query, ctx)
                .await?
        }
    };
    Ok(response::scim_json_bytes(StatusCode::OK, list.into_bytes()))
}

/// `POST /Users`: 201 with `Location` and `ETag`.
pub(super) async fn create(
    state: &AppState,
    parts: &Parts,
    kind: ResourceKind,
    body: &Bytes,
    ctx: &Ctx,
) -> Answer {
    let body = request::json_body(body)?;
    let projection = projection(parts, kind)?;
    let created = state
        .engine
        .create(kind.resource_type(), body, &projection, ctx)
        .await?;
    Ok(resource_response(StatusCode::CREATED, &created, true))
}

/// `GET /Users/{id}`; 304 when `If-None-Match` names the current version.
pub(super) async fn get(
    state: &AppState,
    parts: &Parts,
    kind: ResourceKind,
    id: &str,
    ctx: &Ctx,
) -> Answer {
    let rt = kind.resource_type();
    let projection = projection(parts, kind)?;
    let fetched = state.engine.fetch(rt, id, &projection).await?;
    let version = fetched.raw.version;
    if request::if_none_match(parts, version) {
        return Ok(empty_with_etag(StatusCode::NOT_MODIFIED, version));
    }
    let body = state
        .engine
        .render_fetched(rt, fetched, &projection, ctx)
        .await?;
    Ok(with_etag(
        response::scim_json_bytes(StatusCode::OK, body),
        version,
    ))
}

/// How a PUT or PATCH changes a resource.
#[derive(Clone, Copy)]
enum Edit {
    Replace,
    Patch,
}

/// A PUT or PATCH through the engine: the body is decoded (and decoded again for a retry after
/// a lost race), then the projection is read, then the write runs under `If-Match`.
async fn edited(
    state: &AppState,
    parts: &Parts,
    kind: ResourceKind,
    (id, body): (&str, &Bytes),
    ctx: &Ctx,
    edit: Edit,
) -> Result<(Loaded, Projection), ScimError> {
    let rt = kind.resource_type();
    let first = request::json_body(body)?;
    let again = || request::json_body(body);
    let projection = projection(parts, kind)?;
    let input = Input::new(first, &again);
    let if_match = request::if_match(parts)?;
    let loaded = match edit {
        Edit::Replace => state.engine.replace(rt, id, input, if_match, ctx).await,
        Edit::Patch => state.engine.patch(rt, id, input, if_match, ctx).await,
    }?;
    Ok((loaded, projection))
}

/// `PUT /Users/{id}`.
pub(super) async fn replace(
    state: &AppState,
    parts: &Parts,
    kind: ResourceKind,
    id: &str,
    body: &Bytes,
    ctx: &Ctx,
) -> Answer {
    let (loaded, projection) = edited(state, parts, kind, (id, body), ctx, Edit::Replace).await?;
    let rt = kind.resource_type();
    let resource = state.engine.render(rt, &loaded, &projection, ctx).await?;
    Ok(resource_response(StatusCode::OK, &resource, false))
}

/// `PATCH /Users/{id}`: users answer 200 with the resource; groups 204 unless the request
/// names `attributes` or `excludedAttributes` (a huge group is never rendered for nothing).
pub(super) async fn patch(
    state: &AppState,
    parts: &Parts,
    kind: ResourceKind,
    id: &str,
    body: &Bytes,
    ctx: &Ctx,
) -> Answer {
    let (loaded, projection) = edited(state, parts, kind, (id, body), ctx, Edit::Patch).await?;
    let rt = kind.resource_type();
    if kind == ResourceKind::Group && !request::wants_body(parts) {
        return Ok(empty_with_etag(StatusCode::NO_CONTENT, loaded.version));
    }
    // The loaded resource is not needed again: render it without a copy of the document.
    let resource = state
        .engine
        .render_owned(rt, loaded, &projection, ctx)
        .await?;
    Ok(resource_response(StatusCode::OK, &resource, false))
}

/// `DELETE /Users/{id}`: 204.
pub(super) async fn delete(
    state: &AppState,
    parts: &Parts,
    kind: ResourceKind,
    id: &str,
    ctx: &Ctx,
) -> Answer {
    state
        .engine
        .delete(kind.resource_type(), id, request::if_match(parts)?, ctx)
        .await?;
    Ok(response::text(
        StatusCode::NO_CONTENT,
        "application/scim+json",
        "",
    ))
}
