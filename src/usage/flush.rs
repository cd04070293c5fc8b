//! The bridge's last-use task: seed the live clocks from the ledger, then persist them
//! periodically (only when something changed) and once more at shutdown.
//!
//! Requests never wait for it: they only touch the clocks. A ledger outage is a warning and a
//! retry at the next tick; the clocks keep counting in memory meanwhile.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use super::{Ledger, UsageRecord};
use crate::session::reload::{Live, SessionHandle};

/// What the live session's clocks know, as a record (tokens never used are left out).
pub fn collect(live: &Live) -> UsageRecord {
    let mut record = UsageRecord::default();
    for (i, token) in live.session.tokens.iter().enumerate() {
        if let Some((id, at)) = live.last_use.get(i).filter(|(_, at)| *at > 0) {
            record.note(id, &token.label, at);
        }
    }
    record
}

/// Folds a persisted record into the live clocks (by max).
pub fn seed(live: &Live, record: &UsageRecord) {
    for (id, used) in record.iter() {
        live.last_use.observe(id, used.at);
    }
}

/// Persists the clocks of `session` into `ledger` every `period` until `cancel`, then once more.
pub async fn run(
    session: Arc<SessionHandle>,
    ledger: Ledger,
    period: Duration,
    cancel: CancellationToken,
) {
    let mut flusher = Flusher {
        session,
        ledger,
        persisted: UsageRecord::default(),
    };
    flusher.seed().await;
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick() => flusher.flush().await,
        }
    }
    flusher.flush().await;
}

struct Flusher {
    session: Arc<SessionHandle>,
    ledger: Ledger,
    /// What the ledger held after our last successful read or merge.
    persisted: UsageRecord,
}

impl Flusher {
    /// Loads what earlier runs and other replicas recorded, so read-outs survive a restart.
    async fn seed(&mut self) {
        match self.ledger.load().await {
            Ok(Some(record)) => {
                seed(&self.session.live(), &record);
                self.persisted = record;
            }
            Ok(None) => {}
            // The log field keeps its name `sink` (log output does not change with the type).
            Err(e) => tracing::warn!(
                error = %crate::error_chain::chain(&e),
                sink = %self.ledger.describe(),
                "cannot read token last use; starting from what this process sees"
            ),
        }
    }

    /// Merges the clocks into the ledger when they know something it does not.
    async fn flush(&mut self) {
        let local = collect(&self.session.live());
        if !self.persisted.clone().merge(&local) {
            return;
        }
        match self.ledger.merge_in(&local).await {
            Ok(merged) => {
                // Other replicas' uses become visible here too (status page).
                seed(&self.session.live(), &merged);
                self.persisted = merged;
            }
            Err(e) => tracing::warn!(
                error = %crate::error_chain::chain(&e),
                sink = %self.ledger.describe(),
                "cannot persist token last use; will retry"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{create, CreateOptions};

    #[tokio::test]
    async fn uses_are_persisted_on_change_and_at_cancel_and_seeded_on_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        create(&path, CreateOptions::default()).unwrap();
        let ledger = Ledger::File {
            dir: dir.path().to_path_buf(),
            timeout: Duration::from_secs(5),
        };
        let session = Arc::new(SessionHandle::load(&path).unwrap());
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            Arc::clone(&session),
            ledger.clone(),
            Duration::from_millis(20),
            cancel.clone(),
        ));
        session.live().last_use.record(0, 1_000);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while ledger.load().await.unwrap().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "never persisted");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        session.live().last_use.record(0, 2_000);
        cancel.cancel();
        task.await.unwrap();
        let id = session.live().last_use.get(0).unwrap().0;
        let stored = ledger.load().await.unwrap().unwrap();
        assert_eq!(
            stored.get(id).map(|u| u.at),
            Some(2_000),
            "flushed at cancel"
        );
        assert_eq!(stored.get(id).map(|u| u.label.as_str()), Some("initial"));

        // A new process over the same session starts from the persisted clock.
        let restarted = Arc::new(SessionHandle::load(&path).unwrap());
        let cancel = CancellationToken::new();
        cancel.cancel();
        run(
            Arc::clone(&restarted),
            ledger,
            Duration::from_secs(60),
            cancel,
        )
        .await;
        assert_eq!(restarted.live().last_use.get(0), Some((id, 2_000)));
    }

    #[test]
    fn collect_leaves_out_unused_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        create(&path, CreateOptions::default()).unwrap();
        let session = SessionHandle::load(&path).unwrap();
        assert!(collect(&session.live()).is_empty());
        session.live().last_use.record(0, 5);
        assert_eq!(collect(&session.live()).len(), 1);
    }
}
