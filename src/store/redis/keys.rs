//! The Redis key layout of the store; the only place that knows how names become keys.
//!
//! * `<p>r:<len(space)>:<space>:<id>` — hash {`v`: version, `d`: value}. The byte length of the
//!   space makes the split unambiguous, so `("a:b", "c")` and `("a", "b:c")` never collide.
//! * `<p>ri:<space>` — sorted set, score 0, member = id: ordered listing and `ZCARD` counts.
//! * `<p>u:<index>` — hash term → owner.   * `<p>s:<set>` — sorted set, score 0.
//! * `<p>l:<name>` — string holder with a PX expiry.   * `<p>changes` — the change channel.
//! * `<p>q:<log>` — stream of a log's entries, entry id `0-<seq>`, fields `v` (value) and `t`
//!   (appended at, unix ms).   * `<p>qh:<log>` — string, the last seq appended (kept when the
//!   stream is trimmed).
//!
//! A change payload is `<len(space)>:<space><id>` for a record put or deleted, and
//! `q<seq>:<log>` for a batch's appends to a log (the write script publishes it once per log
//! and batch, with the last seq); [`decode_change`] reads both.

use crate::store::{Change, StoreKey};

/// Builds every key from one prefix.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    /// A layout under `prefix` (e.g. `scim:`).
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The common start of every record key of `space`; the id follows.
    pub(super) fn record_prefix(&self, space: &str) -> String {
        format!("{}r:{}:{}:", self.prefix, space.len(), space)
    }

    /// The hash holding one record.
    pub(super) fn record(&self, key: &StoreKey) -> String {
        format!("{}{}", self.record_prefix(&key.space), key.id)
    }

    /// The sorted set of ids in `space`.
    pub(super) fn space_index(&self, space: &str) -> String {
        format!("{}ri:{}", self.prefix, space)
    }

    /// The hash of unique index `index`.
    pub(super) fn unique(&self, index: &str) -> String {
        format!("{}u:{}", self.prefix, index)
    }

    /// The sorted set behind set `set`.
    pub(super) fn set(&self, set: &str) -> String {
        format!("{}s:{}", self.prefix, set)
    }

    /// The string holding lease `name`.
    pub(super) fn lease(&self, name: &str) -> String {
        format!("{}l:{}", self.prefix, name)
    }

    /// The stream holding log `log`'s entries.
    pub(super) fn log(&self, log: &str) -> String {
        format!("{}q:{}", self.prefix, log)
    }

    /// The counter of log `log`'s last seq.
    pub(super) fn log_head(&self, log: &str) -> String {
        format!("{}qh:{}", self.prefix, log)
    }

    /// The key `ping` writes to.
    pub(super) fn ping(&self) -> String {
        format!("{}ping", self.prefix)
    }

    /// The pub/sub channel of the change feed.
    pub(super) fn channel(&self) -> String {
        format!("{}changes", self.prefix)
    }
}

/// The change-feed payload for `key`.
pub(super) fn encode_change(key: &StoreKey) -> String {
    format!("{}:{}{}", key.space.len(), key.space, key.id)
}

/// Parses a change-feed payload; `None` for anything this module did not write.
pub(super) fn decode_change(payload: &str) -> Option<Change> {
    if let Some(rest) = payload.strip_prefix('q') {
        let (head, log) = rest.split_once(':')?;
        return Some(Change::Appended {
            log: log.to_owned(),
            head: head.parse().ok()?,
        });
    }
    let (len, rest) = payload.split_once(':')?;
    let len: usize = len.parse().ok()?;
    let space = rest.get(..len)?;
    let id = rest.get(len..)?;
    Some(Change::Record(StoreKey::new(space, id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_colon_spaces_do_not_collide() {
        let k = Keys::new("p:");
        assert_ne!(
            k.record(&StoreKey::new("a:b", "c")),
            k.record(&StoreKey::new("a", "b:c"))
        );
    }

    #[test]
    fn change_payload_round_trips() {
        for key in [
            StoreKey::new("a:b", "c:d"),
            StoreKey::new("日本", "ü"),
            StoreKey::new("s", ""),
        ] {
            assert_eq!(
                decode_change(&encode_change(&key)),
                Some(Change::Record(key))
            );
        }
        assert_eq!(
            decode_change("q42:scim.events"),
            Some(Change::Appended {
                log: "scim.events".into(),
                head: 42
            })
        );
        assert_eq!(decode_change("qx:log"), None);
        assert_eq!(decode_change("9:ab"), None);
        assert_eq!(decode_change("junk"), None);
    }
}
