//! The route table: a request path becomes a [`Route`] and a bounded route template for
//! metrics. SCIM is served under both `/scim` and `/scim/v2`, as identity providers use both.

/// A SCIM resource type served by the bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

/// An endpoint under a SCIM prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScimEndpoint {
    /// `/Users` or `/Groups`.
    Collection(ResourceKind),
    /// `/Users/{id}` or `/Groups/{id}`.
    Resource(ResourceKind, String),
    /// Any other path under the prefix.
    Unknown,
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
    /// `/metrics` (no authentication, for Prometheus).
    Metrics,
    /// An endpoint under `/scim` or `/scim/v2`.
    Scim(ScimEndpoint),
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

fn kind(segment: &str) -> Option<ResourceKind> {
    if segment.eq_ignore_ascii_case("Users") {
        Some(ResourceKind::User)
    } else if segment.eq_ignore_ascii_case("Groups") {
        Some(ResourceKind::Group)
    } else {
        None
    }
}

fn scim(v2: bool, rest: &[&str]) -> Routed {
    let (endpoint, template) = match rest {
        [collection] => match kind(collection) {
            Some(ResourceKind::User) => (
                ScimEndpoint::Collection(ResourceKind::User),
                if v2 { "/scim/v2/Users" } else { "/scim/Users" },
            ),
            Some(ResourceKind::Group) => (
                ScimEndpoint::Collection(ResourceKind::Group),
                if v2 {
                    "/scim/v2/Groups"
                } else {
                    "/scim/Groups"
                },
            ),
            None => (ScimEndpoint::Unknown, "unmatched"),
        },
        [collection, id] => match kind(collection) {
            Some(ResourceKind::User) => (
                ScimEndpoint::Resource(ResourceKind::User, (*id).to_owned()),
                if v2 {
                    "/scim/v2/Users/{id}"
                } else {
                    "/scim/Users/{id}"
                },
            ),
            Some(ResourceKind::Group) => (
                ScimEndpoint::Resource(ResourceKind::Group, (*id).to_owned()),
                if v2 {
                    "/scim/v2/Groups/{id}"
                } else {
                    "/scim/Groups/{id}"
                },
            ),
            None => (ScimEndpoint::Unknown, "unmatched"),
        },
        _ => (ScimEndpoint::Unknown, "unmatched"),
    };
    Routed {
        route: Route::Scim(endpoint),
        template,
    }
}

/// Matches a request path (without query string).
pub fn route(path: &str) -> Routed {
    let trimmed = path.trim_end_matches('/');
    let simple = |route, template| Routed { route, template };
    match trimmed {
        "" => return simple(Route::Root, "/"),
        "/ping" => return simple(Route::Ping, "/ping"),
        "/health" => return simple(Route::Health, "/health"),
        "/metrics" => return simple(Route::Metrics, "/metrics"),
        _ => {}
    }
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    match segments.as_slice() {
        ["scim", "v2", rest @ ..] => scim(true, rest),
        ["scim", rest @ ..] => scim(false, rest),
        _ => simple(Route::NotFound, "unmatched"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_routes_under_both_prefixes() {
        let r = route("/scim/v2/Users");
        assert_eq!(
            r.route,
            Route::Scim(ScimEndpoint::Collection(ResourceKind::User))
        );
        assert_eq!(r.template, "/scim/v2/Users");
        let r = route("/scim/Users/");
        assert_eq!(r.template, "/scim/Users");
        let r = route("/scim/v2/Groups/abc");
        assert_eq!(
            r.route,
            Route::Scim(ScimEndpoint::Resource(ResourceKind::Group, "abc".into()))
        );
        assert_eq!(r.template, "/scim/v2/Groups/{id}");
        assert_eq!(route("/scim/v2/users").template, "/scim/v2/Users");
    }

    #[test]
    fn operational_routes_and_unknown_paths() {
        assert_eq!(route("/").route, Route::Root);
        assert_eq!(route("/ping").route, Route::Ping);
        assert_eq!(route("/health/").route, Route::Health);
        assert_eq!(route("/metrics").route, Route::Metrics);
        assert_eq!(route("/nope").route, Route::NotFound);
        assert_eq!(
            route("/scim/v2/Nope").route,
            Route::Scim(ScimEndpoint::Unknown)
        );
        assert_eq!(route("/scim/v2/Nope").template, "unmatched");
        assert_eq!(
            route("/scim/v2/Users/a/b").route,
            Route::Scim(ScimEndpoint::Unknown)
        );
    }
}
