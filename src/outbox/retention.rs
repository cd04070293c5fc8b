//! Retention: the log keeps events for `OP_EVENTS_RETENTION` and at most `OP_EVENTS_MAX` of
//! them, trimmed oldest first by one replica at a time (the lease `events.retention`). Before a
//! trim, every webhook endpoint whose cursor is behind it gets the events it has not received
//! in its dead letters (written with the cursor passing them, in batches), so no endpoint loses
//! an event unseen; a pull-feed reader behind the trim gets `410 Gone`.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use super::{
    state::{self, DeadLetter},
    Outbox,
};
use crate::{
    config::WebhookSettings,
    scim::events::LOG,
    store::{Mutation, Seq, SharedStore, StoreError, WriteBatch},
};

/// How long the lease lasts.
const LEASE_TTL: Duration = Duration::from_secs(60);
/// Entries read at once while looking for the age cut or moving dead letters.
const CHUNK: usize = 500;
/// The most entries one trim removes.
const TRIM_STEP: u64 = 1_000;
/// The most entries one pass looks at for the age cut (the next pass goes on).
const MAX_SCAN: usize = 100_000;

/// What is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this go.
    pub max_age: Duration,
    /// At most this many are kept.
    pub max_events: u64,
}

/// The trimmer.
pub struct Trimmer {
    outbox: Arc<Outbox>,
    store: SharedStore,
    retention: Retention,
    endpoints: Vec<WebhookSettings>,
    holder: String,
}

impl Trimmer {
    /// A trimmer of `outbox`'s log; `holder` names this process in the lease.
    pub fn new(
        outbox: Arc<Outbox>,
        retention: Retention,
        endpoints: Vec<WebhookSettings>,
        holder: String,
    ) -> Self {
        Self {
            store: outbox.store(),
            outbox,
            retention,
            endpoints,
            holder,
        }
    }

    /// Trims now and then until `cancel`: every minute (or half the retention, if shorter), and
    /// as soon as the log holds more than its maximum.
    pub async fn run(self, cancel: CancellationToken) {
        let every =
            (self.retention.max_age / 2).clamp(Duration::from_millis(200), Duration::from_secs(60));
        loop {
            // At most five passes a second, whatever wakes it (another replica may hold the
            // lease while the log is over its maximum).
            tokio::time::sleep(Duration::from_millis(200)).await;
            match self.pass().await {
                Ok(Some(before)) => tracing::debug!(before, "event log trimmed"),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "trimming the event log"),
            }
            let over = match self.outbox.bounds().await {
                Ok(b) => b
                    .oldest
                    .unwrap_or(b.head + 1)
                    .saturating_add(self.retention.max_events),
                Err(_) => Seq::MAX,
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
                _ = self.outbox.wait_past(over, tokio::time::Instant::now() + every) => {}
            }
        }
    }

    /// One pass: where to cut, the dead letters of endpoints behind it, the trim. Returns the
    /// new oldest kept, when it trimmed.
    pub async fn pass(&self) -> Result<Option<Seq>, StoreError> {
        if !self
            .store
            .acquire_lease("events.retention", &self.holder, LEASE_TTL)
            .await?
        {
            return Ok(None);
        }
        let bounds = self.outbox.bounds().await?;
        let Some(oldest) = bounds.oldest else {
            return Ok(None);
        };
        // The lowest seq kept by count...
        let mut before = bounds
            .head
            .saturating_sub(self.retention.max_events)
            .saturating_add(1)
            .max(oldest);
        // ...and by age: past every entry older than the limit.
        let limit_ms = super::now_ms().saturating_sub(self.retention.max_age.as_millis() as u64);
        let mut after = before - 1;
        let mut scanned = 0;
        'scan: while scanned < MAX_SCAN {
            let entries = self.store.log_read(LOG, after, CHUNK).await?;
            if entries.is_empty() {
                break;
            }
            for e in &entries {
                if e.at_ms >= limit_ms {
                    break 'scan;
                }
                before = e.seq + 1;
            }
            scanned += entries.len();
            after = entries.last().map_or(after, |e| e.seq);
        }
        if before <= oldest {
            return Ok(None);
        }
        for endpoint in &self.endpoints {
            self.bury_unseen(&endpoint.name, before).await?;
        }
        // In steps: a trim also takes each entry out of its resources' histories, so its cost
        // grows with the entries it removes (on Redis, one script that holds the server).
        let mut cut = oldest;
        while cut < before {
            cut = cut.saturating_add(TRIM_STEP).min(before);
            self.store
                .write(WriteBatch::new().then(Mutation::Trim {
                    log: LOG.to_owned(),
                    before: cut,
                }))
                .await?;
        }
        Ok(Some(before))
    }

    /// Moves the events `endpoint` has not received, up to `before`, to its dead letters.
    async fn bury_unseen(&self, endpoint: &str, before: Seq) -> Result<(), StoreError> {
        loop {
            let stored = state::load(&self.store, endpoint).await?;
            if stored.version.is_none() || stored.state.cursor + 1 >= before {
                return Ok(());
            }
            let entries = self
                .store
                .log_read(
                    LOG,
                    stored.state.cursor,
                    CHUNK.min((before - 1 - stored.state.cursor) as usize),
                )
                .await?;
            let Some(last) = entries.last().map(|e| e.seq) else {
                return Ok(());
            };
            let mut extra = WriteBatch::new();
            let at = crate::operator::rfc3339(time::OffsetDateTime::now_utc());
            for e in &entries {
                let json = String::from_utf8_lossy(&crate::scim::events::with_seq(e.seq, &e.value))
                    .into_owned();
                let letter = DeadLetter {
                    seq: e.seq,
                    reason: "trimmed by retention before it was delivered".into(),
                    attempts: 0,
                    at: at.clone(),
                    event: serde_json::value::RawValue::from_string(json).map_err(|e| {
                        StoreError::Corrupt {
                            context: format!("an event: {e}"),
                        }
                    })?,
                };
                extra
                    .mutations
                    .extend(state::keep_dead(endpoint, &letter).mutations);
            }
            let mut next = stored.state.clone();
            next.cursor = last;
            next.dead_lettered += entries.len() as u64;
            next.attempt = 0;
            match state::save(&self.store, endpoint, &stored, next, extra).await {
                Ok(_) => {
                    tracing::warn!(
                        endpoint,
                        up_to = last,
                        "events trimmed by retention before delivery moved to the dead letters"
                    );
                }
                // The deliverer moved meanwhile: look again.
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
}
