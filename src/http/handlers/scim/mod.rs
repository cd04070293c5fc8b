//! SCIM endpoints (RFC 7644 §3): parse the request, call the engine, render the answer.
//! Every failure becomes a SCIM error document in exactly one place ([`response::scim_error`]).

mod bulk;
mod discovery;
pub(crate) mod request;
mod resources;

use bytes::Bytes;
use http::{header, request::Parts, HeaderValue, Method};

use crate::{
    http::{
        response::{self, Body},
        router::ScimEndpoint,
        AppState,
    },
    scim::error::ScimError,
};

fn not_allowed(method: &Method, allow: &'static str) -> http::Response<Body> {
    let mut res = response::scim_error(&ScimError::MethodNotAllowed(format!(
        "{method} is not allowed on this endpoint"
    )));
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    res
}

/// Dispatches a SCIM request.
pub async fn handle(
    state: &AppState,
    parts: &Parts,
    v2: bool,
    endpoint: ScimEndpoint,
    body: Bytes,
    caller: &crate::auth::Caller,
) -> http::Response<Body> {
    let ctx = request::ctx(state, parts, v2, caller);
    let method = &parts.method;
    let result = match endpoint {
        ScimEndpoint::Collection(kind) => match *method {
            Method::GET | Method::HEAD => resources::list(state, parts, kind, &ctx).await,
            Method::POST => resources::create(state, parts, kind, &body, &ctx).await,
            _ => return not_allowed(method, "GET, POST"),
        },
        ScimEndpoint::Resource(kind, id) => match *method {
            Method::GET | Method::HEAD => resources::get(state, parts, kind, &id, &ctx).await,
            Method::PUT => resources::replace(state, parts, kind, &id, &body, &ctx).await,
            Method::PATCH => resources::patch(state, parts, kind, &id, &body, &ctx).await,
            Method::DELETE => resources::delete(state, parts, kind, &id, &ctx).await,
            _ => return not_allowed(method, "GET, PUT, PATCH, DELETE"),
        },
        ScimEndpoint::Search(kind) => match *method {
            Method::POST => resources::search(state, kind, &body, &ctx).await,
            _ => return not_allowed(method, "POST"),
        },
        ScimEndpoint::Bulk => match *method {
            Method::POST => bulk::handle(state, &body, &ctx).await,
            _ => return not_allowed(method, "POST"),
        },
        ScimEndpoint::ServiceProviderConfig => match *method {
            Method::GET | Method::HEAD => Ok(discovery::service_provider_config(state, &ctx)),
            _ => return not_allowed(method, "GET"),
        },
        ScimEndpoint::ResourceTypes(id) => match *method {
            Method::GET | Method::HEAD => discovery::resource_types(id.as_deref(), &ctx),
            _ => return not_allowed(method, "GET"),
        },
        ScimEndpoint::Schemas(id) => match *method {
            Method::GET | Method::HEAD => discovery::schemas(id.as_deref(), &ctx),
            _ => return not_allowed(method, "GET"),
        },
        ScimEndpoint::Me => Err(ScimError::NotImplemented(
            "/Me is not offered: a bearer token here identifies the identity provider, not a user"
                .into(),
        )),
        ScimEndpoint::Unknown => Err(ScimError::NotFound("no such SCIM endpoint".into())),
    };
    result.unwrap_or_else(|e| {
        // The one log line of an internal error, with its whole cause.
        if matches!(e, ScimError::Internal(_)) {
            tracing::error!(
                route = ?parts.uri.path(),
                error = %crate::error_chain::chain(&e),
                "internal error answering a SCIM request"
            );
        }
        response::scim_error(&e)
    })
}
