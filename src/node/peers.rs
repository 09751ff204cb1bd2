//! Who might have a blob: the one peer policy, composed from sources
//! ([`PeerSource`]: peers given by hand, the DHT, trackers, the LAN).
//! The node, the mount, a `get` through the node and a one-shot `get` all
//! find peers through [`Peers`].
//!
//! lbry-sdk announces a stream's sd blob and first data blob, so a data blob
//! is looked up by its stream's sd hash (streams are registered here as they
//! become known); when nobody has the stream, the blob is looked up by its
//! own hash. Fixed peers come first, in the order given, then what the
//! network sources found; every address appears once, and there are at most
//! [`MAX_CANDIDATES`]. Network answers are kept for a minute (an empty
//! answer for five seconds) so a stream of thousands of blobs costs one
//! lookup, not thousands. Our own blob server is never returned: asking
//! ourselves is a wasted turn. Both maps are bounded (see `peer_memo`).
//!
//! When nobody is found, the search says why, in the user's terms: no peer
//! source at all, a DHT that knows no node, a DHT whose nodes did not
//! answer, or a DHT that answered and where nobody announced the stream.

use super::peer_memo::{Memo, Memos, Owners, MAX_OWNED};
pub use super::peer_source::{DhtPeers, FixedPeers, Found, PeerSource};
use crate::fetch::{BoxFuture, PeerFinder, PeerSearch};
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Candidates one search returns, at most (fixed peers first).
pub const MAX_CANDIDATES: usize = 1024;

/// What a search says when it has no source to ask.
const NO_SOURCE: &str = "no --peer given and no DHT";

/// The peer policy over a list of sources.
pub struct Peers {
    sources: Vec<Arc<dyn PeerSource>>,
    /// Our blob server's port: an address with it on a local IP is us.
    own_tcp_port: Option<u16>,
    /// Shared by the composers made with [`Peers::with_extra`].
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Data blob -> the stream it belongs to.
    owner: Mutex<Owners>,
    /// Network answers by key.
    found: Mutex<Memos>,
}

/// An ordered set of addresses, bounded by [`MAX_CANDIDATES`].
#[derive(Default)]
struct Candidates {
    list: Vec<SocketAddr>,
    seen: HashSet<SocketAddr>,
}

impl Candidates {
    fn extend(&mut self, peers: impl IntoIterator<Item = SocketAddr>) {
        for p in peers {
            if self.list.len() >= MAX_CANDIDATES {
                return;
            }
            if self.seen.insert(p) {
                self.list.push(p);
            }
        }
    }
}

impl Peers {
    /// Asks `sources` in order; `own_tcp_port` is our blob server's, if we run one.
    pub fn new(sources: Vec<Arc<dyn PeerSource>>, own_tcp_port: Option<u16>) -> Self {
        Self {
            sources,
            own_tcp_port,
            shared: Arc::default(),
        }
    }

    /// The same policy with `extra` peers asked first (a `get` through the
    /// node that names its own `--peer`s); streams registered and answers
    /// cached are shared with `self`.
    pub fn with_extra(&self, extra: Vec<SocketAddr>) -> Self {
        let mut sources: Vec<Arc<dyn PeerSource>> = vec![Arc::new(FixedPeers::new(extra))];
        sources.extend(self.sources.iter().cloned());
        Self {
            sources,
            own_tcp_port: self.own_tcp_port,
            shared: self.shared.clone(),
        }
    }

    /// Makes a stream's blobs findable through its sd hash.
    pub fn register(&self, desc: &StreamDescriptor) {
        let blobs: Vec<BlobHash> = desc.blobs().iter().map(|b| b.hash).collect();
        let mut owner = lock(&self.shared.owner);
        owner.insert(desc.sd_hash(), blobs, MAX_OWNED);
    }

    /// Distinct peers known for a stream (given by hand or found).
    pub fn known(&self, sd: &SdHash) -> usize {
        let found = lock(&self.shared.found);
        let mut all: HashSet<SocketAddr> = self.fixed().collect();
        if let Some(memo) = found.get(sd) {
            all.extend(&memo.peers);
        }
        all.len()
    }

    /// Distinct peers known for any stream (given by hand or found).
    pub fn distinct(&self) -> usize {
        let found = lock(&self.shared.found);
        let mut all: HashSet<SocketAddr> = self.fixed().collect();
        all.extend(found.values().flat_map(|m| m.peers.iter().copied()));
        all.len()
    }

    fn fixed(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.sources.iter().filter_map(|s| s.fixed()).flatten()
    }

    fn network(&self) -> impl Iterator<Item = &Arc<dyn PeerSource>> {
        self.sources.iter().filter(|s| s.fixed().is_none())
    }

    fn is_us(&self, a: &SocketAddr) -> bool {
        Some(a.port()) == self.own_tcp_port && (a.ip().is_loopback() || a.ip().is_unspecified())
    }

    /// What the network sources say about `key` (and why nobody), from the
    /// memo when fresh.
    async fn ask_network(&self, key: SdHash) -> (Vec<SocketAddr>, Option<String>) {
        let now = Instant::now();
        if let Some(m) = lock(&self.shared.found)
            .get(&key)
            .filter(|m| m.is_fresh(now))
        {
            return (m.peers.clone(), m.why_none.clone());
        }
        let mut peers = Candidates::default();
        let mut whys = Vec::new();
        for source in self.network() {
            let found: Found = source.find(key.as_blob()).await;
            peers.extend(found.peers.into_iter().filter(|a| !self.is_us(a)));
            whys.extend(found.why_none);
        }
        let peers = peers.list;
        let why_none = (peers.is_empty() && !whys.is_empty()).then(|| whys.join("; "));
        let memo = Memo {
            at: now,
            peers: peers.clone(),
            why_none: why_none.clone(),
        };
        lock(&self.shared.found).insert(key, memo, now);
        (peers, why_none)
    }

    /// Every source asked for `hash`, and why nobody when nobody.
    async fn search_all(&self, hash: BlobHash) -> PeerSearch {
        let mut all = Candidates::default();
        all.extend(self.fixed());
        if self.network().next().is_none() {
            let why_none = all.list.is_empty().then(|| NO_SOURCE.to_owned());
            return PeerSearch {
                peers: all.list,
                why_none,
            };
        }
        let owner = lock(&self.shared.owner).get(&hash).copied();
        // An sd blob, or a blob of no known stream, is looked up by itself.
        let (peers, mut why) = self.ask_network(owner.unwrap_or(SdHash::from(hash))).await;
        all.extend(peers);
        if all.list.is_empty() && owner.is_some() {
            // Nobody has the stream; someone may have announced this blob.
            let (peers, why_blob) = self.ask_network(SdHash::from(hash)).await;
            all.extend(peers);
            why = why_blob.or(why);
        }
        PeerSearch {
            why_none: if all.list.is_empty() { why } else { None },
            peers: all.list,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PeerFinder for Peers {
    fn find_peers(&self, hash: BlobHash) -> BoxFuture<'_, Vec<SocketAddr>> {
        Box::pin(async move { self.search_all(hash).await.peers })
    }

    fn search(&self, hash: BlobHash) -> BoxFuture<'_, PeerSearch> {
        Box::pin(self.search_all(hash))
    }
}

#[cfg(test)]
#[path = "peers_tests.rs"]
mod tests;
