//! Who might have a blob, for a running node: peers given by hand, plus the
//! peers announced in the DHT for the blob's stream.
//!
//! lbry-sdk announces a stream's sd blob and first data blob, so a data blob
//! is looked up by its stream's sd hash (the mount registers each stream's
//! blobs here). Results are kept for a minute (an empty answer for five
//! seconds) so a stream of thousands of blobs costs one lookup, not thousands.
//! Our own blob server is never returned: asking ourselves is a wasted turn.
//!
//! Both maps are bounded (see `peer_memo`).
//!
//! When nobody is found, the search says why, in the user's terms: no peer
//! source at all, a DHT that knows no node, a DHT whose nodes did not
//! answer, or a DHT that answered and where nobody announced the stream.

use super::peer_memo::{Memo, Memos, Owners, MAX_OWNED};
use crate::dht;
use crate::dht::lookup::LookupStats;
use crate::fetch::{BoxFuture, PeerFinder, PeerSearch};
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

pub struct NetworkPeers {
    fixed: Vec<SocketAddr>,
    dht: Option<Arc<dht::Node>>,
    /// Our blob server's port: an address with it on a local IP is us.
    own_tcp_port: u16,
    /// Data blob -> the stream it belongs to.
    owner: Mutex<Owners>,
    found: Mutex<Memos>,
}

impl NetworkPeers {
    pub fn new(fixed: Vec<SocketAddr>, dht: Option<Arc<dht::Node>>, own_tcp_port: u16) -> Self {
        Self {
            fixed,
            dht,
            own_tcp_port,
            owner: Mutex::default(),
            found: Mutex::default(),
        }
    }

    /// Makes a stream's blobs findable through its sd hash.
    pub fn register(&self, desc: &StreamDescriptor) {
        let blobs: Vec<BlobHash> = desc.blobs().iter().map(|b| b.hash).collect();
        let mut owner = self.owner.lock().unwrap_or_else(PoisonError::into_inner);
        owner.insert(desc.sd_hash(), blobs, MAX_OWNED);
    }

    /// Distinct peers known for a stream (given by hand or found in the DHT).
    pub fn known(&self, sd: &SdHash) -> usize {
        let found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all = self.fixed.clone();
        if let Some(memo) = found.get(sd) {
            all.extend(&memo.peers);
        }
        all.sort();
        all.dedup();
        all.len()
    }

    /// Distinct peers known for any stream (given by hand or found in the DHT).
    pub fn distinct(&self) -> usize {
        let found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all = self.fixed.clone();
        all.extend(found.values().flat_map(|m| m.peers.iter().copied()));
        all.sort();
        all.dedup();
        all.len()
    }

    fn is_us(&self, a: &SocketAddr) -> bool {
        a.port() == self.own_tcp_port && (a.ip().is_loopback() || a.ip().is_unspecified())
    }

    /// DHT peers for `key` (and why none), from the memo when fresh.
    async fn lookup(&self, node: &dht::Node, key: SdHash) -> (Vec<SocketAddr>, Option<String>) {
        let now = Instant::now();
        {
            let found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(m) = found.get(&key).filter(|m| m.is_fresh(now)) {
                return (m.peers.clone(), m.why_none.clone());
            }
        }
        let (mut peers, stats) = node.find_peers_with_stats(key.as_blob()).await;
        peers.retain(|a| !self.is_us(a));
        tracing::debug!(key = %key.short(), peers = peers.len(), ?stats, "dht peer lookup");
        let why_none = peers
            .is_empty()
            .then(|| why_no_peers(&stats, node.seed_count()));
        let mut found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        let memo = Memo {
            at: now,
            peers: peers.clone(),
            why_none: why_none.clone(),
        };
        found.insert(key, memo, now);
        (peers, why_none)
    }

    /// Every peer source asked for `hash`, and why nobody when nobody.
    async fn search_all(&self, hash: BlobHash) -> PeerSearch {
        let mut all = self.fixed.clone();
        let mut why = None;
        match &self.dht {
            Some(node) => {
                let owner = self
                    .owner
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&hash)
                    .copied();
                // An sd blob, or a blob of no known stream, is looked up by itself.
                let key = owner.unwrap_or(SdHash::from(hash));
                let (peers, why_stream) = self.lookup(node, key).await;
                all.extend(peers);
                why = why_stream;
                if all.is_empty() && owner.is_some() {
                    // Nobody announced the stream; someone may have announced this blob.
                    let (peers, why_blob) = self.lookup(node, SdHash::from(hash)).await;
                    all.extend(peers);
                    why = why_blob.or(why);
                }
            }
            None if all.is_empty() => why = Some("no --peer given and no DHT".to_owned()),
            None => {}
        }
        let mut seen = std::collections::HashSet::new();
        all.retain(|a| seen.insert(*a));
        PeerSearch {
            why_none: if all.is_empty() { why } else { None },
            peers: all,
        }
    }
}

/// Why a DHT lookup found no peer, from what the lookup went through and
/// how many bootstrap nodes and saved contacts the node could rejoin through
/// (a lookup with no live contact rejoins through them first, so when it
/// then asks nobody, they did not answer).
pub fn why_no_peers(stats: &LookupStats, seeds: usize) -> String {
    if stats.queries == 0 && seeds > 0 {
        format!("no DHT node answered (none of {seeds} bootstrap nodes and saved contacts)")
    } else if stats.queries == 0 {
        "the DHT knows no node to ask (no contacts)".to_owned()
    } else if stats.responses == 0 {
        format!(
            "no DHT node answered ({} asked, {} timed out)",
            stats.queries, stats.timeouts
        )
    } else {
        format!(
            "nobody announced it in the DHT ({} nodes answered)",
            stats.responses
        )
    }
}

impl PeerFinder for NetworkPeers {
    fn find_peers(&self, hash: BlobHash) -> BoxFuture<'_, Vec<SocketAddr>> {
        Box::pin(async move { self.search_all(hash).await.peers })
    }

    fn search(&self, hash: BlobHash) -> BoxFuture<'_, PeerSearch> {
        Box::pin(self.search_all(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(queries: u32, responses: u32, timeouts: u32) -> LookupStats {
        LookupStats {
            queries,
            responses,
            timeouts,
            ..LookupStats::default()
        }
    }

    #[test]
    fn an_empty_answer_says_what_the_dht_went_through() {
        assert!(why_no_peers(&stats(0, 0, 0), 0).contains("knows no node"));
        let unanswered = why_no_peers(&stats(0, 0, 0), 2);
        assert!(
            unanswered.contains("no DHT node answered (none of 2 bootstrap"),
            "{unanswered}"
        );
        let silent = why_no_peers(&stats(3, 0, 3), 2);
        assert!(
            silent.contains("no DHT node answered (3 asked, 3 timed out)"),
            "{silent}"
        );
        let answered = why_no_peers(&stats(8, 5, 3), 2);
        assert!(answered.contains("nobody announced it"), "{answered}");
    }

    #[tokio::test]
    async fn without_peers_or_dht_the_search_says_so() {
        let peers = NetworkPeers::new(Vec::new(), None, 4444);
        let found = peers.search(BlobHash::digest(b"x")).await;
        assert!(found.peers.is_empty());
        assert_eq!(
            found.why_none.as_deref(),
            Some("no --peer given and no DHT")
        );
        let fixed: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let peers = NetworkPeers::new(vec![fixed], None, 4444);
        let found = peers.search(BlobHash::digest(b"x")).await;
        assert_eq!((found.peers, found.why_none), (vec![fixed], None));
    }
}
