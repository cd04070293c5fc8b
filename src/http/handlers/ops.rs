//! Operational endpoints: `/ping`, `/health`, `/metrics`.

use http::StatusCode;

use crate::{
    http::{response, response::Body, AppState},
    operator,
};

/// `/ping`: liveness for load balancers, no authentication.
pub fn ping() -> http::Response<Body> {
    response::text(StatusCode::OK, "text/plain; charset=utf-8", "pong")
}

/// `/health`: one report per component; 503 when a component is unhealthy.
pub async fn health(state: &AppState) -> http::Response<Body> {
    let reports = state.health.reports().await;
    let (doc, ok) = operator::document(&reports);
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    response::json(code, &doc)
}

/// `/ready`: 200 while the store answers, 503 otherwise; no token, so Kubernetes readiness
/// probes can use it. It reveals only "ready" or not, and reuses a recent healthy store check
/// (see `operator::Health`), so probing it cannot drive store writes.
pub async fn ready(state: &AppState) -> http::Response<Body> {
    if state.health.store_ready().await {
        response::text(StatusCode::OK, "text/plain; charset=utf-8", "ready")
    } else {
        response::text(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "store unavailable",
        )
    }
}

/// `/metrics`: the Prometheus text format. Runs the health checks first, so `store_up` is as
/// fresh as the scrape (otherwise it would only move when someone calls `/health`); bounded by
/// the store time limit.
pub async fn metrics(state: &AppState) -> http::Response<Body> {
    state.health.reports().await;
    state.metrics.events_head(state.outbox.head());
    response::text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        state.metrics.render(),
    )
}
