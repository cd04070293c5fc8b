//! Request validation shared by every backend: names must be non-empty, values bounded.
//!
//! Owns only the rules about what a caller may ask for; must not know any backend's layout.

use super::{Mutation, Precondition, StoreError, StoreKey, WriteBatch};

/// The largest value any backend accepts (Redis strings stop at 512 MiB; redb is larger).
pub(crate) const MAX_VALUE_LEN: usize = 512 * 1024 * 1024 - 1024;

/// Fails with [`StoreError::Invalid`] when `name` (a space, index, set, lease or log) is empty.
pub(crate) fn name(what: &str, name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::Invalid {
            context: format!("empty {what} name"),
        });
    }
    Ok(())
}

/// Fails when a log entry's key is empty or holds a newline (backends join keys with one).
pub(crate) fn entry_key(key: &str) -> Result<(), StoreError> {
    name("log entry key", key)?;
    if key.contains('\n') {
        return Err(StoreError::Invalid {
            context: "a log entry key with a newline".into(),
        });
    }
    Ok(())
}

fn key(key: &StoreKey) -> Result<(), StoreError> {
    name("space", &key.space)
}

fn size(what: &str, len: usize) -> Result<(), StoreError> {
    if len > MAX_VALUE_LEN {
        return Err(StoreError::Invalid {
            context: format!("value of {what} is {len} bytes, over the limit"),
        });
    }
    Ok(())
}

/// Checks every name and value size in a batch before any backend sees it.
pub(crate) fn batch(batch: &WriteBatch) -> Result<(), StoreError> {
    for pre in &batch.preconditions {
        match pre {
            Precondition::Absent(k) | Precondition::Exists(k) | Precondition::Version(k, _) => {
                key(k)?
            }
        }
    }
    for m in &batch.mutations {
        match m {
            Mutation::Put { key: k, value } => {
                key(k)?;
                size(&k.to_string(), value.len())?;
            }
            Mutation::Append { log, value, keys } => {
                name("log", log)?;
                size(&format!("an entry of log {log}"), value.len())?;
                for k in keys {
                    entry_key(k)?;
                }
            }
            Mutation::Trim { log, .. } => name("log", log)?,
            Mutation::Delete { key: k } => key(k)?,
            Mutation::Claim { index, .. } | Mutation::Release { index, .. } => {
                name("index", index)?
            }
            Mutation::SetAdd { set, .. }
            | Mutation::SetRemove { set, .. }
            | Mutation::SetClear { set } => name("set", set)?,
        }
    }
    Ok(())
}
