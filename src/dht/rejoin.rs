//! When a node goes looking for more of the network on its own: the pure
//! decisions of the join watchdog (`maintain.rs` runs it every second).
//!
//! A node whose routing table holds no live contact (empty, or every contact
//! failed since it last answered) is blind: lookups have nobody to ask. It
//! rejoins at once through its bootstrap nodes, its saved contacts and the
//! contacts that failed, and retries with exponential backoff while nobody
//! answers, so a node cut off from the network finds it again within seconds
//! of a contact coming back, without flooding anyone while it is alone.
//! (lbry-sdk's `join_network` loop checks every second and rejoins whenever
//! the table is empty.)
//!
//! A table with live contacts but fewer than K of them is young: a small or
//! new network whose members may not all know each other yet. It looks up
//! its own id, at once and then with backoff up to the refresh period, so
//! the members learn of each other in seconds rather than at the next hourly
//! refresh. Pure: the caller passes `now`.

use std::time::{Duration, Instant};

/// Exponential backoff between attempts: `first`, doubling, at most `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    delay: Duration,
    next: Option<Instant>,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        let max = max.max(first);
        Self {
            first,
            max,
            delay: first,
            next: None,
        }
    }

    /// Whether an attempt may start now.
    pub fn due(&self, now: Instant) -> bool {
        self.next.is_none_or(|t| now >= t)
    }

    /// An attempt started at `now`: the next one waits the current delay,
    /// and the delay after it doubles.
    pub fn tried(&mut self, now: Instant) {
        self.next = Some(now + self.delay);
        self.delay = (self.delay * 2).min(self.max);
    }

    /// Back to the first delay, due at once.
    pub fn reset(&mut self) {
        self.delay = self.first;
        self.next = None;
    }
}

/// What the watchdog does on this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do.
    Wait,
    /// No live contact: ping every seed and failed contact, then look up our id.
    Rejoin,
    /// Few live contacts: look up our own id to meet more.
    Grow,
}

/// The watchdog's state: one backoff per kind of attempt.
#[derive(Debug, Clone)]
pub struct Watch {
    k: usize,
    rejoin: Backoff,
    grow: Backoff,
}

/// First retry of either attempt.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);

impl Watch {
    /// `rejoin_max` bounds the delay between rejoins, `grow_max` that
    /// between the lookups of a young table.
    pub fn new(k: usize, rejoin_max: Duration, grow_max: Duration) -> Self {
        Self {
            k,
            rejoin: Backoff::new(FIRST_RETRY, rejoin_max),
            grow: Backoff::new(FIRST_RETRY, grow_max),
        }
    }

    /// Decides this tick, given the live contacts (not bad) in the table and
    /// whether there is anyone to rejoin through. The attempt is counted as
    /// started.
    pub fn tick(&mut self, live: usize, can_rejoin: bool, now: Instant) -> Action {
        if live == 0 {
            // Once back, a table starts young again.
            self.grow.reset();
            if can_rejoin && self.rejoin.due(now) {
                self.rejoin.tried(now);
                return Action::Rejoin;
            }
            return Action::Wait;
        }
        self.rejoin.reset();
        if live < self.k && self.grow.due(now) {
            self.grow.tried(now);
            return Action::Grow;
        }
        Action::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_blind_node_rejoins_at_once_then_backs_off_to_the_cap() {
        let t0 = Instant::now();
        let mut w = Watch::new(8, 8 * S, 720 * S);
        let mut attempts = Vec::new();
        for s in 0..40 {
            if w.tick(0, true, t0 + s * S) == Action::Rejoin {
                attempts.push(s);
            }
        }
        assert_eq!(attempts, vec![0, 1, 3, 7, 15, 23, 31, 39]);
    }

    #[test]
    fn contacts_back_reset_the_rejoin_backoff() {
        let t0 = Instant::now();
        let mut w = Watch::new(8, 60 * S, 720 * S);
        for s in 0..100 {
            w.tick(0, true, t0 + s * S);
        }
        assert_eq!(w.tick(8, true, t0 + 100 * S), Action::Wait);
        assert_eq!(w.tick(0, true, t0 + 101 * S), Action::Rejoin);
    }

    #[test]
    fn nobody_to_rejoin_through_means_no_attempt() {
        let mut w = Watch::new(8, 60 * S, 720 * S);
        assert_eq!(w.tick(0, false, Instant::now()), Action::Wait);
    }

    #[test]
    fn a_young_table_looks_for_more_with_backoff_a_full_one_does_not() {
        let t0 = Instant::now();
        let mut w = Watch::new(8, 60 * S, 4 * S);
        let grows: Vec<u32> = (0..20)
            .filter(|&s| w.tick(2, true, t0 + s * S) == Action::Grow)
            .collect();
        assert_eq!(grows, vec![0, 1, 3, 7, 11, 15, 19]);
        let mut full = Watch::new(8, 60 * S, 4 * S);
        assert_eq!(full.tick(8, true, t0), Action::Wait);
    }
}
