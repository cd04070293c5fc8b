//! The throttle on failed bearer checks, per client address.
//!
//! Each address gets a fixed window that opens with its first failure. Within it the first
//! `limit` failures are answered as usual (401); further failures are [`Verdict::Throttled`]
//! (the caller answers 429 with `Retry-After`) until the window closes. Successful checks are
//! never throttled and never counted: identity providers share egress addresses, and one
//! tenant's stale token must not stop another's provisioning.
//!
//! IPv6 clients are keyed by their /64 (a host usually holds a whole /64, so per-address keys
//! would give it 2^64 fresh budgets); IPv4-mapped IPv6 addresses count as IPv4.
//!
//! Memory is bounded: at most `capacity` addresses are tracked. Windows are queued in the order
//! they opened, so expired ones are dropped from the front as time passes, and when the table is
//! full the oldest window is evicted for a new address. An attacker with many addresses can
//! thus evict an entry, never grow the table. Every method takes the time as an argument, so
//! tests drive the clock.

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How many client addresses are tracked at most by default (about 100 bytes each).
pub const DEFAULT_CAPACITY: usize = 10_000;

/// What to do with a failed bearer check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Answer it as usual (401); it was counted.
    Counted,
    /// The address is over its limit: answer 429, retry after this long.
    Throttled {
        /// Until the address's window closes (at least one second).
        retry_after: Duration,
    },
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    opened: Instant,
    failures: u32,
}

#[derive(Debug, Default)]
struct Table {
    slots: HashMap<IpAddr, Slot>,
    /// Windows in the order they opened; an item whose `opened` no longer matches its slot's is
    /// stale (the slot was evicted or reopened) and skipped.
    opened: VecDeque<(IpAddr, Instant)>,
}

/// Failed bearer checks per client address within a window; see the module documentation.
#[derive(Debug)]
pub struct FailureThrottle {
    limit: u32,
    window: Duration,
    capacity: usize,
    table: Mutex<Table>,
}

impl FailureThrottle {
    /// A throttle allowing `limit` failures per `window` (0 turns it off), tracking at most
    /// `capacity` addresses.
    pub fn new(limit: u32, window: Duration, capacity: usize) -> Self {
        Self {
            limit,
            window,
            capacity: capacity.max(1),
            table: Mutex::new(Table::default()),
        }
    }

    /// Records a failed bearer check from `addr` at `now` and says how to answer it.
    pub fn fail(&self, addr: IpAddr, now: Instant) -> Verdict {
        if self.limit == 0 {
            return Verdict::Counted;
        }
        let addr = crate::client_addr::key(addr);
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        self.expire(&mut table, now);
        if let Some(slot) = table.slots.get_mut(&addr) {
            let closes = slot.opened + self.window;
            if now < closes {
                if slot.failures >= self.limit {
                    let left = closes - now;
                    // Whole seconds for Retry-After, rounded up so a retry lands after the close.
                    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                    return Verdict::Throttled {
                        retry_after: Duration::from_secs(secs.max(1)),
                    };
                }
                slot.failures += 1;
                return Verdict::Counted;
            }
            // The window closed but its queue item was not reached yet: reopen it below.
            table.slots.remove(&addr);
        }
        while table.slots.len() >= self.capacity {
            if !Self::evict_oldest(&mut table) {
                break;
            }
        }
        table.slots.insert(
            addr,
            Slot {
                opened: now,
                failures: 1,
            },
        );
        table.opened.push_back((addr, now));
        if table.opened.len() > 2 * self.capacity {
            Self::compact(&mut table);
        }
        Verdict::Counted
    }

    /// How many addresses are tracked now.
    pub fn tracked(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .slots
            .len()
    }

    /// Drops the windows that have closed by `now`, oldest first.
    fn expire(&self, table: &mut Table, now: Instant) {
        while let Some(&(addr, opened)) = table.opened.front() {
            let current = table.slots.get(&addr).is_some_and(|s| s.opened == opened);
            if current && now < opened + self.window {
                break;
            }
            table.opened.pop_front();
            if current {
                table.slots.remove(&addr);
            }
        }
    }

    /// Removes the slot whose window opened first; false when there is none.
    fn evict_oldest(table: &mut Table) -> bool {
        while let Some((addr, opened)) = table.opened.pop_front() {
            if table.slots.get(&addr).is_some_and(|s| s.opened == opened) {
                table.slots.remove(&addr);
                return true;
            }
        }
        false
    }

    /// Rebuilds the queue from the live slots (drops stale items).
    fn compact(table: &mut Table) {
        let mut live: Vec<(IpAddr, Instant)> =
            table.slots.iter().map(|(a, s)| (*a, s.opened)).collect();
        live.sort_by_key(|(_, opened)| *opened);
        table.opened = live.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_limit_is_per_address_and_the_window_reopens() {
        let t = FailureThrottle::new(3, MIN, 100);
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(
                t.fail(ip("10.0.0.1"), start + Duration::from_secs(i)),
                Verdict::Counted
            );
        }
        assert_eq!(
            t.fail(ip("10.0.0.1"), start + Duration::from_millis(10_500)),
            Verdict::Throttled {
                retry_after: Duration::from_secs(50)
            },
            "rounded up to whole seconds"
        );
        // Throttled failures do not extend the window.
        assert_eq!(
            t.fail(ip("10.0.0.1"), start + Duration::from_millis(59_900)),
            Verdict::Throttled {
                retry_after: Duration::from_secs(1)
            }
        );
        // Another address is not affected.
        assert_eq!(
            t.fail(ip("10.0.0.2"), start + Duration::from_secs(30)),
            Verdict::Counted
        );
        // After the window a new one opens.
        assert_eq!(t.fail(ip("10.0.0.1"), start + MIN), Verdict::Counted);
    }

    #[test]
    fn zero_turns_it_off() {
        let t = FailureThrottle::new(0, MIN, 10);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(t.fail(ip("10.0.0.1"), now), Verdict::Counted);
        }
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        let t = FailureThrottle::new(2, MIN, 10);
        let now = Instant::now();
        assert_eq!(t.fail(ip("2001:db8::1"), now), Verdict::Counted);
        assert_eq!(t.fail(ip("2001:db8::2"), now), Verdict::Counted);
        assert!(matches!(
            t.fail(ip("2001:db8::ffff:3"), now),
            Verdict::Throttled { .. }
        ));
        assert_eq!(t.fail(ip("2001:db8:0:1::1"), now), Verdict::Counted);
    }

    #[test]
    fn the_table_is_bounded_and_evicts_the_oldest_window() {
        let t = FailureThrottle::new(1, MIN, 100);
        let start = Instant::now();
        let first = ip("192.0.2.1");
        t.fail(first, start);
        assert!(matches!(t.fail(first, start), Verdict::Throttled { .. }));
        // 10,000 other addresses, each failing once, within the window.
        for i in 0..10_000u32 {
            let addr = IpAddr::V4((0x0a00_0000 + i).into());
            t.fail(addr, start + Duration::from_millis(u64::from(i)));
            assert!(t.tracked() <= 100);
        }
        let table = t.table.lock().unwrap();
        assert!(table.opened.len() <= 200, "{}", table.opened.len());
        drop(table);
        // The first address was the oldest and was evicted: it starts afresh.
        assert_eq!(
            t.fail(first, start + Duration::from_secs(11)),
            Verdict::Counted
        );
    }

    #[test]
    fn closed_windows_are_dropped_as_time_passes() {
        let t = FailureThrottle::new(5, MIN, 1000);
        let start = Instant::now();
        for i in 0..50u32 {
            t.fail(IpAddr::V4((0x0a00_0000 + i).into()), start);
        }
        assert_eq!(t.tracked(), 50);
        t.fail(ip("192.0.2.1"), start + MIN);
        assert_eq!(t.tracked(), 1);
    }

    #[test]
    fn a_reopened_window_leaves_no_stale_eviction() {
        let t = FailureThrottle::new(1, MIN, 2);
        let start = Instant::now();
        let (a, b, c) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3"));
        t.fail(a, start);
        t.fail(b, start + Duration::from_secs(30));
        // a's window closes and reopens at 61 s (its old queue item is now stale).
        t.fail(a, start + Duration::from_secs(61));
        assert!(matches!(
            t.fail(a, start + Duration::from_secs(62)),
            Verdict::Throttled { .. }
        ));
        // The table is full (a, b): c evicts b, the oldest live window, not a.
        t.fail(c, start + Duration::from_secs(63));
        assert!(matches!(
            t.fail(a, start + Duration::from_secs(64)),
            Verdict::Throttled { .. }
        ));
        assert_eq!(t.tracked(), 2);
    }
}
