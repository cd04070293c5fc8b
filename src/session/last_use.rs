//! When each token of the live session was last used, in memory, at the cost of one atomic.
//!
//! Every token has a [`TokenId`]: the first 8 bytes of SHA-256 over its verifier, in hex. It
//! is stable across reloads and rotations (labels are not: a pruned label may be reused), and
//! it reveals nothing usable about the token or the verifier.
//!
//! [`LastUse`] holds one slot (an `AtomicI64` of unix seconds, 0 = never) per token, in the
//! session's token order, so [`crate::auth`] records a use by index after its constant-time
//! selection. A reloaded session reuses the slot of every token it keeps, so uses recorded
//! while or after the file changes are never lost.
//!
//! Must not know where last use is persisted (that is [`crate::usage`]), nor about HTTP.

use std::{
    fmt,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{Session, TokenEntry, Verifier};

/// A token's stable, non-secret identifier: the first 8 bytes of SHA-256(verifier).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenId([u8; 8]);

impl TokenId {
    /// The id of the token with this verifier.
    pub fn of(verifier: &Verifier) -> Self {
        let digest = Sha256::digest(verifier.0);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }

    /// The id of a session token.
    pub fn of_entry(entry: &TokenEntry) -> Self {
        Self::of(&entry.verifier)
    }

    /// Parses the 16 lower-case hex digits written by `Display`.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 16 {
            return None;
        }
        let digit = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        let mut id = [0u8; 8];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            id[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(Self(id))
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

/// One token's clock; shared by every session snapshot that lists the token.
#[derive(Debug)]
struct Slot {
    id: TokenId,
    /// Unix seconds of the latest use, 0 when never used.
    at: AtomicI64,
}

/// The last-use clocks of one session's tokens, index-aligned with `Session::tokens`.
#[derive(Debug)]
pub struct LastUse {
    slots: Vec<Arc<Slot>>,
}

impl LastUse {
    /// Clocks for `session`, reusing `previous`'s slot for every token it already tracked.
    pub fn for_session(session: &Session, previous: Option<&LastUse>) -> Self {
        let slots = session
            .tokens
            .iter()
            .map(|t| {
                let id = TokenId::of_entry(t);
                previous
                    .and_then(|p| p.slots.iter().find(|s| s.id == id))
                    .map(Arc::clone)
                    .unwrap_or_else(|| {
                        Arc::new(Slot {
                            id,
                            at: AtomicI64::new(0),
                        })
                    })
            })
            .collect();
        Self { slots }
    }

    /// Records a use of the token at `index` at `unix_seconds`; never moves a clock back.
    ///
    /// The hot path: a relaxed load, and a store only when the second has changed, so
    /// concurrent requests with one token mostly read a shared cache line.
    pub fn record(&self, index: usize, unix_seconds: i64) {
        if let Some(slot) = self.slots.get(index) {
            if slot.at.load(Ordering::Relaxed) < unix_seconds {
                slot.at.fetch_max(unix_seconds, Ordering::Relaxed);
            }
        }
    }

    /// Folds in a use known from elsewhere (another replica, an earlier run), by max.
    pub fn observe(&self, id: TokenId, unix_seconds: i64) {
        for slot in self.slots.iter().filter(|s| s.id == id) {
            slot.at.fetch_max(unix_seconds, Ordering::Relaxed);
        }
    }

    /// The token at `index`: its id and the unix seconds of its last use (0 = never).
    pub fn get(&self, index: usize) -> Option<(TokenId, i64)> {
        self.slots
            .get(index)
            .map(|s| (s.id, s.at.load(Ordering::Relaxed)))
    }

    /// When the token at `index` was last used, if ever.
    pub fn last_used(&self, index: usize) -> Option<OffsetDateTime> {
        self.get(index)
            .and_then(|(_, at)| (at > 0).then_some(at))
            .and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok())
    }

    /// The number of tokens tracked.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no token is tracked.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::rotate;

    #[test]
    fn token_ids_are_stable_hex_and_differ_per_verifier() {
        let (a, ta) = Session::generate();
        let (_, tb) = Session::generate();
        let id = TokenId::of_entry(&a.tokens[0]);
        assert_eq!(id, TokenId::of(&ta.verifier()));
        assert_ne!(id, TokenId::of(&tb.verifier()));
        let text = id.to_string();
        assert_eq!(text.len(), 16);
        assert_eq!(TokenId::parse(&text), Some(id));
        for bad in [
            "",
            "zz",
            &text[..15],
            &text.to_uppercase(),
            &format!("{text}0"),
        ] {
            if bad != text {
                assert_eq!(TokenId::parse(bad), None, "{bad:?}");
            }
        }
    }

    #[test]
    fn uses_only_move_forward() {
        let (s, _) = Session::generate();
        let clocks = LastUse::for_session(&s, None);
        assert_eq!(clocks.last_used(0), None);
        clocks.record(0, 1_000);
        clocks.record(0, 900);
        assert_eq!(clocks.get(0).map(|(_, at)| at), Some(1_000));
        clocks.observe(TokenId::of_entry(&s.tokens[0]), 950);
        assert_eq!(clocks.get(0).map(|(_, at)| at), Some(1_000));
        clocks.observe(TokenId::of_entry(&s.tokens[0]), 2_000);
        assert_eq!(
            clocks.last_used(0),
            OffsetDateTime::from_unix_timestamp(2_000).ok()
        );
        clocks.record(7, 5_000); // out of range: ignored, no panic
        assert_eq!(clocks.len(), 1);
    }

    #[test]
    fn a_reload_carries_kept_tokens_and_shares_their_slots() {
        let (s, _) = Session::generate();
        let old = LastUse::for_session(&s, None);
        old.record(0, 1_000);
        let now = OffsetDateTime::now_utc();
        let (next, _) = rotate::rotate(
            &s,
            now,
            std::time::Duration::from_secs(60),
            Some("b"),
            crate::session::Scope::Scim,
        )
        .expect("rotation");
        let new = LastUse::for_session(&next, Some(&old));
        assert_eq!(new.get(0).map(|(_, at)| at), Some(1_000), "carried over");
        assert_eq!(
            new.get(1).map(|(_, at)| at),
            Some(0),
            "the new token: never"
        );
        // A request still holding the old snapshot records into the same slot.
        old.record(0, 1_500);
        assert_eq!(new.get(0).map(|(_, at)| at), Some(1_500));

        // Revoked, then a fresh session: nothing carries to a token that was never there.
        let (other, _) = Session::generate();
        let fresh = LastUse::for_session(&other, Some(&new));
        assert_eq!(fresh.get(0).map(|(_, at)| at), Some(0));
    }
}
