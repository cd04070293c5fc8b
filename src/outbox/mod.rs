//! The outbox: the event log as its readers see it (issue 12). The engine writes each event in
//! the batch of the change it describes ([`crate::scim::events`]); this module hands the
//! committed events on: pages of the log after a cursor, a cursor older than what is kept told
//! apart from a cursor at the head, and a wait for the next event that wakes on the store's
//! change feed.
//!
//! One [`Outbox`] per process. Its follower task keeps [`Outbox::head`] current from the
//! store's notices (this process's commits and other replicas') and, because a notice is only
//! a hint (a Redis reconnect loses the ones sent meanwhile), also reads the log's bounds every
//! [`LOOK_EVERY`]. A reader never trusts the cached head for what it returns: pages come from
//! the store.

pub mod deliver;
pub mod report;
pub mod retention;
pub mod sign;
pub mod state;
pub mod webhook;

use std::{sync::Arc, time::Duration};

use tokio::{sync::watch, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::{
    scim::events::{self, LOG},
    store::{Change, LogBounds, LogEntry, Seq, SharedStore, StoreError},
};

/// How often the follower reads the log's bounds even without a notice.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The most events one page holds.
pub const MAX_PAGE: usize = 1_000;

/// A page stops growing once its events add up to this many bytes (it always holds at least
/// one event), so a page of large events stays a bounded answer.
pub const MAX_PAGE_BYTES: usize = 1 << 20;

/// The wall clock in unix milliseconds, the unit of [`Item::at_ms`]: what ages and lags are
/// measured against.
pub fn now_ms() -> u64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64
}

/// One committed event as readers get it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Its number.
    pub seq: Seq,
    /// When it was written, unix milliseconds.
    pub at_ms: u64,
    /// The event as the feed and webhooks show it (`seq` first).
    pub json: Vec<u8>,
}

/// Committed events after a cursor, in order.
#[derive(Debug, Default)]
pub struct Page {
    /// The events.
    pub events: Vec<Item>,
    /// The cursor to read after next: the last event's `seq`, or the cursor read after when
    /// the page is empty.
    pub next: Seq,
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Events after the cursor were trimmed; `oldest` is the oldest kept (or the next to come,
    /// when none is kept).
    #[error("events after {after} are no longer kept; the oldest kept is {oldest}")]
    Gone {
        /// The cursor asked for.
        after: Seq,
        /// The oldest event kept.
        oldest: Seq,
    },
    /// The cursor is past the last event ever written (a cursor of another bridge's log, or of
    /// a store that was reset).
    #[error("after {after} is past the last event, {head}")]
    Beyond {
        /// The cursor asked for.
        after: Seq,
        /// The last event's `seq`.
        head: Seq,
    },
    /// The store did not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The process's view of the event log.
pub struct Outbox {
    store: SharedStore,
    head: watch::Sender<Seq>,
    closing: CancellationToken,
}

impl Outbox {
    /// An outbox over `store`; waits and streams end when `closing` is cancelled (at the start
    /// of a shutdown, so open streams do not hold connections open).
    pub fn new(store: SharedStore, closing: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            store,
            head: watch::Sender::new(0),
            closing,
        })
    }

    /// The store the log is in.
    pub fn store(&self) -> SharedStore {
        Arc::clone(&self.store)
    }

    /// Ends when the process begins to shut down.
    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    /// The last `seq` this process knows was committed (0 before the first look).
    pub fn head(&self) -> Seq {
        *self.head.borrow()
    }

    /// The log's bounds, from the store.
    pub async fn bounds(&self) -> Result<LogBounds, StoreError> {
        self.store.log_bounds(LOG).await
    }

    /// Up to `limit` events after `after` (at most [`MAX_PAGE`] and [`MAX_PAGE_BYTES`]).
    /// `limit` 0 reads none and answers the head as `next`, whatever `after` is: it is how a
    /// reader learns where to start.
    pub async fn read(&self, after: Seq, limit: usize) -> Result<Page, ReadError> {
        if limit == 0 {
            return Ok(Page {
                events: Vec::new(),
                next: self.bounds().await?.head,
            });
        }
        let entries = self.store.log_read(LOG, after, limit.min(MAX_PAGE)).await?;
        match entries.first() {
            // Numbers have no gaps, so a first entry past `after + 1` means trimmed ones.
            Some(first) if first.seq > after + 1 => Err(ReadError::Gone {
                after,
                oldest: first.seq,
            }),
            Some(_) => Ok(page(entries)),
            None => {
                check_cursor(after, self.bounds().await?)?;
                Ok(Page {
                    events: Vec::new(),
                    next: after,
                })
            }
        }
    }

    /// Up to `limit` events about the resource `id` (its own changes and the memberships it
    /// gained or lost) after `after`, in order: its history, from the per-resource index the
    /// events were written with. Events trimmed by retention are gone from it, so an old
    /// cursor is not an error here.
    pub async fn history(&self, id: &str, after: Seq, limit: usize) -> Result<Page, ReadError> {
        let entries = self
            .store
            .log_by_key(LOG, id, after, limit.min(MAX_PAGE))
            .await?;
        let mut out = page(entries);
        if out.events.is_empty() {
            out.next = after;
        }
        Ok(out)
    }

    /// Waits until an event after `after` is known to be committed, `until` passes or the
    /// process begins to shut down; returns whether there is one to read.
    pub async fn wait_past(&self, after: Seq, until: Instant) -> bool {
        let mut rx = self.head.subscribe();
        tokio::select! {
            r = rx.wait_for(|head| *head > after) => r.is_ok(),
            () = tokio::time::sleep_until(until) => false,
            () = self.closing.cancelled() => false,
        }
    }

    /// Raises the known head (never lowers it).
    fn saw(&self, head: Seq) {
        self.head.send_if_modified(|known| {
            let newer = head > *known;
            if newer {
                *known = head;
            }
            newer
        });
    }

    /// The follower: keeps [`Outbox::head`] current until `cancel`.
    pub async fn follow(self: Arc<Self>, cancel: CancellationToken) {
        let mut notices = self.store.watch();
        let mut look = tokio::time::interval(LOOK_EVERY);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = look.tick() => {
                    match self.bounds().await {
                        Ok(b) => self.saw(b.head),
                        Err(e) => tracing::debug!(error = %e, "reading the event log's bounds"),
                    }
                }
                notice = notices.recv() => match notice {
                    Ok(Change::Appended { log, head }) if log == LOG => self.saw(head),
                    Ok(_) => {}
                    // Missed notices: look at the store now rather than at the next tick.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => look.reset_immediately(),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        notices = self.store.watch();
                        tokio::time::sleep(LOOK_EVERY).await;
                    }
                },
            }
        }
    }
}

/// A cursor is good if it is at the head, or no older than the entry before the oldest kept.
fn check_cursor(after: Seq, bounds: LogBounds) -> Result<(), ReadError> {
    if after > bounds.head {
        return Err(ReadError::Beyond {
            after,
            head: bounds.head,
        });
    }
    if after == bounds.head {
        return Ok(());
    }
    // Events after the cursor exist; the next one must still be kept.
    match bounds.oldest {
        Some(oldest) if oldest <= after + 1 => Ok(()),
        oldest => Err(ReadError::Gone {
            after,
            oldest: oldest.unwrap_or(bounds.head + 1),
        }),
    }
}

/// The events of `entries`, cut at [`MAX_PAGE_BYTES`].
fn page(entries: Vec<LogEntry>) -> Page {
    let mut out = Page::default();
    let mut bytes = 0;
    for entry in entries {
        if !out.events.is_empty() && bytes + entry.value.len() > MAX_PAGE_BYTES {
            break;
        }
        bytes += entry.value.len();
        out.next = entry.seq;
        out.events.push(Item {
            seq: entry.seq,
            at_ms: entry.at_ms,
            json: events::with_seq(entry.seq, &entry.value),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(oldest: Option<Seq>, head: Seq) -> LogBounds {
        LogBounds { oldest, head }
    }

    #[test]
    fn cursors_at_or_inside_the_kept_log_are_good() {
        assert!(check_cursor(0, bounds(None, 0)).is_ok());
        assert!(check_cursor(0, bounds(Some(1), 5)).is_ok());
        assert!(check_cursor(3, bounds(Some(4), 9)).is_ok());
        assert!(check_cursor(9, bounds(Some(4), 9)).is_ok());
        // Everything trimmed, and the cursor is at the head: nothing was missed.
        assert!(check_cursor(9, bounds(None, 9)).is_ok());
    }

    #[test]
    fn older_cursors_are_gone_and_newer_ones_beyond() {
        assert!(matches!(
            check_cursor(2, bounds(Some(4), 9)),
            Err(ReadError::Gone {
                after: 2,
                oldest: 4
            })
        ));
        assert!(matches!(
            check_cursor(0, bounds(None, 9)),
            Err(ReadError::Gone {
                after: 0,
                oldest: 10
            })
        ));
        assert!(matches!(
            check_cursor(10, bounds(Some(4), 9)),
            Err(ReadError::Beyond { after: 10, head: 9 })
        ));
    }

    #[test]
    fn a_page_stops_at_its_byte_budget_but_holds_one_event() {
        let entry = |seq, len| LogEntry {
            seq,
            at_ms: 0,
            value: format!("{{\"x\":\"{}\"}}", "a".repeat(len)).into(),
        };
        let big = MAX_PAGE_BYTES / 2 - 16;
        let p = page(vec![entry(7, big), entry(8, big), entry(9, 10)]);
        assert_eq!(p.next, 8, "two halves fit; the third event waits");
        assert_eq!(p.events.len(), 2);
        assert!(p.events[0].json.starts_with(b"{\"seq\":7,\"x\""));
        let p = page(vec![entry(3, 2 * MAX_PAGE_BYTES)]);
        assert_eq!(
            (p.next, p.events.len()),
            (3, 1),
            "one oversized event still goes"
        );
    }
}
