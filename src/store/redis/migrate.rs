//! The start-up conversion of records written as hashes `{v, d}` (earlier builds) into the
//! strings `<version>:<value>` that one `MGET` reads.
//!
//! Runs in the background after connecting, on every start: a `SCAN` of the directory's
//! record keys (hashes only) in pages, each page converted by one script that rewrites only
//! keys of the record hash's exact shape. Reads and writes accept both forms meanwhile, so
//! nothing waits for it, several replicas may run it at once, and a failed run is retried;
//! a hash written later by a replica of an earlier build is converted at the next start.
//! Must not know about SCIM.

use std::time::Duration;

use fred::{
    prelude::{Client, KeysInterface},
    types::{scan::ScanType, Value},
};

use super::{
    keys::Keys,
    scripts::{fred_error, Script},
};
use crate::store::StoreError;

/// Keys per `SCAN` page and per conversion script.
const PAGE: u32 = 500;
/// How often a failed conversion is tried again, and how long between tries.
const ATTEMPTS: u32 = 30;
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// Converts every record hash of the directory; the number converted.
pub(super) async fn convert_records(
    client: &Client,
    keys: &Keys,
    convert: &Script,
) -> Result<u64, StoreError> {
    let glob = keys.records_glob();
    let mut cursor = String::from("0");
    let mut converted = 0;
    loop {
        // The glob carries the directory's hash tag on a cluster, so fred sends the scan to
        // the node of the directory's slot.
        let (next, found): (String, Vec<String>) = client
            .scan_page(cursor, glob.as_str(), Some(PAGE), Some(ScanType::Hash))
            .await
            .map_err(|e| fred_error("scanning records to convert", e))?;
        if !found.is_empty() {
            let args = found.into_iter().map(Value::from).collect();
            let n = convert
                .call(client, keys, "converting records", args)
                .await?;
            converted += n.as_u64().unwrap_or(0);
        }
        if next == "0" {
            return Ok(converted);
        }
        cursor = next;
    }
}

/// [`convert_records`] until it succeeds (bounded), logging the outcome.
pub(super) async fn convert_in_background(client: Client, keys: Keys, convert: Script) {
    for attempt in 1..=ATTEMPTS {
        match convert_records(&client, &keys, &convert).await {
            Ok(0) => return,
            Ok(n) => {
                tracing::info!(
                    converted = n,
                    "redis: records stored as hashes converted to strings"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(attempt, error = %e, "redis: converting records stored as hashes failed; reads accept both forms meanwhile");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}
