//! The persisted last-use document and its merge-by-max. Pure: no I/O, no async.
//!
//! ```json
//! {"format":"scim-bridge-token-usage","version":1,
//!  "tokens":{"3f9c0e1a2b4d5e6f":{"label":"initial","lastUsedAt":"2026-11-29T01:00:00Z"}}}
//! ```
//!
//! Keys are [`TokenId`]s, never tokens or verifiers. Merging keeps, per id, the later use (and
//! that entry's label), so merges commute and replicas can merge in any order. The document
//! keeps at most [`MAX_TOKENS`] entries, dropping the least recently used: tokens revoked long
//! ago fall out, and the record cannot grow without bound across rotations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use crate::session::last_use::TokenId;

/// The most tokens one document remembers.
pub const MAX_TOKENS: usize = 256;

const FORMAT_NAME: &str = "scim-bridge-token-usage";
const FORMAT_VERSION: u32 = 1;

/// One token's persisted last use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenUse {
    /// The token's label when it was used (for people reading the record).
    pub label: String,
    /// Unix seconds of the use.
    pub at: i64,
}

/// What is known of every token's last use: token id → latest use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageRecord {
    tokens: BTreeMap<TokenId, TokenUse>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocV1 {
    format: String,
    version: u32,
    tokens: BTreeMap<String, EntryV1>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryV1 {
    label: String,
    last_used_at: String,
}

impl UsageRecord {
    /// Notes a use of `id` at unix seconds `at`, by max; returns whether the record changed.
    pub fn note(&mut self, id: TokenId, label: &str, at: i64) -> bool {
        let changed = match self.tokens.get(&id) {
            Some(known) if known.at >= at => false,
            _ => {
                let label = label.to_owned();
                self.tokens.insert(id, TokenUse { label, at });
                true
            }
        };
        self.cap();
        changed
    }

    /// Merges `other` into this record by max; returns whether this record changed.
    pub fn merge(&mut self, other: &UsageRecord) -> bool {
        let mut changed = false;
        for (id, used) in &other.tokens {
            changed |= self.note(*id, &used.label, used.at);
        }
        changed
    }

    /// The last use of `id`, if any is known.
    pub fn get(&self, id: TokenId) -> Option<&TokenUse> {
        self.tokens.get(&id)
    }

    /// When `id` was last used, if it is known and representable.
    pub fn last_used(&self, id: TokenId) -> Option<OffsetDateTime> {
        self.get(id)
            .and_then(|u| OffsetDateTime::from_unix_timestamp(u.at).ok())
    }

    /// Every known use, by token id.
    pub fn iter(&self) -> impl Iterator<Item = (TokenId, &TokenUse)> {
        self.tokens.iter().map(|(id, used)| (*id, used))
    }

    /// The number of tokens with a known use.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no use is known.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Drops the least recently used entries beyond [`MAX_TOKENS`] (ties: lowest id first).
    fn cap(&mut self) {
        while self.tokens.len() > MAX_TOKENS {
            let oldest = self
                .tokens
                .iter()
                .min_by_key(|(id, used)| (used.at, **id))
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.tokens.remove(&id);
            }
        }
    }

    /// The document as JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        let doc = DocV1 {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            tokens: self
                .tokens
                .iter()
                .filter_map(|(id, used)| {
                    let at = OffsetDateTime::from_unix_timestamp(used.at).ok()?;
                    let entry = EntryV1 {
                        label: used.label.clone(),
                        last_used_at: at.format(&Rfc3339).ok()?,
                    };
                    Some((id.to_string(), entry))
                })
                .collect(),
        };
        serde_json::to_vec(&doc).expect("a usage document always serialises")
    }

    /// Parses a document written by [`to_json`](Self::to_json); the error says what is wrong
    /// (never quoting the input). Unknown fields are ignored so a newer writer stays readable.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let doc: DocV1 = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "not a token usage document (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        if doc.format != FORMAT_NAME {
            return Err(format!("format is not {FORMAT_NAME:?}"));
        }
        if doc.version != FORMAT_VERSION {
            return Err(format!(
                "format version {} is not supported (this build reads {FORMAT_VERSION})",
                doc.version
            ));
        }
        let mut record = UsageRecord::default();
        for (id, entry) in doc.tokens {
            let token = TokenId::parse(&id).ok_or_else(|| format!("bad token id {id:?}"))?;
            let at = OffsetDateTime::parse(&entry.last_used_at, &Rfc3339)
                .map_err(|_| format!("lastUsedAt of {id} is not an RFC 3339 time"))?;
            record.note(token, &entry.label, at.unix_timestamp());
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Verifier;

    fn id(n: u32) -> TokenId {
        TokenId::of(&Verifier::of(&n.to_be_bytes()))
    }

    fn record(entries: &[(u32, &str, i64)]) -> UsageRecord {
        let mut r = UsageRecord::default();
        for (n, label, at) in entries {
            r.note(id(*n), label, *at);
        }
        r
    }

    #[test]
    fn merging_keeps_the_latest_use_per_token_in_any_order() {
        let a = record(&[(1, "initial", 100), (2, "second", 500)]);
        let b = record(&[(1, "initial", 300), (3, "third", 50)]);
        let mut ab = a.clone();
        assert!(ab.merge(&b));
        let mut ba = b.clone();
        assert!(ba.merge(&a));
        assert_eq!(ab, ba, "merge commutes");
        assert_eq!(ab.get(id(1)).map(|u| u.at), Some(300));
        assert_eq!(ab.get(id(2)).map(|u| u.at), Some(500));
        assert_eq!(ab.get(id(3)).map(|u| u.at), Some(50));
        assert_eq!(ab.len(), 3);

        // Merging what is already known, or older news, changes nothing.
        let before = ab.clone();
        assert!(!ab.merge(&a));
        assert!(!ab.merge(&record(&[(2, "second", 499)])));
        assert_eq!(ab, before);
    }

    #[test]
    fn a_reused_label_on_a_new_token_is_a_different_entry() {
        let mut r = record(&[(1, "okta", 100)]);
        assert!(r.note(id(2), "okta", 50));
        assert_eq!(r.get(id(1)).map(|u| u.at), Some(100));
        assert_eq!(r.get(id(2)).map(|u| u.at), Some(50));
    }

    #[test]
    fn the_record_forgets_the_least_recently_used_beyond_its_cap() {
        let mut r = UsageRecord::default();
        for n in 0..(MAX_TOKENS as u32 + 10) {
            r.note(id(n), "t", 1_000 + i64::from(n));
        }
        assert_eq!(r.len(), MAX_TOKENS);
        assert_eq!(r.get(id(0)), None, "the oldest went first");
        assert!(r.get(id(MAX_TOKENS as u32 + 9)).is_some());
        assert_eq!(r.iter().map(|(_, u)| u.at).min(), Some(1_010));
    }

    #[test]
    fn the_document_round_trips_and_shows_no_secret() {
        let r = record(&[(1, "initial", 1_764_378_000), (2, "second", 1_764_378_061)]);
        let json = r.to_json();
        assert_eq!(UsageRecord::parse(&json), Ok(r.clone()));
        let text = String::from_utf8(json).unwrap();
        assert!(
            text.contains("\"lastUsedAt\":\"2025-11-29T01:00:00Z\""),
            "{text}"
        );
        assert!(text.contains(&id(1).to_string()));
        assert!(!text.contains("sha256") && !text.contains("sbt_"));
        assert_eq!(
            UsageRecord::parse(
                br#"{"format":"scim-bridge-token-usage","version":1,"tokens":{},"more":1}"#
            ),
            Ok(UsageRecord::default())
        );
    }

    #[test]
    fn foreign_or_broken_documents_are_refused_without_quoting_them() {
        for bad in [
            &b"sbt_secret"[..],
            br#"{"format":"other","version":1,"tokens":{}}"#,
            br#"{"format":"scim-bridge-token-usage","version":2,"tokens":{}}"#,
            br#"{"format":"scim-bridge-token-usage","version":1,"tokens":{"nothex":{"label":"a","lastUsedAt":"2026-01-01T00:00:00Z"}}}"#,
            br#"{"format":"scim-bridge-token-usage","version":1,"tokens":{"0011223344556677":{"label":"a","lastUsedAt":"yesterday"}}}"#,
        ] {
            let err = UsageRecord::parse(bad).unwrap_err();
            assert!(!err.contains("sbt_secret") && !err.is_empty(), "{err}");
        }
    }
}
