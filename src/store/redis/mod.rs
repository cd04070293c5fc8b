//! The Redis backend: fred clients, one Lua script per atomic write, a pub/sub change feed.
//!
//! Owns the mapping of the store model onto commands; connection set-up lives in `connect`,
//! the key layout in `keys`, scripts in `scripts`. Must not know
//! about SCIM or any caller's value format.

mod connect;
mod keys;
mod migrate;
mod replication;
mod scripts;
mod tls;
pub mod url;

use std::time::Duration;

use async_trait::async_trait;
use fred::{
    clients::SubscriberClient,
    prelude::{
        Client, ClientLike, Expiration, HashesInterface, KeysInterface, SortedSetsInterface,
    },
    types::Value,
};
use tokio::{sync::broadcast, task::JoinHandle};

use self::keys::Keys;
pub use self::replication::Replication;
use self::scripts::{
    bytes, decode_record, decode_write, encode_batch, entry_seq, fred_error, number, Script,
};
use super::{
    Change, Committed, LogBounds, LogEntry, Record, Seq, StateStore, StoreError, StoreKey,
    WriteBatch,
};

/// Capacity of the local change feed; slow watchers lose the oldest notices.
const FEED_CAPACITY: usize = 1024;

/// How to reach Redis.
#[derive(Clone)]
pub struct RedisOptions {
    /// A URL in one of the forms of [`url::Topology`], optionally with `user:password@`.
    pub url: String,
    /// Prepended to every key and to the change channel, so several deployments can share a server.
    pub key_prefix: String,
    /// Accept any server certificate on `rediss://` (for self-signed test set-ups only).
    pub insecure_tls: bool,
    /// Bound on connecting (TCP + TLS + AUTH), for the first connection and every reconnect.
    pub connect_timeout: Duration,
    /// Bound on every command, so an outage turns into errors, not hangs.
    pub command_timeout: Duration,
    /// Replicas that must hold each write batch before it is acknowledged; `None` takes the
    /// topology's default ([`Replication::default_for`]).
    pub replication: Option<Replication>,
}

impl std::fmt::Debug for RedisOptions {
    // Hand-written so a logged config never shows the password in the URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &url::redacted(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("insecure_tls", &self.insecure_tls)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("replication", &self.replication)
            .finish()
    }
}

/// A [`StateStore`] on Redis.
pub struct RedisStore {
    client: Client,
    subscriber: SubscriberClient,
    keys: Keys,
    /// The cluster slot of every key of this directory (what `WAIT` is routed by).
    slot: u16,
    replication: Replication,
    write: Script,
    read_any: Script,
    members_many: Script,
    acquire: Script,
    release: Script,
    log_read: Script,
    log_by_key: Script,
    log_bounds: Script,
    changes: broadcast::Sender<Change>,
    tasks: Vec<JoinHandle<()>>,
}

/// The items of a script's flat array answer (none for a nil answer); `None` for anything else.
fn flat(reply: Value) -> Option<std::vec::IntoIter<Value>> {
    match reply {
        Value::Array(items) => Some(items.into_iter()),
        Value::Null => Some(Vec::new().into_iter()),
        _ => None,
    }
}

/// Decodes a flat {entry id, appended at, value} answer.
fn decode_entries(reply: Value, what: &str) -> Result<Vec<LogEntry>, StoreError> {
    let corrupt = || StoreError::Corrupt {
        context: what.to_owned(),
    };
    let mut out = Vec::new();
    let mut it = flat(reply).ok_or_else(corrupt)?;
    while let Some(id) = it.next() {
        let seq = entry_seq(&id).ok_or_else(corrupt)?;
        let at_ms = it.next().as_ref().and_then(number).ok_or_else(corrupt)?;
        let value = it.next().and_then(bytes).ok_or_else(corrupt)?;
        out.push(LogEntry { seq, at_ms, value });
    }
    Ok(out)
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl RedisStore {
    /// The records at `keys` (full key names): one `MGET`, and for what it answered nil
    /// (absent, or a hash not yet converted) one `read_any` script.
    async fn read_records(
        &self,
        keys: Vec<String>,
        what: &str,
    ) -> Result<Vec<Option<Record>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let corrupt = || StoreError::Corrupt {
            context: format!("redis: {what}: the answer does not match the keys"),
        };
        let reply: Value = self
            .client
            .mget(keys.clone())
            .await
            .map_err(|e| fred_error(what, e))?;
        let values = match reply {
            Value::Array(values) if values.len() == keys.len() => values,
            // fred answers a one-key MGET with the value itself.
            other if keys.len() == 1 && !matches!(other, Value::Array(_)) => vec![other],
            _ => return Err(corrupt()),
        };
        let mut missing = Vec::new();
        let mut out = Vec::with_capacity(values.len());
        for (i, value) in values.into_iter().enumerate() {
            if value.is_null() {
                missing.push(i);
            }
            out.push(decode_record(value)?);
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let args = missing
            .iter()
            .map(|&i| Value::from(keys[i].as_str()))
            .collect();
        let reply = self
            .read_any
            .call(&self.client, &self.keys, what, args)
            .await?;
        let found: Vec<Value> = flat(reply).ok_or_else(corrupt)?.collect();
        if found.len() != missing.len() {
            return Err(corrupt());
        }
        for (i, value) in missing.into_iter().zip(found) {
            out[i] = decode_record(value)?;
        }
        Ok(out)
    }
}

#[async_trait]
impl StateStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn shared(&self) -> bool {
        true
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self
            .client
            .ping(None)
            .await
            .map_err(|e| fred_error("PING", e))?;
        let _: Value = self
            .client
            .set(
                self.keys.ping(),
                "1",
                Some(Expiration::PX(60_000)),
                None,
                false,
            )
            .await
            .map_err(|e| fred_error("writing the ping key", e))?;
        Ok(())
    }

    async fn get(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        let mut one = self
            .read_records(vec![self.keys.record(key)], "reading a record")
            .await?;
        Ok(one.pop().flatten())
    }

    async fn get_many(
        &self,
        space: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Record>>, StoreError> {
        let prefix = self.keys.record_prefix(space);
        let keys = ids.iter().map(|id| format!("{prefix}{id}")).collect();
        self.read_records(keys, "reading records").await
    }

    async fn list(
        &self,
        space: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(String, Record)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let start = i64::try_from(offset).unwrap_or(i64::MAX);
        let stop = start.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX) - 1);
        let ids: Vec<String> = self
            .client
            .zrange(
                self.keys.space_index(space),
                start,
                stop,
                None,
                false,
                None,
                false,
            )
            .await
            .map_err(|e| fred_error("listing records", e))?;
        let prefix = self.keys.record_prefix(space);
        let keys = ids.iter().map(|id| format!("{prefix}{id}")).collect();
        let records = self.read_records(keys, "listing records").await?;
        // Two reads, not one script (a script's copying costs Redis more than the page):
        // a record deleted between them is left out, as if deleted just before the list.
        Ok(ids
            .into_iter()
            .zip(records)
            .filter_map(|(id, r)| r.map(|r| (id, r)))
            .collect())
    }

    async fn count(&self, space: &str) -> Result<usize, StoreError> {
        let n: u64 = self
            .client
            .zcard(self.keys.space_index(space))
            .await
            .map_err(|e| fred_error("counting records", e))?;
        Ok(usize_of(n))
    }

    async fn lookup(&self, index: &str, term: &str) -> Result<Option<String>, StoreError> {
        self.client
            .hget(self.keys.unique(index), term)
            .await
            .map_err(|e| fred_error("looking up a term", e))
    }

    async fn members(
        &self,
        set: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Explicit "(" / "-" so fred never re-interprets a member that starts with "(" or "[".
        let min = after.map_or_else(|| "-".to_owned(), |a| format!("({a}"));
        let limit = Some((0, i64::try_from(limit).unwrap_or(i64::MAX)));
        self.client
            .zrangebylex(self.keys.set(set), min, "+", limit)
            .await
            .map_err(|e| fred_error("listing set members", e))
    }

    async fn members_many(
        &self,
        sets: &[String],
        limit: usize,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        if sets.is_empty() || limit == 0 {
            return Ok(vec![Vec::new(); sets.len()]);
        }
        if let [set] = sets {
            // One set (a GET's user): the command itself costs Redis less than a script.
            return Ok(vec![self.members(set, None, limit).await?]);
        }
        let mut args: Vec<Value> = vec![i64::try_from(limit).unwrap_or(i64::MAX).into()];
        args.extend(sets.iter().map(|s| Value::from(self.keys.set(s))));
        let reply = self
            .members_many
            .call(&self.client, &self.keys, "listing set members", args)
            .await?;
        let corrupt = || StoreError::Corrupt {
            context: "members_many script answer".into(),
        };
        let out: Vec<Vec<String>> = flat(reply)
            .ok_or_else(corrupt)?
            .map(|set| {
                flat(set)
                    .ok_or_else(corrupt)?
                    .map(|m| m.into_string().ok_or_else(corrupt))
                    .collect()
            })
            .collect::<Result<_, _>>()?;
        if out.len() != sets.len() {
            return Err(corrupt());
        }
        Ok(out)
    }

    async fn get_with_members(
        &self,
        key: &StoreKey,
        set: &str,
        limit: usize,
    ) -> Result<(Option<Record>, Vec<String>), StoreError> {
        // Both commands at once on the multiplexed connection: one round trip. The set is read
        // even for a missing record (a 404 costs one small extra command, a found one no wait).
        let (found, members) = tokio::try_join!(self.get(key), self.members(set, None, limit))?;
        Ok(match found {
            Some(_) => (found, members),
            None => (None, Vec::new()),
        })
    }

    async fn is_member(&self, set: &str, member: &str) -> Result<bool, StoreError> {
        let score: Option<f64> = self
            .client
            .zscore(self.keys.set(set), member)
            .await
            .map_err(|e| fred_error("checking membership", e))?;
        Ok(score.is_some())
    }

    async fn set_len(&self, set: &str) -> Result<usize, StoreError> {
        let n: u64 = self
            .client
            .zcard(self.keys.set(set))
            .await
            .map_err(|e| fred_error("counting set members", e))?;
        Ok(usize_of(n))
    }

    async fn log_read(
        &self,
        log: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        if limit == 0 || after == Seq::MAX {
            return Ok(Vec::new());
        }
        let args: Vec<Value> = vec![
            self.keys.log(log).into(),
            (after + 1).to_string().into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ];
        let reply = self
            .log_read
            .call(&self.client, &self.keys, "reading a log", args)
            .await?;
        decode_entries(reply, "log read script answer")
    }

    async fn log_by_key(
        &self,
        log: &str,
        key: &str,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        if limit == 0 || after == Seq::MAX {
            return Ok(Vec::new());
        }
        let args: Vec<Value> = vec![
            self.keys.log_key(log, key).into(),
            self.keys.log(log).into(),
            after.to_string().into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ];
        let reply = self
            .log_by_key
            .call(&self.client, &self.keys, "reading a log by key", args)
            .await?;
        decode_entries(reply, "log by key script answer")
    }

    async fn log_bounds(&self, log: &str) -> Result<LogBounds, StoreError> {
        let args: Vec<Value> = vec![self.keys.log(log).into(), self.keys.log_head(log).into()];
        let reply = self
            .log_bounds
            .call(&self.client, &self.keys, "reading a log's bounds", args)
            .await?
            .into_array();
        let corrupt = || StoreError::Corrupt {
            context: "log bounds script answer".into(),
        };
        let mut it = reply.into_iter();
        let head = match it.next() {
            None | Some(Value::Null) => 0,
            Some(v) => number(&v).ok_or_else(corrupt)?,
        };
        let oldest = match it.next() {
            None | Some(Value::Null) => None,
            Some(v) => Some(entry_seq(&v).ok_or_else(corrupt)?),
        };
        Ok(LogBounds { oldest, head })
    }

    async fn write(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        let args = encode_batch(&self.keys, &batch);
        let answer = self
            .write
            .call(&self.client, &self.keys, "writing a batch", args)
            .await?;
        // A refused batch wrote nothing, so there is nothing to wait for.
        let committed = decode_write(&batch, answer)?;
        self.replication.wait(&self.client, self.slot).await?;
        Ok(committed)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let args: Vec<Value> = vec![
            self.keys.lease(name).into(),
            holder.to_owned().into(),
            ttl_ms.into(),
        ];
        let answer = self
            .acquire
            .call(&self.client, &self.keys, "acquiring a lease", args)
            .await?;
        let taken = answer.as_i64() == Some(1);
        if taken {
            // A lease only a lost master knew of would let a promoted replica hand it to a
            // second holder: two deliverers of one webhook endpoint, out of order.
            self.replication.wait(&self.client, self.slot).await?;
        }
        Ok(taken)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let args: Vec<Value> = vec![self.keys.lease(name).into(), holder.to_owned().into()];
        let answer = self
            .release
            .call(&self.client, &self.keys, "releasing a lease", args)
            .await?;
        Ok(answer.as_i64() == Some(1))
    }

    async fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.client
            .get(self.keys.lease(name))
            .await
            .map_err(|e| fred_error("reading a lease", e))
    }

    fn watch(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
