//! The physical layout of the embedded (redb) store: table definitions and value encodings.
//!
//! Owns table names and key/value shapes; must not know about group commit or async callers.

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};

/// Records: (space, id) → (version, value). Tuple keys order by space, then id, so a space is one
/// contiguous, id-ordered range.
pub(super) const RECORDS: TableDefinition<(&str, &str), (u64, &[u8])> =
    TableDefinition::new("records");
/// Record count per space, kept in the same transaction as `RECORDS` so `count` is O(1).
pub(super) const RECORD_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("record_counts");
/// Record count per (space, bucket), where the bucket is the id's first [`BUCKET_CHARS`]
/// characters. Buckets order like the ids in them, so `list` finds the record at an offset by
/// summing bucket counts and walking one bucket, instead of walking every skipped record
/// (redb has no rank index).
pub(super) const RECORD_BUCKETS: TableDefinition<(&str, &str), u64> =
    TableDefinition::new("record_buckets");
/// How many leading characters of an id name its bucket.
pub(super) const BUCKET_CHARS: usize = 2;

/// The bucket of an id: its first [`BUCKET_CHARS`] characters (fewer for short ids).
pub(super) fn bucket(id: &str) -> &str {
    match id.char_indices().nth(BUCKET_CHARS) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}
/// Unique indexes: (index, term) → owner.
pub(super) const UNIQUE: TableDefinition<(&str, &str), &str> = TableDefinition::new("unique");
/// Set members: (set, member) → ().
pub(super) const SETS: TableDefinition<(&str, &str), ()> = TableDefinition::new("sets");
/// Member count per set.
pub(super) const SET_LENS: TableDefinition<&str, u64> = TableDefinition::new("set_lens");
/// Log entries: (log, seq) → (appended at as unix milliseconds, value). A log is one
/// contiguous, seq-ordered range.
pub(super) const LOG_ENTRIES: TableDefinition<(&str, u64), (u64, &[u8])> =
    TableDefinition::new("log_entries");
/// Log entries by key: (log, key, seq) → (), for `log_by_key`.
pub(super) const LOG_KEYS: TableDefinition<(&str, &str, u64), ()> =
    TableDefinition::new("log_keys");
/// The keys of each log entry that has any: (log, seq) → keys joined by newlines, so a trim
/// removes the entry's `LOG_KEYS` rows with it.
pub(super) const LOG_ENTRY_KEYS: TableDefinition<(&str, u64), &str> =
    TableDefinition::new("log_entry_keys");
/// The last seq appended to each log, kept when its entries are trimmed, so numbering never
/// restarts.
pub(super) const LOG_HEADS: TableDefinition<&str, u64> = TableDefinition::new("log_heads");
/// Leases: name → (holder, expires_at as unix milliseconds).
pub(super) const LEASES: TableDefinition<&str, (&str, u64)> = TableDefinition::new("leases");

/// Creates every table, so read transactions never meet a missing table.
pub(super) fn create_all(db: &redb::Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        txn.open_table(RECORDS)?;
        txn.open_table(RECORD_COUNTS)?;
        let mut buckets = txn.open_table(RECORD_BUCKETS)?;
        // A database written before buckets existed: count them once.
        if buckets.is_empty()? {
            let records = txn.open_table(RECORDS)?;
            for entry in records.iter()? {
                let (key, _) = entry?;
                let (space, id) = key.value();
                let n = buckets.get((space, bucket(id)))?.map_or(0, |g| g.value());
                buckets.insert((space, bucket(id)), n + 1)?;
            }
        }
        txn.open_table(UNIQUE)?;
        txn.open_table(SETS)?;
        txn.open_table(SET_LENS)?;
        txn.open_table(LEASES)?;
        txn.open_table(LOG_ENTRIES)?;
        txn.open_table(LOG_HEADS)?;
        txn.open_table(LOG_KEYS)?;
        txn.open_table(LOG_ENTRY_KEYS)?;
    }
    txn.commit()?;
    Ok(())
}

/// Milliseconds since the unix epoch by the wall clock (lease expiry is wall-clock based).
pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
