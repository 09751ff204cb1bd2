//! Who might have a blob, for a running node: peers given by hand, plus the
//! peers announced in the DHT for the blob's stream.
//!
//! lbry-sdk announces a stream's sd blob and first data blob, so a data blob
//! is looked up by its stream's sd hash (the mount registers each stream's
//! blobs here). Results are kept for a minute (an empty answer for five
//! seconds) so a stream of thousands of blobs costs one lookup, not thousands.
//! Our own blob server is never returned: asking ourselves is a wasted turn.

use crate::dht;
use crate::fetch::{BoxFuture, PeerFinder};
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a DHT answer is reused.
const FRESH: Duration = Duration::from_secs(60);
/// How long an empty DHT answer is reused.
const FRESH_EMPTY: Duration = Duration::from_secs(5);

pub struct NetworkPeers {
    fixed: Vec<SocketAddr>,
    dht: Option<Arc<dht::Node>>,
    /// Our blob server's port: an address with it on a local IP is us.
    own_tcp_port: u16,
    /// Data blob -> the stream it belongs to.
    owner: Mutex<HashMap<BlobHash, SdHash>>,
    found: Mutex<HashMap<SdHash, (Instant, Vec<SocketAddr>)>>,
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
        let sd = desc.sd_hash();
        let mut owner = self.owner.lock().unwrap_or_else(PoisonError::into_inner);
        for b in desc.blobs() {
            owner.insert(b.hash, sd);
        }
    }

    /// Distinct peers known for a stream (given by hand or found in the DHT).
    pub fn known(&self, sd: &SdHash) -> usize {
        let found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all = self.fixed.clone();
        if let Some((_, peers)) = found.get(sd) {
            all.extend(peers);
        }
        all.sort();
        all.dedup();
        all.len()
    }

    /// Distinct peers known for any stream (given by hand or found in the DHT).
    pub fn distinct(&self) -> usize {
        let found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all = self.fixed.clone();
        all.extend(found.values().flat_map(|(_, p)| p.iter().copied()));
        all.sort();
        all.dedup();
        all.len()
    }

    fn is_us(&self, a: &SocketAddr) -> bool {
        a.port() == self.own_tcp_port && (a.ip().is_loopback() || a.ip().is_unspecified())
    }

    /// DHT peers for `key`, from the memo when fresh.
    async fn lookup(&self, node: &dht::Node, key: SdHash) -> Vec<SocketAddr> {
        let now = Instant::now();
        {
            let found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((at, peers)) = found.get(&key) {
                let ttl = if peers.is_empty() { FRESH_EMPTY } else { FRESH };
                if now.duration_since(*at) < ttl {
                    return peers.clone();
                }
            }
        }
        let mut peers = node.find_peers(key.as_blob()).await;
        peers.retain(|a| !self.is_us(a));
        tracing::debug!(key = %key.short(), peers = peers.len(), "dht peer lookup");
        let mut found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        found.insert(key, (now, peers.clone()));
        peers
    }
}

impl PeerFinder for NetworkPeers {
    fn find_peers(&self, hash: BlobHash) -> BoxFuture<'_, Vec<SocketAddr>> {
        Box::pin(async move {
            let mut all = self.fixed.clone();
            if let Some(node) = &self.dht {
                let owner = self
                    .owner
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&hash)
                    .copied();
                // An sd blob, or a blob of no known stream, is looked up by itself.
                let key = owner.unwrap_or(SdHash::from(hash));
                all.extend(self.lookup(node, key).await);
                if all.is_empty() && owner.is_some() {
                    // Nobody announced the stream; someone may have announced this blob.
                    all.extend(self.lookup(node, SdHash::from(hash)).await);
                }
            }
            let mut seen = std::collections::HashSet::new();
            all.retain(|a| seen.insert(*a));
            all
        })
    }
}
