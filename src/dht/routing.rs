//! The k-bucket routing table (lbry-sdk's `TreeRoutingTable`, docs/protocol.md §4.5).
//!
//! Buckets are ranges of XOR distance from our own id. The table starts as one
//! bucket covering every distance; a full bucket splits in half when its index
//! is below `split_buckets_under_index` or when the newcomer is closer to us
//! than our K-th closest contact. A full bucket that may not split names a
//! stale contact for the caller to ping: a bad, else an unknown, contact
//! silent for `STALE_CONTACT_AGE`, else the least recently seen one. The caller
//! pings it and either observes it again (it stays, the newcomer is dropped,
//! as in Kademlia: old contacts are worth more) or calls `replace`.
//!
//! Dead contacts leave in two steps. A contact that failed since it last
//! answered is bad (lbry-sdk's rule): `closest` no longer hands it out, so
//! neither our lookups nor other nodes' waste a timeout on it (unless nothing
//! live is left: `closest_or_bad`), and eviction asks about it first. At `EVICT_AFTER_FAILURES` failures in a row it is
//! removed, freeing its slot for a live node without a ping. Any answer in
//! between clears the count. Failures come from every request we send, so the
//! refresh loop pings contacts that are not good to find the dead among them.
//!
//! One host must not fill the table: at most `max_per_ip` contacts (default 2)
//! may share an IP address, counted across the whole table, so a host
//! cannot crowd us out with many node ids on many ports, yet two nodes behind
//! one NAT address still fit.
//!
//! Pure: every method that needs the time takes `now`, and refresh targets take
//! the random generator. Contacts' address validity (docs/protocol.md §4.4)
//! is the node's address policy (`policy.rs`), applied before contacts get here. The buckets and
//! their entries' health are in `bucket.rs`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::Rng;

use super::bucket::{age, clear_bit, get_bit, pick_stale, set_bit};
pub use super::bucket::{Bucket, Entry, Health, EVICT_AFTER_FAILURES};
use super::{Contact, HASH_LENGTH, K, REFRESH_INTERVAL, SPLIT_BUCKETS_UNDER_INDEX};
use crate::hash::NodeId;

/// XOR distance, comparable as a big-endian number.
pub type Distance = [u8; HASH_LENGTH];

const BITS: u16 = (HASH_LENGTH * 8) as u16;

/// Tunables; `Default` is lbry-sdk's constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingConfig {
    /// Bucket capacity.
    pub k: usize,
    /// Full buckets with an index below this always split.
    pub split_buckets_under_index: usize,
    /// Contacts allowed per IP address, table-wide.
    pub max_per_ip: usize,
    /// A bucket untouched this long is due for a refresh lookup.
    pub refresh_interval: Duration,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            k: K,
            split_buckets_under_index: SPLIT_BUCKETS_UNDER_INDEX,
            max_per_ip: 2,
            refresh_interval: REFRESH_INTERVAL,
        }
    }
}

/// Why a contact was not taken into the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("refusing our own node id")]
    OwnId,
    #[error("already {limit} contacts at {ip}")]
    IpLimit { ip: IpAddr, limit: usize },
    #[error("no contact {0:?} in the routing table")]
    UnknownContact(NodeId),
}

/// What `failed` did with a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Still in the table, but bad: `failures` in a row so far.
    Bad { failures: u32 },
    /// Removed from the table.
    Evicted(Contact),
}

/// What `observe` did with a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// A new contact in a bucket with room.
    Added,
    /// Already known: last seen refreshed, failures cleared.
    Updated,
    /// Added; the old id at the same ip:port was dropped.
    ReplacedAddress { old: Contact },
    /// The bucket is full and may not split. Ping `stale`: if it answers,
    /// observe it again; if not, `replace(&stale.id, newcomer, now)`.
    BucketFull { stale: Contact },
}

/// Our view of the network: k-buckets of contacts around our own id.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    own: NodeId,
    config: RoutingConfig,
    /// Sorted by `range_min`; together they cover every distance exactly once.
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    /// An empty table around `own`. A bucket capacity of 0 is taken as 1.
    pub fn new(own: NodeId, mut config: RoutingConfig, now: Instant) -> Self {
        config.k = config.k.max(1);
        let first = Bucket {
            range_min: [0; HASH_LENGTH],
            depth: 0,
            entries: Vec::new(),
            last_accessed: now,
        };
        Self {
            own,
            config,
            buckets: vec![first],
        }
    }

    pub fn own_id(&self) -> &NodeId {
        &self.own
    }
    pub fn config(&self) -> &RoutingConfig {
        &self.config
    }
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }
    pub fn len(&self) -> usize {
        self.buckets.iter().map(Bucket::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(Bucket::is_empty)
    }
    pub fn get(&self, id: &NodeId) -> Option<&Entry> {
        let b = &self.buckets[self.bucket_index(&self.own.distance(id))];
        b.entries.iter().find(|e| e.contact.id == *id)
    }
    pub fn contains(&self, id: &NodeId) -> bool {
        self.get(id).is_some()
    }

    /// We heard from `contact` (it answered us, or answered our ping-back).
    pub fn observe(&mut self, contact: Contact, now: Instant) -> Result<Observed, RoutingError> {
        if contact.id == self.own {
            return Err(RoutingError::OwnId);
        }
        let dist = self.own.distance(&contact.id);
        let idx = self.bucket_index(&dist);
        let bucket = &mut self.buckets[idx];
        if let Some(pos) = bucket
            .entries
            .iter()
            .position(|e| e.contact.id == contact.id)
        {
            let mut entry = bucket.entries.remove(pos);
            entry.contact.addr = contact.addr;
            entry.last_seen = now;
            entry.failures = 0;
            bucket.entries.push(entry);
            bucket.last_accessed = now;
            return Ok(Observed::Updated);
        }
        let old = self.find_by_addr(&contact);
        if old.is_none() {
            let ip = contact.addr.ip();
            let at_ip = self.entries().filter(|e| e.contact.addr.ip() == ip).count();
            if at_ip >= self.config.max_per_ip {
                return Err(RoutingError::IpLimit {
                    ip,
                    limit: self.config.max_per_ip,
                });
            }
        }
        if let Some(old) = old {
            self.remove(&old.id);
        }
        let outcome = self.insert(contact, dist, now);
        Ok(match (outcome, old) {
            (Observed::Added, Some(old)) => Observed::ReplacedAddress { old },
            (outcome, _) => outcome,
        })
    }

    /// A request to `id` went unanswered (or was refused). The contact is
    /// now bad: no longer handed out by `closest`, and the first eviction
    /// candidate once silent for `STALE_CONTACT_AGE`. At
    /// `EVICT_AFTER_FAILURES` failures in a row it is removed.
    pub fn failed(&mut self, id: &NodeId) -> Result<Failure, RoutingError> {
        let idx = self.bucket_index(&self.own.distance(id));
        let bucket = &mut self.buckets[idx];
        let pos = bucket
            .entries
            .iter()
            .position(|e| e.contact.id == *id)
            .ok_or(RoutingError::UnknownContact(*id))?;
        let entry = &mut bucket.entries[pos];
        entry.failures += 1;
        if entry.failures < EVICT_AFTER_FAILURES {
            return Ok(Failure::Bad {
                failures: entry.failures,
            });
        }
        Ok(Failure::Evicted(bucket.entries.remove(pos).contact))
    }

    /// The stale contact did not answer its ping: `new` takes its place.
    pub fn replace(
        &mut self,
        stale: &NodeId,
        new: Contact,
        now: Instant,
    ) -> Result<Observed, RoutingError> {
        self.remove(stale);
        self.observe(new, now)
    }

    pub fn remove(&mut self, id: &NodeId) -> Option<Contact> {
        let idx = self.bucket_index(&self.own.distance(id));
        let bucket = &mut self.buckets[idx];
        let pos = bucket.entries.iter().position(|e| e.contact.id == *id)?;
        Some(bucket.entries.remove(pos).contact)
    }

    /// Up to `n` contacts closest to `key`, nearest first, without `exclude`
    /// and without bad contacts: handing out nodes that just failed us would
    /// fill other nodes' lookups with timeouts.
    pub fn closest(&self, key: &NodeId, n: usize, exclude: Option<&NodeId>) -> Vec<Contact> {
        let mut all: Vec<(Distance, Contact)> = self
            .entries()
            .filter(|e| Some(&e.contact.id) != exclude && !e.is_bad())
            .map(|e| (key.distance(&e.contact.id), e.contact))
            .collect();
        if all.len() > n && n > 0 {
            all.select_nth_unstable_by(n - 1, |a, b| a.0.cmp(&b.0));
        }
        all.truncate(n);
        all.sort_unstable_by_key(|a| a.0);
        all.into_iter().map(|(_, c)| c).collect()
    }

    /// Like [`closest`](Self::closest), but when no live contact is left,
    /// the closest bad ones: a lookup from a table whose contacts all failed
    /// once asks them again rather than nobody.
    pub fn closest_or_bad(&self, key: &NodeId, n: usize) -> Vec<Contact> {
        let live = self.closest(key, n, None);
        if !live.is_empty() {
            return live;
        }
        let mut bad = self.bad();
        bad.sort_unstable_by_key(|c| key.distance(&c.id));
        bad.truncate(n);
        bad
    }

    /// Contacts that are not bad.
    pub fn live_len(&self) -> usize {
        self.entries().filter(|e| !e.is_bad()).count()
    }

    /// Contacts that failed since they last answered.
    pub fn bad(&self) -> Vec<Contact> {
        self.entries()
            .filter(|e| e.is_bad())
            .map(|e| e.contact)
            .collect()
    }

    /// Contacts that are not good (silent for `CHECK_REFRESH_INTERVAL`, or
    /// failed since they last answered): the refresh loop pings them, so the
    /// live become good again and the dead collect failures until evicted.
    pub fn questionable(&self, now: Instant) -> Vec<Contact> {
        self.entries()
            .filter(|e| e.health(now) != Health::Good)
            .map(|e| e.contact)
            .collect()
    }

    /// Up to `n` contacts worth remembering across a restart: every contact
    /// that is not bad, most recently heard from first.
    pub fn snapshot(&self, n: usize) -> Vec<Contact> {
        let mut live: Vec<&Entry> = self.entries().filter(|e| !e.is_bad()).collect();
        live.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
        live.into_iter().take(n).map(|e| e.contact).collect()
    }

    /// Ids to look up now: one random id inside each bucket not accessed for
    /// `refresh_interval`, and one random id anywhere when three or fewer
    /// buckets hold contacts (a young table learns faster from far lookups).
    pub fn refresh_targets(&self, now: Instant, rng: &mut impl Rng) -> Vec<NodeId> {
        let mut out: Vec<NodeId> = self
            .buckets
            .iter()
            .filter(|b| age(now, b.last_accessed) >= self.config.refresh_interval)
            .map(|b| self.random_id_in(b, rng))
            .collect();
        if self.buckets.iter().filter(|b| !b.is_empty()).count() <= 3 {
            let mut bytes = [0u8; HASH_LENGTH];
            rng.fill(&mut bytes[..]);
            out.push(NodeId::from_bytes(bytes));
        }
        out
    }

    /// A lookup for `target` completed: its bucket counts as refreshed.
    pub fn refreshed(&mut self, target: &NodeId, now: Instant) {
        let idx = self.bucket_index(&self.own.distance(target));
        self.buckets[idx].last_accessed = now;
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.entries.iter())
    }

    fn bucket_index(&self, d: &Distance) -> usize {
        // The first bucket starts at distance 0, so at least one precedes `d`.
        self.buckets
            .partition_point(|b| b.range_min <= *d)
            .saturating_sub(1)
    }

    fn find_by_addr(&self, contact: &Contact) -> Option<Contact> {
        self.entries()
            .find(|e| e.contact.addr == contact.addr && e.contact.id != contact.id)
            .map(|e| e.contact)
    }

    fn insert(&mut self, contact: Contact, dist: Distance, now: Instant) -> Observed {
        loop {
            let idx = self.bucket_index(&dist);
            debug_assert!(self.buckets[idx].covers(&dist));
            if self.buckets[idx].len() < self.config.k {
                let bucket = &mut self.buckets[idx];
                bucket.entries.push(Entry {
                    contact,
                    last_seen: now,
                    failures: 0,
                });
                bucket.last_accessed = now;
                return Observed::Added;
            }
            if self.buckets[idx].depth < BITS && self.should_split(idx, &dist) {
                self.split(idx);
                continue;
            }
            let stale = pick_stale(&self.buckets[idx].entries, now);
            return Observed::BucketFull { stale };
        }
    }

    fn should_split(&self, idx: usize, dist: &Distance) -> bool {
        if idx < self.config.split_buckets_under_index {
            return true;
        }
        let mut ds: Vec<Distance> = self
            .entries()
            .map(|e| self.own.distance(&e.contact.id))
            .collect();
        ds.sort_unstable();
        match ds.get(self.config.k.saturating_sub(1)).or(ds.last()) {
            Some(kth) => dist < kth,
            None => true,
        }
    }

    /// Halves bucket `idx`: it keeps the lower range, the upper half follows it.
    fn split(&mut self, idx: usize) {
        let bucket = &mut self.buckets[idx];
        let bit = bucket.depth;
        bucket.depth += 1;
        let mut upper_min = bucket.range_min;
        set_bit(&mut upper_min, bit);
        let (stay, go): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut bucket.entries)
            .into_iter()
            .partition(|e| !get_bit(&self.own.distance(&e.contact.id), bit));
        bucket.entries = stay;
        let upper = Bucket {
            range_min: upper_min,
            depth: bucket.depth,
            entries: go,
            last_accessed: bucket.last_accessed,
        };
        self.buckets.insert(idx + 1, upper);
    }

    fn random_id_in(&self, bucket: &Bucket, rng: &mut impl Rng) -> NodeId {
        let mut d = [0u8; HASH_LENGTH];
        rng.fill(&mut d[..]);
        for bit in 0..bucket.depth {
            if get_bit(&bucket.range_min, bit) {
                set_bit(&mut d, bit);
            } else {
                clear_bit(&mut d, bit);
            }
        }
        let own = self.own.as_bytes();
        let mut id = [0u8; HASH_LENGTH];
        for i in 0..HASH_LENGTH {
            id[i] = own[i] ^ d[i];
        }
        NodeId::from_bytes(id)
    }
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
