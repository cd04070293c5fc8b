//! Prometheus metrics, registered into a registry passed in (no globals).
//!
//! Every name starts with `scim_bridge_`; labels are bounded: route template, method, status
//! class, outcome. Must not know about business logic: callers report what happened.

use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The metric name prefix.
pub const PREFIX: &str = "scim_bridge";

/// The bridge's metrics.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    store_duration: HistogramVec,
    store_up: IntGauge,
    session_reloads: IntCounterVec,
    connections: IntGaugeVec,
    auth_failures: IntCounterVec,
    connections_closed: IntCounterVec,
    deprovision_held: IntCounter,
    tls: TlsMetrics,
    events: EventMetrics,
    /// The last hour per minute, for the status page's charts (not exported to Prometheus).
    charts: std::sync::Arc<crate::operator::charts::Charts>,
}

/// The event log's and webhooks' metrics.
#[derive(Clone, Debug)]
struct EventMetrics {
    head: IntGauge,
    deliveries: IntCounterVec,
    backlog: IntGaugeVec,
    lag: GaugeVec,
}

impl EventMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let head = IntGauge::new(
            format!("{PREFIX}_events_head"),
            "The seq of the last provisioning event written (the same on every replica; \
             rate() of it is events appended per second).",
        )?;
        let deliveries = IntCounterVec::new(
            Opts::new(
                format!("{PREFIX}_webhook_deliveries_total"),
                "Webhook delivery attempts made by this replica, by endpoint and outcome \
                 (delivered, failed, gone, dead_lettered).",
            ),
            &["endpoint", "outcome"],
        )?;
        let backlog = IntGaugeVec::new(
            Opts::new(
                format!("{PREFIX}_webhook_backlog"),
                "Events written after each endpoint's cursor, at the last scrape.",
            ),
            &["endpoint"],
        )?;
        let lag = GaugeVec::new(
            Opts::new(
                format!("{PREFIX}_webhook_lag_seconds"),
                "How long the oldest event an endpoint has not received has waited.",
            ),
            &["endpoint"],
        )?;
        registry.register(Box::new(head.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;
        registry.register(Box::new(backlog.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        Ok(Self {
            head,
            deliveries,
            backlog,
            lag,
        })
    }
}

/// Certificate, ACME and handshake metrics.
#[derive(Clone, Debug)]
struct TlsMetrics {
    cert_expiry: IntGauge,
    acme_orders: IntCounterVec,
    acme_challenges: IntCounterVec,
    handshake_failures: IntCounterVec,
}

impl TlsMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let cert_expiry = IntGauge::new(
            format!("{PREFIX}_tls_certificate_expiry_seconds"),
            "Seconds until the served certificate expires (negative once expired).",
        )?;
        let acme_orders = IntCounterVec::new(
            Opts::new(
                format!("{PREFIX}_acme_orders_total"),
                "ACME orders, by outcome (issued, invalid, rate_limited, timeout, store_error, failed).",
            ),
            &["outcome"],
        )?;
        let acme_challenges = IntCounterVec::new(
            Opts::new(
                format!("{PREFIX}_acme_challenge_validations_total"),
                "TLS-ALPN-01 challenges, by outcome (valid, invalid), plus validation handshakes answered (answered).",
            ),
            &["outcome"],
        )?;
        let handshake_failures = IntCounterVec::new(
            Opts::new(
                format!("{PREFIX}_tls_handshake_failures_total"),
                "TLS handshakes that failed, by reason (timeout, no_sni, unknown_sni, no_certificate, challenge, protocol).",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(cert_expiry.clone()))?;
        registry.register(Box::new(acme_orders.clone()))?;
        registry.register(Box::new(acme_challenges.clone()))?;
        registry.register(Box::new(handshake_failures.clone()))?;
        Ok(Self {
            cert_expiry,
            acme_orders,
            acme_challenges,
            handshake_failures,
        })
    }
}

impl Metrics {
    /// Creates the metrics and registers them into `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let http_requests = IntCounterVec::new(
            Opts::new(
                format!("{PREFIX}_http_requests_total"),
                "HTTP requests served, by route template, method and status class.",
            ),
            &["route", "method", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                format!("{PREFIX}_http_request_duration_seconds"),
                "Time to produce a response, by route template, method and status class.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["route", "method", "status"],
        )?;
        let store_duration = HistogramVec::new(
            HistogramOpts::new(
                format!("{PREFIX}_store_operation_duration_seconds"),
                "Time of each store call, by operation (get, list, write, …) and outcome \
                 (ok, refused, timeout, error).",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                5.0,
            ]),
            &["operation", "outcome"],
        )?;
        let store_up = IntGauge::new(
            format!("{PREFIX}_store_up"),
            "1 when the last store health check succeeded, else 0.",
        )?;
        let session_reloads = IntCounterVec::new(
            Opts::new(
                format!("{PREFIX}_session_reloads_total"),
                "Changes of the session file seen, by outcome (reloaded, refused).",
            ),
            &["outcome"],
        )?;
        let connections = IntGaugeVec::new(
            Opts::new(
                format!("{PREFIX}_open_connections"),
                "Connections being served, by listener.",
            ),
            &["listener"],
        )?;
        let auth_failures = IntCounterVec::new(
            Opts::new(
                format!("{PREFIX}_auth_failures_total"),
                "Failed bearer checks, by reason (missing, malformed, invalid, throttled, scope).",
            ),
            &["reason"],
        )?;
        let connections_closed = IntCounterVec::new(
            Opts::new(
                format!("{PREFIX}_connections_closed_total"),
                "Connections the bridge closed or refused, by listener and reason (first_byte_timeout, idle_timeout, write_timeout, evicted, per_client_limit, not_allowed).",
            ),
            &["listener", "reason"],
        )?;
        let deprovision_held = IntCounter::new(
            format!("{PREFIX}_deprovision_held_total"),
            "User deactivations and deletions this replica refused because the deprovisioning \
             guard holds (OP_DEPROVISION_LIMIT).",
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                format!("{PREFIX}_build_info"),
                "Always 1; labelled with the version.",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(store_duration.clone()))?;
        registry.register(Box::new(store_up.clone()))?;
        registry.register(Box::new(session_reloads.clone()))?;
        registry.register(Box::new(connections.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        registry.register(Box::new(connections_closed.clone()))?;
        registry.register(Box::new(deprovision_held.clone()))?;
        registry.register(Box::new(build_info))?;
        let tls = TlsMetrics::register(registry)?;
        let events = EventMetrics::register(registry)?;
        Ok(Self {
            tls,
            events,
            registry: registry.clone(),
            http_requests,
            http_duration,
            store_duration,
            store_up,
            session_reloads,
            connections,
            auth_failures,
            connections_closed,
            deprovision_held,
            charts: Default::default(),
        })
    }

    /// Sets the seq of the last event written.
    pub fn events_head(&self, seq: u64) {
        self.events.head.set(i64::try_from(seq).unwrap_or(i64::MAX));
    }

    /// Counts one webhook attempt's `outcome` for `endpoint` (a configured name: bounded).
    pub fn webhook_outcome(&self, endpoint: &str, outcome: &'static str) {
        self.events
            .deliveries
            .with_label_values(&[endpoint, outcome])
            .inc();
    }

    /// The status page's per-minute series.
    pub fn charts(&self) -> &crate::operator::charts::Charts {
        &self.charts
    }

    /// Records a SCIM request's outcome and latency for the charts (on top of
    /// [`observe_request`](Self::observe_request), which every route gets).
    pub fn observe_scim(&self, status: u16, took: Duration) {
        self.charts.request(status, took);
    }

    /// Records the age of an event `endpoint` has just delivered.
    pub fn webhook_delivered(&self, endpoint: &str, lag_seconds: f64) {
        self.charts.lag(endpoint, lag_seconds);
    }

    /// Sets `endpoint`'s backlog and lag as last read.
    pub fn webhook_backlog(&self, endpoint: &str, backlog: u64, lag_seconds: f64) {
        self.charts.lag(endpoint, lag_seconds);
        self.events
            .backlog
            .with_label_values(&[endpoint])
            .set(i64::try_from(backlog).unwrap_or(i64::MAX));
        self.events
            .lag
            .with_label_values(&[endpoint])
            .set(lag_seconds);
    }

    /// The counter of requests the deprovisioning guard refused.
    pub fn deprovision_held(&self) -> IntCounter {
        self.deprovision_held.clone()
    }

    /// Counts a failed bearer check by its bounded `reason`.
    pub fn auth_failure(&self, reason: &'static str) {
        self.auth_failures.with_label_values(&[reason]).inc();
    }

    /// The store latency histogram, for [`crate::store::guard`].
    pub fn store_latency(&self) -> HistogramVec {
        self.store_duration.clone()
    }

    /// Records one served request.
    pub fn observe_request(&self, route: &str, method: &http::Method, status: u16, took: Duration) {
        let method = match *method {
            http::Method::GET => "GET",
            http::Method::POST => "POST",
            http::Method::PUT => "PUT",
            http::Method::PATCH => "PATCH",
            http::Method::DELETE => "DELETE",
            http::Method::HEAD => "HEAD",
            http::Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let labels = [route, method, class];
        self.http_requests.with_label_values(&labels).inc();
        self.http_duration
            .with_label_values(&labels)
            .observe(took.as_secs_f64());
    }

    /// Records the outcome of a store health check.
    pub fn set_store_up(&self, up: bool) {
        self.store_up.set(i64::from(up));
    }

    /// Records a session file change that was `reloaded` or `refused`.
    pub fn session_reload(&self, outcome: &'static str) {
        self.session_reloads.with_label_values(&[outcome]).inc();
    }

    /// The open-connections gauge of one listener.
    pub fn connections(&self, listener: &str) -> IntGauge {
        self.connections.with_label_values(&[listener])
    }

    /// Counts a connection the edge closed or refused, by listener and bounded `reason`.
    pub fn connection_closed(&self, listener: &str, reason: &'static str) {
        self.connections_closed
            .with_label_values(&[listener, reason])
            .inc();
    }

    /// Sets the seconds until the served certificate expires.
    pub fn set_cert_expiry(&self, seconds: i64) {
        self.tls.cert_expiry.set(seconds);
    }

    /// Counts an ACME order by its bounded `outcome`.
    pub fn acme_order(&self, outcome: &'static str) {
        self.tls.acme_orders.with_label_values(&[outcome]).inc();
    }

    /// Counts a TLS-ALPN-01 challenge event by its bounded `outcome`.
    pub fn acme_challenge(&self, outcome: &'static str) {
        self.tls.acme_challenges.with_label_values(&[outcome]).inc();
    }

    /// Counts a failed TLS handshake by its bounded `reason`.
    pub fn tls_handshake_failure(&self, reason: &'static str) {
        self.tls
            .handshake_failures
            .with_label_values(&[reason])
            .inc();
    }

    /// Everything registered, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding gathered metrics into a Vec cannot fail");
        String::from_utf8(out).expect("the Prometheus text format is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_template_method_and_class() {
        let m = Metrics::register(&Registry::new()).unwrap();
        m.observe_request(
            "/scim/v2/Users",
            &http::Method::GET,
            200,
            Duration::from_millis(2),
        );
        m.observe_request(
            "/scim/v2/Users",
            &http::Method::GET,
            201,
            Duration::from_millis(2),
        );
        m.observe_request(
            "/scim/v2/Users/{id}",
            &http::Method::from_bytes(b"BREW").unwrap(),
            404,
            Duration::ZERO,
        );
        let text = m.render();
        assert!(text.contains(
            r#"scim_bridge_http_requests_total{method="GET",route="/scim/v2/Users",status="2xx"} 2"#
        ), "{text}");
        assert!(text.contains(r#"method="other",route="/scim/v2/Users/{id}",status="4xx""#));
        assert!(text.contains("scim_bridge_http_request_duration_seconds_bucket"));
        assert!(text.contains("scim_bridge_build_info"));
    }
}
#[cfg(test)]
mod webhook_metric_tests {
    use super::*;

    #[test]
    fn webhook_series_render() {
        let m = Metrics::register(&Registry::new()).unwrap();
        m.webhook_outcome("default", "failed");
        m.webhook_backlog("default", 3, 1.5);
        let text = m.render();
        assert!(
            text.contains(
                "scim_bridge_webhook_deliveries_total{endpoint=\"default\",outcome=\"failed\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("scim_bridge_webhook_backlog{endpoint=\"default\"} 3"),
            "{text}"
        );
    }
}
