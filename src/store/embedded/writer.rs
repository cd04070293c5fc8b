//! The embedded store's single writer thread: group commit of every write request.
//!
//! Callers hand a [`Job`] over a channel; the thread drains all pending jobs, applies them in
//! arrival order inside ONE redb write transaction, commits once with `Durability::Immediate` and
//! only then answers each caller and publishes the change feed. Applying a job lives in
//! [`super::apply`]. Must not know about async callers beyond the oneshot reply.

use std::{sync::mpsc, sync::Arc, time::Duration};

use redb::{Database, Durability};
use tokio::sync::{broadcast, oneshot};

use super::apply::apply_group;
use crate::store::{Change, Committed, StoreError, WriteBatch};

/// The most jobs folded into one commit, so one huge backlog cannot delay every answer forever.
const MAX_GROUP: usize = 1024;

/// A write request to the writer thread.
pub(super) enum Request {
    /// A validated batch.
    Write(WriteBatch),
    /// Take or extend a lease.
    Acquire {
        name: String,
        holder: String,
        ttl: Duration,
    },
    /// Give up a lease.
    Release { name: String, holder: String },
    /// An empty commit, to prove the database is writable.
    Ping,
}

/// The writer's answer to one [`Request`].
pub(super) enum Reply {
    /// The outcome of a batch.
    Write(Result<Committed, StoreError>),
    /// The outcome of a lease request.
    Lease(bool),
    /// The ping committed.
    Ping,
}

/// One request and where to send its answer.
pub(super) struct Job {
    /// What to do.
    pub(super) request: Request,
    /// Where the answer goes (after the commit).
    pub(super) reply: oneshot::Sender<Result<Reply, StoreError>>,
}

/// Runs until every sender is gone: receive, drain, apply, commit, answer.
pub(super) fn run(
    db: Arc<Database>,
    jobs: mpsc::Receiver<Job>,
    changes: broadcast::Sender<Change>,
) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&db, group, &changes);
    }
}

/// Applies a group in one transaction and answers every job in it.
fn commit_group(db: &Database, group: Vec<Job>, changes: &broadcast::Sender<Change>) {
    let mut changed = Vec::new();
    let result = db
        .begin_write()
        .map_err(redb::Error::from)
        .and_then(|mut txn| {
            txn.set_durability(Durability::Immediate)?;
            let replies = apply_group(&txn, group.iter().map(|job| &job.request), &mut changed)?;
            txn.commit()?;
            Ok(replies)
        });
    match result {
        Ok(replies) => {
            for (job, reply) in group.into_iter().zip(replies) {
                // A caller that gave up waiting is no reason to stop; its write is durable.
                let _ = job.reply.send(Ok(reply));
            }
            for change in changed {
                // No receivers is fine: nobody is watching.
                let _ = changes.send(change);
            }
        }
        Err(error) => {
            // Nothing of the group was committed, so every caller learns its write failed.
            let error = Arc::new(error);
            for job in group {
                let _ = job.reply.send(Err(StoreError::Unavailable {
                    context: "embedded store commit".into(),
                    source: Box::new(Arc::clone(&error)),
                }));
            }
        }
    }
}
