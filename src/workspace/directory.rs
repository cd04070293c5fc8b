//! The Admin SDK Directory API, read-only: users of the customer, its groups, and a group's
//! members, a page at a time (`pageToken` → `nextPageToken`), as Google documents them.
//!
//! Retries what Google says to retry, with exponential backoff and jitter: `403` with reason
//! `rateLimitExceeded`, `userRateLimitExceeded` or `quotaExceeded`, `429`, and `5xx`. A `401`
//! drops the cached access token and tries once more with a new one. Anything else is an
//! error that names the call, the status and Google's reason, never a token.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::Full;
use serde::Deserialize;
use serde_json::Value;

use super::token::{TokenError, Tokens};
use crate::outbound::{self, HttpClient};

/// Google's Directory API.
pub const DEFAULT_API_URL: &str = "https://admin.googleapis.com";
/// Users per page (Google's maximum).
const USERS_PER_PAGE: u32 = 500;
/// Groups and members per page (Google's maximum).
const GROUPS_PER_PAGE: u32 = 200;
/// The largest page read: a page of 500 full users is about 1 MB.
const MAX_PAGE_BYTES: usize = 16 << 20;

/// How calls are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first pause (then doubled; each a random point in its upper half).
    pub first: Duration,
    /// The longest pause.
    pub max: Duration,
    /// Attempts in all, the first included.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(32),
            attempts: 7,
        }
    }
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No access token (see [`TokenError`]).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Google answered with an error that retrying does not cure (or retries ran out).
    #[error("{call}: Google answered {status} {reason}: {message}")]
    Status {
        /// What was asked (`users.list`, …).
        call: &'static str,
        /// The HTTP status.
        status: u16,
        /// The first error's `reason` (`forbidden`, `notFound`, `rateLimitExceeded`, …).
        reason: String,
        /// Google's message.
        message: String,
    },
    /// Google could not be reached, or answered what is not the documented JSON.
    #[error("{call}: {detail}")]
    Transport {
        /// What was asked.
        call: &'static str,
        /// What went wrong.
        detail: String,
    },
}

/// One page of a list.
#[derive(Debug, Default)]
pub struct Page<T> {
    /// Its items.
    pub items: Vec<T>,
    /// The `pageToken` of the next page; `None` after the last.
    pub next: Option<String>,
}

/// A Google group, as `groups.list` describes it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Group {
    /// Its unique id.
    pub id: String,
    /// Its email address (what `OP_WORKSPACE_GROUPS` names).
    pub email: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
}

/// A member of a group, as `members.list` describes it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Member {
    /// The member's unique id (a user's or a group's).
    pub id: Option<String>,
    /// Its email.
    #[serde(default)]
    pub email: Option<String>,
    /// `USER`, `GROUP`, `CUSTOMER` or `EXTERNAL`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `ACTIVE`, `SUSPENDED`, …
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct List {
    #[serde(default)]
    users: Vec<Value>,
    #[serde(default)]
    groups: Vec<Group>,
    #[serde(default)]
    members: Vec<Member>,
    next_page_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    error: Option<ErrorDoc>,
}

#[derive(Deserialize, Default)]
struct ErrorDoc {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize, Default)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

/// The Directory API client.
#[derive(Clone)]
pub struct Directory {
    base: String,
    tokens: Arc<Tokens>,
    client: HttpClient,
    timeout: Duration,
    backoff: Backoff,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("base", &self.base)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// A client of the API at `base` (`https://admin.googleapis.com`, or a loopback stand-in).
    pub fn new(
        base: &http::Uri,
        tokens: Arc<Tokens>,
        client: HttpClient,
        timeout: Duration,
        backoff: Backoff,
    ) -> Self {
        Self {
            base: base.to_string().trim_end_matches('/').to_owned(),
            tokens,
            client,
            timeout,
            backoff,
        }
    }

    /// The tokens it uses.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// A page of the customer's users (full projection, by email).
    pub async fn users(&self, page: Option<&str>) -> Result<Page<Value>, ApiError> {
        let query = query(
            &[
                ("customer", "my_customer"),
                ("projection", "full"),
                ("orderBy", "email"),
            ],
            USERS_PER_PAGE,
            page,
        );
        let list = self
            .list("users.list", &format!("/admin/directory/v1/users?{query}"))
            .await?;
        Ok(Page {
            items: list.users,
            next: list.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    /// A page of the customer's groups.
    pub async fn groups(&self, page: Option<&str>) -> Result<Page<Group>, ApiError> {
        let query = query(&[("customer", "my_customer")], GROUPS_PER_PAGE, page);
        let list = self
            .list(
                "groups.list",
                &format!("/admin/directory/v1/groups?{query}"),
            )
            .await?;
        Ok(Page {
            items: list.groups,
            next: list.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    /// Every group of the customer (every page of `groups.list`).
    pub async fn all_groups(&self) -> Result<Vec<Group>, ApiError> {
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let p = self.groups(page.as_deref()).await?;
            out.extend(p.items);
            match p.next {
                Some(next) => page = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// A page of a group's direct members (`group` is its id or email).
    pub async fn members(&self, group: &str, page: Option<&str>) -> Result<Page<Member>, ApiError> {
        let query = query(&[], GROUPS_PER_PAGE, page);
        let key: String = form_urlencoded::byte_serialize(group.as_bytes()).collect();
        let list = self
            .list(
                "members.list",
                &format!("/admin/directory/v1/groups/{key}/members?{query}"),
            )
            .await?;
        Ok(Page {
            items: list.members,
            next: list.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    async fn list(&self, call: &'static str, path: &str) -> Result<List, ApiError> {
        let body = self.get(call, path).await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::Transport {
            call,
            detail: format!("the answer is not the documented JSON (line {})", e.line()),
        })
    }

    /// A GET with retries; the body of its `200`.
    async fn get(&self, call: &'static str, path: &str) -> Result<Bytes, ApiError> {
        let url = format!("{}{path}", self.base);
        let mut renewed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.tokens.get().await?;
            let req = http::Request::get(url.as_str())
                .header(http::header::AUTHORIZATION, token.header())
                .header(http::header::ACCEPT, "application/json")
                .header(
                    http::header::USER_AGENT,
                    concat!("scim-bridge/", env!("CARGO_PKG_VERSION")),
                )
                .body(Full::new(Bytes::new()))
                .map_err(|_| ApiError::Transport {
                    call,
                    detail: "cannot build the request".into(),
                })?;
            let failure =
                match outbound::exchange(&self.client, req, MAX_PAGE_BYTES, self.timeout).await {
                    Ok(a) if a.status.is_success() => return Ok(a.body),
                    Ok(a) if a.status == http::StatusCode::UNAUTHORIZED && !renewed => {
                        // An expired or revoked token: a new one, once.
                        self.tokens.forget().await;
                        renewed = true;
                        attempt -= 1;
                        continue;
                    }
                    Ok(a) => {
                        let doc: ErrorBody = serde_json::from_slice(&a.body).unwrap_or_default();
                        let doc = doc.error.unwrap_or_default();
                        let reason = doc
                            .errors
                            .first()
                            .map(|e| e.reason.clone())
                            .unwrap_or_default();
                        let status = a.status.as_u16();
                        let retry = status == 429
                            || status >= 500
                            || (status == 403
                                && matches!(
                                    reason.as_str(),
                                    "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded"
                                ));
                        let error = ApiError::Status {
                            call,
                            status,
                            reason: clean(&reason),
                            message: clean(&doc.message),
                        };
                        if !retry {
                            return Err(error);
                        }
                        error
                    }
                    Err(detail) => ApiError::Transport { call, detail },
                };
            if attempt >= self.backoff.attempts {
                return Err(failure);
            }
            let pause = pause(&self.backoff, attempt);
            tracing::info!(call, attempt, pause_ms = pause.as_millis() as u64, error = %failure, "Directory API call failed; retrying");
            tokio::time::sleep(pause).await;
        }
    }
}

/// The pause after failed attempt `attempt` (1-based): [`crate::backoff::pause`].
pub fn pause(backoff: &Backoff, attempt: u32) -> Duration {
    crate::backoff::pause(backoff.first, backoff.max, attempt)
}

fn query(fixed: &[(&str, &str)], per_page: u32, page: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fixed {
        q.append_pair(k, v);
    }
    q.append_pair("maxResults", &per_page.to_string());
    if let Some(token) = page {
        q.append_pair("pageToken", token);
    }
    q.finish()
}

fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_carry_the_page_token() {
        assert_eq!(
            query(&[("customer", "my_customer")], 500, Some("tok/1")),
            "customer=my_customer&maxResults=500&pageToken=tok%2F1"
        );
        assert_eq!(query(&[], 200, None), "maxResults=200");
    }
}
