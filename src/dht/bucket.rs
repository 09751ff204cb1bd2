//! One k-bucket and what the routing table knows of each contact in it:
//! when it last answered and how often it has failed since (lbry-sdk's
//! `KBucket` and `PeerManager.peer_is_good`, docs/protocol.md §4.5).
//!
//! Health is derived, never stored: from `last_seen`, the failure count and
//! the `now` the caller passes. The table (`routing.rs`) decides what to do
//! with it: bad contacts are not handed out, evicted contacts are removed.
//! Also here: the bit arithmetic on distances that bucket ranges need. Pure.

use std::time::{Duration, Instant};

use super::routing::Distance;
use super::{Contact, CHECK_REFRESH_INTERVAL, STALE_CONTACT_AGE};

/// Failures since its last answer after which a contact counts as bad. One,
/// as in lbry-sdk's `PeerManager.peer_is_good`: a failure newer than the
/// last reply makes a peer bad until it answers again.
pub(super) const BAD_AFTER_FAILURES: u32 = 1;
/// Failures in a row after which a contact leaves the table. lbry-sdk
/// drops a peer once a failure is newer than its last reply, and keeps two
/// failure times to judge a peer that never replied; one timeout (a lost
/// datagram, a busy peer) must not cost a node its only contact, so a bad
/// contact here stays, is asked again by the refresh and rejoin passes and
/// by lookups that have nobody better, and leaves at its third failure.
pub const EVICT_AFTER_FAILURES: u32 = 3;

/// How much we trust a contact, lbry-sdk's good / unknown / bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Heard from within `CHECK_REFRESH_INTERVAL` and no failure since.
    Good,
    Unknown,
    /// Failed since it last answered.
    Bad,
}

/// One contact and what we know of it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub(super) contact: Contact,
    pub(super) last_seen: Instant,
    pub(super) failures: u32,
}

impl Entry {
    pub fn contact(&self) -> &Contact {
        &self.contact
    }
    pub fn last_seen(&self) -> Instant {
        self.last_seen
    }
    /// Failed requests since we last heard from it.
    pub fn failures(&self) -> u32 {
        self.failures
    }
    pub fn health(&self, now: Instant) -> Health {
        if self.is_bad() {
            Health::Bad
        } else if self.failures == 0 && age(now, self.last_seen) <= CHECK_REFRESH_INTERVAL {
            Health::Good
        } else {
            Health::Unknown
        }
    }
    pub(super) fn is_bad(&self) -> bool {
        self.failures >= BAD_AFTER_FAILURES
    }
}

/// The contacts whose distance from us starts with the `depth` bits of `range_min`.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub(super) range_min: Distance,
    pub(super) depth: u16,
    /// Least recently seen first.
    pub(super) entries: Vec<Entry>,
    pub(super) last_accessed: Instant,
}

impl Bucket {
    /// Smallest distance this bucket covers.
    pub fn range_min(&self) -> &Distance {
        &self.range_min
    }
    /// Prefix length: the bucket spans 2^(384 - depth) distances.
    pub fn depth(&self) -> u16 {
        self.depth
    }
    /// Least recently seen first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// When a contact in it was last added or heard from, or it was refreshed.
    pub fn last_accessed(&self) -> Instant {
        self.last_accessed
    }
    pub(super) fn covers(&self, d: &Distance) -> bool {
        prefix_eq(&self.range_min, d, self.depth)
    }
}

/// The first bad contact silent for `STALE_CONTACT_AGE`, else the first
/// unknown one silent that long, else the least recently seen. lbry-sdk takes
/// the first bad-or-unknown; asking about a bad one first evicts the dead
/// before the merely quiet. `entries` is never empty here: the bucket is full and
/// its capacity is at least 1.
pub(super) fn pick_stale(entries: &[Entry], now: Instant) -> Contact {
    let silent = |want: Health| {
        entries
            .iter()
            .find(move |e| e.health(now) == want && age(now, e.last_seen) > STALE_CONTACT_AGE)
    };
    silent(Health::Bad)
        .or_else(|| silent(Health::Unknown))
        .or_else(|| entries.iter().min_by_key(|e| e.last_seen))
        .map(|e| e.contact)
        .unwrap_or_else(|| unreachable!("a full bucket has entries"))
}

pub(super) fn age(now: Instant, then: Instant) -> Duration {
    now.saturating_duration_since(then)
}

pub(super) fn get_bit(d: &Distance, bit: u16) -> bool {
    d[usize::from(bit / 8)] & (0x80 >> (bit % 8)) != 0
}

pub(super) fn set_bit(d: &mut Distance, bit: u16) {
    d[usize::from(bit / 8)] |= 0x80 >> (bit % 8);
}

pub(super) fn clear_bit(d: &mut Distance, bit: u16) {
    d[usize::from(bit / 8)] &= !(0x80 >> (bit % 8));
}

fn prefix_eq(a: &Distance, b: &Distance, bits: u16) -> bool {
    let full = usize::from(bits / 8);
    let rem = bits % 8;
    if a[..full] != b[..full] {
        return false;
    }
    rem == 0 || (a[full] ^ b[full]) & (0xFFu8 << (8 - rem)) == 0
}
