//! The Redis key layout of the store; the only place that knows how names become keys.
//!
//! * `<p>r:<len(space)>:<space>:<id>` — string `<version>:<value>`, so a page of records is one
//!   `MGET`. The byte length of the space makes the split unambiguous, so `("a:b", "c")` and
//!   `("a", "b:c")` never collide. Stores written by earlier builds hold a hash {`v`: version,
//!   `d`: value} here instead; both are read, and `migrate` converts the hashes at start-up.
//! * `<p>ri:<space>` — sorted set, score 0, member = id: ordered listing and `ZCARD` counts.
//! * `<p>u:<index>` — hash term → owner.   * `<p>s:<set>` — sorted set, score 0.
//! * `<p>l:<name>` — string holder with a PX expiry.   * `<p>changes` — the change channel.
//! * `<p>q:<log>` — stream of a log's entries, entry id `0-<seq>`, fields `v` (value) and `t`
//!   (appended at, unix ms).   * `<p>qh:<log>` — string, the last seq appended (kept when the
//!   stream is trimmed).   * `<p>qk:<len(log)>:<log>:<key>` — sorted set of the seqs of the
//!   entries appended with `key` (score = member = seq).   * `<p>qe:<log>` — hash seq → the
//!   keys of that entry, newline-separated, whose `qk` sets a trim empties with the entry.
//!
//! On a Redis Cluster (`redis-cluster://`) `<p>` is the prefix in braces, `{scim-bridge:}`: a
//! hash tag, so every key of one directory hashes to one slot and each write script (which
//! touches records, indexes, sets and the event log together) stays atomic on one node. One
//! directory is then served by one master; several directories (prefixes) spread over the
//! cluster. A prefix that already holds a `{…}` tag is used as given. On one node and behind
//! sentinels there are no slots and the prefix is used bare, so a store written before
//! clusters were supported is read unchanged; moving a directory onto a cluster is a copy of
//! its keys under the tagged names (README, "Storage").
//!
//! Scripts get their key names in ARGV and one key, [`Keys::route`], in KEYS, which is what a
//! cluster client routes the script by.
//!
//! A change payload is `<len(space)>:<space><id>` for a record put or deleted, and
//! `q<seq>:<log>` for a batch's appends to a log (the write script publishes it once per log
//! and batch, with the last seq); [`decode_change`] reads both.

use super::url::Topology;
use crate::store::{Change, StoreKey};

/// Builds every key from one prefix.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    /// A layout under `prefix` (e.g. `scim:`), hash-tagged on a cluster.
    pub(super) fn new(prefix: &str, topology: Topology) -> Self {
        let tagged = prefix
            .split_once('{')
            .is_some_and(|(_, rest)| rest.split_once('}').is_some_and(|(tag, _)| !tag.is_empty()));
        let prefix = match topology {
            Topology::Cluster if !tagged => format!("{{{prefix}}}"),
            _ => prefix.to_owned(),
        };
        Self { prefix }
    }

    /// The key a script is routed by (KEYS[1]): any key of the directory's slot will do.
    pub(super) fn route(&self) -> String {
        self.channel()
    }

    /// The common start of every record key of `space`; the id follows.
    pub(super) fn record_prefix(&self, space: &str) -> String {
        format!("{}r:{}:{}:", self.prefix, space.len(), space)
    }

    /// A glob that `SCAN` matches every record key with (and, at worst, some keys of another
    /// deployment whose prefix starts with this one's: the conversion checks each key's shape).
    pub(super) fn records_glob(&self) -> String {
        let mut glob = String::new();
        for c in self.prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                glob.push('\\');
            }
            glob.push(c);
        }
        glob.push_str("r:[0-9]*");
        glob
    }

    /// The string holding one record.
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

    /// The sorted set of the seqs of `log`'s entries appended with `key` (score and member the
    /// seq).
    pub(super) fn log_key(&self, log: &str, key: &str) -> String {
        format!("{}qk:{}:{}:{}", self.prefix, log.len(), log, key)
    }

    /// The hash of `log`'s entries' keys: seq → the keys it was appended with, one per line,
    /// so a trim removes the entry from their `log_key` sets.
    pub(super) fn log_entry_keys(&self, log: &str) -> String {
        format!("{}qe:{}", self.prefix, log)
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
        let k = Keys::new("p:", Topology::Single);
        assert_ne!(
            k.record(&StoreKey::new("a:b", "c")),
            k.record(&StoreKey::new("a", "b:c"))
        );
    }

    #[test]
    fn a_cluster_puts_a_directory_in_one_slot_and_one_node_keeps_the_old_names() {
        let key = StoreKey::new("users", "u1");
        let single = Keys::new("scim-bridge:", Topology::Single);
        assert_eq!(single.record(&key), "scim-bridge:r:5:users:u1");
        assert_eq!(
            Keys::new("scim-bridge:", Topology::Sentinel).log("l"),
            "scim-bridge:q:l"
        );
        let cluster = Keys::new("scim-bridge:", Topology::Cluster);
        for name in [
            cluster.record(&key),
            cluster.space_index("users"),
            cluster.unique("userName"),
            cluster.set("g"),
            cluster.lease("acme"),
            cluster.log("scim.events"),
            cluster.log_head("scim.events"),
            cluster.ping(),
            cluster.channel(),
            cluster.route(),
        ] {
            assert!(name.starts_with("{scim-bridge:}"), "{name}");
        }
        // A prefix with its own tag is kept.
        let own = Keys::new("app:{dir7}:", Topology::Cluster);
        assert_eq!(own.record(&key), "app:{dir7}:r:5:users:u1");
        // An empty tag `{}` is no tag to Redis: wrapped like any other prefix.
        assert!(Keys::new("a{}:", Topology::Cluster)
            .ping()
            .starts_with("{a{}:}"));
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
