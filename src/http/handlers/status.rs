//! The status page: `/` and its files (no authentication, they hold no data),
//! `/status.json` and the `/logs` download (bearer token, like `/health`). Every answer carries
//! the strict security headers of [`response::with_page_security`].

use http::{header, HeaderValue, StatusCode};
use time::OffsetDateTime;

use crate::{
    http::{response, response::Body, AppState},
    operator::{self, page::Asset},
};

/// `/` or one of the page's files.
pub fn asset(asset: Asset) -> http::Response<Body> {
    let res = response::text(StatusCode::OK, asset.content_type(), asset.body());
    response::with_page_security(response::no_store(res))
}

/// `/status.json`: health, uptime, store, certificate, counts, recent activity and the tokens
/// with their last use. Counts that cannot be read (store outage) are `null`; the Store report
/// then says why.
pub async fn json(state: &AppState) -> http::Response<Body> {
    let operator::Survey {
        reports,
        webhooks,
        guard,
    } = state.health.survey().await;
    let counts = match tokio::time::timeout(
        state.limits.request_timeout / 2,
        state.status.counts.snapshot(),
    )
    .await
    {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => {
            tracing::warn!(error = %crate::error_chain::chain(&e), "status page counts unavailable");
            None
        }
        Err(_) => {
            tracing::warn!("status page counts timed out");
            None
        }
    };
    let certificate = state.health.certificate();
    let doc = operator::status_json(
        &reports,
        state.status.started.elapsed(),
        state.store.kind(),
        certificate.as_deref(),
        counts.as_ref(),
        &state.status.activity,
        operator::tokens::document(
            &state.status.session.live(),
            time::OffsetDateTime::now_utc(),
        ),
    );
    let mut doc = doc;
    // `null` when they cannot be read (the Store report says why).
    doc["webhooks"] = webhooks
        .and_then(|list| serde_json::to_value(list).ok())
        .unwrap_or_default();
    doc["charts"] = state.metrics.charts().to_json();
    doc["workspace"] = match &state.workspace {
        None => serde_json::json!({"enabled": false}),
        Some(c) => workspace_json(c).await,
    };
    // Off, or its state (`null` when it cannot be read).
    doc["deprovisionGuard"] = match (&state.deprovision, guard) {
        (None, _) => serde_json::json!({"enabled": false}),
        (Some(_), None) => serde_json::Value::Null,
        (Some(_), Some((s, settings))) => guard_json(&s, settings),
    };
    let res = response::json(StatusCode::OK, &doc);
    response::with_page_security(response::no_store(res))
}

/// `POST /webhooks/{name}/enable` or `/replay`: records the operator's request; the endpoint's
/// deliverer acts on it within seconds. `202` with the endpoint's name and the action.
pub async fn webhook(
    state: &AppState,
    name: &str,
    action: crate::outbox::report::Action,
) -> http::Response<Body> {
    use crate::{outbox::report::Action, scim::error::ScimError};
    if !state.webhooks.iter().any(|w| w.name == name) {
        return response::scim_error(&ScimError::NotFound(
            "no webhook endpoint has this name".into(),
        ));
    }
    match crate::outbox::report::act(&state.outbox, name, action).await {
        Ok(()) => {
            let action = match action {
                Action::Enable => "enable",
                Action::Replay => "replay",
            };
            tracing::info!(endpoint = %name, action, "webhook endpoint action requested");
            response::json(
                StatusCode::ACCEPTED,
                &serde_json::json!({"endpoint": name, "action": action}),
            )
        }
        Err(e) => {
            tracing::warn!(error = %crate::error_chain::chain(&e), "recording a webhook action");
            response::scim_error(&ScimError::Unavailable(
                "the store did not answer; retry shortly".into(),
            ))
        }
    }
}

/// The Workspace connector as the status page shows it: the selection (and whether
/// `OP_WORKSPACE_GROUPS` fixes it), the last stored summary, whether a sync runs here, and why
/// the files cannot be used, if so.
async fn workspace_json(c: &crate::workspace::Connector) -> serde_json::Value {
    use crate::workspace::state;
    let live = c.live().await;
    let selection = c.selection().await.ok().flatten();
    let summary = state::summary(c.store()).await.ok().flatten();
    serde_json::json!({
        "enabled": true,
        "groupsFromSettings": c.configured_groups().is_some(),
        "selection": selection.map_or(serde_json::Value::Null, |s| s.to_json()),
        "running": live.running,
        "fileError": live.file_error,
        "lastSync": summary,
    })
}

fn guard_json(
    s: &crate::scim::deprovision::State,
    settings: crate::scim::deprovision::Settings,
) -> serde_json::Value {
    let at = |ms: u64| {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        operator::rfc3339(t)
    };
    serde_json::json!({
        "enabled": true,
        "limit": settings.limit,
        "windowSeconds": settings.window.as_secs(),
        "windowStart": at(s.window_start_ms),
        "count": s.count,
        "holding": s.held_since_ms.is_some(),
        "heldSince": s.held_since_ms.map(at),
        "heldRequests": s.held_requests,
        "recent": s.recent.iter().map(|h| serde_json::json!({
            "at": at(h.at_ms), "type": h.kind, "id": h.id, "token": h.token,
        })).collect::<Vec<_>>(),
    })
}

/// `POST /guard/release`: releases the deprovisioning guard for the token's label (a
/// `guard.released` event); `200` with what it released, `404` when the guard is off.
pub async fn release_guard(
    state: &AppState,
    actor: &crate::scim::events::Actor,
) -> http::Response<Body> {
    use crate::scim::error::ScimError;
    let Some(guard) = &state.deprovision else {
        return response::scim_error(&ScimError::NotFound(
            "the deprovisioning guard is off (OP_DEPROVISION_LIMIT is not set)".into(),
        ));
    };
    match guard.release(actor).await {
        Ok(was) => {
            tracing::info!(
                token = %actor.token,
                held_requests = was.held_requests,
                "deprovisioning guard released"
            );
            response::json(
                StatusCode::OK,
                &serde_json::json!({
                    "released": true,
                    "wasHolding": was.held_since_ms.is_some(),
                    "heldRequests": was.held_requests,
                }),
            )
        }
        Err(e) => {
            tracing::warn!(error = %crate::error_chain::chain(&e), "releasing the deprovisioning guard");
            response::scim_error(&ScimError::Unavailable(
                "the store did not answer; retry shortly".into(),
            ))
        }
    }
}

/// `/logs`: the recent log lines as a plain-text attachment named after the current UTC time.
pub fn logs(state: &AppState) -> http::Response<Body> {
    let now = OffsetDateTime::now_utc();
    let logs = &state.status.logs;
    let text = operator::logs::render(&logs.snapshot(), logs.limits(), now);
    let mut res = response::text(StatusCode::OK, "text/plain; charset=utf-8", text);
    let disposition = format!(
        "attachment; filename=\"{}\"",
        operator::logs::file_name(now)
    );
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::try_from(disposition).expect("the file name is ASCII digits and letters"),
    );
    response::with_page_security(response::no_store(res))
}

/// A status-page answer that is not the data (401, 405), with the same headers.
pub fn secured(res: http::Response<Body>) -> http::Response<Body> {
    response::with_page_security(response::no_store(res))
}
