//! Acknowledged writes that survive a failover: after each write batch the master that ran it
//! is asked to `WAIT` until enough replicas hold it.
//!
//! Redis replicates asynchronously, so a write a master acknowledged can vanish when a replica
//! is promoted before it arrived. `WAIT n timeout` on the connection that ran the script blocks
//! until `n` replicas acknowledged everything before it, or the timeout passes. Only the first
//! is a write the bridge acknowledges; the second is answered as
//! [`StoreError::Unreplicated`]: on the master, not yet safe. Must not know the key layout
//! beyond the slot it is given.

use std::time::Duration;

use fred::{
    prelude::{Client, ClientLike},
    types::{ClusterHash, CustomCommand},
};

use super::scripts::fred_error;
use super::url::Topology;
use crate::store::StoreError;

/// How many replicas must hold each write batch before it is acknowledged, and how long the
/// master may wait for them (`OP_REDIS_WAIT_REPLICAS`, `OP_REDIS_WAIT_TIMEOUT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replication {
    /// Replicas that must acknowledge; 0 skips `WAIT`.
    pub replicas: u32,
    /// The longest `WAIT` (Redis counts whole milliseconds).
    pub timeout: Duration,
}

/// How long a master waits for its replicas by default: far above a healthy replica's
/// acknowledgement (well under a millisecond on one network), short enough that a lost
/// replica makes writes slow and refused, not hung.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

impl Replication {
    /// No waiting: what one node without replicas needs.
    pub const NONE: Replication = Replication {
        replicas: 0,
        timeout: DEFAULT_TIMEOUT,
    };

    /// The default for a topology: one replica behind sentinels or in a cluster (they exist
    /// to fail over, and a failover without it loses acknowledged writes), none on one node.
    pub fn default_for(topology: Topology) -> Replication {
        match topology {
            Topology::Single => Replication::NONE,
            Topology::Cluster | Topology::Sentinel => Replication {
                replicas: 1,
                timeout: DEFAULT_TIMEOUT,
            },
        }
    }

    /// Waits until the replicas hold every write the master took from this client so far.
    /// `slot` routes `WAIT` to the master of the directory's slot on a cluster (ignored
    /// elsewhere); the client's one connection per node is the one that ran the script.
    pub(super) async fn wait(&self, client: &Client, slot: u16) -> Result<(), StoreError> {
        if self.replicas == 0 {
            return Ok(());
        }
        let millis = i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX);
        let command = CustomCommand::new_static("WAIT", ClusterHash::Custom(slot), false);
        let acked: i64 = client
            .custom(command, vec![i64::from(self.replicas), millis])
            .await
            .map_err(|e| fred_error("waiting for replicas", e))?;
        if acked >= i64::from(self.replicas) {
            Ok(())
        } else {
            Err(StoreError::Unreplicated {
                acked: u32::try_from(acked.max(0)).unwrap_or(0),
                wanted: self.replicas,
                waited: self.timeout,
            })
        }
    }
}
