//! The HTTP application: the tower-http stack around the route table.
//!
//! Stack, outermost first: HSTS on HTTPS answers ([`posture`]), sensitive headers (so
//! `Authorization` never reaches a log), a client's `X-Request-Id` kept only when harmless
//! ([`request_id`]), request id, tracing span per request (method and path only: query strings carry personal data such
//! as `userName eq "…"`), panic catcher (a SCIM 500 document), then the router, which applies
//! authentication, the request time limit and metrics per route template. Before routing,
//! [`client`] decides the client's address (forwarded headers only from trusted proxies) and
//! plain HTTP in `probes` mode answers everything but the probes itself ([`posture`]). Failed
//! bearer checks are throttled per client address ([`crate::auth::throttle`]).
//!
//! Must not know engine internals or TLS.

pub mod body_budget;
pub mod client;
pub mod handlers;
pub mod origin;
pub mod posture;
pub mod request_body;
pub mod request_id;
pub mod response;
pub mod router;

use std::{
    convert::Infallible,
    net::IpAddr,
    sync::atomic::{AtomicBool, Ordering},
    sync::Arc,
    time::Duration,
    time::Instant,
};

use http::{header, Method, Request, Response};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    auth::{
        throttle::{FailureThrottle, Verdict},
        AuthError, Authorizer,
    },
    edge::{ClientAddr, TlsConnection},
    metrics::Metrics,
    operator::{activity, page::Asset, Health},
    scim::{
        commit_point::{self, CommitPoint},
        engine::Engine,
        error::{Fault, ScimError},
    },
    session::Scope,
    store::SharedStore,
};
use response::Body;
use router::{ResourceKind, Route, ScimEndpoint};

/// Limits applied to every request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest accepted request body.
    pub max_body_bytes: usize,
    /// The time limit on producing a response.
    pub request_timeout: Duration,
}

/// What the handlers share.
pub struct AppState {
    /// The Google Workspace connector, when `OP_WORKSPACE_CREDENTIALS` is set.
    pub workspace: Option<Arc<crate::workspace::Connector>>,
    /// The deprovisioning guard, when `OP_DEPROVISION_LIMIT` is set.
    pub deprovision: Option<Arc<crate::scim::deprovision::Guard>>,
    /// Bearer verification.
    pub auth: Authorizer,
    /// Metrics.
    pub metrics: Metrics,
    /// Component health.
    pub health: Health,
    /// The store.
    pub store: SharedStore,
    /// The provisioning engine.
    pub engine: Engine,
    /// The event log as `/events` reads it.
    pub outbox: Arc<crate::outbox::Outbox>,
    /// The webhook endpoints (for the status page and its buttons).
    pub webhooks: Vec<crate::config::WebhookSettings>,
    /// The status page's uptime, activity and counts.
    pub status: crate::operator::PageState,
    /// The largest page a query returns (advertised as filter maxResults).
    pub engine_max_page: usize,
    /// Request limits.
    pub limits: Limits,
    /// HSTS, plain HTTP beside HTTPS, the public URL and the metrics token.
    pub posture: posture::Posture,
    /// The proxies whose forwarded headers are believed.
    pub proxies: client::Proxies,
    /// Failed bearer checks per client address.
    pub auth_throttle: FailureThrottle,
    /// The bytes of request bodies in flight (`OP_MAX_INFLIGHT_BODY_BYTES`).
    pub body_budget: body_budget::BodyBudget,
}

/// Why a request with a bearer route was not let in.
#[derive(Clone, Copy, Debug)]
enum Refused {
    /// No valid token.
    Token(AuthError),
    /// A valid token whose scope does not open this route.
    Scope,
}

impl AppState {
    /// The answer to a refused request: see [`AppState::denied`] for a bad token; a token of
    /// the wrong scope gets `403` (counted as `scope`, never throttled: it is no guess).
    fn refused(&self, client: IpAddr, refused: Refused) -> Response<Body> {
        match refused {
            Refused::Token(e) => self.denied(client, e),
            Refused::Scope => {
                self.metrics.auth_failure("scope");
                response::scim_error(&ScimError::Forbidden(
                    "this token opens only the events feed (/events); the SCIM API and the \
                     operator's endpoints need a scim token"
                        .into(),
                ))
            }
        }
    }

    /// The answer to a failed bearer check from `client`: 401 (counted by its reason), or 429
    /// with `Retry-After` once the address is over its limit.
    pub fn denied(&self, client: IpAddr, err: AuthError) -> Response<Body> {
        match self.auth_throttle.fail(client, Instant::now()) {
            Verdict::Counted => {
                self.metrics.auth_failure(err.reason());
                tracing::debug!(reason = %err, "request not authorised");
                response::unauthorized(err)
            }
            Verdict::Throttled { retry_after } => {
                self.metrics.auth_failure("throttled");
                response::throttled(retry_after)
            }
        }
    }
}

/// Serves one request (after the tower-http layers).
pub async fn handle<B>(state: Arc<AppState>, mut req: Request<B>) -> Response<Body>
where
    B: http_body::Body<Data = bytes::Bytes>,
    B::Error: Into<BoxError>,
{
    let started = Instant::now();
    let routed = router::route(req.uri().path());
    let method = req.method().clone();
    let peer = req.extensions().get::<ClientAddr>().map(|c| c.0);
    let client = state.proxies.resolve(peer, req.headers());
    req.extensions_mut().insert(client);
    let over_tls = req.extensions().get::<TlsConnection>().is_some();
    if !over_tls {
        if let Some(res) = state.posture.plain_http_gate(&routed.route, &method) {
            state.metrics.observe_request(
                routed.template,
                &method,
                res.status().as_u16(),
                started.elapsed(),
            );
            return res;
        }
    }
    let scim_endpoint = match &routed.route {
        Route::Scim { endpoint, .. } => Some(endpoint.clone()),
        _ => None,
    };
    let user_agent = scim_endpoint.as_ref().map(|_| {
        req.headers()
            .get(header::USER_AGENT)
            .map(|v| activity::clean_agent(v.as_bytes()))
            .unwrap_or_default()
    });
    let authorised = AtomicBool::new(false);
    // The deadline cancels a request only before its commit point: dropped then, it has
    // written nothing and `503` is the truth; past it, the write may be applied, so the request
    // runs on to its real answer (see `scim::commit_point`).
    let point = CommitPoint::new();
    // A long poll of the events feed may wait its `wait` before it starts its work.
    let deadline = match routed.route {
        Route::Events => state.limits.request_timeout + handlers::events::MAX_WAIT,
        _ => state.limits.request_timeout,
    };
    let work = commit_point::scope(
        point.clone(),
        dispatch(&state, routed.route, req, &authorised),
    );
    tokio::pin!(work);
    let res = tokio::select! {
        res = &mut work => res,
        () = tokio::time::sleep(deadline) => {
            if point.reached() {
                tracing::warn!(
                    route = routed.template,
                    "request past its deadline after its commit point; awaiting its outcome"
                );
                work.await
            } else {
                tracing::warn!(route = routed.template, "request timed out");
                response::scim_error(&ScimError::Unavailable("the request timed out".into()))
            }
        }
    };
    let took = started.elapsed();
    state
        .metrics
        .observe_request(routed.template, &method, res.status().as_u16(), took);
    if scim_endpoint.is_some() {
        state.metrics.observe_scim(res.status().as_u16(), took);
    }
    // Only authorised requests enter the page's list: strangers must not fill or evict it.
    if let (Some(endpoint), Some(user_agent), true) = (
        scim_endpoint,
        user_agent,
        authorised.load(Ordering::Relaxed),
    ) {
        state
            .status
            .activity
            .record(activity_entry(endpoint, user_agent, &method, &res, took));
    }
    res
}

/// The activity entry of a SCIM request: type and id from the route (or, for a create, the
/// `Location` of the new resource); never the body.
fn activity_entry(
    endpoint: ScimEndpoint,
    user_agent: String,
    method: &Method,
    res: &Response<Body>,
    took: Duration,
) -> activity::Entry {
    let kind_name = |k: ResourceKind| k.resource_type().name;
    let created_id = || {
        res.headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.rsplit('/').next())
            .and_then(activity::clean_id)
    };
    let (resource_type, resource_id) = match endpoint {
        ScimEndpoint::Collection(k) => (kind_name(k), created_id()),
        ScimEndpoint::Resource(k, id) => (kind_name(k), activity::clean_id(&id)),
        ScimEndpoint::Search(_) => ("Search", None),
        ScimEndpoint::Bulk => ("Bulk", None),
        ScimEndpoint::ServiceProviderConfig
        | ScimEndpoint::ResourceTypes(_)
        | ScimEndpoint::Schemas(_) => ("Discovery", None),
        ScimEndpoint::Me | ScimEndpoint::Unknown => ("Other", None),
    };
    activity::Entry {
        time: time::OffsetDateTime::now_utc(),
        user_agent,
        method: method.as_str().to_owned(),
        resource_type,
        resource_id,
        status: res.status().as_u16(),
        latency: took,
    }
}

async fn dispatch<B>(
    state: &AppState,
    route: Route,
    req: Request<B>,
    authorised: &AtomicBool,
) -> Response<Body>
where
    B: http_body::Body<Data = bytes::Bytes>,
    B::Error: Into<BoxError>,
{
    let (parts, body) = req.into_parts();
    // Only a SCIM request reads its body; every other answer (a 401, 429, 405, 404 or busy 503)
    // leaves it here, and it is read and dropped below before the answer goes out.
    let mut body = Some(body);
    let method = &parts.method;
    // Copied out before any await (so the request need not be Sync), and verified only on the
    // routes that need it: /ping, /metrics and the page's assets never pay for the hash.
    let header = parts.headers.get(header::AUTHORIZATION).cloned();
    let header = header.as_ref().map(|v| v.as_bytes());
    // Every route but the events feed needs a `scim` token; an `events` token is a valid token
    // in the wrong place (403, not throttled like a guess).
    let authorize = |needs: Scope| {
        let verdict = state.auth.verify(header).map_err(Refused::Token);
        let verdict = match verdict {
            Ok(caller) if needs == Scope::Scim && caller.scope != Scope::Scim => {
                Err(Refused::Scope)
            }
            other => other,
        };
        authorised.store(verdict.is_ok(), Ordering::Relaxed);
        verdict
    };
    let client = parts
        .extensions
        .get::<client::Client>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.addr);
    let over_tls = parts.extensions.get::<TlsConnection>().is_some();
    let res = match route {
        Route::Ping if is_read(method) => handlers::ops::ping(),
        Route::Root if is_read(method) => handlers::status::asset(Asset::Index),
        Route::StatusAsset(asset) if is_read(method) => handlers::status::asset(asset),
        Route::StatusJson if is_read(method) => match authorize(Scope::Scim) {
            Ok(_) => handlers::status::json(state).await,
            Err(e) => handlers::status::secured(state.refused(client, e)),
        },
        Route::Workspace(which) => {
            use router::WorkspaceRoute;
            let (allow, fits) = match which {
                WorkspaceRoute::Groups => ("GET, HEAD", is_read(method)),
                WorkspaceRoute::Selection => ("PUT", method == Method::PUT),
                WorkspaceRoute::Sync => ("POST", method == Method::POST),
            };
            if !fits {
                let mut res = response::scim_error(&ScimError::MethodNotAllowed(format!(
                    "{method} is not allowed here"
                )));
                res.headers_mut()
                    .insert(header::ALLOW, header::HeaderValue::from_static(allow));
                res
            } else {
                match authorize(Scope::Scim) {
                    Err(e) => handlers::status::secured(state.refused(client, e)),
                    Ok(_) => handlers::status::secured(match which {
                        WorkspaceRoute::Groups => handlers::workspace::groups(state).await,
                        WorkspaceRoute::Sync => handlers::workspace::sync(state),
                        WorkspaceRoute::Selection => {
                            let taken = body.take().expect("dispatch hands over the body unread");
                            match request_body::read(taken, 64 * 1024).await {
                                Ok(bytes) => handlers::workspace::select(state, bytes).await,
                                Err(e) => response::scim_error(&e),
                            }
                        }
                    }),
                }
            }
        }
        Route::GroupMembers(id) if is_read(method) => match authorize(Scope::Scim) {
            Ok(_) => {
                handlers::status::secured(handlers::directory::members(state, &parts, &id).await)
            }
            Err(e) => handlers::status::secured(state.refused(client, e)),
        },
        Route::Logs if is_read(method) => match authorize(Scope::Scim) {
            Ok(_) => handlers::status::logs(state),
            Err(e) => handlers::status::secured(state.refused(client, e)),
        },
        // Open on plain HTTP (probes and scrapes use the pod address); over HTTPS only with
        // OP_METRICS_TOKEN, and then only with that token.
        Route::Metrics if is_read(method) && over_tls => {
            if !state.posture.https_metrics_enabled() {
                response::scim_error(&ScimError::NotFound("no such endpoint".into()))
            } else {
                match state.posture.check_metrics_token(header) {
                    Ok(()) => handlers::ops::metrics(state).await,
                    Err(e) => state.denied(client, e),
                }
            }
        }
        Route::Metrics if is_read(method) => handlers::ops::metrics(state).await,
        Route::Events if is_read(method) => {
            // A resource's history is the directory's data: a `scim` token's, not a feed
            // reader's.
            let needs = if handlers::events::wants_history(&parts) {
                Scope::Scim
            } else {
                Scope::Events
            };
            match authorize(needs) {
                Ok(_) => handlers::events::feed(state, &parts).await,
                Err(e) => state.refused(client, e),
            }
        }
        Route::GuardRelease if method == Method::POST => match authorize(Scope::Scim) {
            Ok(caller) => {
                let actor = handlers::scim::request::actor(&parts, &caller);
                handlers::status::secured(handlers::status::release_guard(state, &actor).await)
            }
            Err(e) => handlers::status::secured(state.refused(client, e)),
        },
        Route::GuardRelease => {
            let mut res = response::scim_error(&ScimError::MethodNotAllowed(format!(
                "{method} is not allowed here"
            )));
            res.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            res
        }
        Route::Webhook(name, action) if method == Method::POST => match authorize(Scope::Scim) {
            Ok(_) => {
                handlers::status::secured(handlers::status::webhook(state, &name, action).await)
            }
            Err(e) => handlers::status::secured(state.refused(client, e)),
        },
        Route::Webhook(..) => {
            let mut res = response::scim_error(&ScimError::MethodNotAllowed(format!(
                "{method} is not allowed here"
            )));
            res.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            res
        }
        Route::Health if is_read(method) => match authorize(Scope::Scim) {
            Ok(_) => handlers::ops::health(state).await,
            Err(e) => state.refused(client, e),
        },
        Route::Scim { v2, endpoint } => match authorize(Scope::Scim) {
            Ok(caller) => scim(state, &parts, v2, endpoint, &mut body, &caller).await,
            Err(e) => state.refused(client, e),
        },
        Route::Ready if is_read(method) => handlers::ops::ready(state).await,
        other @ (Route::Ping
        | Route::Root
        | Route::Metrics
        | Route::Ready
        | Route::Health
        | Route::Events
        | Route::StatusJson
        | Route::Logs
        | Route::GroupMembers(_)
        | Route::StatusAsset(_)) => {
            let mut res = response::scim_error(&ScimError::MethodNotAllowed(format!(
                "{method} is not allowed here"
            )));
            res.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
            // The page's own routes keep its security headers on every answer.
            let page = matches!(
                other,
                Route::Root | Route::StatusJson | Route::Logs | Route::StatusAsset(_)
            );
            if page {
                handlers::status::secured(res)
            } else {
                res
            }
        }
        Route::NotFound => response::scim_error(&ScimError::NotFound("no such endpoint".into())),
    };
    // An answer sent over an unread body reaches no client: HTTP/2 resets the stream and
    // HTTP/1.1 closes under the client's unread bytes. Read it and drop it, bounded.
    if let Some(body) = body {
        request_body::discard(std::pin::pin!(body)).await;
    }
    res
}

/// A SCIM request: its body's share of the in-flight budget (held until the answer is built),
/// then the body within the size limit, then the handler. Over budget, the body is left in
/// `body` for the caller to discard.
async fn scim<B>(
    state: &AppState,
    parts: &http::request::Parts,
    v2: bool,
    endpoint: router::ScimEndpoint,
    body: &mut Option<B>,
    caller: &crate::auth::Caller,
) -> Response<Body>
where
    B: http_body::Body<Data = bytes::Bytes>,
    B::Error: Into<BoxError>,
{
    let limit = state.limits.max_body_bytes;
    let expected = body
        .as_ref()
        .map_or(0, |b| request_body::expected_bytes(b, limit));
    let Some(_share) = state.body_budget.reserve(expected).await else {
        tracing::warn!("request bodies in flight are at their limit");
        return response::scim_error(&ScimError::Unavailable(
            "the server is busy with other large requests; retry shortly".into(),
        ));
    };
    let body = body.take().expect("dispatch hands over the body unread");
    match request_body::read(body, limit).await {
        Ok(body) => handlers::scim::handle(state, parts, v2, endpoint, body, caller).await,
        Err(e) => response::scim_error(&e),
    }
}

/// A boxed error, as http-body uses.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("request handler panicked");
    response::scim_error(&ScimError::Internal(Fault::broken(
        "the request handler panicked",
    )))
}

/// The full service for one listener: the tower-http stack around [`handle`].
pub fn service<B>(
    state: Arc<AppState>,
) -> impl Service<
    Request<B>,
    Response = Response<
        impl http_body::Body<
                Data = bytes::Bytes,
                Error = impl Into<Box<dyn std::error::Error + Send + Sync>> + Send,
            > + Send
            + 'static,
    >,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + 'static
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let sensitive: Arc<[header::HeaderName]> = Arc::new([
        header::AUTHORIZATION,
        header::PROXY_AUTHORIZATION,
        header::COOKIE,
    ]);
    let hsts = state.posture.hsts.clone();
    let inner = ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::from_shared(sensitive))
        .map_request(request_id::sanitize::<B>)
        .layer(SetRequestIdLayer::x_request_id(request_id::Fresh))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<B>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(CatchPanicLayer::custom(panic_response))
        .service_fn(move |req: Request<B>| {
            let state = Arc::clone(&state);
            // Boxed here, innermost: each layer above wraps this future by value, and moving
            // the whole request's state machine (every handler's) through six of them was
            // 4–5 % of a keep-alive request's CPU in `memmove` (BENCHMARKS.md).
            Box::pin(async move { Ok::<_, Infallible>(handle(state, req).await) })
        });
    // Outermost, so every HTTPS answer carries HSTS: timeouts and caught panics too.
    tower::service_fn(move |req: Request<B>| {
        let over_tls = req.extensions().get::<TlsConnection>().is_some();
        let hsts = hsts.clone().filter(|_| over_tls);
        let answer = inner.clone().oneshot(req);
        async move {
            let mut res = answer.await?;
            if let Some(value) = hsts {
                res.headers_mut()
                    .insert(header::STRICT_TRANSPORT_SECURITY, value);
            }
            Ok(res)
        }
    })
}

/// The service of the separate ping listener (`OP_PING_SERVER`): `/ping` only.
pub fn ping_service(
    state: Arc<AppState>,
) -> impl Service<
    Request<hyper::body::Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + 'static {
    tower::service_fn(move |req: Request<hyper::body::Incoming>| {
        let state = Arc::clone(&state);
        async move {
            let started = Instant::now();
            let res = match router::route(req.uri().path()).route {
                Route::Ping if is_read(req.method()) => handlers::ops::ping(),
                _ => {
                    response::scim_error(&ScimError::NotFound("this port serves /ping only".into()))
                }
            };
            state.metrics.observe_request(
                "ping-server",
                req.method(),
                res.status().as_u16(),
                started.elapsed(),
            );
            Ok::<_, Infallible>(res)
        }
    })
}
