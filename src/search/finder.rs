//! Search through the DHT, with no index anywhere but on each node: look up
//! the query's keyword keys, ask the peers found for matches, merge.
//!
//! Bounded at every step: the lookups run at once within the search
//! deadline, at most [`SearchConfig::max_peers`] peers are asked (those found
//! under exact-word keys first, then under head and tail keys), each within
//! its own deadline and byte cap (`ask`), and at most
//! [`SearchConfig::max_results`] streams are kept. Peers' answers are not
//! trusted: every name is scored again here against the query, and one that
//! does not match is dropped.

use super::ask::ask;
use super::text::{lookup_keys, score, tokens};
use crate::dht;
use crate::hash::SdHash;
use crate::wire::search::Hit;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tracing::debug;

/// The caps and deadlines of one search.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// The whole search: lookups and answers.
    pub deadline: Duration,
    /// One peer's answer.
    pub peer_deadline: Duration,
    /// Peers asked, at most.
    pub max_peers: usize,
    /// Streams kept, at most.
    pub max_results: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(10),
            peer_deadline: Duration::from_secs(3),
            max_peers: 32,
            max_results: 200,
        }
    }
}

/// One stream found through peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerHit {
    pub hit: Hit,
    pub score: u32,
    /// Peers that listed it.
    pub peers: usize,
}

/// Searches the DHT for streams whose names match `text`; `own` (our blob
/// server) is never asked. Best first: score, then peers, then name.
pub async fn search_peers(
    node: Arc<dht::Node>,
    text: &str,
    own: Option<SocketAddr>,
    cfg: &SearchConfig,
) -> Vec<PeerHit> {
    let query = tokens(text);
    if query.is_empty() {
        return Vec::new();
    }
    let end = tokio::time::Instant::now() + cfg.deadline;
    let peers = find_peers(node, &query, own, cfg.max_peers, end).await;
    debug!(peers = peers.len(), "asking peers");
    let mut set = JoinSet::new();
    for peer in peers {
        let (text, limit) = (text.to_owned(), cfg.peer_deadline);
        let span = tracing::debug_span!("search_ask", %peer);
        crate::task::spawn_in(&mut set, "search_ask", span, async move {
            (peer, ask(peer, &text, limit).await)
        });
    }
    let mut merged: HashMap<SdHash, PeerHit> = HashMap::new();
    while let Ok(Some(done)) = tokio::time::timeout_at(end, set.join_next()).await {
        match done {
            Ok((_, Ok(answer))) => merge(&mut merged, &query, answer.hits, cfg.max_results),
            Ok((peer, Err(e))) => debug!(%peer, error = %e, "peer gave no search answer"),
            Err(e) => debug!(error = %e, "search ask task failed"),
        }
    }
    let mut out: Vec<PeerHit> = merged.into_values().collect();
    out.sort_by(|a, b| {
        (b.score, b.peers)
            .cmp(&(a.score, a.peers))
            .then_with(|| a.hit.name.cmp(&b.hit.name))
    });
    out
}

/// The peers announced under the query's keys, exact-word keys first, at most `max`.
async fn find_peers(
    node: Arc<dht::Node>,
    query: &[String],
    own: Option<SocketAddr>,
    max: usize,
    end: tokio::time::Instant,
) -> Vec<SocketAddr> {
    let mut keys: Vec<(usize, crate::hash::BlobHash)> = Vec::new();
    for t in query {
        for (rank, k) in lookup_keys(t).into_iter().enumerate() {
            keys.push((rank.min(1), k));
        }
    }
    let mut set = JoinSet::new();
    for (rank, key) in keys {
        let node = node.clone();
        let span = tracing::debug_span!("search_lookup", key = %key.short());
        crate::task::spawn_in(&mut set, "search_lookup", span, async move {
            (rank, node.find_peers(key).await)
        });
    }
    let mut found: Vec<(usize, SocketAddr)> = Vec::new();
    while let Ok(Some(done)) = tokio::time::timeout_at(end, set.join_next()).await {
        if let Ok((rank, addrs)) = done {
            found.extend(addrs.into_iter().map(|a| (rank, a)));
        }
    }
    found.sort_by_key(|(rank, _)| *rank);
    let mut out: Vec<SocketAddr> = Vec::new();
    for (_, a) in found {
        if !own.is_some_and(|o| is_own(a, o)) && !out.contains(&a) && out.len() < max {
            out.push(a);
        }
    }
    out
}

/// Whether `a` is our own blob server at `own`: the same port, and our
/// address, or loopback when we listen there or on every interface.
fn is_own(a: SocketAddr, own: SocketAddr) -> bool {
    a.port() == own.port()
        && (a.ip() == own.ip()
            || (a.ip().is_loopback() && (own.ip().is_unspecified() || own.ip().is_loopback())))
}

/// Adds one peer's hits: each scored against the query (no match: dropped),
/// counted once per peer; new streams beyond `max` are dropped.
fn merge(merged: &mut HashMap<SdHash, PeerHit>, query: &[String], hits: Vec<Hit>, max: usize) {
    let mut seen = std::collections::HashSet::new();
    for hit in hits {
        let Some(s) = score(query, &tokens(&hit.name)) else {
            continue;
        };
        if !seen.insert(hit.sd_hash) {
            continue;
        }
        if let Some(known) = merged.get_mut(&hit.sd_hash) {
            known.peers += 1;
        } else if merged.len() < max {
            merged.insert(
                hit.sd_hash,
                PeerHit {
                    hit,
                    score: s,
                    peers: 1,
                },
            );
        }
    }
}
