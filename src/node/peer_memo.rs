//! The two maps behind [`super::peers::Peers`], bounded.
//!
//! Both are fed by what the network and users name (streams opened, DHT
//! answers), so both have a cap: the memo of DHT answers holds
//! [`MAX_MEMOS`] entries (expired ones go first, then the older half), and
//! the blob-to-stream index [`MAX_OWNED`] blobs (the streams registered
//! first are forgotten first; their blobs are then looked up by their own
//! hash, which still works for announced ones).

use crate::hash::{BlobHash, SdHash};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// DHT answers kept, at most.
pub const MAX_MEMOS: usize = 4096;
/// Data blobs mapped to their stream, at most.
pub const MAX_OWNED: usize = 1 << 18;
/// How long a DHT answer is reused.
const FRESH: Duration = Duration::from_secs(60);
/// How long an empty DHT answer is reused.
const FRESH_EMPTY: Duration = Duration::from_secs(5);

/// One DHT answer: when, who, and why nobody when nobody.
pub struct Memo {
    pub at: Instant,
    pub peers: Vec<SocketAddr>,
    pub why_none: Option<String>,
}

impl Memo {
    /// Whether the answer may still be reused at `now`.
    pub fn is_fresh(&self, now: Instant) -> bool {
        let ttl = if self.peers.is_empty() {
            FRESH_EMPTY
        } else {
            FRESH
        };
        now.duration_since(self.at) < ttl
    }
}

/// DHT answers by the key looked up, bounded by [`MAX_MEMOS`].
#[derive(Default)]
pub struct Memos(HashMap<SdHash, Memo>);

impl Memos {
    pub fn get(&self, key: &SdHash) -> Option<&Memo> {
        self.0.get(key)
    }

    pub fn values(&self) -> impl Iterator<Item = &Memo> {
        self.0.values()
    }

    /// Records `memo`, making room first when the map is full.
    pub fn insert(&mut self, key: SdHash, memo: Memo, now: Instant) {
        if self.0.len() >= MAX_MEMOS && !self.0.contains_key(&key) {
            self.prune(now);
        }
        self.0.insert(key, memo);
    }

    /// Expired answers go, then the older half if that was not enough.
    fn prune(&mut self, now: Instant) {
        self.0.retain(|_, m| m.is_fresh(now));
        if self.0.len() >= MAX_MEMOS {
            let mut ages: Vec<Instant> = self.0.values().map(|m| m.at).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            self.0.retain(|_, m| m.at > cut);
        }
    }
}

/// Data blob -> stream, remembering the order streams came in.
#[derive(Default)]
pub struct Owners {
    blobs: HashMap<BlobHash, SdHash>,
    streams: VecDeque<(SdHash, Vec<BlobHash>)>,
}

impl Owners {
    pub fn get(&self, blob: &BlobHash) -> Option<&SdHash> {
        self.blobs.get(blob)
    }

    /// Indexes `sd`'s blobs, forgetting the oldest streams beyond `cap` blobs.
    pub fn insert(&mut self, sd: SdHash, blobs: Vec<BlobHash>, cap: usize) {
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
        assert_eq!(o.get(&h(900)), Some(&SdHash::from(h(1_000_009))));
        assert_eq!(o.get(&h(0)), None, "the first stream was forgotten");
    }

    #[test]
    fn a_full_memo_is_pruned() {
        let now = Instant::now();
        let mut memos = Memos::default();
        for n in 0..MAX_MEMOS as u32 {
            let memo = Memo {
                at: now - Duration::from_millis(u64::from(n % 50)),
                peers: vec![SocketAddr::from(([127, 0, 0, 1], 1))],
                why_none: None,
            };
            memos.insert(SdHash::from(h(n)), memo, now);
        }
        assert_eq!(memos.0.len(), MAX_MEMOS);
        let extra = Memo {
            at: now,
            peers: Vec::new(),
            why_none: None,
        };
        memos.insert(SdHash::from(h(u32::MAX)), extra, now);
        assert!(memos.0.len() < MAX_MEMOS, "{}", memos.0.len());
        assert!(memos.get(&SdHash::from(h(u32::MAX))).is_some());
    }
}
