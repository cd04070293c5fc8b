//! The Lua scripts of the Redis backend, how batches are encoded for them and how answers decode.
//!
//! Owns script text, SHA caching (EVALSHA with an EVAL fallback on `NOSCRIPT`) and the mapping of
//! fred errors onto [`StoreError`]. Must not know about connections or the change feed.

use bytes::Bytes;
use fred::{
    prelude::{Client, Error as FredError, ErrorKind, LuaInterface},
    types::{Key, Value},
};

use super::keys::{encode_change, Keys};
use crate::store::{Committed, Mutation, Precondition, StoreError, WriteBatch};

/// The atomic batch writer.
pub(super) const WRITE: &str = include_str!("write.lua");

/// `read_any`: ARGV full record keys → one value per key in the record string's form,
/// `<version>:<value>` (nil if absent). For what `MGET` answered nil: absent, or a hash
/// `{v, d}` written before records were strings, not yet converted (see `migrate`).
pub(super) const READ_ANY: &str = r"
local out = {}
for i = 1, #ARGV do
  local t = redis.call('TYPE', ARGV[i])['ok']
  if t == 'string' then
    out[i] = redis.call('GET', ARGV[i])
  elseif t == 'hash' then
    local r = redis.call('HMGET', ARGV[i], 'v', 'd')
    out[i] = r[1] and (r[1] .. ':' .. (r[2] or '')) or false
  else
    out[i] = false
  end
end
return out";

/// `convert`: ARGV full record keys → how many hashes `{v, d}` (the form before records were
/// strings) became `<version>:<value>` strings. Anything else is left alone, so a key of
/// another deployment that happens to match the scan is never rewritten.
pub(super) const CONVERT: &str = r"
local n = 0
for i = 1, #ARGV do
  local k = ARGV[i]
  if redis.call('TYPE', k)['ok'] == 'hash' and redis.call('HLEN', k) == 2 then
    local r = redis.call('HMGET', k, 'v', 'd')
    if r[1] and r[2] and string.match(r[1], '^%d+$') then
      redis.call('SET', k, r[1] .. ':' .. r[2])
      n = n + 1
    end
  end
end
return n";

/// `members_many`: ARGV[1] limit, ARGV[2..] set keys → one array of members per set, each
/// its first `limit` in order.
pub(super) const MEMBERS_MANY: &str = r"
local out = {}
for i = 2, #ARGV do
  out[#out + 1] = redis.call('ZRANGEBYLEX', ARGV[i], '-', '+', 'LIMIT', 0, ARGV[1])
end
return out";

/// `log_read`: ARGV stream key, first seq wanted, limit → flat {entry id, appended at, value}.
pub(super) const LOG_READ: &str = r"
local out = {}
for _, e in ipairs(redis.call('XRANGE', ARGV[1], '0-' .. ARGV[2], '+', 'COUNT', ARGV[3])) do
  local f = {}
  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
  out[#out + 1] = e[1]; out[#out + 1] = f['t']; out[#out + 1] = f['v']
end
return out";

/// `log_by_key`: ARGV the key's seq set, stream key, after, limit → flat {entry id, appended
/// at, value} of the entries with that key numbered above `after`.
pub(super) const LOG_BY_KEY: &str = r"
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', ARGV[1], '(' .. ARGV[3], '+inf', 'LIMIT', 0, ARGV[4])) do
  local e = redis.call('XRANGE', ARGV[2], '0-' .. id, '0-' .. id)[1]
  if e then
    local f = {}
    for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
    out[#out + 1] = e[1]; out[#out + 1] = f['t']; out[#out + 1] = f['v']
  end
end
return out";

/// `log_bounds`: ARGV stream key, head key → {head or false, oldest entry id or false}, read at
/// one instant.
pub(super) const LOG_BOUNDS: &str = r"
local first = redis.call('XRANGE', ARGV[1], '-', '+', 'COUNT', 1)[1]
return {redis.call('GET', ARGV[2]), first and first[1] or false}";

/// Lease acquire: ARGV key, holder, ttl ms → 1 if taken or extended (same holder), else 0.
pub(super) const ACQUIRE: &str = r"
local cur = redis.call('GET', ARGV[1])
if cur == false or cur == ARGV[2] then
  redis.call('SET', ARGV[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0";

/// Lease release: ARGV key, holder → 1 if the holder had it, else 0.
pub(super) const RELEASE: &str = r"
if redis.call('GET', ARGV[1]) == ARGV[2] then
  redis.call('DEL', ARGV[1])
  return 1
end
return 0";

/// A script with the SHA the server gave it at connect time.
#[derive(Clone, Debug)]
pub(super) struct Script {
    lua: &'static str,
    sha: String,
}

impl Script {
    /// Loads `lua` on the server and remembers its SHA.
    pub(super) async fn load(client: &Client, lua: &'static str) -> Result<Script, StoreError> {
        let sha: String = client
            .script_load(lua)
            .await
            .map_err(|e| fred_error("loading a Lua script", e))?;
        Ok(Script { lua, sha })
    }

    /// Runs the script by SHA; a server that lost its script cache (restart, `SCRIPT FLUSH`, a
    /// cluster node or promoted replica that never loaded it) gets the source again through
    /// EVAL, which also re-caches it. NOSCRIPT means nothing ran. `route` is the one key
    /// passed in KEYS: a cluster client sends the script to the node of its slot.
    pub(super) async fn call(
        &self,
        client: &Client,
        route: &Keys,
        what: &str,
        args: Vec<Value>,
    ) -> Result<Value, StoreError> {
        let keys = || vec![Key::from(route.route())];
        match client
            .evalsha::<Value, _, _, _>(self.sha.as_str(), keys(), args.clone())
            .await
        {
            Err(e) if e.details().starts_with("NOSCRIPT") => client
                .eval(self.lua, keys(), args)
                .await
                .map_err(|e| fred_error(what, e)),
            other => other.map_err(|e| fred_error(what, e)),
        }
    }
}

/// Maps a fred error: timeouts to [`StoreError::Timeout`], everything else to `Unavailable`.
pub(super) fn fred_error(what: &str, error: FredError) -> StoreError {
    match error.kind() {
        ErrorKind::Timeout => StoreError::Timeout {
            context: format!("redis: {what}"),
        },
        _ => StoreError::unavailable(format!("redis: {what}"), error),
    }
}

/// Flattens a batch into the ARGV layout documented in `write.lua`.
pub(super) fn encode_batch(keys: &Keys, batch: &WriteBatch) -> Vec<Value> {
    let mut args: Vec<Value> = vec![
        keys.channel().into(),
        (batch.preconditions.len() as i64).into(),
    ];
    for pre in &batch.preconditions {
        let (kind, key, version) = match pre {
            Precondition::Absent(k) => ("A", k, String::new()),
            Precondition::Exists(k) => ("E", k, String::new()),
            Precondition::Version(k, v) => ("V", k, v.to_string()),
        };
        args.extend([kind.into(), keys.record(key).into(), version.into()]);
    }
    args.push((batch.mutations.len() as i64).into());
    let s = |v: &str| Value::from(v.to_owned());
    for m in &batch.mutations {
        let six: [Value; 6] = match m {
            Mutation::Put { key, value } => [
                s("P"),
                s(&keys.record(key)),
                s(&keys.space_index(&key.space)),
                s(&key.id),
                Value::Bytes(value.clone()),
                s(&encode_change(key)),
            ],
            Mutation::Delete { key } => [
                s("D"),
                s(&keys.record(key)),
                s(&keys.space_index(&key.space)),
                s(&key.id),
                s(""),
                s(&encode_change(key)),
            ],
            Mutation::Claim { index, term, owner } => [
                s("C"),
                s(&keys.unique(index)),
                s(term),
                s(owner),
                s(""),
                s(""),
            ],
            Mutation::Release { index, term, owner } => [
                s("R"),
                s(&keys.unique(index)),
                s(term),
                s(owner),
                s(""),
                s(""),
            ],
            Mutation::SetAdd { set, member } => {
                [s("SA"), s(&keys.set(set)), s(member), s(""), s(""), s("")]
            }
            Mutation::SetRemove { set, member } => {
                [s("SR"), s(&keys.set(set)), s(member), s(""), s(""), s("")]
            }
            Mutation::SetClear { set } => [s("SC"), s(&keys.set(set)), s(""), s(""), s(""), s("")],
            Mutation::Append {
                log,
                value,
                keys: entry_keys,
            } => [
                s("Q"),
                s(&keys.log(log)),
                s(&keys.log_head(log)),
                Value::Bytes(value.clone()),
                s(&index_lines(keys, log, entry_keys)),
                s(log),
            ],
            Mutation::Trim { log, before } => [
                s("QT"),
                s(&keys.log(log)),
                s(&before.to_string()),
                s(&keys.log_entry_keys(log)),
                s(&keys.log_key(log, "")),
                s(""),
            ],
        };
        args.extend(six);
    }
    args
}

/// An append's index argument: empty without keys, else the entry-keys hash, the common start
/// of the keys' sets, then each key, one per line.
fn index_lines(keys: &Keys, log: &str, entry_keys: &[String]) -> String {
    if entry_keys.is_empty() {
        return String::new();
    }
    let mut lines = keys.log_entry_keys(log);
    lines.push('\n');
    lines.push_str(&keys.log_key(log, ""));
    for k in entry_keys {
        lines.push('\n');
        lines.push_str(k);
    }
    lines
}

/// Decodes the write script's answer into the outcome of `batch`.
pub(super) fn decode_write(batch: &WriteBatch, answer: Value) -> Result<Committed, StoreError> {
    let corrupt = || StoreError::Corrupt {
        context: "unexpected answer from the write script".into(),
    };
    let mut items = match answer {
        Value::Array(items) => items.into_iter(),
        _ => return Err(corrupt()),
    };
    let tag = items
        .next()
        .and_then(|v| v.as_string())
        .ok_or_else(corrupt)?;
    let nth = |v: Option<Value>| {
        v.and_then(|v| v.as_usize())
            .and_then(|n| n.checked_sub(1))
            .ok_or_else(corrupt)
    };
    match tag.as_str() {
        "ok" => {
            // One number per put (its version) and per append (its seq), in mutation order.
            let mut committed = Committed::default();
            for m in &batch.mutations {
                let mut n = || items.next().as_ref().and_then(number).ok_or_else(corrupt);
                match m {
                    Mutation::Put { key, .. } => committed.versions.push((key.clone(), n()?)),
                    Mutation::Append { log, .. } => committed.appended.push((log.clone(), n()?)),
                    _ => {}
                }
            }
            Ok(committed)
        }
        "conflict" => match batch.preconditions.get(nth(items.next())?) {
            Some(
                Precondition::Absent(key)
                | Precondition::Exists(key)
                | Precondition::Version(key, _),
            ) => Err(StoreError::Conflict { key: key.clone() }),
            None => Err(corrupt()),
        },
        "unique" => {
            let m = nth(items.next())?;
            let owner = items
                .next()
                .and_then(|v| v.as_string())
                .ok_or_else(corrupt)?;
            match batch.mutations.get(m) {
                Some(Mutation::Claim { index, .. }) => Err(StoreError::Unique {
                    index: index.clone(),
                    owner,
                }),
                _ => Err(corrupt()),
            }
        }
        _ => Err(corrupt()),
    }
}

/// Decodes a record string, `<version>:<value>` (nil for a missing record).
pub(super) fn decode_record(stored: Value) -> Result<Option<crate::store::Record>, StoreError> {
    if stored.is_null() {
        return Ok(None);
    }
    let corrupt = || StoreError::Corrupt {
        context: "record without a numeric version before its value".into(),
    };
    let stored = bytes(stored).ok_or_else(corrupt)?;
    let colon = stored.iter().position(|&b| b == b':').ok_or_else(corrupt)?;
    let version = std::str::from_utf8(&stored[..colon])
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(corrupt)?;
    let value = stored.slice(colon + 1..);
    Ok(Some(crate::store::Record { version, value }))
}

/// The bytes of a bulk string reply (fred gives UTF-8 as a string, anything else as bytes).
pub(super) fn bytes(value: Value) -> Option<Bytes> {
    match value {
        Value::Bytes(b) => Some(b),
        Value::String(s) => Some(s.inner().clone()),
        _ => None,
    }
}

/// The seq of a log stream entry id (`0-<seq>`).
pub(super) fn entry_seq(id: &Value) -> Option<u64> {
    std::str::from_utf8(id.as_bytes()?)
        .ok()?
        .strip_prefix("0-")?
        .parse()
        .ok()
}

/// A non-negative integer from an integer or a decimal (bulk) string reply.
pub(super) fn number(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| std::str::from_utf8(v.as_bytes()?).ok()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(stored: &'static str) -> Result<Option<(u64, Bytes)>, StoreError> {
        decode_record(Value::from(stored)).map(|r| r.map(|r| (r.version, r.value)))
    }

    #[test]
    fn a_record_string_is_its_version_then_its_value() {
        assert_eq!(decoded("3:abc").unwrap(), Some((3, Bytes::from("abc"))));
        // Only the first colon separates: values hold colons of their own.
        assert_eq!(
            decoded("12:{\"a\":1}").unwrap(),
            Some((12, Bytes::from("{\"a\":1}")))
        );
        assert_eq!(decoded("5:").unwrap(), Some((5, Bytes::new())));
        assert!(decode_record(Value::Null).unwrap().is_none());
        for bad in ["abc", "x:abc", ":abc", "-1:abc"] {
            assert!(
                matches!(decoded(bad), Err(StoreError::Corrupt { .. })),
                "{bad} must be corrupt"
            );
        }
    }
}
