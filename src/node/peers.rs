//! Who might have a blob: the one peer policy, composed from sources
//! ([`PeerSource`]: peers and HTTP sources given by hand, the DHT, trackers,
//! the LAN), with lbry-sdk's fixed peers as its fallback.
//! The node, the mount, a `get` through the node and a one-shot `get` all
//! find peers through [`Peers`].
//!
//! lbry-sdk announces a stream's sd blob and first data blob, so a data blob
//! is looked up by its stream's sd hash (streams are registered here as they
//! become known); when nobody has the stream, the blob is looked up by its
//! own hash. Peers given by hand come first, in the order given, then what
//! the network sources found (all asked at once, each within
//! `peer_lookup::SOURCE_DEADLINE`); every address appears once, and there are at most
//! [`MAX_CANDIDATES`]. The fixed peers (`fixed_peers`) are not candidates:
//! the fetcher adds them after [`FIXED_PEER_DELAY`], or at once when the
//! network has nobody (no network source, or an empty answer remembered). Network answers are kept for a minute (an empty
//! answer for five seconds) so a stream of thousands of blobs costs one
//! lookup, not thousands. Our own blob server is never returned: asking
//! ourselves is a wasted turn. Both maps are bounded (see `peer_memo`).
//!
//! When nobody is found, the search says why, in the user's terms: no peer
//! source at all, a DHT that knows no node, a DHT whose nodes did not
//! answer, or a DHT that answered and where nobody announced the stream.

use super::fixed_peers::{FixedPeers, FIXED_PEER_DELAY};
use super::peer_lookup::{is_us, Answer, Asking, Lookup};
use super::peer_memo::{Memos, Owners, MAX_OWNED};
pub use super::peer_source::{DhtPeers, GivenPeers, PeerSource};
use crate::fetch::{BoxFuture, PeerAddr, PeerFinder, PeerSearch};
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Candidates one search returns, at most (peers given by hand first).
pub const MAX_CANDIDATES: usize = 1024;

/// What a search says when it has no source to ask.
const NO_SOURCE: &str = "no --peer given and no DHT";

/// The peer policy over a list of sources.
pub struct Peers {
    sources: Vec<Arc<dyn PeerSource>>,
    /// Our blob server's port: an address with it on a local IP is us.
    own_tcp_port: Option<u16>,
    /// lbry-sdk's fixed peers, asked as a fallback.
    fallback: Option<Arc<FixedPeers>>,
    /// Shared by the composers made with [`Peers::with_extra`].
    shared: Arc<Shared>,
}

#[derive(Default)]
pub(super) struct Shared {
    /// Data blob -> the stream it belongs to.
    owner: Mutex<Owners>,
    /// Network answers by key.
    pub(super) found: Mutex<Memos>,
    /// Network lookups under way by key (at most `MAX_ASKING`).
    pub(super) asking: Mutex<HashMap<SdHash, Asking>>,
}

/// An ordered set of addresses, bounded by [`MAX_CANDIDATES`].
#[derive(Default)]
pub(super) struct Candidates {
    pub(super) list: Vec<PeerAddr>,
    seen: HashSet<PeerAddr>,
}

impl Candidates {
    pub(super) fn extend<P: Into<PeerAddr>>(&mut self, peers: impl IntoIterator<Item = P>) {
        for p in peers.into_iter().map(Into::into) {
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
            fallback: None,
            shared: Arc::default(),
        }
    }

    /// The same policy with `fixed` as its fallback.
    pub fn with_fallback(self, fixed: Option<Arc<FixedPeers>>) -> Self {
        Self {
            fallback: fixed,
            ..self
        }
    }

    /// The same policy with `extra` peers asked first (a `get` through the
    /// node that names its own `--peer`s); streams registered and answers
    /// cached are shared with `self`.
    pub fn with_extra(&self, extra: Vec<SocketAddr>) -> Self {
        let extra = extra.into_iter().map(PeerAddr::Tcp).collect();
        let mut sources: Vec<Arc<dyn PeerSource>> = vec![Arc::new(GivenPeers::new(extra))];
        sources.extend(self.sources.iter().cloned());
        Self {
            sources,
            own_tcp_port: self.own_tcp_port,
            fallback: self.fallback.clone(),
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
        let mut all: HashSet<PeerAddr> = self.given().collect();
        if let Some(memo) = found.get(sd) {
            all.extend(memo.peers.iter().map(|a| PeerAddr::Tcp(*a)));
        }
        all.len()
    }

    /// Distinct peers known for any stream (given by hand or found).
    pub fn distinct(&self) -> usize {
        let found = lock(&self.shared.found);
        let mut all: HashSet<PeerAddr> = self.given().collect();
        all.extend(
            found
                .values()
                .flat_map(|m| m.peers.iter().map(|a| PeerAddr::Tcp(*a))),
        );
        all.len()
    }

    fn given(&self) -> impl Iterator<Item = PeerAddr> + '_ {
        self.sources.iter().filter_map(|s| s.given()).flatten()
    }

    fn network(&self) -> impl Iterator<Item = &Arc<dyn PeerSource>> {
        self.sources.iter().filter(|s| s.given().is_none())
    }

    fn is_us(&self, a: &SocketAddr) -> bool {
        is_us(self.own_tcp_port, a)
    }

    /// What the network sources say about `key` (and why nobody), from the
    /// memo when fresh.
    async fn ask_network(&self, key: SdHash) -> Answer {
        let now = Instant::now();
        if let Some(m) = lock(&self.shared.found)
            .get(&key)
            .filter(|m| m.is_fresh(now))
        {
            return (m.peers.clone(), m.why_none.clone());
        }
        let lookup = Lookup {
            sources: self.network().cloned().collect(),
            own_tcp_port: self.own_tcp_port,
            shared: self.shared.clone(),
        };
        lookup.answer(key).await
    }

    /// Every source asked for `hash`, and why nobody when nobody.
    async fn search_all(&self, hash: BlobHash) -> PeerSearch {
        let mut all = Candidates::default();
        all.extend(self.given());
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

impl Peers {
    /// The key `hash` is looked up by first: its stream's sd hash, if known.
    fn key_of(&self, hash: BlobHash) -> SdHash {
        lock(&self.shared.owner)
            .get(&hash)
            .copied()
            .unwrap_or(SdHash::from(hash))
    }

    /// Whether the network is known to have nobody for `hash` now: no
    /// network source, or a fresh empty answer for its stream (lbry-sdk asks
    /// its fixed peers at once when it has no DHT).
    fn network_has_nobody(&self, hash: BlobHash) -> bool {
        if self.network().next().is_none() {
            return true;
        }
        let now = Instant::now();
        lock(&self.shared.found)
            .get(&self.key_of(hash))
            .is_some_and(|m| m.is_fresh(now) && m.peers.is_empty())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PeerFinder for Peers {
    fn find_peers(&self, hash: BlobHash) -> BoxFuture<'_, Vec<PeerAddr>> {
        Box::pin(async move { self.search_all(hash).await.peers })
    }

    fn search(&self, hash: BlobHash) -> BoxFuture<'_, PeerSearch> {
        Box::pin(self.search_all(hash))
    }

    fn fallback_after(&self, hash: BlobHash) -> Option<Duration> {
        self.fallback.as_ref()?;
        if self.network_has_nobody(hash) {
            return Some(Duration::ZERO);
        }
        // The delay counts from the stream's first lookup, not each blob's.
        let since = lock(&self.shared.asking)
            .get(&self.key_of(hash))
            .map(|a| a.since.elapsed())
            .unwrap_or_default();
        Some(FIXED_PEER_DELAY.saturating_sub(since))
    }

    fn fallback(&self) -> BoxFuture<'_, Vec<PeerAddr>> {
        Box::pin(async move {
            let Some(fixed) = &self.fallback else {
                return Vec::new();
            };
            let addrs = fixed.addrs().await;
            addrs
                .into_iter()
                .filter(|a| !self.is_us(a))
                .map(PeerAddr::Tcp)
                .collect()
        })
    }
}

#[cfg(test)]
#[path = "peers_tests.rs"]
mod tests;
