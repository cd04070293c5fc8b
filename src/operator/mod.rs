//! Operators' read-outs: `/health` (one report per component, shaped like the reference
//! bridge's), `/ping`, and the status page with its `/status.json` and `/logs`.
//!
//! * [`activity`]: the recent SCIM requests (no personal data).
//! * [`charts`]: the last hour per minute: requests by outcome, latency, webhook lag.
//! * [`counts`]: user and group counts, with a cached active/inactive scan.
//! * [`logs`]: the recent log lines as a downloadable file.
//! * [`page`]: the embedded HTML, CSS and script.
//! * [`tokens`]: the session's tokens with their last use (never a secret).
//!
//! Must not know engine internals: it asks each component only whether it is well (the counts
//! read the records through their public paging API).

pub mod activity;
pub mod charts;
pub mod counts;
pub mod logs;
pub mod page;
pub mod tokens;

use std::{sync::Arc, time::Duration};

use serde_json::{json, Value};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use crate::{
    metrics::Metrics, session::reload::SessionHandle, store::SharedStore, tls::CertReportCell,
};

/// The build identifier, set by the release build (`SCIM_BRIDGE_BUILD`), else `dev`.
pub const BUILD: &str = match option_env!("SCIM_BRIDGE_BUILD") {
    Some(b) => b,
    None => "dev",
};

/// How long a report stays valid; load balancers should re-ask after this.
const REPORT_TTL: Duration = Duration::from_secs(60);

/// A component's condition (the `state` of its `/health` report).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Working.
    Healthy,
    /// Working with a problem an operator should look at.
    Degraded,
    /// Not working.
    Unhealthy,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::Healthy => "healthy",
            Condition::Degraded => "degraded",
            Condition::Unhealthy => "unhealthy",
        }
    }
}

/// One component's report.
#[derive(Clone, Debug)]
pub struct Report {
    /// The component (`Store`, `Session`, `SCIMServer`).
    pub source: &'static str,
    /// Its condition (`state` in the document).
    pub condition: Condition,
    /// A short explanation when not healthy (never a secret).
    pub detail: Option<String>,
}

/// Collects the components' reports.
#[derive(Clone)]
pub struct Health {
    store: SharedStore,
    session: Arc<SessionHandle>,
    metrics: Metrics,
    certificates: Option<CertReportCell>,
    /// The webhook endpoints, when there are any.
    webhooks: Option<(
        Arc<crate::outbox::Outbox>,
        Arc<[crate::config::WebhookSettings]>,
    )>,
    /// The deprovisioning guard, when on.
    deprovision: Option<Arc<crate::scim::deprovision::Guard>>,
    /// The Google Workspace connector, when on.
    workspace: Option<Arc<crate::workspace::Connector>>,
    /// The last store check and when it ran. `/metrics` needs no token, and an embedded-store
    /// ping is a durable (fsynced) empty commit, so a healthy check is reused for
    /// [`STORE_CHECK_TTL`] rather than letting any client drive fsyncs (an outage is still seen
    /// within that time). A std mutex: held only to copy or store.
    last_store_check: Arc<std::sync::Mutex<Option<(std::time::Instant, StoreCheck)>>>,
}

/// The outcome of one store check: the condition and, when not healthy, why.
type StoreCheck = (Condition, Option<String>);

/// How long one store check answers for.
const STORE_CHECK_TTL: Duration = Duration::from_secs(2);

/// The `CertificateManager` report: degraded while renewal fails or before the first
/// certificate, unhealthy once the certificate served has expired.
pub fn certificate_report(cert: &crate::tls::CertReport, now: OffsetDateTime) -> Report {
    let mut detail = format!("domain={} source={}", cert.domain, cert.source);
    if let Some(issuer) = &cert.issuer {
        detail.push_str(&format!(" issuer=\"{issuer}\""));
    }
    if let Some(t) = cert.not_after {
        detail.push_str(&format!(" notAfter={}", rfc3339(t)));
    }
    if let Some(t) = cert.next_renewal {
        detail.push_str(&format!(" nextRenewal={}", rfc3339(t)));
    }
    let condition = match (&cert.failure, cert.not_after) {
        (_, Some(t)) if t <= now => Condition::Unhealthy,
        (Some(f), _) => {
            detail.push_str(&format!(" failures={} lastError=\"{f}\"", cert.failures));
            Condition::Degraded
        }
        (None, None) => {
            detail.push_str(" (no certificate yet)");
            Condition::Degraded
        }
        (None, Some(_)) => Condition::Healthy,
    };
    Report {
        source: "CertificateManager",
        condition,
        detail: Some(detail),
    }
}

/// The `Webhooks` report: each failing endpoint by name, why, and its backlog.
pub fn webhooks_report(endpoints: &[crate::outbox::report::EndpointReport]) -> Report {
    let failing: Vec<String> = endpoints
        .iter()
        .filter(|e| e.failing())
        .map(|e| match &e.disabled {
            Some(d) => format!("{} disabled: {} (backlog {})", e.name, d.reason, e.backlog),
            None => format!(
                "{} failing: {} (backlog {})",
                e.name,
                e.last_error.as_deref().unwrap_or("?"),
                e.backlog
            ),
        })
        .collect();
    Report {
        source: "Webhooks",
        condition: if failing.is_empty() {
            Condition::Healthy
        } else {
            Condition::Degraded
        },
        detail: (!failing.is_empty()).then(|| failing.join("; ")),
    }
}

impl Health {
    /// Adds the `Webhooks` report (when endpoints are configured): degraded while an endpoint
    /// is disabled or its last attempt failed.
    pub fn with_webhooks(
        mut self,
        outbox: Arc<crate::outbox::Outbox>,
        endpoints: &[crate::config::WebhookSettings],
    ) -> Self {
        if !endpoints.is_empty() {
            self.webhooks = Some((outbox, endpoints.into()));
        }
        self
    }

    /// Adds the `DeprovisionGuard` report (when the guard is on): degraded while it holds.
    pub fn with_deprovision_guard(
        mut self,
        guard: Option<Arc<crate::scim::deprovision::Guard>>,
    ) -> Self {
        self.deprovision = guard;
        self
    }

    /// Adds the `Workspace` report (when the Google Workspace connector is on).
    pub fn with_workspace(mut self, connector: Arc<crate::workspace::Connector>) -> Self {
        self.workspace = Some(connector);
        self
    }

    /// Adds the `CertificateManager` report (when TLS is on).
    pub fn with_certificates(mut self, report: CertReportCell) -> Self {
        self.certificates = Some(report);
        self
    }

    /// The certificate served, when HTTPS is on.
    pub fn certificate(&self) -> Option<Arc<crate::tls::CertReport>> {
        self.certificates.as_ref().map(|c| c.load_full())
    }

    /// Whether the store answers (for `/ready`).
    pub async fn store_ready(&self) -> bool {
        self.store_check().await.0 == Condition::Healthy
    }

    /// The store's condition, checked at most once per [`STORE_CHECK_TTL`].
    async fn store_check(&self) -> StoreCheck {
        let cached = self
            .last_store_check
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        // Only a healthy result is reused: after a failure every call checks again, so a
        // recovery shows at once.
        if let Some((at, result)) = cached {
            if result.0 == Condition::Healthy && at.elapsed() < STORE_CHECK_TTL {
                return result;
            }
        }
        // The store guard bounds the ping by OP_STORE_TIMEOUT.
        let result = match self.store.ping().await {
            Ok(()) => (Condition::Healthy, None),
            Err(e) => (Condition::Unhealthy, Some(e.to_string())),
        };
        self.metrics.set_store_up(result.0 == Condition::Healthy);
        *self
            .last_store_check
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((std::time::Instant::now(), result.clone()));
        result
    }

    /// A health checker over the given components.
    pub fn new(store: SharedStore, session: Arc<SessionHandle>, metrics: Metrics) -> Self {
        Self {
            store,
            session,
            metrics,
            certificates: None,
            webhooks: None,
            deprovision: None,
            workspace: None,
            last_store_check: Arc::default(),
        }
    }

    /// Asks every component; never takes longer than the store time limit.
    pub async fn reports(&self) -> Vec<Report> {
        self.survey().await.reports
    }

    /// [`Health::reports`] with the webhook endpoints' reports they were made from (`None`
    /// without endpoints or when the store cannot be read), so `/status.json` reads them once.
    pub async fn survey(&self) -> Survey {
        let store = self.store_check().await;
        let session = match self.session.report().error {
            None => (Condition::Healthy, None),
            Some(e) => (
                Condition::Degraded,
                Some(format!(
                    "latest session file refused, previous one in force: {e}"
                )),
            ),
        };
        let mut reports = vec![
            Report {
                source: "Store",
                condition: store.0,
                detail: store.1.map(|d| format!("{} store: {d}", self.store.kind())),
            },
            Report {
                source: "Session",
                condition: session.0,
                detail: session.1,
            },
            Report {
                source: "SCIMServer",
                condition: Condition::Healthy,
                detail: None,
            },
        ];
        if let Some(certs) = &self.certificates {
            reports.push(certificate_report(&certs.load(), OffsetDateTime::now_utc()));
        }
        let mut webhooks = None;
        if let Some((outbox, endpoints)) = &self.webhooks {
            // Unreadable with the store down: the Store report already says so.
            if let Ok(list) = crate::outbox::report::endpoints(outbox, endpoints).await {
                for e in &list {
                    self.metrics
                        .webhook_backlog(&e.name, e.backlog, e.lag_seconds);
                }
                reports.push(webhooks_report(&list));
                webhooks = Some(list);
            }
        }
        let mut guard = None;
        if let Some(g) = &self.deprovision {
            // Unreadable with the store down: the Store report already says so.
            if let Ok((state, _)) = g.state().await {
                reports.push(guard_report(&state, g.settings()));
                guard = Some((state, g.settings()));
            }
        }
        if let Some(w) = &self.workspace {
            reports.push(w.report().await);
        }
        Survey {
            reports,
            webhooks,
            guard,
        }
    }
}

/// One look at every component: the `/health` reports, and the webhook endpoints' own.
pub struct Survey {
    /// One per component.
    pub reports: Vec<Report>,
    /// Each webhook endpoint's state, when they could be read.
    pub webhooks: Option<Vec<crate::outbox::report::EndpointReport>>,
    /// The deprovisioning guard's state and settings, when it is on and could be read.
    pub guard: Option<(
        crate::scim::deprovision::State,
        crate::scim::deprovision::Settings,
    )>,
}

/// The `DeprovisionGuard` report: degraded while the guard holds.
pub fn guard_report(
    state: &crate::scim::deprovision::State,
    settings: crate::scim::deprovision::Settings,
) -> Report {
    match state.held_since_ms {
        None => Report {
            source: "DeprovisionGuard",
            condition: Condition::Healthy,
            detail: None,
        },
        Some(_) => Report {
            source: "DeprovisionGuard",
            condition: Condition::Degraded,
            detail: Some(format!(
                "holding: more than {} user deactivations and deletions within {:?}; {} \
                 refused since; an operator releases it with POST /guard/release",
                settings.limit, settings.window, state.held_requests
            )),
        },
    }
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .expect("an OffsetDateTime always formats as RFC 3339")
}

/// What the status page keeps between requests.
pub struct PageState {
    /// When the process started serving.
    pub started: std::time::Instant,
    /// Recent SCIM requests.
    pub activity: activity::Activity,
    /// User and group counts.
    pub counts: counts::Counts,
    /// The recent log lines (empty when the subscriber does not feed them).
    pub logs: crate::logging::RecentLogs,
    /// The live session, for the tokens and their last use.
    pub session: Arc<SessionHandle>,
}

impl PageState {
    /// Fresh state over the records, the ring the subscriber feeds and the live session.
    pub fn new(
        records: crate::scim::records::Records,
        logs: crate::logging::RecentLogs,
        session: Arc<SessionHandle>,
    ) -> Self {
        Self {
            started: std::time::Instant::now(),
            activity: activity::Activity::new(),
            counts: counts::Counts::new(records),
            logs,
            session,
        }
    }
}

/// The `/status.json` document: the `/health` document plus uptime, store kind, the
/// certificate (`null` without HTTPS), counts, recent activity and the tokens (see
/// [`tokens::document`]).
pub fn status_json(
    reports: &[Report],
    uptime: Duration,
    store_kind: &str,
    certificate: Option<&crate::tls::CertReport>,
    counts: Option<&counts::Snapshot>,
    activity: &activity::Activity,
    tokens: Value,
) -> Value {
    let (mut doc, ok) = document(reports);
    doc["ok"] = json!(ok);
    doc["uptimeSeconds"] = json!(uptime.as_secs());
    doc["store"] = json!({ "kind": store_kind });
    doc["certificate"] = certificate.map_or(Value::Null, certificate_json);
    doc["counts"] = match counts {
        Some(c) => json!({
            "users": { "total": c.users, "active": c.active, "inactive": c.inactive },
            "groups": c.groups,
            "activeCountedAt": rfc3339(c.scanned_at),
        }),
        None => Value::Null,
    };
    doc["activity"] = activity.to_json();
    doc["tokens"] = tokens;
    doc
}

/// The certificate as the status page shows it: each field on its own (the
/// `CertificateManager` report has the same facts as one line).
fn certificate_json(c: &crate::tls::CertReport) -> Value {
    let time = |t: Option<OffsetDateTime>| t.map_or(Value::Null, |t| json!(rfc3339(t)));
    json!({
        "domain": c.domain,
        "source": c.source,
        "issuer": c.issuer,
        "notAfter": time(c.not_after),
        "nextRenewal": time(c.next_renewal),
        "failures": c.failures,
        "lastError": c.failure,
    })
}

/// The `/health` document and whether every component is usable (no `unhealthy` report).
pub fn document(reports: &[Report]) -> (Value, bool) {
    let now = OffsetDateTime::now_utc();
    let expires = now + REPORT_TTL;
    let items: Vec<Value> = reports
        .iter()
        .map(|r| {
            let mut item = json!({
                "source": r.source,
                "state": r.condition.as_str(),
                "time": rfc3339(now),
                "expires": rfc3339(expires),
            });
            if let Some(d) = &r.detail {
                item["details"] = json!([d]);
            }
            item
        })
        .collect();
    let ok = reports.iter().all(|r| r.condition != Condition::Unhealthy);
    let doc = json!({
        "build": BUILD,
        "version": env!("CARGO_PKG_VERSION"),
        "reports": items,
        "retrievedAt": rfc3339(now),
    });
    (doc, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_has_the_reference_shape() {
        let reports = vec![
            Report {
                source: "Store",
                condition: Condition::Healthy,
                detail: None,
            },
            Report {
                source: "Session",
                condition: Condition::Degraded,
                detail: Some("x".into()),
            },
        ];
        let (doc, ok) = document(&reports);
        assert!(ok);
        assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
        assert!(doc["build"].is_string());
        assert!(doc["retrievedAt"].is_string());
        let r = &doc["reports"][1];
        assert_eq!(r["source"], "Session");
        assert_eq!(r["state"], "degraded");
        assert!(r["time"].is_string() && r["expires"].is_string());
        assert!(r["time"].as_str() < r["expires"].as_str());
    }

    #[test]
    fn the_certificate_report_follows_the_manager() {
        let now = OffsetDateTime::now_utc();
        let mut cert = crate::tls::CertReport {
            domain: "a.test".into(),
            source: "acme",
            ..Default::default()
        };
        assert_eq!(
            certificate_report(&cert, now).condition,
            Condition::Degraded,
            "no certificate yet"
        );
        cert.not_after = Some(now + time::Duration::days(30));
        cert.issuer = Some("CN=CA".into());
        cert.next_renewal = Some(now + time::Duration::days(10));
        let r = certificate_report(&cert, now);
        assert_eq!(
            (r.source, r.condition),
            ("CertificateManager", Condition::Healthy)
        );
        let d = r.detail.unwrap();
        assert!(
            d.contains("a.test") && d.contains("CN=CA") && d.contains("nextRenewal="),
            "{d}"
        );
        cert.failure = Some("ACME new order failed".into());
        cert.failures = 2;
        let r = certificate_report(&cert, now);
        assert_eq!(r.condition, Condition::Degraded);
        assert!(r.detail.unwrap().contains("failures=2"));
        cert.not_after = Some(now - time::Duration::seconds(1));
        assert_eq!(
            certificate_report(&cert, now).condition,
            Condition::Unhealthy,
            "expired"
        );
    }

    #[test]
    fn an_unhealthy_component_fails_the_check() {
        let reports = vec![Report {
            source: "Store",
            condition: Condition::Unhealthy,
            detail: None,
        }];
        assert!(!document(&reports).1);
    }
}
