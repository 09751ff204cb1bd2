//! The iterative Kademlia lookup as a state machine (lbry-sdk's
//! `iterative_find.py`, docs/protocol.md §4.5).
//!
//! The driver owns the sockets and loops: ask `next_queries(now)`, send those
//! requests, and feed each outcome back (`on_response`, `on_value`,
//! `on_timeout`) until `is_done()`. Nothing here waits or reads the clock:
//! requests in flight longer than the rpc timeout are expired when the driver
//! next calls `next_queries(now)`, so a driver that forgets a timeout still
//! terminates.
//!
//! **Candidates** are every contact seen, ordered by XOR distance to the
//! target. Those that timed out drop out for good. The **window** is the K
//! closest candidates that have not failed. At most `alpha` requests are in
//! flight; free slots go to the closest never-asked candidates in the window.
//!
//! **Termination:** the lookup is done when every candidate in the window has
//! answered (none is still unasked or in flight), or no candidate is left.
//! That is classic Kademlia termination. lbry-sdk stops when a round adds no
//! uncontacted candidate among the K closest seen and no probe is running,
//! which is the same condition stated per round; both return the K closest
//! peers that answered. Only responders count as results: a contact we were
//! told about but never heard from may be dead, spoofed or unreachable.
//!
//! **findValue** results are collected, deduplicated, alongside the search;
//! the search itself still runs to termination so the driver can stop early
//! once it has enough values. A peer is paged while its page was full (≥ K
//! values) and it reported more pages (`p`) than we fetched; `on_value` returns
//! the page to ask it for next.
//!
//! **Bounds**: a hostile responder can claim endless pages or keep naming
//! new, ever closer contacts. A lookup pages one responder at most
//! `max_pages` times, keeps at most `max_values` values (later ones are
//! dropped and paging stops), and sends at most `max_queries` requests
//! (pages aside); past that it is done with what it has. The driver adds a
//! deadline on top.
//!
//! **Rounds** are counted as hops: seeds are hop 0, a contact learned from a
//! hop-h responder is hop h+1, and `rounds` is the deepest hop asked plus one.
//! That figure does not depend on how the driver interleaves replies.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::routing::Distance;
use super::{Contact, MAX_PAGES_PER_PEER, MAX_QUERIES, MAX_VALUES, RPC_TIMEOUT};
use crate::hash::NodeId;

/// Which RPC the lookup sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    FindNode,
    FindValue,
}

/// A reply came from a contact this lookup never asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("{0:?} was not asked by this lookup")]
    NotAsked(NodeId),
}

/// Counters for logs and `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Requests handed out by `next_queries` (pages not included).
    pub queries: u32,
    pub responses: u32,
    pub timeouts: u32,
    /// Deepest hop asked, plus one.
    pub rounds: u32,
    /// findValue pages received, page 0 included.
    pub pages: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    InFlight { since: Instant },
    Answered,
    Failed,
}

#[derive(Debug, Clone)]
struct Candidate {
    contact: Contact,
    state: State,
    hop: u32,
    pages_fetched: u32,
}

/// One iterative findNode or findValue search; `T` is the value type (for
/// LBRY, a peer's compact TCP address), opaque here.
#[derive(Debug, Clone)]
pub struct Lookup<T> {
    target: NodeId,
    kind: LookupKind,
    k: usize,
    alpha: usize,
    rpc_timeout: Duration,
    max_pages: u32,
    max_values: usize,
    max_queries: u32,
    exclude: Option<NodeId>,
    candidates: BTreeMap<Distance, Candidate>,
    values: Vec<T>,
    stats: LookupStats,
}

impl<T: PartialEq> Lookup<T> {
    /// A search for `target` starting from `seeds` (usually our routing
    /// table's K closest). `k` and `alpha` below 1 are taken as 1.
    pub fn new(
        target: NodeId,
        kind: LookupKind,
        seeds: Vec<Contact>,
        k: usize,
        alpha: usize,
    ) -> Self {
        let mut lookup = Self {
            target,
            kind,
            k: k.max(1),
            alpha: alpha.max(1),
            rpc_timeout: RPC_TIMEOUT,
            max_pages: MAX_PAGES_PER_PEER,
            max_values: MAX_VALUES,
            max_queries: MAX_QUERIES,
            exclude: None,
            candidates: BTreeMap::new(),
            values: Vec::new(),
            stats: LookupStats::default(),
        };
        lookup.learn(seeds, 0);
        lookup
    }

    /// Never ask or return `id` (our own node id).
    pub fn excluding(mut self, id: NodeId) -> Self {
        self.candidates.remove(&self.target.distance(&id));
        self.exclude = Some(id);
        self
    }

    /// Requests in flight longer than this count as timed out (default `RPC_TIMEOUT`).
    pub fn with_rpc_timeout(mut self, timeout: Duration) -> Self {
        self.rpc_timeout = timeout;
        self
    }

    /// Caps pages per responder, values kept and requests sent (pages
    /// aside); each at least 1. Defaults: `MAX_PAGES_PER_PEER`,
    /// `MAX_VALUES`, `MAX_QUERIES`.
    pub fn with_limits(mut self, max_pages: u32, max_values: usize, max_queries: u32) -> Self {
        self.max_pages = max_pages.max(1);
        self.max_values = max_values.max(1);
        self.max_queries = max_queries.max(1);
        self
    }

    pub fn target(&self) -> &NodeId {
        &self.target
    }
    pub fn kind(&self) -> LookupKind {
        self.kind
    }
    pub fn stats(&self) -> LookupStats {
        self.stats
    }

    /// The contacts to ask now: the closest unasked ones in the window, as
    /// many as keep `alpha` requests in flight. Expires overdue requests first.
    pub fn next_queries(&mut self, now: Instant) -> Vec<Contact> {
        for c in self.candidates.values_mut() {
            if let State::InFlight { since } = c.state {
                if now.saturating_duration_since(since) >= self.rpc_timeout {
                    c.state = State::Failed;
                    self.stats.timeouts += 1;
                }
            }
        }
        let in_flight = self
            .candidates
            .values()
            .filter(|c| matches!(c.state, State::InFlight { .. }))
            .count();
        let left = self.max_queries.saturating_sub(self.stats.queries) as usize;
        let mut budget = self.alpha.saturating_sub(in_flight).min(left);
        let mut out = Vec::new();
        for c in self.window_mut() {
            if budget == 0 {
                break;
            }
            if c.state == State::Fresh {
                c.state = State::InFlight { since: now };
                out.push(c.contact);
                budget -= 1;
            }
        }
        for c in &out {
            let hop = self.candidates[&self.target.distance(&c.id)].hop;
            self.stats.queries += 1;
            self.stats.rounds = self.stats.rounds.max(hop + 1);
        }
        out
    }

    /// `from` answered with `contacts` (a findNode reply, or the contacts of
    /// a findValue page 0). A late answer after a timeout still counts.
    pub fn on_response(
        &mut self,
        from: &NodeId,
        contacts: Vec<Contact>,
    ) -> Result<(), LookupError> {
        let hop = self.mark_answered(from)?;
        self.learn(contacts, hop + 1);
        Ok(())
    }

    /// `from` sent page `page` of `pages` with `values`. Returns the page to
    /// ask `from` for next, if paging should go on.
    pub fn on_value(
        &mut self,
        from: &NodeId,
        page: u32,
        pages: u32,
        values: Vec<T>,
    ) -> Result<Option<u32>, LookupError> {
        self.mark_answered(from)?;
        let full = values.len() >= self.k;
        for v in values {
            if self.values.len() >= self.max_values {
                break;
            }
            if !self.values.contains(&v) {
                self.values.push(v);
            }
        }
        self.stats.pages += 1;
        let room = self.values.len() < self.max_values;
        let max_pages = self.max_pages;
        let c = self.candidate_mut(from)?;
        c.pages_fetched = c.pages_fetched.max(page.saturating_add(1));
        let more = full && room && pages > c.pages_fetched && c.pages_fetched < max_pages;
        Ok(more.then_some(c.pages_fetched))
    }

    /// A request to `from` timed out (or failed). For a contact that had
    /// already answered, only its paging stops.
    pub fn on_timeout(&mut self, from: &NodeId) -> Result<(), LookupError> {
        let c = self.candidate_mut(from)?;
        if let State::InFlight { .. } = c.state {
            c.state = State::Failed;
            self.stats.timeouts += 1;
        }
        Ok(())
    }

    /// Every candidate in the window has answered, or none is left, or
    /// every request allowed was sent and none is in flight.
    pub fn is_done(&self) -> bool {
        let spent = self.stats.queries >= self.max_queries
            && !self
                .candidates
                .values()
                .any(|c| matches!(c.state, State::InFlight { .. }));
        spent || self.window().all(|c| c.state == State::Answered)
    }

    /// The K closest contacts that answered, nearest first.
    pub fn result(&self) -> Vec<Contact> {
        self.candidates
            .values()
            .filter(|c| c.state == State::Answered)
            .take(self.k)
            .map(|c| c.contact)
            .collect()
    }

    /// findValue values collected so far, in arrival order, without duplicates.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    pub fn into_values(self) -> Vec<T> {
        self.values
    }

    fn window(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates
            .values()
            .filter(|c| c.state != State::Failed)
            .take(self.k)
    }

    fn window_mut(&mut self) -> impl Iterator<Item = &mut Candidate> {
        self.candidates
            .values_mut()
            .filter(|c| c.state != State::Failed)
            .take(self.k)
    }

    fn learn(&mut self, contacts: Vec<Contact>, hop: u32) {
        for contact in contacts {
            if Some(contact.id) == self.exclude {
                continue;
            }
            self.candidates
                .entry(self.target.distance(&contact.id))
                .or_insert(Candidate {
                    contact,
                    state: State::Fresh,
                    hop,
                    pages_fetched: 0,
                });
        }
    }

    fn candidate_mut(&mut self, id: &NodeId) -> Result<&mut Candidate, LookupError> {
        self.candidates
            .get_mut(&self.target.distance(id))
            .filter(|c| c.state != State::Fresh)
            .ok_or(LookupError::NotAsked(*id))
    }

    /// Marks `id` answered (once) and returns its hop.
    fn mark_answered(&mut self, id: &NodeId) -> Result<u32, LookupError> {
        let c = self.candidate_mut(id)?;
        let first = c.state != State::Answered;
        c.state = State::Answered;
        let hop = c.hop;
        if first {
            self.stats.responses += 1;
        }
        Ok(hop)
    }
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
