//! The deliverer of one webhook endpoint: holds the endpoint's lease (so with Redis exactly one
//! replica delivers to it at a time, and another takes over within [`LEASE_TTL`] when it dies),
//! then sends the log's events in `seq` order, one at a time, each until the receiver takes it
//! (2xx), retrying failures with capped exponential backoff and jitter, moving an event that
//! keeps failing to the dead letters, stopping at `410 Gone`.
//!
//! The cursor is saved after a run of deliveries (at most every [`SAVE_EVERY`]), when the
//! deliverer waits, and on shutdown: a crash redelivers at most what came after the last save,
//! which is what "at least once" allows and what the event's `id` lets a receiver recognise.
//! An event moved to the dead letters is written in the same batch as the cursor passing it.

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{
    sign::Key,
    state::{self, DeadLetter, Disabled, EndpointState, Stored},
    webhook::{Outcome, Sender},
    Item, Outbox, ReadError,
};
use crate::{
    config::{DeliverySettings, WebhookSettings},
    metrics::Metrics,
    store::{Change, SharedStore, StoreError, WriteBatch},
};

/// How long a deliverer's lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often it is renewed.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
/// The longest run of deliveries between two saves of the cursor.
pub const SAVE_EVERY: Duration = Duration::from_millis(250);
/// Events read from the log at once.
const BATCH: usize = 200;
/// Dead letters replayed per request.
const REPLAY_BATCH: usize = 1_000;

/// One endpoint's deliverer.
pub struct Deliverer {
    /// The endpoint.
    pub endpoint: WebhookSettings,
    key: Key,
    policy: DeliverySettings,
    outbox: Arc<Outbox>,
    store: SharedStore,
    sender: Sender,
    holder: String,
    metrics: Metrics,
}

/// Why a delivery run stopped.
enum Stop {
    /// Shutting down.
    Cancelled,
    /// The lease could not be renewed: another replica may deliver now.
    LeaseLost,
}

fn now_rfc3339() -> String {
    crate::operator::rfc3339(time::OffsetDateTime::now_utc())
}

/// Marks the endpoint disabled because its receiver answered `410 Gone`.
fn disable(state: &mut EndpointState) {
    state.disabled = Some(Disabled {
        at: now_rfc3339(),
        reason: "the receiver answered 410 Gone".into(),
    });
    state.next_attempt_at = None;
}

fn at(instant_from_now: Duration) -> String {
    crate::operator::rfc3339(time::OffsetDateTime::now_utc() + instant_from_now)
}

/// The pause after the `attempt`-th failure: [`crate::backoff::pause`] from `backoff` up to
/// `backoff_max`.
pub fn pause(policy: &DeliverySettings, attempt: u32) -> Duration {
    crate::backoff::pause(policy.backoff, policy.backoff_max, attempt)
}

/// The event type and id of an encoded event, without decoding the rest.
fn head_of(json: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: String,
        id: String,
    }
    serde_json::from_slice::<Head>(json)
        .map_or_else(|_| (String::new(), String::new()), |h| (h.kind, h.id))
}

impl Deliverer {
    /// A deliverer for `endpoint`; `holder` names this process in the lease.
    pub fn new(
        endpoint: WebhookSettings,
        policy: DeliverySettings,
        outbox: Arc<Outbox>,
        sender: Sender,
        holder: String,
        metrics: Metrics,
    ) -> Self {
        Self {
            key: Key::new(&endpoint.secret.0),
            store: outbox.store(),
            endpoint,
            policy,
            outbox,
            sender,
            holder,
            metrics,
        }
    }

    fn lease(&self) -> String {
        format!("webhook:{}", self.endpoint.name)
    }

    /// Runs until `cancel`: waits for the lease, delivers while holding it.
    pub async fn run(self, cancel: CancellationToken) {
        let name = self.endpoint.name.clone();
        loop {
            let taken = self
                .store
                .acquire_lease(&self.lease(), &self.holder, LEASE_TTL)
                .await;
            match taken {
                Ok(true) => {
                    tracing::info!(endpoint = %name, "delivering to this webhook endpoint");
                    match self.deliver(&cancel).await {
                        Stop::Cancelled => {
                            let _ = self.store.release_lease(&self.lease(), &self.holder).await;
                            return;
                        }
                        Stop::LeaseLost => {
                            tracing::warn!(endpoint = %name, "lost the webhook lease; another replica may deliver");
                        }
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::debug!(endpoint = %name, error = %e, "taking the webhook lease"),
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(RENEW_EVERY) => {}
            }
        }
    }

    /// Delivers while the lease holds.
    async fn deliver(&self, cancel: &CancellationToken) -> Stop {
        let lost = CancellationToken::new();
        let keeper = tokio::spawn(keep_lease(
            Arc::clone(&self.store),
            self.lease(),
            self.holder.clone(),
            lost.clone(),
            cancel.clone(),
        ));
        let stop = self.serve(cancel, &lost).await;
        keeper.abort();
        stop
    }

    /// The state ([`register`] made it, or the record of an earlier run).
    async fn start_state(&self) -> Result<Stored, StoreError> {
        let stored = state::load(&self.store, &self.endpoint.name).await?;
        if stored.version.is_some() {
            return Ok(stored);
        }
        // Not registered (its record was removed by hand): start at the head.
        register(&self.outbox, std::slice::from_ref(&self.endpoint)).await?;
        state::load(&self.store, &self.endpoint.name).await
    }

    async fn serve(&self, cancel: &CancellationToken, lost: &CancellationToken) -> Stop {
        let name = &self.endpoint.name;
        let record = state::key(name);
        let mut notices = self.store.watch();
        let stop = || {
            if cancel.is_cancelled() {
                Some(Stop::Cancelled)
            } else if lost.is_cancelled() {
                Some(Stop::LeaseLost)
            } else {
                None
            }
        };
        let mut stored = loop {
            match self.start_state().await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(endpoint = %name, error = %e, "reading the webhook state");
                    if let Some(s) = pause_or_stop(Duration::from_secs(1), cancel, lost).await {
                        return s;
                    }
                }
            }
        };
        // The state as this deliverer has advanced it; `stored` is what the store holds.
        let mut state = stored.state.clone();
        let mut saved_at = Instant::now();
        loop {
            if let Some(s) = stop() {
                self.flush(&mut stored, &state).await;
                return s;
            }
            if state.disabled.is_some() || state.replay {
                if state.replay {
                    self.replay(&mut stored, &mut state, cancel).await;
                    continue;
                }
                // Disabled: wait for an operator to enable it (a write of the record).
                tokio::select! {
                    () = cancel.cancelled() => {}
                    () = lost.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = wait_for(&mut notices, &record) => {}
                }
                self.reload(&mut stored, &mut state).await;
                continue;
            }
            let page = match self.outbox.read(state.cursor, BATCH).await {
                Ok(p) => p,
                Err(ReadError::Gone { oldest, .. }) => {
                    // Retention moves what an enabled endpoint has not received to its dead
                    // letters before trimming; this is what is left if that failed.
                    tracing::error!(endpoint = %name, cursor = state.cursor, oldest, "events this webhook endpoint never received were trimmed");
                    state.last_error = Some(format!(
                        "events {}–{} were trimmed before delivery",
                        state.cursor + 1,
                        oldest - 1
                    ));
                    state.cursor = oldest - 1;
                    self.flush(&mut stored, &state).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(endpoint = %name, error = %e, "reading the event log for a webhook");
                    if let Some(s) = pause_or_stop(Duration::from_secs(1), cancel, lost).await {
                        self.flush(&mut stored, &state).await;
                        return s;
                    }
                    continue;
                }
            };
            if page.events.is_empty() {
                self.flush(&mut stored, &state).await;
                let until = Instant::now() + RENEW_EVERY;
                tokio::select! {
                    _ = self.outbox.wait_past(state.cursor, until) => {}
                    () = lost.cancelled() => {}
                    _ = wait_for(&mut notices, &record) => self.reload(&mut stored, &mut state).await,
                }
                continue;
            }
            for item in &page.events {
                if item.seq <= state.cursor {
                    continue; // dead-lettered by retention meanwhile
                }
                let (kind, id) = head_of(&item.json);
                if !self.endpoint.wants(&kind) {
                    state.cursor = item.seq;
                    continue;
                }
                match self
                    .one(item, &id, &mut stored, &mut state, cancel, lost)
                    .await
                {
                    Ok(()) => {}
                    Err(s) => {
                        self.flush(&mut stored, &state).await;
                        return s;
                    }
                }
                if state.disabled.is_some() {
                    break;
                }
                if saved_at.elapsed() >= SAVE_EVERY {
                    self.flush(&mut stored, &state).await;
                    saved_at = Instant::now();
                }
            }
        }
    }

    /// Delivers one event, retrying until it is taken, dead-lettered or the receiver says
    /// `410`; `Err` when the deliverer must stop first (the event stays after the cursor).
    async fn one(
        &self,
        item: &Item,
        id: &str,
        stored: &mut Stored,
        state: &mut EndpointState,
        cancel: &CancellationToken,
        lost: &CancellationToken,
    ) -> Result<(), Stop> {
        let name = &self.endpoint.name;
        loop {
            let outcome = self
                .sender
                .attempt(&self.endpoint.url, &self.key, id, &item.json)
                .await;
            self.metrics.webhook_outcome(name, outcome.label());
            match outcome {
                Outcome::Delivered => {
                    let age_ms = super::now_ms().saturating_sub(item.at_ms);
                    self.metrics.webhook_delivered(name, age_ms as f64 / 1000.0);
                    state.cursor = item.seq;
                    state.delivered += 1;
                    state.attempt = 0;
                    state.last_error = None;
                    state.next_attempt_at = None;
                    state.last_delivered_at = Some(now_rfc3339());
                    return Ok(());
                }
                Outcome::Gone => {
                    tracing::warn!(endpoint = %name, seq = item.seq, "the webhook receiver answered 410 Gone; endpoint disabled until re-enabled");
                    disable(state);
                    self.flush(stored, state).await;
                    return Ok(());
                }
                Outcome::Failed(why) => {
                    state.attempt += 1;
                    tracing::info!(endpoint = %name, seq = item.seq, attempt = state.attempt, error = %why, "webhook delivery failed");
                    state.last_error = Some(why.clone());
                    state.last_error_at = Some(now_rfc3339());
                    let age_ms = super::now_ms().saturating_sub(item.at_ms);
                    let too_old = u128::from(age_ms) > self.policy.max_age.as_millis();
                    if state.attempt >= self.policy.max_attempts || too_old {
                        self.bury(item, &why, stored, state).await;
                        return Ok(());
                    }
                    let wait = pause(&self.policy, state.attempt);
                    state.next_attempt_at = Some(at(wait));
                    self.flush(stored, state).await;
                    if let Some(s) = pause_or_stop(wait, cancel, lost).await {
                        return Err(s);
                    }
                    // An operator may have disabled it meanwhile; the record says.
                    self.reload(stored, state).await;
                    if state.disabled.is_some() || state.cursor >= item.seq {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Moves `item` to the dead letters and the cursor past it, in one batch.
    async fn bury(&self, item: &Item, why: &str, stored: &mut Stored, state: &mut EndpointState) {
        let name = &self.endpoint.name;
        tracing::warn!(endpoint = %name, seq = item.seq, attempts = state.attempt, "webhook event moved to the dead letters");
        self.metrics.webhook_outcome(name, "dead_lettered");
        let letter = DeadLetter {
            seq: item.seq,
            reason: why.to_owned(),
            attempts: state.attempt,
            at: now_rfc3339(),
            event: serde_json::value::RawValue::from_string(
                String::from_utf8_lossy(&item.json).into_owned(),
            )
            .unwrap_or_else(|_| serde_json::value::RawValue::from_string("null".into()).unwrap()),
        };
        state.cursor = item.seq;
        state.dead_lettered += 1;
        state.attempt = 0;
        state.next_attempt_at = None;
        self.save_with(
            stored,
            state,
            || state::keep_dead(name, &letter),
            "keeping a dead letter",
        )
        .await;
    }

    /// Saves `state` and `extra()` in one batch, merging an operator's concurrent write and
    /// retrying a store error every second until it lands: what the batch records (a dead
    /// letter kept, a replayed one removed) and the counts that say so never part.
    async fn save_with(
        &self,
        stored: &mut Stored,
        state: &mut EndpointState,
        extra: impl Fn() -> WriteBatch,
        what: &str,
    ) {
        let name = &self.endpoint.name;
        loop {
            match state::save(&self.store, name, stored, state.clone(), extra()).await {
                Ok(s) => {
                    *stored = s;
                    return;
                }
                Err(StoreError::Conflict { .. }) => self.merge(stored, state).await,
                Err(e) => {
                    tracing::warn!(endpoint = %name, error = %e, "{what}; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Delivers the dead letters again, once each, oldest first; a delivered one is removed.
    /// Stops at the first that fails (the receiver is still not taking them).
    async fn replay(
        &self,
        stored: &mut Stored,
        state: &mut EndpointState,
        cancel: &CancellationToken,
    ) {
        let name = &self.endpoint.name;
        let letters = match state::dead_letters(&self.store, name, REPLAY_BATCH).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(endpoint = %name, error = %e, "reading dead letters");
                return;
            }
        };
        let mut replayed = 0;
        for letter in letters {
            if cancel.is_cancelled() {
                return;
            }
            let json = letter.event.get().as_bytes();
            let (_, id) = head_of(json);
            let outcome = self
                .sender
                .attempt(&self.endpoint.url, &self.key, &id, json)
                .await;
            self.metrics.webhook_outcome(name, outcome.label());
            match outcome {
                Outcome::Delivered => {
                    let key = || {
                        WriteBatch::new().delete(crate::store::StoreKey::new(
                            state::dead_space(name),
                            state::dead_id(letter.seq),
                        ))
                    };
                    state.delivered += 1;
                    self.save_with(stored, state, key, "removing a replayed dead letter")
                        .await;
                    replayed += 1;
                }
                Outcome::Gone => {
                    tracing::warn!(endpoint = %name, seq = letter.seq, "the webhook receiver answered 410 Gone to a replay; endpoint disabled until re-enabled");
                    disable(state);
                    break;
                }
                Outcome::Failed(_) => break,
            }
        }
        tracing::info!(endpoint = %name, replayed, "replayed dead letters");
        state.replay = false;
        self.flush(stored, state).await;
    }

    /// Saves `state` if it differs from what is stored; on a conflict (an operator wrote),
    /// merges the operator's fields and saves again.
    async fn flush(&self, stored: &mut Stored, state: &EndpointState) {
        let mut state = state.clone();
        for _ in 0..10 {
            if stored.state == state {
                return;
            }
            match state::save(
                &self.store,
                &self.endpoint.name,
                stored,
                state.clone(),
                WriteBatch::new(),
            )
            .await
            {
                Ok(s) => {
                    *stored = s;
                    return;
                }
                Err(StoreError::Conflict { .. }) => self.merge(stored, &mut state).await,
                Err(e) => {
                    tracing::debug!(endpoint = %self.endpoint.name, error = %e, "saving the webhook cursor");
                    return;
                }
            }
        }
    }

    /// Reads the record again and takes the operator's fields (`disabled`, `replay`) from it,
    /// keeping this deliverer's progress.
    async fn merge(&self, stored: &mut Stored, state: &mut EndpointState) {
        if let Ok(fresh) = state::load(&self.store, &self.endpoint.name).await {
            take_others(state, &fresh.state);
            *stored = fresh;
        }
    }

    /// After a wait: picks up what an operator changed.
    async fn reload(&self, stored: &mut Stored, state: &mut EndpointState) {
        if let Ok(fresh) = state::load(&self.store, &self.endpoint.name).await {
            if fresh.version != stored.version {
                take_others(state, &fresh.state);
                if fresh.state.disabled.is_none() && stored.state.disabled.is_some() {
                    tracing::info!(endpoint = %self.endpoint.name, "webhook endpoint re-enabled");
                    state.attempt = 0;
                    state.last_error = None;
                }
                *stored = fresh;
            }
        }
    }
}

/// Gives each endpoint that has no record yet one at the log's head: a new endpoint gets the
/// events written from now on (the pull feed reaches back further). Called at start-up before
/// the listeners open, so no write this process accepts comes before an endpoint's start.
pub async fn register(outbox: &Outbox, endpoints: &[WebhookSettings]) -> Result<(), StoreError> {
    let store = outbox.store();
    for endpoint in endpoints {
        let stored = state::load(&store, &endpoint.name).await?;
        if stored.version.is_some() {
            continue;
        }
        let fresh = EndpointState {
            cursor: outbox.bounds().await?.head,
            ..EndpointState::default()
        };
        match state::save(&store, &endpoint.name, &stored, fresh, WriteBatch::new()).await {
            // Another replica registered it first: its start stands.
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Takes into this deliverer's `state` what others wrote in `fresh`: an operator's `disabled`
/// and `replay`, and retention's moving the cursor on (events it dead-lettered before a trim).
fn take_others(state: &mut EndpointState, fresh: &EndpointState) {
    state.disabled = fresh.disabled.clone();
    state.replay = fresh.replay;
    if fresh.cursor > state.cursor {
        state.cursor = fresh.cursor;
        state.attempt = 0;
        state.next_attempt_at = None;
    }
    state.dead_lettered = state.dead_lettered.max(fresh.dead_lettered);
}

/// Sleeps `wait`, or returns why it must stop first.
async fn pause_or_stop(
    wait: Duration,
    cancel: &CancellationToken,
    lost: &CancellationToken,
) -> Option<Stop> {
    tokio::select! {
        () = cancel.cancelled() => Some(Stop::Cancelled),
        () = lost.cancelled() => Some(Stop::LeaseLost),
        () = tokio::time::sleep(wait) => None,
    }
}

/// Waits for a notice that `key` changed (or lost notices, which may hide one).
async fn wait_for(
    notices: &mut tokio::sync::broadcast::Receiver<Change>,
    key: &crate::store::StoreKey,
) {
    loop {
        match notices.recv().await {
            Ok(Change::Record(k)) if &k == key => return,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                std::future::pending::<()>().await
            }
        }
    }
}

/// Renews the lease every [`RENEW_EVERY`]; cancels `lost` when a renewal is refused or the
/// store has not confirmed one for most of the lease's life.
pub(crate) async fn keep_lease(
    store: SharedStore,
    lease: String,
    holder: String,
    lost: CancellationToken,
    cancel: CancellationToken,
) {
    let mut confirmed = Instant::now();
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(RENEW_EVERY) => {}
        }
        match store.acquire_lease(&lease, &holder, LEASE_TTL).await {
            Ok(true) => confirmed = Instant::now(),
            Ok(false) => {
                lost.cancel();
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "renewing a webhook lease");
                if confirmed.elapsed() > LEASE_TTL - RENEW_EVERY {
                    lost.cancel();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_with_jitter_in_the_upper_half() {
        let policy = DeliverySettings {
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1_000),
            ..DeliverySettings::default()
        };
        for _ in 0..200 {
            let first = pause(&policy, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = pause(&policy, 3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let capped = pause(&policy, 40);
            assert!(capped >= Duration::from_millis(500) && capped <= Duration::from_millis(1_000));
        }
    }

    #[test]
    fn the_type_and_id_are_read_from_the_encoded_event() {
        let (kind, id) = head_of(br#"{"seq":3,"id":"abc","type":"user.created","data":{"x":1}}"#);
        assert_eq!((kind.as_str(), id.as_str()), ("user.created", "abc"));
        assert_eq!(head_of(b"junk"), (String::new(), String::new()));
    }
}
