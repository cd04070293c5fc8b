//! Applying write requests inside one redb write transaction: batch checks, mutations, leases.
//!
//! Owns the rules that make a batch all-or-nothing inside a shared commit (every check runs
//! before any mutation); must not know about threads, channels or commits.

use std::{collections::HashMap, time::Duration};

use redb::{ReadableTable, Table, WriteTransaction};

use super::tables::{
    bucket, now_ms, LEASES, LOG_ENTRIES, LOG_ENTRY_KEYS, LOG_HEADS, LOG_KEYS, RECORDS,
    RECORD_BUCKETS, RECORD_COUNTS, SETS, SET_LENS, UNIQUE,
};
use super::writer::{Reply, Request};
use crate::store::{Change, Committed, Mutation, Precondition, StoreError, StoreKey, WriteBatch};

/// The tables a write touches, opened once per group.
struct Tables<'txn> {
    records: Table<'txn, (&'static str, &'static str), (u64, &'static [u8])>,
    counts: Table<'txn, &'static str, u64>,
    buckets: Table<'txn, (&'static str, &'static str), u64>,
    unique: Table<'txn, (&'static str, &'static str), &'static str>,
    sets: Table<'txn, (&'static str, &'static str), ()>,
    set_lens: Table<'txn, &'static str, u64>,
    leases: Table<'txn, &'static str, (&'static str, u64)>,
    log_entries: Table<'txn, (&'static str, u64), (u64, &'static [u8])>,
    log_heads: Table<'txn, &'static str, u64>,
    log_keys: Table<'txn, (&'static str, &'static str, u64), ()>,
    log_entry_keys: Table<'txn, (&'static str, u64), &'static str>,
}

/// Applies every request of a group in order, one reply each; storage errors fail the whole
/// group.
pub(super) fn apply_group<'a>(
    txn: &WriteTransaction,
    group: impl ExactSizeIterator<Item = &'a Request>,
    changed: &mut Vec<Change>,
) -> Result<Vec<Reply>, redb::Error> {
    let mut t = Tables {
        records: txn.open_table(RECORDS)?,
        counts: txn.open_table(RECORD_COUNTS)?,
        buckets: txn.open_table(RECORD_BUCKETS)?,
        unique: txn.open_table(UNIQUE)?,
        sets: txn.open_table(SETS)?,
        set_lens: txn.open_table(SET_LENS)?,
        leases: txn.open_table(LEASES)?,
        log_entries: txn.open_table(LOG_ENTRIES)?,
        log_heads: txn.open_table(LOG_HEADS)?,
        log_keys: txn.open_table(LOG_KEYS)?,
        log_entry_keys: txn.open_table(LOG_ENTRY_KEYS)?,
    };
    let mut replies = Vec::with_capacity(group.len());
    for request in group {
        let reply = match request {
            Request::Write(batch) => Reply::Write(apply_batch(&mut t, batch, changed)?),
            Request::Acquire { name, holder, ttl } => {
                Reply::Lease(acquire(&mut t, name, holder, *ttl)?)
            }
            Request::Release { name, holder } => Reply::Lease(release(&mut t, name, holder)?),
            Request::Ping => Reply::Ping,
        };
        replies.push(reply);
    }
    Ok(replies)
}

/// Checks a batch against the state so far (including earlier batches of this group), then
/// applies it. `Ok(Err(_))` is a refused batch that wrote nothing; `Err(_)` is a storage failure.
fn apply_batch(
    t: &mut Tables<'_>,
    batch: &WriteBatch,
    changed: &mut Vec<Change>,
) -> Result<Result<Committed, StoreError>, redb::Error> {
    for pre in &batch.preconditions {
        let (key, holds) = match pre {
            Precondition::Absent(k) => (k, version(t, k)?.is_none()),
            Precondition::Exists(k) => (k, version(t, k)?.is_some()),
            Precondition::Version(k, v) => (k, version(t, k)? == Some(*v)),
        };
        if !holds {
            return Ok(Err(StoreError::Conflict { key: key.clone() }));
        }
    }
    // Claims are checked against an overlay that replays this batch's own claims and releases in
    // order, so "release then re-claim" inside one batch behaves as if applied one by one.
    let mut overlay: HashMap<(&str, &str), Option<&str>> = HashMap::new();
    for m in &batch.mutations {
        match m {
            Mutation::Claim { index, term, owner } => {
                let current = claimed_by(t, &overlay, index, term)?;
                match current {
                    Some(held) if held != *owner => {
                        return Ok(Err(StoreError::Unique {
                            index: index.clone(),
                            owner: held,
                        }));
                    }
                    _ => overlay.insert((index.as_str(), term.as_str()), Some(owner.as_str())),
                };
            }
            Mutation::Release { index, term, owner } => {
                let current = claimed_by(t, &overlay, index, term)?;
                if current.as_deref() == Some(owner.as_str()) {
                    overlay.insert((index.as_str(), term.as_str()), None);
                }
            }
            _ => {}
        }
    }
    let mut committed = Committed::default();
    for m in &batch.mutations {
        apply_mutation(t, m, &mut committed, changed)?;
    }
    Ok(Ok(committed))
}

/// Who holds `term` in `index` at this point of the batch: its own earlier claims and releases
/// first (the overlay), else what is stored.
fn claimed_by(
    t: &Tables<'_>,
    overlay: &HashMap<(&str, &str), Option<&str>>,
    index: &str,
    term: &str,
) -> Result<Option<String>, redb::Error> {
    Ok(match overlay.get(&(index, term)) {
        Some(o) => o.map(str::to_owned),
        None => t.unique.get((index, term))?.map(|g| g.value().to_owned()),
    })
}

fn version(t: &Tables<'_>, key: &StoreKey) -> Result<Option<u64>, redb::Error> {
    Ok(t.records
        .get((key.space.as_str(), key.id.as_str()))?
        .map(|g| g.value().0))
}

/// Applies one mutation whose checks already passed; only storage errors can fail it.
fn apply_mutation(
    t: &mut Tables<'_>,
    m: &Mutation,
    committed: &mut Committed,
    changed: &mut Vec<Change>,
) -> Result<(), redb::Error> {
    match m {
        Mutation::Put { key, value } => {
            let old = version(t, key)?;
            let new = old.map_or(1, |v| v.saturating_add(1));
            t.records
                .insert((key.space.as_str(), key.id.as_str()), (new, value.as_ref()))?;
            if old.is_none() {
                bump(&mut t.counts, &key.space, 1)?;
                bump(&mut t.buckets, (key.space.as_str(), bucket(&key.id)), 1)?;
            }
            committed.versions.push((key.clone(), new));
            changed.push(Change::Record(key.clone()));
        }
        Mutation::Delete { key } => {
            let removed = t
                .records
                .remove((key.space.as_str(), key.id.as_str()))?
                .is_some();
            if removed {
                bump(&mut t.counts, &key.space, -1)?;
                bump(&mut t.buckets, (key.space.as_str(), bucket(&key.id)), -1)?;
                changed.push(Change::Record(key.clone()));
            }
        }
        Mutation::Claim { index, term, owner } => {
            t.unique
                .insert((index.as_str(), term.as_str()), owner.as_str())?;
        }
        Mutation::Release { index, term, owner } => {
            let held = t
                .unique
                .get((index.as_str(), term.as_str()))?
                .map(|g| g.value() == owner);
            if held == Some(true) {
                t.unique.remove((index.as_str(), term.as_str()))?;
            }
        }
        Mutation::SetAdd { set, member } => {
            if t.sets
                .insert((set.as_str(), member.as_str()), ())?
                .is_none()
            {
                bump(&mut t.set_lens, set, 1)?;
            }
        }
        Mutation::SetRemove { set, member } => {
            if t.sets.remove((set.as_str(), member.as_str()))?.is_some() {
                bump(&mut t.set_lens, set, -1)?;
            }
        }
        Mutation::SetClear { set } => {
            let mut members = Vec::new();
            for entry in t.sets.range((set.as_str(), "")..)? {
                let (k, _) = entry?;
                let (s, member) = k.value();
                if s != set {
                    break;
                }
                members.push(member.to_owned());
            }
            for member in &members {
                t.sets.remove((set.as_str(), member.as_str()))?;
            }
            t.set_lens.remove(set.as_str())?;
        }
        Mutation::Append { log, value, keys } => {
            let seq = t.log_heads.get(log.as_str())?.map_or(0, |g| g.value()) + 1;
            t.log_heads.insert(log.as_str(), seq)?;
            t.log_entries
                .insert((log.as_str(), seq), (now_ms(), value.as_ref()))?;
            if !keys.is_empty() {
                for key in keys {
                    t.log_keys.insert((log.as_str(), key.as_str(), seq), ())?;
                }
                t.log_entry_keys
                    .insert((log.as_str(), seq), keys.join("\n").as_str())?;
            }
            committed.appended.push((log.clone(), seq));
            // One notice per log and run of appends: a batch of a hundred events is one hint.
            match changed.last_mut() {
                Some(Change::Appended { log: l, head }) if l == log => *head = seq,
                _ => changed.push(Change::Appended {
                    log: log.clone(),
                    head: seq,
                }),
            }
        }
        Mutation::Trim { log, before } => {
            let mut gone = Vec::new();
            for entry in t
                .log_entries
                .range((log.as_str(), 0)..(log.as_str(), *before))?
            {
                gone.push(entry?.0.value().1);
            }
            for seq in gone {
                t.log_entries.remove((log.as_str(), seq))?;
                let keys = t
                    .log_entry_keys
                    .remove((log.as_str(), seq))?
                    .map(|g| g.value().to_owned());
                for key in keys.iter().flat_map(|k| k.split('\n')) {
                    t.log_keys.remove((log.as_str(), key, seq))?;
                }
            }
        }
    }
    Ok(())
}

/// Adds `delta` to the counter at `key` (absent means zero), removing the row when it reaches
/// zero so empty spaces and sets leave nothing behind. One function for every counter table,
/// whatever its key type.
fn bump<'k, K: redb::Key + 'static>(
    table: &mut Table<'_, K, u64>,
    key: K::SelfType<'k>,
    delta: i64,
) -> Result<(), redb::Error> {
    let current = table.get(&key)?.map_or(0, |g| g.value());
    let next = current.saturating_add_signed(delta);
    if next == 0 {
        table.remove(&key)?;
    } else {
        table.insert(&key, next)?;
    }
    Ok(())
}

fn acquire(
    t: &mut Tables<'_>,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, redb::Error> {
    let now = now_ms();
    let free = match t.leases.get(name)? {
        None => true,
        Some(g) => {
            let (current, expires) = g.value();
            expires <= now || current == holder
        }
    };
    if free {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        t.leases
            .insert(name, (holder, now.saturating_add(ttl_ms)))?;
    }
    Ok(free)
}

fn release(t: &mut Tables<'_>, name: &str, holder: &str) -> Result<bool, redb::Error> {
    let held = match t.leases.get(name)? {
        None => return Ok(false),
        Some(g) => {
            let (current, expires) = g.value();
            (current == holder, expires > now_ms())
        }
    };
    if held.0 {
        t.leases.remove(name)?;
    }
    // An expired lease was no longer held, even by its last holder.
    Ok(held.0 && held.1)
}
