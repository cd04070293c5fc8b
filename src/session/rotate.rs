//! Token rotation with overlap: issue, add, expire, prune, revoke and list tokens of a
//! [`Session`]. A rotation replaces the tokens of one scope (the others keep working); an
//! addition changes no other token.
//!
//! Pure functions over a session and the current time; no I/O, so every rule is unit-tested
//! here and the CLI only loads, calls and saves. The encryption key is never touched: secrets
//! encrypted at rest stay readable across any number of rotations.

use std::time::Duration;

use time::{macros::format_description, OffsetDateTime};

use super::{BearerToken, Scope, Session, TokenEntry};

/// The longest label accepted.
const MAX_LABEL_LEN: usize = 64;

/// Why a token operation was refused. Every variant is bad usage (exit 64).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RotateError {
    /// Another live token already has this label.
    #[error("a token labelled {0:?} already exists; labels must be unique (choose another with --label)")]
    DuplicateLabel(String),
    /// No token has this label.
    #[error("no token is labelled {0:?} (see `scim-bridge token list`)")]
    UnknownLabel(String),
    /// Removing the token would leave no active `scim` token.
    #[error("refusing to revoke {0:?}: it is the last active scim token, and without one no identity provider or operator gets in (rotate first)")]
    LastActiveToken(String),
    /// The label is empty, too long, or has characters other than printable ASCII.
    #[error("invalid label {0:?}: use 1 to 64 printable ASCII characters without spaces")]
    InvalidLabel(String),
}

/// What [`list`] shows of a token: never the token or its verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSummary {
    /// The token's label.
    pub label: String,
    /// What it opens.
    pub scope: Scope,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops (or stopped) being accepted, if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// Whether the bridge accepts it now.
    pub active: bool,
}

/// Whether `entry` is accepted at `now` (the same rule as [`crate::auth`]).
pub fn is_active(entry: &TokenEntry, now: OffsetDateTime) -> bool {
    entry.expires_at.is_none_or(|t| t > now)
}

/// The label a rotation uses when none is given: `rotated-<UTC timestamp>`.
pub fn default_label(now: OffsetDateTime) -> String {
    let stamp = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| now.unix_timestamp().to_string());
    format!("rotated-{stamp}")
}

fn check_label(label: &str) -> Result<(), RotateError> {
    let printable = label.bytes().all(|b| b.is_ascii_graphic());
    if label.is_empty() || label.len() > MAX_LABEL_LEN || !printable {
        return Err(RotateError::InvalidLabel(label.to_owned()));
    }
    Ok(())
}

/// Issues a new token of `scope` and returns the new session with it.
///
/// Tokens already expired at `now` are pruned. Every remaining token of the same scope then
/// expires at `now + grace` at the latest (a token that already expires sooner keeps its
/// earlier expiry), so with `grace` zero they stop at once; tokens of the other scope are left
/// as they are. The new token never expires.
pub fn rotate(
    session: &Session,
    now: OffsetDateTime,
    grace: Duration,
    label: Option<&str>,
    scope: Scope,
) -> Result<(Session, BearerToken), RotateError> {
    let label = label.map_or_else(|| default_label(now), str::to_owned);
    check_label(&label)?;
    let mut next = session.clone();
    next.tokens.retain(|t| is_active(t, now));
    if next.tokens.iter().any(|t| t.label == label) {
        return Err(RotateError::DuplicateLabel(label));
    }
    let deadline =
        now.saturating_add(time::Duration::try_from(grace).unwrap_or(time::Duration::MAX));
    for entry in next.tokens.iter_mut().filter(|t| t.scope == scope) {
        entry.expires_at = Some(entry.expires_at.map_or(deadline, |t| t.min(deadline)));
    }
    let token = BearerToken::generate();
    next.tokens.push(new_entry(&token, label, scope, now));
    Ok((next, token))
}

/// Adds a token of `scope` labelled `label` and changes nothing else: no other token expires
/// and none is pruned.
pub fn add(
    session: &Session,
    now: OffsetDateTime,
    label: &str,
    scope: Scope,
) -> Result<(Session, BearerToken), RotateError> {
    check_label(label)?;
    if session.tokens.iter().any(|t| t.label == label) {
        return Err(RotateError::DuplicateLabel(label.to_owned()));
    }
    let mut next = session.clone();
    let token = BearerToken::generate();
    next.tokens
        .push(new_entry(&token, label.to_owned(), scope, now));
    Ok((next, token))
}

fn new_entry(token: &BearerToken, label: String, scope: Scope, now: OffsetDateTime) -> TokenEntry {
    TokenEntry {
        label,
        scope,
        verifier: token.verifier(),
        created_at: now,
        expires_at: None,
    }
}

/// Removes the token labelled `label`, unless no active `scim` token would remain.
pub fn revoke(session: &Session, label: &str, now: OffsetDateTime) -> Result<Session, RotateError> {
    if !session.tokens.iter().any(|t| t.label == label) {
        return Err(RotateError::UnknownLabel(label.to_owned()));
    }
    let mut next = session.clone();
    next.tokens.retain(|t| t.label != label);
    if !next
        .tokens
        .iter()
        .any(|t| t.scope == Scope::Scim && is_active(t, now))
    {
        return Err(RotateError::LastActiveToken(label.to_owned()));
    }
    Ok(next)
}

/// Describes every token in the session, in file order.
pub fn list(session: &Session, now: OffsetDateTime) -> Vec<TokenSummary> {
    session
        .tokens
        .iter()
        .map(|t| TokenSummary {
            label: t.label.clone(),
            scope: t.scope,
            created_at: t.created_at,
            expires_at: t.expires_at,
            active: is_active(t, now),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-29 01:00:00 UTC);
    const DAY: Duration = Duration::from_secs(86_400);

    fn session() -> (Session, BearerToken) {
        Session::generate()
    }

    #[test]
    fn rotate_adds_a_new_token_and_gives_the_old_ones_a_grace_period() {
        let (s, old) = session();
        let (next, new) = rotate(&s, NOW, DAY, None, Scope::Scim).unwrap();
        assert_eq!(next.tokens.len(), 2);
        assert_eq!(next.tokens[0].verifier, old.verifier());
        assert_eq!(next.tokens[0].expires_at, Some(NOW + time::Duration::DAY));
        assert_eq!(next.tokens[1].verifier, new.verifier());
        assert_eq!(next.tokens[1].label, "rotated-20261129T010000Z");
        assert_eq!(next.tokens[1].expires_at, None);
        assert_eq!(next.tokens[1].created_at, NOW);
        assert_eq!(
            next.encryption_key.0, s.encryption_key.0,
            "the key never changes"
        );
        assert!(is_active(&next.tokens[0], NOW + time::Duration::hours(23)));
        assert!(!is_active(&next.tokens[0], NOW + time::Duration::DAY));
    }

    #[test]
    fn zero_grace_revokes_old_tokens_at_once_and_never_extends_an_expiry() {
        let (s, _) = session();
        let (once, _) = rotate(&s, NOW, DAY, Some("a"), Scope::Scim).unwrap();
        let (twice, _) = rotate(
            &once,
            NOW,
            Duration::from_secs(7 * 86_400),
            Some("b"),
            Scope::Scim,
        )
        .unwrap();
        assert_eq!(twice.tokens[0].expires_at, Some(NOW + time::Duration::DAY));
        assert_eq!(
            twice.tokens[1].expires_at,
            Some(NOW + time::Duration::weeks(1))
        );
        let (now_only, _) = rotate(&twice, NOW, Duration::ZERO, Some("c"), Scope::Scim).unwrap();
        let active: Vec<_> = list(&now_only, NOW)
            .into_iter()
            .filter(|t| t.active)
            .collect();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].label, "c");
    }

    #[test]
    fn expired_tokens_are_pruned_on_the_next_rotation() {
        let (s, _) = session();
        let (next, _) = rotate(
            &s,
            NOW,
            Duration::from_secs(60),
            Some("second"),
            Scope::Scim,
        )
        .unwrap();
        let later = NOW + time::Duration::minutes(5);
        let (pruned, _) = rotate(&next, later, DAY, Some("third"), Scope::Scim).unwrap();
        let labels: Vec<_> = pruned.tokens.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["second", "third"]);
        // The pruned label may be reused; a live one may not.
        assert!(rotate(&pruned, later, DAY, Some("initial"), Scope::Scim).is_ok());
        assert_eq!(
            rotate(&pruned, later, DAY, Some("second"), Scope::Scim).unwrap_err(),
            RotateError::DuplicateLabel("second".into())
        );
    }

    #[test]
    fn bad_labels_are_refused() {
        let (s, _) = session();
        for bad in ["", "with space", "tab\t", "é", &"x".repeat(65)] {
            assert!(matches!(
                rotate(&s, NOW, DAY, Some(bad), Scope::Scim),
                Err(RotateError::InvalidLabel(_))
            ));
        }
    }

    #[test]
    fn revoke_removes_a_token_but_never_the_last_active_one() {
        let (s, _) = session();
        assert_eq!(
            revoke(&s, "initial", NOW).unwrap_err(),
            RotateError::LastActiveToken("initial".into())
        );
        assert_eq!(
            revoke(&s, "nope", NOW).unwrap_err(),
            RotateError::UnknownLabel("nope".into())
        );
        let (next, new) = rotate(&s, NOW, DAY, Some("new"), Scope::Scim).unwrap();
        let revoked = revoke(&next, "initial", NOW).unwrap();
        assert_eq!(revoked.tokens.len(), 1);
        assert_eq!(revoked.tokens[0].verifier, new.verifier());
        // With the old token expired, the new one is the last active token.
        let (expired, _) = rotate(&s, NOW, Duration::ZERO, Some("new"), Scope::Scim).unwrap();
        assert_eq!(
            revoke(&expired, "new", NOW).unwrap_err(),
            RotateError::LastActiveToken("new".into())
        );
        assert!(revoke(&expired, "initial", NOW).is_ok());
    }

    #[test]
    fn a_rotation_replaces_its_own_scope_and_an_addition_changes_nothing_else() {
        let (s, initial) = session();
        let (with_feed, feed) = add(&s, NOW, "app", Scope::Events).unwrap();
        assert_eq!(with_feed.tokens.len(), 2);
        assert_eq!(
            with_feed.tokens[0].expires_at, None,
            "the other token is untouched"
        );
        assert_eq!(with_feed.tokens[0].verifier, initial.verifier());
        assert_eq!(
            (with_feed.tokens[1].scope, &with_feed.tokens[1].label),
            (Scope::Events, &"app".to_owned())
        );
        assert_eq!(with_feed.tokens[1].verifier, feed.verifier());
        assert_eq!(
            add(&with_feed, NOW, "app", Scope::Scim).unwrap_err(),
            RotateError::DuplicateLabel("app".into())
        );
        assert!(matches!(
            add(&with_feed, NOW, "two words", Scope::Events),
            Err(RotateError::InvalidLabel(_))
        ));
        // Rotating the SCIM token leaves the feed's token alone, and the other way round.
        let (rotated, _) = rotate(&with_feed, NOW, DAY, Some("next"), Scope::Scim).unwrap();
        assert_eq!(
            rotated.tokens[0].expires_at,
            Some(NOW + time::Duration::DAY)
        );
        assert_eq!(rotated.tokens[1].expires_at, None);
        let (rotated, _) = rotate(&with_feed, NOW, DAY, Some("app2"), Scope::Events).unwrap();
        assert_eq!(rotated.tokens[0].expires_at, None);
        assert_eq!(
            rotated.tokens[1].expires_at,
            Some(NOW + time::Duration::DAY)
        );
        assert_eq!(rotated.tokens[2].scope, Scope::Events);
        // An events token does not count as the last way in.
        assert_eq!(
            revoke(&with_feed, "initial", NOW).unwrap_err(),
            RotateError::LastActiveToken("initial".into())
        );
        assert!(revoke(&with_feed, "app", NOW).is_ok());
        assert_eq!(list(&with_feed, NOW)[1].scope, Scope::Events);
    }

    #[test]
    fn list_reports_state_without_secrets() {
        let (s, _) = session();
        let (next, _) = rotate(&s, NOW, Duration::from_secs(60), Some("new"), Scope::Scim).unwrap();
        let later = NOW + time::Duration::minutes(2);
        let rows = list(&next, later);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].label.as_str(), rows[0].active), ("initial", false));
        assert_eq!(rows[0].expires_at, Some(NOW + time::Duration::minutes(1)));
        assert_eq!((rows[1].label.as_str(), rows[1].active), ("new", true));
        assert_eq!(rows[1].expires_at, None);
    }
}
