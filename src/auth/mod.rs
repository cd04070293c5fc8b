//! Bearer-token verification against the live session, in constant time.
//!
//! A presented token is hashed and its digest compared with every verifier the session lists,
//! always all of them, with `subtle`'s constant-time equality, so timing reveals neither which
//! bytes matched nor which token. Tokens past their rotation grace period are refused.
//!
//! Only after that selection is the use recorded, by index, in the live snapshot's last-use
//! clocks ([`crate::session::last_use`]): one relaxed atomic, no lock, on every authorised request.
//!
//! Failed checks are throttled per client address by [`throttle`]; the HTTP layer asks it
//! how to answer each failure (401, or 429 once an address is over its limit).
//!
//! Must not know about SCIM or routing: callers turn an [`AuthError`] into their 401.

pub mod throttle;

use std::sync::Arc;

use subtle::{ConditionallySelectable, ConstantTimeEq};
use time::OffsetDateTime;

use crate::session::{reload::SessionHandle, Scope, Verifier};

/// Why a request was not authorised. Every variant is a 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("an Authorization: Bearer header is required")]
    Missing,
    /// A header that is not `Bearer <token>`.
    #[error("the Authorization header is not a bearer token")]
    Malformed,
    /// A well-formed token that the session does not accept.
    #[error("the bearer token is not valid")]
    Rejected,
}

impl AuthError {
    /// The bounded metrics label of this failure (`missing`, `malformed`, `invalid`).
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::Rejected => "invalid",
        }
    }
}

/// Verifies bearer tokens against the current session.
#[derive(Clone, Debug)]
pub struct Authorizer {
    session: Arc<SessionHandle>,
}

/// Who called: the label and scope of the token that matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's label (never the token).
    pub token_label: String,
    /// What the token opens.
    pub scope: Scope,
}

impl Authorizer {
    /// An authorizer over the live session.
    pub fn new(session: Arc<SessionHandle>) -> Self {
        Self { session }
    }

    /// Checks an `Authorization` header value; on success records the token's use.
    pub fn verify(&self, header: Option<&[u8]>) -> Result<Caller, AuthError> {
        let token = bearer_token(header.ok_or(AuthError::Missing)?)?;
        let presented = Verifier::of(token);
        let live = self.session.live();
        let session = &live.session;
        let now = OffsetDateTime::now_utc();
        // Compare against every verifier; remember the matching index without branching on it.
        let mut matched = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, entry) in session.tokens.iter().enumerate() {
            let eq = entry.verifier.0.ct_eq(&presented.0);
            let live = entry.expires_at.is_none_or(|t| t > now);
            let hit = eq & subtle::Choice::from(u8::from(live));
            index = u32::conditional_select(&index, &(i as u32), hit);
            matched |= hit;
        }
        if bool::from(matched) {
            let index = index as usize;
            live.last_use.record(index, now.unix_timestamp());
            let entry = &session.tokens[index];
            Ok(Caller {
                token_label: entry.label.clone(),
                scope: entry.scope,
            })
        } else {
            Err(AuthError::Rejected)
        }
    }
}

/// Extracts the token from `Bearer <token>`; the scheme is case-insensitive (RFC 7235).
pub fn bearer_token(header: &[u8]) -> Result<&[u8], AuthError> {
    let header = header.trim_ascii();
    let (scheme, rest) = match header.iter().position(|b| *b == b' ') {
        Some(i) => header.split_at(i),
        None => return Err(AuthError::Malformed),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(AuthError::Malformed);
    }
    let token = rest.trim_ascii();
    // RFC 6750 b64token characters only.
    let valid = |b: &u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(b);
    if token.is_empty() || !token.iter().all(valid) {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{create, CreateOptions};

    fn authorizer() -> (tempfile::TempDir, Authorizer, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        let (_, token) = create(&path, CreateOptions::default()).unwrap();
        let handle = Arc::new(SessionHandle::load(&path).unwrap());
        (dir, Authorizer::new(handle), token.reveal().to_owned())
    }

    #[test]
    fn the_issued_token_is_accepted_in_any_scheme_case() {
        let (_dir, auth, token) = authorizer();
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let header = format!("{scheme} {token}");
            let caller = auth.verify(Some(header.as_bytes())).unwrap();
            assert_eq!(caller.token_label, "initial");
        }
    }

    #[test]
    fn only_an_accepted_token_records_a_use_and_only_its_own() {
        let (_dir, auth, _) = authorizer();
        let path = auth.session.path().to_path_buf();
        let now = OffsetDateTime::now_utc();
        let (rotated, second) = crate::session::rotate::rotate(
            &auth.session.current(),
            now,
            std::time::Duration::from_secs(3600),
            Some("second"),
            crate::session::Scope::Scim,
        )
        .unwrap();
        crate::session::save(&path, &rotated).unwrap();
        auth.session.reload();
        let last_use = |i| auth.session.live().last_use.last_used(i);

        for bad in [&b"Bearer sbt_wrongwrongwrong"[..], b"Basic x", b""] {
            assert!(auth.verify(Some(bad)).is_err());
        }
        assert_eq!((last_use(0), last_use(1)), (None, None));

        let before = OffsetDateTime::now_utc().unix_timestamp();
        let header = format!("Bearer {}", second.reveal());
        assert_eq!(
            auth.verify(Some(header.as_bytes())).unwrap().token_label,
            "second"
        );
        let used = last_use(1)
            .expect("the second token was used")
            .unix_timestamp();
        assert!((before..=before + 1).contains(&used), "{used} vs {before}");
        assert_eq!(last_use(0), None, "the initial token was not used");
    }

    #[test]
    fn wrong_missing_and_malformed_tokens_are_refused() {
        let (_dir, auth, token) = authorizer();
        assert_eq!(auth.verify(None), Err(AuthError::Missing));
        let cases: [(&[u8], AuthError); 7] = [
            (b"", AuthError::Malformed),
            (b"Bearer", AuthError::Malformed),
            (b"Bearer ", AuthError::Malformed),
            (b"Basic dXNlcjpwYXNz", AuthError::Malformed),
            (b"Bearer \xff\xfe", AuthError::Malformed),
            (b"Bearer sbt_wrongwrongwrong", AuthError::Rejected),
            (b"Bearer a b", AuthError::Malformed),
        ];
        for (header, expected) in cases {
            assert_eq!(auth.verify(Some(header)), Err(expected), "{header:?}");
        }
        let truncated = format!("Bearer {}", &token[..token.len() - 1]);
        assert_eq!(
            auth.verify(Some(truncated.as_bytes())),
            Err(AuthError::Rejected)
        );
    }

    #[test]
    fn expired_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        let (mut session, token) = crate::session::Session::generate();
        session.tokens[0].expires_at = Some(OffsetDateTime::now_utc() - time::Duration::seconds(1));
        crate::session::file_write_for_tests(&path, &session);
        let auth = Authorizer::new(Arc::new(SessionHandle::load(&path).unwrap()));
        let header = format!("Bearer {}", token.reveal());
        assert_eq!(
            auth.verify(Some(header.as_bytes())),
            Err(AuthError::Rejected)
        );
    }
}
