//! The node's searches: iterative findNode / findValue driving the pure
//! [`Lookup`], and announcing a blob (lbry-sdk's `iterative_find.py` and
//! `Node.announce_blob`, docs/protocol.md §4.5).
//!
//! The driver keeps ALPHA requests in flight as the lookup asks, each on its
//! own named task, and feeds every outcome back. Each request has the rpc
//! deadline, so a search of dead nodes ends after a few timeouts, and each
//! failure is recorded against the contact in the routing table. The whole
//! search has `NodeConfig::search_deadline` and the lookup's caps on pages,
//! values and requests, so a hostile responder (endless pages, endless new
//! contacts) costs a bounded amount of work; it ends with what it has.
//!
//! A search never gives up without asking anyone: it starts from the live
//! contacts closest to the target, else the failed ones, and when the table
//! has no live contact at all it rejoins first (`maintain.rs`). Contacts
//! and peers in answers are filtered by the node's address policy before the
//! lookup sees them. Every answer's round-trip time is kept in the search's
//! [`LookupReport`], for people studying the network (`lbrymount dht`).

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tracing::debug;

use super::lookup::{Lookup, LookupKind, LookupStats};
use super::node::{lock, DhtError, Inner, Node};
use super::rpc::RpcError;
use super::{Contact, ALPHA, K};
use crate::hash::{BlobHash, NodeId};
use crate::task;
use crate::wire::dht::{self, CompactPeer, Request, Response, StoreArgs, Token};

/// A node that answered during a search, and how long its answer took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Responder {
    pub contact: Contact,
    pub rtt: Duration,
}

/// How a search went.
#[derive(Debug, Clone, Default)]
pub struct LookupReport {
    pub stats: LookupStats,
    /// Every node that answered, once each, in the order the answers came.
    pub responders: Vec<Responder>,
}

/// What a search found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The K closest nodes that answered, nearest first.
    pub closest: Vec<Contact>,
    /// findValue: the blob peers collected.
    pub peers: Vec<CompactPeer>,
    pub report: LookupReport,
    /// findValue: the store token each responder gave us.
    tokens: HashMap<NodeId, Token>,
}

/// One query's end: whom, which page, how long, what came back.
type Outcome = (Contact, u32, Duration, Result<(NodeId, Response), RpcError>);

/// One search in progress: the lookup, the queries running, and what the
/// answers taught (store tokens, who answered and how fast).
struct Search {
    target: NodeId,
    kind: LookupKind,
    lookup: Lookup<CompactPeer>,
    tokens: HashMap<NodeId, Token>,
    responders: Vec<Responder>,
    set: JoinSet<Outcome>,
}

impl Node {
    /// The K closest live nodes to `key`.
    pub async fn find_node(&self, key: NodeId) -> Vec<Contact> {
        self.find_node_with_report(key).await.0
    }

    /// [`Node::find_node`], with the lookup's counters and who answered.
    pub async fn find_node_with_report(&self, key: NodeId) -> (Vec<Contact>, LookupReport) {
        let found = self.inner.search(key, LookupKind::FindNode, None).await;
        (found.closest, found.report)
    }

    /// TCP addresses of the blob servers announced for `blob`.
    pub async fn find_peers(&self, blob: BlobHash) -> Vec<SocketAddr> {
        self.find_peers_with_report(blob).await.0
    }

    /// [`Node::find_peers`], with the lookup's counters.
    pub async fn find_peers_with_stats(&self, blob: BlobHash) -> (Vec<SocketAddr>, LookupStats) {
        let (addrs, report) = self.find_peers_with_report(blob).await;
        (addrs, report.stats)
    }

    /// [`Node::find_peers`], with the lookup's counters and who answered.
    pub async fn find_peers_with_report(&self, blob: BlobHash) -> (Vec<SocketAddr>, LookupReport) {
        let key = NodeId::of_blob(&blob);
        // This node may itself be one of the closest and hold announcements
        // the lookup (which never asks itself) would miss.
        let local = lock(&self.inner.peers).peers(&key, Instant::now());
        let found = self.inner.search(key, LookupKind::FindValue, Some(K)).await;
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for p in local.iter().chain(found.peers.iter()) {
            let a = SocketAddrV4::new(p.ip, p.tcp_port).into();
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        (addrs, found.report)
    }

    /// Announces that we serve `blob` on `tcp_port` to the K closest nodes,
    /// and from now on names ourselves in findValue answers for it.
    /// Returns how many accepted; lbry-sdk counts more than 4 as success.
    pub async fn announce(&self, blob: BlobHash, tcp_port: u16) -> Result<usize, DhtError> {
        if tcp_port == 0 || tcp_port == u16::MAX {
            return Err(DhtError::BadPort(tcp_port));
        }
        let key = NodeId::of_blob(&blob);
        lock(&self.inner.serving).insert(key, tcp_port, Instant::now());
        let found = self.inner.search(key, LookupKind::FindValue, None).await;
        let mut set = JoinSet::new();
        for c in &found.closest {
            let Some(&token) = found.tokens.get(&c.id) else {
                continue;
            };
            let (inner, c) = (self.inner.clone(), *c);
            let span = tracing::debug_span!("store", peer = %c.addr, blob = %blob.short());
            task::spawn_in(&mut set, "dht_store", span, async move {
                inner.store_to(c, key, token, tcp_port).await
            });
        }
        let tried = set.len();
        let mut stored = 0;
        while let Some(res) = set.join_next().await {
            match res {
                Ok(Ok(())) => stored += 1,
                Ok(Err(e)) => debug!(error = %e, "store refused"),
                Err(e) => debug!(error = %e, "store task failed"),
            }
        }
        debug!(blob = %blob.short(), stored, tried, "announced");
        if stored == 0 {
            return Err(DhtError::NotStored { tried });
        }
        Ok(stored)
    }
}

impl Inner {
    /// Runs one iterative search, rejoining first when no contact is
    /// live. For findValue, `enough` stops it early once that many peers
    /// are known.
    pub(super) async fn search(
        self: &Arc<Self>,
        target: NodeId,
        kind: LookupKind,
        enough: Option<usize>,
    ) -> Found {
        if lock(&self.routing).live_len() == 0 {
            self.rejoin().await;
        }
        let seeds = lock(&self.routing).closest_or_bad(&target, K);
        self.search_from(target, kind, enough, seeds).await
    }

    /// One iterative search from `seeds`, within the search deadline.
    pub(super) async fn search_from(
        self: &Arc<Self>,
        target: NodeId,
        kind: LookupKind,
        enough: Option<usize>,
        seeds: Vec<Contact>,
    ) -> Found {
        let deadline = tokio::time::Instant::now() + self.search_deadline;
        // The rpc layer enforces the deadline; the lookup's own expiry is a
        // backstop that must not fire first.
        let lookup: Lookup<CompactPeer> = Lookup::new(target, kind, seeds, K, ALPHA)
            .excluding(self.id)
            .with_rpc_timeout(self.rpc.timeout() * 2);
        let mut s = Search {
            target,
            kind,
            lookup,
            tokens: HashMap::new(),
            responders: Vec::new(),
            set: JoinSet::new(),
        };
        loop {
            if enough.is_some_and(|n| s.lookup.values().len() >= n) {
                break;
            }
            for c in s.lookup.next_queries(Instant::now()) {
                self.query(&mut s.set, c, target, kind, 0);
            }
            let next = tokio::time::timeout_at(deadline, s.set.join_next());
            let Ok(Some(res)) = next.await else {
                if !s.set.is_empty() {
                    debug!(key = %target.short(), "search deadline reached");
                }
                break;
            };
            if let Ok(outcome) = res {
                self.on_answer(&mut s, outcome);
            }
        }
        lock(&self.routing).refreshed(&target, Instant::now());
        let report = LookupReport {
            stats: s.lookup.stats(),
            responders: s.responders,
        };
        Found {
            closest: s.lookup.result(),
            peers: s.lookup.into_values(),
            report,
            tokens: s.tokens,
        }
    }

    /// Feeds one answer (or its failure) to the lookup; a page of peers that
    /// says more follow asks the same node for the next page.
    fn on_answer(self: &Arc<Self>, s: &mut Search, (c, page, rtt, answer): Outcome) {
        let useful = matches!(
            answer,
            Ok((_, Response::Contacts(_) | Response::FindValue(_)))
        );
        if page == 0 && useful {
            s.responders.push(Responder { contact: c, rtt });
        }
        match answer {
            Ok((_, Response::Contacts(cs))) => {
                let _ = s.lookup.on_response(&c.id, self.accepted_contacts(cs));
            }
            Ok((_, Response::FindValue(r))) => {
                if page == 0 {
                    s.tokens.insert(c.id, r.token);
                    let cs = r.contacts.unwrap_or_default();
                    let _ = s.lookup.on_response(&c.id, self.accepted_contacts(cs));
                }
                let peers = r
                    .peers
                    .into_iter()
                    .filter(|p| {
                        self.policy
                            .accepts(SocketAddrV4::new(p.ip, p.tcp_port).into())
                    })
                    .collect();
                if let Ok(Some(next)) = s.lookup.on_value(&c.id, page, r.pages, peers) {
                    self.query(&mut s.set, c, s.target, s.kind, next);
                }
            }
            Ok(_) => {
                let _ = s.lookup.on_timeout(&c.id);
            }
            Err(e) => {
                debug!(peer = %c.addr, error = %e, "lookup request failed");
                let _ = s.lookup.on_timeout(&c.id);
            }
        }
    }

    fn query(
        self: &Arc<Self>,
        set: &mut JoinSet<Outcome>,
        c: Contact,
        key: NodeId,
        kind: LookupKind,
        page: u32,
    ) {
        let request = match kind {
            LookupKind::FindNode => Request::FindNode { key },
            LookupKind::FindValue => Request::FindValue { key, page },
        };
        let inner = self.clone();
        let span = tracing::trace_span!("lookup_query", peer = %c.addr, key = %key.short());
        task::spawn_in(set, "dht_lookup_query", span, async move {
            let sent = Instant::now();
            let answer = inner.call_contact(c, request).await;
            (c, page, sent.elapsed(), answer)
        });
    }

    fn accepted_contacts(&self, cs: Vec<dht::Contact>) -> Vec<Contact> {
        cs.into_iter()
            .map(|c| Contact::new(c.node_id, SocketAddrV4::new(c.ip, c.udp_port).into()))
            .filter(|c| c.id != self.id && self.policy.accepts(c.addr))
            .collect()
    }

    /// One store, retried once with a fresh token when it is refused as
    /// invalid (lbry-sdk's `store_to_peer`).
    async fn store_to(
        self: &Arc<Self>,
        c: Contact,
        key: NodeId,
        token: Token,
        port: u16,
    ) -> Result<(), RpcError> {
        match self.store_once(c, key, token, port).await {
            Err(RpcError::Remote(e)) if e.message.contains("Invalid token") => {
                let fresh = match self
                    .call_contact(c, Request::FindValue { key, page: 0 })
                    .await?
                {
                    (_, Response::FindValue(r)) => r.token,
                    _ => {
                        return Err(RpcError::Invalid(dht::Invalid::UnexpectedResult(
                            "findValue",
                        )))
                    }
                };
                self.store_once(c, key, fresh, port).await
            }
            other => other,
        }
    }

    async fn store_once(
        self: &Arc<Self>,
        c: Contact,
        key: NodeId,
        token: Token,
        port: u16,
    ) -> Result<(), RpcError> {
        let args = StoreArgs {
            key,
            token,
            port,
            original_publisher: self.id,
            age: 0,
        };
        match self.call_contact(c, Request::Store(args)).await? {
            (_, Response::Ok) => Ok(()),
            _ => Err(RpcError::Invalid(dht::Invalid::UnexpectedResult("store"))),
        }
    }
}
