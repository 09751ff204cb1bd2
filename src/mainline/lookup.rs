//! The iterative lookup (BEP 5): ask the closest nodes we know for closer
//! ones, [`ALPHA`] at a time, until the [`K`] closest have all been asked.
//! `get_peers` lookups also gather peers and each answerer's token.
//!
//! The shortlist is a pure state machine; `run` is the driver that sends.
//! Bounded: at most [`MAX_CANDIDATES`] candidates, [`MAX_QUERIES`] queries
//! and [`MAX_PEERS`] peers per lookup.

use super::node::Node;
use super::{distance, K};
use crate::wire::krpc::{Id20, Query};
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

pub const ALPHA: usize = 4;
pub const MAX_CANDIDATES: usize = 256;
pub const MAX_QUERIES: usize = 200;
pub const MAX_PEERS: usize = 1000;

/// A node that answered a lookup.
#[derive(Debug, Clone)]
pub struct Responder {
    pub id: Id20,
    pub addr: SocketAddrV4,
    pub rtt: Duration,
    pub token: Option<Vec<u8>>,
}

/// What a lookup found.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// The `K` answerers closest to the target, closest first.
    pub closest: Vec<Responder>,
    /// Every answerer, in the order they answered.
    pub responders: Vec<Responder>,
    /// Peers announced for the target (get_peers only), first seen first.
    pub peers: Vec<SocketAddrV4>,
    pub queries: usize,
    pub timeouts: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Asked,
    Answered,
    Failed,
}

/// Candidates by distance to the target. PURE.
#[derive(Debug)]
struct Shortlist {
    target: Id20,
    cands: BTreeMap<Id20, (SocketAddrV4, State)>,
}

impl Shortlist {
    fn new(target: Id20) -> Self {
        Self {
            target,
            cands: BTreeMap::new(),
        }
    }

    fn add(&mut self, id: Id20, addr: SocketAddrV4) {
        if addr.port() == 0 {
            return;
        }
        self.cands
            .entry(distance(&id, &self.target))
            .or_insert((addr, State::New));
        if self.cands.len() > MAX_CANDIDATES {
            let far = self
                .cands
                .iter()
                .rev()
                .find(|(_, (_, s))| *s == State::New)
                .map(|(d, _)| *d);
            if let Some(d) = far {
                self.cands.remove(&d);
            }
        }
    }

    /// The closest unasked candidate among the `K` closest still worth
    /// asking; marked asked.
    fn next(&mut self) -> Option<(Id20, SocketAddrV4)> {
        let target = self.target;
        let (d, (addr, state)) = self
            .cands
            .iter_mut()
            .filter(|(_, (_, s))| *s != State::Failed)
            .take(K)
            .find(|(_, (_, s))| *s == State::New)?;
        *state = State::Asked;
        Some((distance(d, &target), *addr))
    }

    fn settle(&mut self, id: &Id20, answered: bool) {
        if let Some((_, s)) = self.cands.get_mut(&distance(id, &self.target)) {
            *s = if answered {
                State::Answered
            } else {
                State::Failed
            };
        }
    }
}

/// Looks `target` up from `node`'s table.
pub async fn run(node: &Arc<Node>, target: Id20, get_peers: bool) -> Lookup {
    let mut list = Shortlist::new(target);
    for (id, addr) in node.closest(&target, K * 2) {
        list.add(id, addr);
    }
    let mut out = Lookup::default();
    let mut seen_peers = HashSet::new();
    let mut asks = JoinSet::new();
    loop {
        while asks.len() < ALPHA && out.queries < MAX_QUERIES {
            let Some((id, addr)) = list.next() else { break };
            let (me, q) = (node.clone(), query(target, get_peers));
            asks.spawn(async move { (id, addr, me.call(addr, q).await) });
            out.queries += 1;
        }
        let Some(done) = asks.join_next().await else {
            break;
        };
        let Ok((id, addr, answer)) = done else {
            continue;
        };
        let Ok((r, rtt)) = answer else {
            list.settle(&id, false);
            out.timeouts += 1;
            continue;
        };
        list.settle(&id, true);
        for (nid, naddr) in &r.nodes {
            if *nid != node.id() {
                list.add(*nid, *naddr);
            }
        }
        for p in r.values {
            if out.peers.len() < MAX_PEERS && seen_peers.insert(p) {
                out.peers.push(p);
            }
        }
        out.responders.push(Responder {
            id: r.id,
            addr,
            rtt,
            token: r.token,
        });
    }
    out.closest = out.responders.clone();
    out.closest.sort_by_key(|r| distance(&r.id, &target));
    out.closest.truncate(K);
    out
}

fn query(target: Id20, get_peers: bool) -> Query {
    if get_peers {
        Query::GetPeers { info_hash: target }
    } else {
        Query::FindNode { target }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn id(b: u8) -> Id20 {
        let mut id = [0u8; 20];
        id[0] = b;
        id
    }

    fn addr(p: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, p)
    }

    #[test]
    fn asks_closest_first_and_stops_once_the_k_closest_have_answered() {
        let mut l = Shortlist::new([0u8; 20]);
        for b in 1..=20u8 {
            l.add(id(b), addr(u16::from(b)));
        }
        let mut asked = Vec::new();
        while let Some((i, _)) = l.next() {
            asked.push(i[0]);
            l.settle(&i, true);
        }
        assert_eq!(asked, (1..=K as u8).collect::<Vec<_>>());
    }

    #[test]
    fn a_failed_candidate_lets_the_next_one_in() {
        let mut l = Shortlist::new([0u8; 20]);
        for b in 1..=(K as u8 + 1) {
            l.add(id(b), addr(u16::from(b)));
        }
        let (first, _) = l.next().unwrap();
        l.settle(&first, false);
        let mut asked = Vec::new();
        while let Some((i, _)) = l.next() {
            asked.push(i[0]);
            l.settle(&i, true);
        }
        assert_eq!(asked.len(), K, "the failed one is replaced by the K+1th");
        assert!(asked.contains(&(K as u8 + 1)));
    }

    #[test]
    fn the_candidate_list_is_bounded() {
        let mut l = Shortlist::new([0u8; 20]);
        for n in 0..(MAX_CANDIDATES as u32 * 3) {
            let mut i = [0u8; 20];
            i[16..].copy_from_slice(&(n + 1).to_be_bytes());
            l.add(i, addr(1));
        }
        assert_eq!(l.cands.len(), MAX_CANDIDATES);
    }
}
