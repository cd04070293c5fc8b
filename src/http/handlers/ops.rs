//! Operational endpoints: `/ping`, `/health`, `/metrics`.

use http::StatusCode;

use crate::{
    http::{response, response::Body, AppState},
    status,
};

/// `/ping`: liveness for load balancers, no authentication.
pub fn ping() -> http::Response<Body> {
    response::text(StatusCode::OK, "text/plain; charset=utf-8", "pong")
}

/// `/health`: one report per component; 503 when a component is unhealthy.
pub async fn health(state: &AppState) -> http::Response<Body> {
    let reports = state.health.reports().await;
    let (doc, ok) = status::document(&reports);
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    response::json(code, &doc)
}

/// `/metrics`: the Prometheus text format. Runs the health checks first, so `store_up` is as
/// fresh as the scrape (otherwise it would only move when someone calls `/health`); bounded by
/// the store time limit.
pub async fn metrics(state: &AppState) -> http::Response<Body> {
    state.health.reports().await;
    response::text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        state.metrics.render(),
    )
}
