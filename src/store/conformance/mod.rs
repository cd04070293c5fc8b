//! One backend-agnostic conformance suite for [`StateStore`](super::StateStore) implementations.
//!
//! Every check is a `pub async fn` that panics with a message naming the check on failure, so
//! tests can call them one by one or all through [`run_all`]. Checks use fresh random names
//! (uuid) so several runs can share one server. Must not know which backend it is testing.
//!
//! Compiled only with the cargo feature `conformance`: the package's dev-dependency on itself
//! turns it on for the test targets, so it stays out of the release binary.

mod live;
mod logs;
mod reads;
mod records;
mod shared;

use std::{future::Future, time::Duration};

use super::{SharedStore, StoreError};

pub use live::{change_feed, concurrent_writes, leases};
pub use logs::{log_appends, log_by_key, log_concurrent_appends, log_notices, log_trim};
pub use reads::{get_many_order, invalid_names, list_and_count, list_offsets};
pub use records::{failed_batch_writes_nothing, versioned_cas};
pub use shared::{concurrent_claims, get_with_members, members_many, sets, unique_index};

/// Runs every check in turn; panics on the first failure.
pub async fn run_all(store: SharedStore) {
    versioned_cas(store.clone()).await;
    failed_batch_writes_nothing(store.clone()).await;
    get_many_order(store.clone()).await;
    list_and_count(store.clone()).await;
    list_offsets(store.clone()).await;
    invalid_names(store.clone()).await;
    unique_index(store.clone()).await;
    concurrent_claims(store.clone()).await;
    sets(store.clone()).await;
    members_many(store.clone()).await;
    get_with_members(store.clone()).await;
    leases(store.clone()).await;
    change_feed(store.clone()).await;
    log_appends(store.clone()).await;
    log_trim(store.clone()).await;
    log_by_key(store.clone()).await;
    log_concurrent_appends(store.clone()).await;
    log_notices(store.clone()).await;
    concurrent_writes(store).await;
}

/// A fresh name with a readable prefix, unique per run.
fn fresh(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

/// Unwraps a store result, panicking with the check name and the step on error.
fn ok<T>(check: &str, step: &str, result: Result<T, StoreError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("[{check}] {step}: unexpected store error: {error:?}"),
    }
}

/// Awaits a store call with a generous bound, so a hung backend fails the check instead of the
/// whole test run.
async fn bounded<T>(check: &str, step: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(30), fut).await {
        Ok(value) => value,
        Err(_) => panic!("[{check}] {step}: no answer within 30 s"),
    }
}
