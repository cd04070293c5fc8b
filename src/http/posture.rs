//! The HTTPS posture: HSTS on HTTPS answers, what plain HTTP serves once HTTPS is on
//! (`OP_PLAIN_HTTP`), and who may read `/metrics` over HTTPS (`OP_METRICS_TOKEN`).
//!
//! Plain HTTP in `probes` mode answers `/ping`, `/ready` and `/metrics` (the Kubernetes probes
//! and the ServiceMonitor use the pod address), redirects `GET /` to the HTTPS status page with
//! `308`, and refuses everything else with `403` naming the HTTPS URL, so neither the SCIM API
//! nor the status page and its data travel in clear text.

use http::{header, HeaderValue, Method, Response, StatusCode};
use subtle::ConstantTimeEq;

use super::{response, response::Body, router::Route};
use crate::{
    config::{PlainHttp, Secret},
    scim::error::ScimError,
};

/// The posture of one bridge, built from its settings.
#[derive(Clone, Debug)]
pub struct Posture {
    /// What plain HTTP serves.
    pub plain_http: PlainHttp,
    /// `Strict-Transport-Security` for HTTPS answers; `None` when `OP_HSTS_MAX_AGE=0`.
    pub hsts: Option<HeaderValue>,
    /// `https://domain[:port]/`, when `OP_TLS_DOMAIN` is set.
    pub https_url: Option<String>,
    /// `OP_TLS_DOMAIN`.
    pub tls_domain: Option<String>,
    /// `OP_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// `OP_METRICS_TOKEN`.
    pub metrics_token: Option<Secret>,
}

impl Default for Posture {
    /// Plain HTTP serving everything, no TLS: what a bridge without `OP_TLS_DOMAIN` does.
    fn default() -> Self {
        Self {
            plain_http: PlainHttp::All,
            hsts: None,
            https_url: None,
            tls_domain: None,
            public_url: None,
            metrics_token: None,
        }
    }
}

/// `https://domain/`, with `:port` unless it is 443.
pub fn https_url(domain: &str, port: u16) -> String {
    if port == 443 {
        format!("https://{domain}/")
    } else {
        format!("https://{domain}:{port}/")
    }
}

impl Posture {
    /// The posture of these settings.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let e = &settings.exposure;
        let hsts = (e.hsts_max_age > 0).then(|| {
            HeaderValue::from_str(&format!("max-age={}", e.hsts_max_age))
                .expect("digits are a valid header value")
        });
        Self {
            plain_http: e.plain_http,
            hsts,
            https_url: settings
                .tls
                .as_ref()
                .map(|t| https_url(&t.domain, t.https_port)),
            tls_domain: settings.tls.as_ref().map(|t| t.domain.clone()),
            public_url: e.public_url.clone(),
            metrics_token: e.metrics_token.clone(),
        }
    }

    /// On plain HTTP in `probes` mode, the answer for anything but a probe; `None` serves the
    /// request as usual.
    pub fn plain_http_gate(&self, route: &Route, method: &Method) -> Option<Response<Body>> {
        if self.plain_http == PlainHttp::All {
            return None;
        }
        let https = self.https_url.as_deref().unwrap_or("https://");
        match route {
            Route::Ping | Route::Ready | Route::Metrics => None,
            Route::Root if method == Method::GET || method == Method::HEAD => {
                let mut res = Response::new(Body::default());
                *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
                if let Ok(location) = HeaderValue::from_str(https) {
                    res.headers_mut().insert(header::LOCATION, location);
                }
                Some(res)
            }
            _ => Some(response::scim_error(&ScimError::Forbidden(format!(
                "plain HTTP serves only /ping, /ready and /metrics here; use {https}"
            )))),
        }
    }

    /// Over HTTPS, whether `/metrics` exists at all (only with `OP_METRICS_TOKEN`).
    pub fn https_metrics_enabled(&self) -> bool {
        self.metrics_token.is_some()
    }

    /// Whether an `Authorization` header carries the metrics token (constant time in the
    /// token's bytes). `Err` carries the failure for the throttle and metrics.
    pub fn check_metrics_token(
        &self,
        authorization: Option<&[u8]>,
    ) -> Result<(), crate::auth::AuthError> {
        use crate::auth::AuthError;
        let expected = self
            .metrics_token
            .as_ref()
            .ok_or(AuthError::Rejected)?
            .expose()
            .as_bytes();
        let presented = crate::auth::bearer_token(authorization.ok_or(AuthError::Missing)?)?;
        // ct_eq on slices of unequal length is false without comparing; the length of the
        // token is not the secret.
        if bool::from(presented.ct_eq(expected)) {
            Ok(())
        } else {
            Err(AuthError::Rejected)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthError;

    fn probes() -> Posture {
        Posture {
            plain_http: PlainHttp::Probes,
            https_url: Some(https_url("scim.example.com", 8443)),
            tls_domain: Some("scim.example.com".into()),
            metrics_token: Some(Secret::new("metrics-token-0123456789")),
            ..Posture::default()
        }
    }

    #[test]
    fn the_https_url_omits_443() {
        assert_eq!(https_url("a.example", 443), "https://a.example/");
        assert_eq!(https_url("a.example", 5001), "https://a.example:5001/");
    }

    #[test]
    fn probes_mode_serves_probes_redirects_the_page_and_refuses_the_rest() {
        let p = probes();
        for route in [Route::Ping, Route::Ready, Route::Metrics] {
            assert!(p.plain_http_gate(&route, &Method::GET).is_none());
        }
        let res = p.plain_http_gate(&Route::Root, &Method::GET).unwrap();
        assert_eq!(res.status(), 308);
        assert_eq!(
            res.headers()[header::LOCATION],
            "https://scim.example.com:8443/"
        );
        for (route, method) in [
            (Route::Root, Method::POST),
            (Route::StatusJson, Method::GET),
            (Route::Health, Method::GET),
            (Route::NotFound, Method::GET),
            (
                Route::Scim {
                    v2: true,
                    endpoint: crate::http::router::ScimEndpoint::Bulk,
                },
                Method::POST,
            ),
        ] {
            let res = p.plain_http_gate(&route, &method).unwrap();
            assert_eq!(res.status(), 403, "{route:?}");
        }
        assert!(Posture::default()
            .plain_http_gate(&Route::StatusJson, &Method::GET)
            .is_none());
    }

    #[test]
    fn the_metrics_token_is_checked() {
        let p = probes();
        assert_eq!(
            p.check_metrics_token(Some(b"Bearer metrics-token-0123456789")),
            Ok(())
        );
        assert_eq!(p.check_metrics_token(None), Err(AuthError::Missing));
        assert_eq!(
            p.check_metrics_token(Some(b"Bearer metrics-token-012345678")),
            Err(AuthError::Rejected)
        );
        assert_eq!(
            p.check_metrics_token(Some(b"Basic x")),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            Posture::default().check_metrics_token(Some(b"Bearer x")),
            Err(AuthError::Rejected)
        );
    }
}
