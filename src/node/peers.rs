//! Who might have a blob, for a running node: peers given by hand, plus the
//! peers announced in the DHT for the blob's stream.
//!
//! lbry-sdk announces a stream's sd blob and first data blob, so a data blob
//! is looked up by its stream's sd hash (the mount registers each stream's
//! blobs here). Results are kept for a minute (an empty answer for five
//! seconds) so a stream of thousands of blobs costs one lookup, not thousands.
//! Our own blob server is never returned: asking ourselves is a wasted turn.
//!
//! Both maps are fed by what the network and users name, so both are
//! bounded: the memo holds `MAX_MEMOS` answers (expired ones go first, then
//! the oldest), and the blob-to-stream index `MAX_OWNED` blobs (the streams
//! registered first are forgotten first; their blobs are then looked up by
//! their own hash, which still works for the announced ones).

use crate::dht;
use crate::fetch::{BoxFuture, PeerFinder};
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a DHT answer is reused.
const FRESH: Duration = Duration::from_secs(60);
/// How long an empty DHT answer is reused.
const FRESH_EMPTY: Duration = Duration::from_secs(5);
/// DHT answers kept, at most.
const MAX_MEMOS: usize = 4096;
/// Data blobs mapped to their stream, at most.
const MAX_OWNED: usize = 1 << 18;

pub struct NetworkPeers {
    fixed: Vec<SocketAddr>,
    dht: Option<Arc<dht::Node>>,
    /// Our blob server's port: an address with it on a local IP is us.
    own_tcp_port: u16,
    /// Data blob -> the stream it belongs to.
    owner: Mutex<Owners>,
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
        let blobs: Vec<BlobHash> = desc.blobs().iter().map(|b| b.hash).collect();
        let mut owner = self.owner.lock().unwrap_or_else(PoisonError::into_inner);
        owner.insert(desc.sd_hash(), blobs, MAX_OWNED);
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
        if found.len() >= MAX_MEMOS && !found.contains_key(&key) {
            prune_memos(&mut found, now);
        }
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
                    .blobs
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

/// Data blob -> stream, remembering the order streams came in.
#[derive(Default)]
struct Owners {
    blobs: HashMap<BlobHash, SdHash>,
    streams: VecDeque<(SdHash, Vec<BlobHash>)>,
}

impl Owners {
    /// Indexes `sd`'s blobs, forgetting the oldest streams beyond `cap` blobs.
    fn insert(&mut self, sd: SdHash, blobs: Vec<BlobHash>, cap: usize) {
        if blobs.iter().all(|b| self.blobs.get(b) == Some(&sd)) {
            return;
        }
        while self.blobs.len() + blobs.len() > cap {
            let Some((old, old_blobs)) = self.streams.pop_front() else {
                break;
            };
            for b in old_blobs {
                if self.blobs.get(&b) == Some(&old) {
                    self.blobs.remove(&b);
                }
            }
        }
        for &b in blobs.iter().take(cap) {
            self.blobs.insert(b, sd);
        }
        self.streams.push_back((sd, blobs));
    }
}

/// Makes room in a full memo: expired answers go, then the oldest half.
fn prune_memos(found: &mut HashMap<SdHash, (Instant, Vec<SocketAddr>)>, now: Instant) {
    found.retain(|_, (at, peers)| {
        let ttl = if peers.is_empty() { FRESH_EMPTY } else { FRESH };
        now.duration_since(*at) < ttl
    });
    if found.len() >= MAX_MEMOS {
        let mut ages: Vec<Instant> = found.values().map(|(at, _)| *at).collect();
        ages.sort_unstable();
        let cut = ages[ages.len() / 2];
        found.retain(|_, (at, _)| *at > cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u32) -> BlobHash {
        BlobHash::digest(&n.to_be_bytes())
    }

    #[test]
    fn the_blob_index_forgets_the_oldest_streams_beyond_its_cap() {
        let mut o = Owners::default();
        for s in 0..10u32 {
            let blobs = (0..4).map(|i| h(s * 100 + i)).collect();
            o.insert(SdHash::from(h(1_000_000 + s)), blobs, 10);
        }
        assert!(o.blobs.len() <= 10);
        assert_eq!(o.blobs.get(&h(900)), Some(&SdHash::from(h(1_000_009))));
        assert_eq!(o.blobs.get(&h(0)), None, "the first stream was forgotten");
    }

    #[test]
    fn a_full_memo_is_pruned() {
        let now = Instant::now();
        let mut found = HashMap::new();
        for n in 0..MAX_MEMOS as u32 {
            let at = now - Duration::from_millis(u64::from(n % 50));
            found.insert(
                SdHash::from(h(n)),
                (at, vec![SocketAddr::from(([127, 0, 0, 1], 1))]),
            );
        }
        prune_memos(&mut found, now);
        assert!(found.len() < MAX_MEMOS);
    }
}
