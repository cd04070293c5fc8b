//! The route table: a request path becomes a [`Route`] and a bounded route template for
//! metrics. SCIM is served under both `/scim` and `/scim/v2`, as identity providers use both;
//! endpoint names match case-insensitively (RFC 7644 §3.2 names them, clients vary in case).

pub use crate::scim::schema::ResourceKind;

/// An endpoint under a SCIM prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScimEndpoint {
    /// `/Users` or `/Groups`.
    Collection(ResourceKind),
    /// `/Users/{id}` or `/Groups/{id}`.
    Resource(ResourceKind, String),
    /// `/.search`, `/Users/.search`, `/Groups/.search`.
    Search(Option<ResourceKind>),
    /// `/Bulk`.
    Bulk,
    /// `/ServiceProviderConfig`.
    ServiceProviderConfig,
    /// `/ResourceTypes` and `/ResourceTypes/{id}`.
    ResourceTypes(Option<String>),
    /// `/Schemas` and `/Schemas/{id}`.
    Schemas(Option<String>),
    /// `/Me` (not offered: bearer tokens here name no user).
    Me,
    /// Any other path under the prefix.
    Unknown,
}

/// One of the Workspace connector's endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkspaceRoute {
    /// `GET /workspace/groups`.
    Groups,
    /// `PUT /workspace/selection`.
    Selection,
    /// `POST /workspace/sync`.
    Sync,
}

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/`.
    Root,
    /// `/ping` (no authentication).
    Ping,
    /// `/health`.
    Health,
    /// `/ready` (no authentication, for readiness probes): 200 only while the store answers.
    Ready,
    /// `/metrics` (no authentication, for Prometheus).
    Metrics,
    /// `/status.json` (the status page's data, bearer token required).
    StatusJson,
    /// `/logs` (the recent log lines as a file, bearer token required).
    Logs,
    /// `/events` (the pull feed of provisioning events, bearer token required).
    Events,
    /// `POST /guard/release`: releases the deprovisioning guard (bearer token, `scim` scope).
    GuardRelease,
    /// `/workspace/groups` (GET), `/workspace/selection` (PUT), `/workspace/sync` (POST): the
    /// Google Workspace connector (bearer token, `scim` scope).
    Workspace(WorkspaceRoute),
    /// `GET /groups/{id}/members`: a group's members a page at a time (bearer token, `scim`
    /// scope), for the status page's directory.
    GroupMembers(String),
    /// `POST /webhooks/{name}/enable` or `/replay` (bearer token, `scim` scope).
    Webhook(String, crate::outbox::report::Action),
    /// A static file of the status page (no authentication: it holds no data).
    StatusAsset(crate::operator::page::Asset),
    /// An endpoint under `/scim` or `/scim/v2`; `v2` tells which prefix was used.
    Scim {
        /// True under `/scim/v2`.
        v2: bool,
        /// The endpoint.
        endpoint: ScimEndpoint,
    },
    /// Nothing here.
    NotFound,
}

/// A matched route and its template for metrics labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed {
    /// The route.
    pub route: Route,
    /// The template, e.g. `/scim/v2/Users/{id}`; `unmatched` for unknown paths.
    pub template: &'static str,
}

/// Picks the template literal for the prefix in use.
macro_rules! template {
    ($v2:expr, $tail:literal) => {
        if $v2 {
            concat!("/scim/v2", $tail)
        } else {
            concat!("/scim", $tail)
        }
    };
}

fn kind(segment: &str) -> Option<ResourceKind> {
    ResourceKind::from_segment(segment)
}

fn is(segment: &str, name: &str) -> bool {
    segment.eq_ignore_ascii_case(name)
}

fn scim(v2: bool, rest: &[&str]) -> (ScimEndpoint, &'static str) {
    use ResourceKind::{Group, User};
    use ScimEndpoint as E;
    match rest {
        [c] if kind(c) == Some(User) => (E::Collection(User), template!(v2, "/Users")),
        [c] if kind(c) == Some(Group) => (E::Collection(Group), template!(v2, "/Groups")),
        [".search"] => (E::Search(None), template!(v2, "/.search")),
        [c, ".search"] if kind(c) == Some(User) => {
            (E::Search(Some(User)), template!(v2, "/Users/.search"))
        }
        [c, ".search"] if kind(c) == Some(Group) => {
            (E::Search(Some(Group)), template!(v2, "/Groups/.search"))
        }
        [c, id] if kind(c) == Some(User) => (
            E::Resource(User, (*id).into()),
            template!(v2, "/Users/{id}"),
        ),
        [c, id] if kind(c) == Some(Group) => (
            E::Resource(Group, (*id).into()),
            template!(v2, "/Groups/{id}"),
        ),
        [s] if is(s, "Bulk") => (E::Bulk, template!(v2, "/Bulk")),
        [s] if is(s, "ServiceProviderConfig") => (
            E::ServiceProviderConfig,
            template!(v2, "/ServiceProviderConfig"),
        ),
        [s] if is(s, "ResourceTypes") => (E::ResourceTypes(None), template!(v2, "/ResourceTypes")),
        [s, id] if is(s, "ResourceTypes") => (
            E::ResourceTypes(Some((*id).into())),
            template!(v2, "/ResourceTypes/{id}"),
        ),
        [s] if is(s, "Schemas") => (E::Schemas(None), template!(v2, "/Schemas")),
        [s, id] if is(s, "Schemas") => (
            E::Schemas(Some((*id).into())),
            template!(v2, "/Schemas/{id}"),
        ),
        [s] if is(s, "Me") => (E::Me, template!(v2, "/Me")),
        _ => (E::Unknown, "unmatched"),
    }
}

/// Percent-decodes a path segment (ids and schema URNs may arrive encoded).
fn decode(segment: &str) -> std::borrow::Cow<'_, str> {
    if !segment.contains('%') {
        return segment.into();
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned().into()
}

/// Matches a request path (without query string).
pub fn route(path: &str) -> Routed {
    let trimmed = path.trim_end_matches('/');
    let simple = |route, template| Routed { route, template };
    match trimmed {
        "" => return simple(Route::Root, "/"),
        "/ping" => return simple(Route::Ping, "/ping"),
        "/health" => return simple(Route::Health, "/health"),
        "/ready" => return simple(Route::Ready, "/ready"),
        "/metrics" => return simple(Route::Metrics, "/metrics"),
        "/status.json" => return simple(Route::StatusJson, "/status.json"),
        "/logs" => return simple(Route::Logs, "/logs"),
        "/events" => return simple(Route::Events, "/events"),
        "/guard/release" => return simple(Route::GuardRelease, "/guard/release"),
        "/workspace/groups" => {
            return simple(
                Route::Workspace(WorkspaceRoute::Groups),
                "/workspace/groups",
            )
        }
        "/workspace/selection" => {
            return simple(
                Route::Workspace(WorkspaceRoute::Selection),
                "/workspace/selection",
            )
        }
        "/workspace/sync" => {
            return simple(Route::Workspace(WorkspaceRoute::Sync), "/workspace/sync")
        }
        _ => {}
    }
    if let Some(rest) = trimmed.strip_prefix("/webhooks/") {
        if let Some((name, action)) = rest.split_once('/') {
            if let Some(action) = crate::outbox::report::Action::from_segment(action) {
                return simple(
                    Route::Webhook(decode(name).into_owned(), action),
                    "/webhooks/{name}/{action}",
                );
            }
        }
        return simple(Route::NotFound, "unmatched");
    }
    if let Some(rest) = trimmed.strip_prefix("/groups/") {
        return match rest.split_once('/') {
            Some((id, "members")) if !id.is_empty() => simple(
                Route::GroupMembers(decode(id).into_owned()),
                "/groups/{id}/members",
            ),
            _ => simple(Route::NotFound, "unmatched"),
        };
    }
    if let Some(asset) = crate::operator::page::Asset::from_path(trimmed) {
        return simple(Route::StatusAsset(asset), "/status/{asset}");
    }
    let segments: Vec<std::borrow::Cow<'_, str>> = trimmed.split('/').skip(1).map(decode).collect();
    let segments: Vec<&str> = segments.iter().map(|s| s.as_ref()).collect();
    let (v2, rest) = match segments.as_slice() {
        ["scim", "v2", rest @ ..] => (true, rest),
        ["scim", rest @ ..] => (false, rest),
        _ => return simple(Route::NotFound, "unmatched"),
    };
    let (endpoint, template) = scim(v2, rest);
    Routed {
        route: Route::Scim { v2, endpoint },
        template,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(path: &str) -> ScimEndpoint {
        match route(path).route {
            Route::Scim { endpoint, .. } => endpoint,
            other => panic!("{path} routed to {other:?}"),
        }
    }

    #[test]
    fn scim_routes_under_both_prefixes() {
        assert_eq!(
            endpoint("/scim/v2/Users"),
            ScimEndpoint::Collection(ResourceKind::User)
        );
        assert_eq!(route("/scim/v2/Users").template, "/scim/v2/Users");
        assert_eq!(route("/scim/Users/").template, "/scim/Users");
        assert_eq!(
            endpoint("/scim/v2/Groups/abc"),
            ScimEndpoint::Resource(ResourceKind::Group, "abc".into())
        );
        assert_eq!(
            route("/scim/v2/Groups/abc").template,
            "/scim/v2/Groups/{id}"
        );
        assert_eq!(route("/scim/v2/users").template, "/scim/v2/Users");
    }

    #[test]
    fn discovery_search_and_bulk() {
        assert_eq!(
            endpoint("/scim/v2/ServiceProviderConfig"),
            ScimEndpoint::ServiceProviderConfig
        );
        assert_eq!(endpoint("/scim/v2/Schemas"), ScimEndpoint::Schemas(None));
        assert_eq!(
            endpoint("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"),
            ScimEndpoint::Schemas(Some("urn:ietf:params:scim:schemas:core:2.0:User".into()))
        );
        assert_eq!(
            endpoint("/scim/ResourceTypes/User"),
            ScimEndpoint::ResourceTypes(Some("User".into()))
        );
        assert_eq!(endpoint("/scim/v2/.search"), ScimEndpoint::Search(None));
        assert_eq!(
            endpoint("/scim/v2/Users/.search"),
            ScimEndpoint::Search(Some(ResourceKind::User))
        );
        assert_eq!(endpoint("/scim/v2/Bulk"), ScimEndpoint::Bulk);
        assert_eq!(endpoint("/scim/v2/Me"), ScimEndpoint::Me);
        assert_eq!(
            route("/scim/v2/Users/.search").template,
            "/scim/v2/Users/.search"
        );
    }

    #[test]
    fn encoded_ids_are_decoded() {
        assert_eq!(
            endpoint("/scim/v2/Users/a%20b%2Fc"),
            ScimEndpoint::Resource(ResourceKind::User, "a b/c".into())
        );
        assert_eq!(
            endpoint("/scim/v2/Users/%zz"),
            ScimEndpoint::Resource(ResourceKind::User, "%zz".into())
        );
    }

    #[test]
    fn operational_routes_and_unknown_paths() {
        assert_eq!(route("/").route, Route::Root);
        assert_eq!(route("/status.json").route, Route::StatusJson);
        assert_eq!(route("/logs").route, Route::Logs);
        assert_eq!(route("/logs/").template, "/logs");
        assert_eq!(route("/logs/x").route, Route::NotFound);
        assert_eq!(route("/events").route, Route::Events);
        assert_eq!(
            route("/groups/g%201/members").route,
            Route::GroupMembers("g 1".into())
        );
        assert_eq!(route("/groups/g1/members").template, "/groups/{id}/members");
        assert_eq!(route("/groups/g1").route, Route::NotFound);
        assert_eq!(route("/groups//members").route, Route::NotFound);
        assert_eq!(
            route("/webhooks/billing/replay").route,
            Route::Webhook("billing".into(), crate::outbox::report::Action::Replay)
        );
        assert_eq!(route("/webhooks/billing/explode").route, Route::NotFound);
        assert_eq!(route("/events/").template, "/events");
        assert_eq!(
            route("/status/app.js").route,
            Route::StatusAsset(crate::operator::page::Asset::Script)
        );
        assert_eq!(route("/status/other.js").route, Route::NotFound);
        assert_eq!(route("/ping").route, Route::Ping);
        assert_eq!(route("/health/").route, Route::Health);
        assert_eq!(route("/ready").route, Route::Ready);
        assert_eq!(route("/metrics").route, Route::Metrics);
        assert_eq!(route("/nope").route, Route::NotFound);
        assert_eq!(endpoint("/scim/v2/Nope"), ScimEndpoint::Unknown);
        assert_eq!(route("/scim/v2/Nope").template, "unmatched");
        assert_eq!(endpoint("/scim/v2/Users/a/b"), ScimEndpoint::Unknown);
    }
}
