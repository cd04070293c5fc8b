//! The open connections of one listener: admission at accept (the global cap and the
//! per-client cap), what each connection is doing (requests in flight, idle since when), and
//! eviction of the longest-idle connection when the global cap is reached.
//!
//! At the cap a new connection does not wait behind silent ones: an idle connection (no
//! request in flight; one that never completed a request has been idle since it was accepted)
//! is closed at once and the newcomer takes its place. The victim is an idle connection of the
//! client holding the most connections, the one of those idle the longest: a flood of new
//! connections from a few addresses then evicts its own, not the few connections of the
//! identity provider (pure least-recently-used eviction would let a fast enough flood close
//! every connection before it sends its first request). Only when every connection has a
//! request in flight does accepting pause, until one finishes or closes. Choosing a victim
//! walks the table, which happens only at the cap.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The key of the per-client limit: the IPv4 address, or the /64 of an IPv6 address (one
/// subscriber or host usually holds a whole /64, so a per-address limit would not bind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of a peer address.
    pub fn of(ip: IpAddr) -> Self {
        Self(crate::client_addr::key(ip))
    }
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its client already holds `OP_MAX_CONNECTIONS_PER_CLIENT` connections.
    PerClient,
}

/// The outcome of [`Registry::admit`].
pub enum Admission {
    /// Admitted; `evicted` idle connections were closed to make room.
    Admitted {
        /// The new connection's handle (deregisters on drop).
        conn: Conn,
        /// How many idle connections were closed for it.
        evicted: usize,
    },
    /// Refused; close the socket.
    Refused(Refusal),
    /// At the cap with every connection busy: wait for [`Registry::changed`] and retry.
    Full,
}

/// What one connection is doing, shared by its task, its service and the registry.
#[derive(Debug)]
pub struct ConnState {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `epoch` when the last request finished (or the connection opened).
    idle_since: AtomicU64,
    close: CancellationToken,
    evicted: AtomicBool,
    changed: Arc<Notify>,
}

impl ConnState {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Marks a request as started; the returned guard marks it finished when dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }

    /// Requests started and not yet finished (their response bodies not yet dropped).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// When the connection last became idle, or `None` while a request is in flight.
    pub fn idle_since(&self) -> Option<Instant> {
        if self.in_flight() > 0 {
            return None;
        }
        let ms = self.idle_since.load(Ordering::Acquire);
        Some(self.epoch + Duration::from_millis(ms))
    }

    /// Fires when the registry closes this connection (eviction).
    pub fn closed(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.close.cancelled()
    }

    /// Whether this connection was evicted to make room for another.
    pub fn was_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }
}

/// A request in flight on a connection; dropping it (with the response body) ends it.
#[derive(Debug)]
pub struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let state = &self.0;
        state.idle_since.store(state.now_ms(), Ordering::Release);
        if state.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            // An idle connection may be evicted by a waiting accept loop.
            state.changed.notify_waiters();
        }
    }
}

struct Entry {
    key: ClientKey,
    state: Arc<ConnState>,
}

#[derive(Default)]
struct Table {
    conns: HashMap<u64, Entry>,
    per_client: HashMap<ClientKey, usize>,
    next_id: u64,
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.conns.remove(&id)?;
        if let Some(n) = self.per_client.get_mut(&entry.key) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&entry.key);
            }
        }
        Some(entry)
    }
}

/// The connection table of one listener.
pub struct Registry {
    epoch: Instant,
    max: usize,
    max_per_client: usize,
    table: Mutex<Table>,
    changed: Arc<Notify>,
}

/// One connection as eviction sees it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    /// The connection.
    pub id: u64,
    /// Idle since when; `None` while a request is in flight (never evicted).
    pub idle_since: Option<Instant>,
    /// How many connections its client holds.
    pub client_conns: usize,
}

/// Picks the connection to evict: an idle one of the client holding the most connections,
/// of those the one idle the longest, ties to the lowest id (the oldest). `None` when every
/// connection has a request in flight.
pub fn victim(conns: impl IntoIterator<Item = Candidate>) -> Option<u64> {
    conns
        .into_iter()
        .filter_map(|c| {
            c.idle_since
                .map(|since| (std::cmp::Reverse(c.client_conns), since, c.id))
        })
        .min()
        .map(|(_, _, id)| id)
}

impl Registry {
    /// A table admitting at most `max` connections, `max_per_client` from one client.
    pub fn new(max: usize, max_per_client: usize) -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            max: max.max(1),
            max_per_client: max_per_client.max(1),
            table: Mutex::new(Table::default()),
            changed: Arc::new(Notify::new()),
        })
    }

    /// Connections registered now.
    pub fn len(&self) -> usize {
        self.lock().conns.len()
    }

    /// True when no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a connection from `peer`, evicting the longest-idle connection when at the cap.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Admission {
        let key = ClientKey::of(peer);
        let mut table = self.lock();
        if table.per_client.get(&key).copied().unwrap_or(0) >= self.max_per_client {
            return Admission::Refused(Refusal::PerClient);
        }
        let mut evicted = 0;
        while table.conns.len() >= self.max {
            let candidates = table.conns.iter().map(|(id, e)| Candidate {
                id: *id,
                idle_since: e.state.idle_since(),
                client_conns: table.per_client.get(&e.key).copied().unwrap_or(0),
            });
            let Some(id) = victim(candidates) else {
                return Admission::Full;
            };
            if let Some(entry) = table.remove(id) {
                entry.state.evicted.store(true, Ordering::Release);
                entry.state.close.cancel();
                evicted += 1;
            }
        }
        let state = Arc::new(ConnState {
            epoch: self.epoch,
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            close: CancellationToken::new(),
            evicted: AtomicBool::new(false),
            changed: Arc::clone(&self.changed),
        });
        state.idle_since.store(state.now_ms(), Ordering::Release);
        let id = table.next_id;
        table.next_id += 1;
        table.conns.insert(
            id,
            Entry {
                key,
                state: Arc::clone(&state),
            },
        );
        *table.per_client.entry(key).or_insert(0) += 1;
        Admission::Admitted {
            conn: Conn {
                id,
                state,
                registry: Arc::clone(self),
            },
            evicted,
        }
    }

    /// Fires when a connection closes or becomes idle (room may have appeared).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    /// Waits until no connection is registered.
    pub async fn drained(&self) {
        loop {
            let notified = self.changed();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_empty() {
                return;
            }
            notified.await;
        }
    }
}

/// A registered connection; dropping it frees its place.
pub struct Conn {
    id: u64,
    state: Arc<ConnState>,
    registry: Arc<Registry>,
}

impl Conn {
    /// The connection's shared state.
    pub fn state(&self) -> &Arc<ConnState> {
        &self.state
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Evicted entries are gone already.
        self.registry.lock().remove(self.id);
        self.registry.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_victim_is_the_heaviest_clients_longest_idle_and_busy_ones_are_spared() {
        let t = Instant::now();
        let s = Duration::from_secs;
        let c = |id, idle_since, client_conns| Candidate {
            id,
            idle_since,
            client_conns,
        };
        assert_eq!(
            victim([
                c(1, Some(t + s(5)), 1),
                c(2, None, 1),
                c(3, Some(t + s(1)), 1)
            ]),
            Some(3)
        );
        assert_eq!(victim([c(7, Some(t), 1), c(4, Some(t), 1)]), Some(4));
        assert_eq!(victim([c(1, None, 1), c(2, None, 1)]), None);
        // The flooding client loses its own newest idle connection before the idle
        // provider's older one.
        assert_eq!(
            victim([c(1, Some(t), 2), c(2, Some(t + s(9)), 90), c(3, None, 90)]),
            Some(2)
        );
    }

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let registry = Registry::new(2, 10);
        let admit = |peer: &str| match registry.admit(ip(peer)) {
            Admission::Admitted { conn, evicted } => (conn, evicted),
            _ => panic!("not admitted"),
        };
        let (first, _) = admit("127.0.0.2");
        let (second, _) = admit("127.0.0.2");
        let busy = second.state().begin();
        let (third, evicted) = admit("127.0.0.1");
        assert_eq!(evicted, 1);
        assert!(first.state().was_evicted() && first.state().close.is_cancelled());
        assert!(!second.state().was_evicted());
        assert_eq!(registry.len(), 2);
        // Everyone busy: the next must wait.
        let _busy3 = third.state().begin();
        assert!(matches!(registry.admit(ip("127.0.0.3")), Admission::Full));
        drop(busy);
        assert!(second.state().idle_since().is_some());
        let fourth = registry.admit(ip("127.0.0.3"));
        assert!(matches!(fourth, Admission::Admitted { evicted: 1, .. }));
        assert!(second.state().was_evicted());
        // The evicted handle's drop does not remove anyone else.
        drop(first);
        assert_eq!(registry.len(), 2);
    }

    #[test]
    fn one_client_is_capped_and_its_closed_connections_free_places() {
        let registry = Registry::new(100, 2);
        let a = registry.admit(ip("127.0.0.2"));
        let _b = registry.admit(ip("127.0.0.2"));
        assert!(matches!(
            registry.admit(ip("127.0.0.2")),
            Admission::Refused(Refusal::PerClient)
        ));
        assert!(matches!(
            registry.admit(ip("127.0.0.3")),
            Admission::Admitted { .. }
        ));
        drop(a);
        assert!(matches!(
            registry.admit(ip("127.0.0.2")),
            Admission::Admitted { .. }
        ));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2:aaaa::1")),
            ClientKey::of(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            ClientKey::of(ip("2001:db8:1:2::1")),
            ClientKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            ClientKey::of(ip("::ffff:192.0.2.1")),
            ClientKey::of(ip("192.0.2.1"))
        );
    }
}
