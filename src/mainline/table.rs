//! The routing table: Kademlia k-buckets of [`K`] nodes, indexed by the
//! length of the prefix a node's id shares with ours (160 buckets, no
//! splitting). A node enters when it answers us or asks us; a node that
//! fails three times in a row leaves; a full bucket takes a newcomer only in
//! place of a node that has failed. PURE: the caller passes `now`.

use super::{distance, K};
use crate::wire::krpc::Id20;
use std::net::SocketAddrV4;
use std::time::Instant;

/// Failures in a row after which a node is dropped.
const MAX_FAILS: u8 = 3;

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: Id20,
    pub addr: SocketAddrV4,
    pub last_seen: Instant,
    fails: u8,
}

#[derive(Debug)]
pub struct Table {
    own: Id20,
    buckets: Vec<Vec<Entry>>,
}

impl Table {
    pub fn new(own: Id20) -> Self {
        Self {
            own,
            buckets: vec![Vec::new(); 160],
        }
    }

    fn bucket(&self, id: &Id20) -> Option<usize> {
        let d = distance(&self.own, id);
        let zeros: u32 = d
            .iter()
            .position(|b| *b != 0)
            .map(|i| i as u32 * 8 + d[i].leading_zeros())?;
        Some(zeros as usize)
    }

    /// `id` at `addr` answered or asked at `now`.
    pub fn seen(&mut self, id: Id20, addr: SocketAddrV4, now: Instant) {
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return;
        }
        let Some(b) = self.bucket(&id) else { return };
        let bucket = &mut self.buckets[b];
        if let Some(e) = bucket.iter_mut().find(|e| e.id == id) {
            e.addr = addr;
            e.last_seen = now;
            e.fails = 0;
            return;
        }
        let entry = Entry {
            id,
            addr,
            last_seen: now,
            fails: 0,
        };
        if bucket.len() < K {
            bucket.push(entry);
        } else if let Some(worst) = bucket
            .iter_mut()
            .filter(|e| e.fails > 0)
            .max_by_key(|e| e.fails)
        {
            *worst = entry;
        }
    }

    /// `id` did not answer a query.
    pub fn failed(&mut self, id: &Id20) {
        let Some(b) = self.bucket(id) else { return };
        let bucket = &mut self.buckets[b];
        if let Some(i) = bucket.iter().position(|e| &e.id == id) {
            bucket[i].fails += 1;
            if bucket[i].fails >= MAX_FAILS {
                bucket.remove(i);
            }
        }
    }

    /// The `n` known nodes closest to `target`, closest first.
    pub fn closest(&self, target: &Id20, n: usize) -> Vec<(Id20, SocketAddrV4)> {
        let mut all: Vec<_> = self.entries().map(|e| (e.id, e.addr)).collect();
        all.sort_by_key(|(id, _)| distance(id, target));
        all.truncate(n);
        all
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(p: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, p)
    }

    fn id_with_prefix(first: u8, n: u8) -> Id20 {
        let mut id = [0u8; 20];
        id[0] = first;
        id[19] = n;
        id
    }

    #[test]
    fn a_full_bucket_keeps_its_live_nodes_and_replaces_a_failing_one() {
        let now = Instant::now();
        let mut t = Table::new([0u8; 20]);
        for n in 0..K as u8 + 4 {
            t.seen(id_with_prefix(0x80, n), addr(1000 + u16::from(n)), now);
        }
        assert_eq!(t.len(), K, "bucket 0 holds K nodes, the rest are refused");
        t.failed(&id_with_prefix(0x80, 3));
        t.seen(id_with_prefix(0x80, 200), addr(9), now);
        assert_eq!(t.len(), K);
        let ids: Vec<_> = t.entries().map(|e| e.id).collect();
        assert!(ids.contains(&id_with_prefix(0x80, 200)));
        assert!(!ids.contains(&id_with_prefix(0x80, 3)));
    }

    #[test]
    fn three_failures_in_a_row_drop_a_node_and_an_answer_forgives() {
        let now = Instant::now();
        let mut t = Table::new([0u8; 20]);
        let id = id_with_prefix(0x40, 1);
        t.seen(id, addr(1), now);
        t.failed(&id);
        t.failed(&id);
        t.seen(id, addr(1), now);
        t.failed(&id);
        t.failed(&id);
        assert_eq!(t.len(), 1);
        t.failed(&id);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn closest_sorts_by_xor_distance_and_ignores_our_own_id_and_port_zero() {
        let now = Instant::now();
        let mut t = Table::new([0u8; 20]);
        t.seen([0u8; 20], addr(1), now);
        t.seen(id_with_prefix(0x01, 0), addr(0), now);
        for (i, first) in [0x80u8, 0x40, 0x20, 0x10].into_iter().enumerate() {
            t.seen(id_with_prefix(first, 0), addr(10 + i as u16), now);
        }
        let got: Vec<u8> = t
            .closest(&id_with_prefix(0x20, 0), 3)
            .iter()
            .map(|(id, _)| id[0])
            .collect();
        assert_eq!(got, vec![0x20, 0x10, 0x40]);
    }
}
