//! The [`Fetcher`]: the one door through which the rest of the program gets
//! blobs it may not have. Cache first, then one transfer per blob however
//! many callers want it, spawned so that no caller's cancellation can strand
//! the others.
//!
//! A successful fetch puts the blob in the store (`Keep::Cache`) before it
//! returns; [`Fetcher::fetch_shared`] returns earlier, as soon as the blob is
//! verified, while the same transfer stores it (readers need the bytes, not
//! the disk write). When the cache is full of blobs held by open files (a
//! cache smaller than what is being read), the verified blob is handed over
//! without being cached, so reads still work and the cap still holds. Any
//! other store failure fails [`Fetcher::fetch`] ([`FetchError::Store`]);
//! `fetch_shared` callers have their bytes by then. The store is
//! synchronous, so it is called through `spawn_blocking` (a read re-hashes
//! up to 2 MiB).

use super::flight::{Flights, Join, Waiter};
use super::hedge::HedgeConfig;
use super::score::{ScoreConfig, Scoreboard};
use super::{transfer, BlobPeer, FetchError, FetchStore, PeerFinder};
use crate::blob::VerifiedBlob;
use crate::hash::BlobHash;
use crate::store::{Keep, StoreError};
use crate::task;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;

/// Tunables of the fetcher. `Default` gives the production values.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchConfig {
    /// Longest time spent on one blob, peer lookup included. After it the
    /// fetch fails with what was tried (lbry-sdk allows 300 s per data blob).
    pub deadline: Duration,
    /// Most requests in flight to one peer at a time, over all blobs.
    pub per_peer_in_flight: usize,
    /// When to race a second peer for an urgent blob.
    pub hedge: HedgeConfig,
    /// Bans, back-offs and throughput weighting.
    pub score: ScoreConfig,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(60),
            per_peer_in_flight: 2,
            hedge: HedgeConfig::default(),
            score: ScoreConfig::default(),
        }
    }
}

/// How much a caller is waiting for a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A reader is blocked on it: a slow request is hedged to another peer.
    Urgent,
    /// Prefetch: one peer at a time, so read-ahead does not double the load
    /// on the network. Becomes urgent when an urgent caller joins.
    Bulk,
}

/// Gets verified blobs: from the store if present, else from peers. Cheap to
/// clone; clones share the store, scores and in-flight transfers.
#[derive(Clone)]
pub struct Fetcher {
    pub(crate) inner: Arc<Inner>,
}

/// What every transfer shares.
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn FetchStore>,
    pub(crate) finder: Arc<dyn PeerFinder>,
    pub(crate) peer: Arc<dyn BlobPeer>,
    pub(crate) cfg: FetchConfig,
    score: Mutex<Scoreboard>,
    /// Signalled whenever a request ends, so transfers waiting for a peer's slot retry.
    pub(crate) slot_freed: Notify,
    pub(crate) flights: Arc<Flights>,
}

impl Inner {
    pub(crate) fn score(&self) -> MutexGuard<'_, Scoreboard> {
        // Scoreboard methods do not panic midway; a poisoned board is still consistent.
        self.score.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Fetcher {
    pub fn new(
        store: Arc<dyn FetchStore>,
        finder: Arc<dyn PeerFinder>,
        peer: Arc<dyn BlobPeer>,
        config: FetchConfig,
    ) -> Self {
        let score = Mutex::new(Scoreboard::new(config.score.clone()));
        Self {
            inner: Arc::new(Inner {
                store,
                finder,
                peer,
                cfg: config,
                score,
                slot_freed: Notify::new(),
                flights: Arc::default(),
            }),
        }
    }

    /// Returns blob `hash`, from the store or else from peers (then stored).
    /// `expected_len` is the length the stream descriptor gives, when known;
    /// a peer announcing another length is treated as lying.
    pub async fn fetch(
        &self,
        hash: BlobHash,
        expected_len: Option<u64>,
        priority: Priority,
    ) -> Result<VerifiedBlob, FetchError> {
        let span = tracing::debug_span!("fetch", blob = %hash.short(), ?priority);
        async {
            if let Some(blob) = cached(&self.inner, hash).await? {
                tracing::trace!("cache hit");
                return Ok(blob);
            }
            self.join(hash, expected_len, priority).wait().await
        }
        .instrument(span)
        .await
    }

    /// Like [`fetch`](Self::fetch), but returns as soon as a fetched blob is
    /// verified, while it is still being stored (for readers, which need the
    /// bytes, not the disk write), and shares the bytes instead of copying.
    pub async fn fetch_shared(
        &self,
        hash: BlobHash,
        expected_len: Option<u64>,
        priority: Priority,
    ) -> Result<Arc<VerifiedBlob>, FetchError> {
        let span = tracing::debug_span!("fetch", blob = %hash.short(), ?priority);
        async {
            if let Some(blob) = cached(&self.inner, hash).await? {
                tracing::trace!("cache hit");
                return Ok(Arc::new(blob));
            }
            self.join(hash, expected_len, priority).wait_shared().await
        }
        .instrument(span)
        .await
    }

    /// Joins the transfer of `hash`, starting it if none runs.
    fn join(&self, hash: BlobHash, expected_len: Option<u64>, priority: Priority) -> Waiter {
        let urgent = priority == Priority::Urgent;
        match self.inner.flights.join(hash, urgent) {
            Join::Running(waiter) => {
                tracing::trace!("joined the running transfer");
                waiter
            }
            Join::Start(waiter, leader) => {
                let inner = Arc::clone(&self.inner);
                let span = tracing::debug_span!("transfer", blob = %hash.short());
                task::spawn("blob transfer", span, async move {
                    let urgent = leader.urgent.clone();
                    let result = match transfer::run(&inner, hash, expected_len, urgent).await {
                        Ok(Got::Stored(blob)) => Ok(Arc::new(blob)),
                        Ok(Got::Fetched(blob)) => {
                            let blob = Arc::new(blob);
                            leader.deliver(blob.clone());
                            store(&inner, blob).await
                        }
                        Err(e) => Err(e),
                    };
                    leader.finish(result);
                });
                waiter
            }
        }
    }
}

/// What a transfer ends with.
pub(crate) enum Got {
    /// Found in the store (it landed there since the caller looked).
    Stored(VerifiedBlob),
    /// Fetched from a peer and verified, not stored yet.
    Fetched(VerifiedBlob),
}

/// The stored copy of `hash`, if any. A corrupt copy (the store removed it) is a miss.
pub(crate) async fn cached(
    inner: &Inner,
    hash: BlobHash,
) -> Result<Option<VerifiedBlob>, FetchError> {
    if !inner.store.contains(&hash) {
        return Ok(None);
    }
    let store = Arc::clone(&inner.store);
    match crate::blocking::run(move || store.get(&hash)).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e @ StoreError::Corrupt { .. })) => {
            tracing::warn!(error = %e, "fetching the blob again");
            Ok(None)
        }
        Ok(Err(e)) => Err(FetchError::store(hash, e)),
        Err(_) => Err(FetchError::Interrupted { hash }),
    }
}

/// Stores a fetched blob as a cache entry and hands it back.
async fn store(inner: &Inner, blob: Arc<VerifiedBlob>) -> Result<Arc<VerifiedBlob>, FetchError> {
    let hash = *blob.hash();
    let store = Arc::clone(&inner.store);
    let put = move || match store.put(&blob, Keep::Cache) {
        Ok(()) => Ok(blob),
        Err(e @ StoreError::Full { .. }) => {
            tracing::warn!(error = %e, "passing the blob on without caching it");
            Ok(blob)
        }
        Err(e) => Err(e),
    };
    match crate::blocking::run(put).await {
        Ok(Ok(blob)) => Ok(blob),
        Ok(Err(e)) => Err(FetchError::store(hash, e)),
        Err(_) => Err(FetchError::Interrupted { hash }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::mock::{addr, fetcher, test_config, Behave, Gate, MockNet};
    use crate::fetch::PeerError;

    #[tokio::test]
    async fn a_cache_full_of_held_blobs_still_hands_the_blob_over_uncached() {
        let net = MockNet::new();
        let (hash, len) = net.add(&[7u8; 600]);
        let store = Arc::new(crate::store::MemStore::with_cap(1000));
        // An open file holds a 500-byte blob: 600 more bytes cannot fit under the cap.
        let held = VerifiedBlob::from_bytes(vec![1; 500]);
        store.hold(held.hash());
        store.put(&held, Keep::Cache).unwrap();
        let f = Fetcher::new(
            store.clone(),
            Arc::new(crate::fetch::mock::StaticPeers::new([addr(1)])),
            net.clone(),
            test_config(),
        );
        let blob = f.fetch(hash, len, Priority::Urgent).await.unwrap();
        assert_eq!(blob.data(), &[7u8; 600][..]);
        assert!(
            !store.contains(&hash),
            "the cap holds: the blob was not cached"
        );
        assert!(store.stats().cached_bytes <= 1000);
    }

    #[tokio::test]
    async fn cache_hit_does_no_network_call() {
        let net = MockNet::new();
        let (f, store) = fetcher(&net, &[addr(1)], test_config());
        let blob = VerifiedBlob::from_bytes(b"cached".to_vec());
        store.put(&blob, Keep::Cache).unwrap();
        let got = f
            .fetch(*blob.hash(), Some(6), Priority::Urgent)
            .await
            .unwrap();
        assert_eq!(got, blob);
        assert_eq!(net.total().calls, 0);
    }

    #[tokio::test]
    async fn a_shared_fetch_gets_the_bytes_and_the_blob_is_still_stored_once() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"early");
        let (f, store) = fetcher(&net, &[addr(1)], test_config());
        let (shared, stored) = tokio::join!(
            f.fetch_shared(hash, len, Priority::Urgent),
            f.fetch(hash, len, Priority::Bulk)
        );
        assert_eq!(shared.unwrap().data(), b"early");
        // The plain fetch returns only once the blob is stored.
        assert_eq!(stored.unwrap().data(), b"early");
        assert!(store.contains(&hash));
        assert_eq!(net.total().calls, 1, "one transfer for both callers");
        // Later shared fetches are cache hits.
        assert_eq!(
            f.fetch_shared(hash, len, Priority::Urgent)
                .await
                .unwrap()
                .data(),
            b"early"
        );
        assert_eq!(net.total().calls, 1);
    }

    #[tokio::test]
    async fn fetched_blob_is_stored_and_then_served_from_the_store() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"fresh");
        let (f, store) = fetcher(&net, &[addr(1)], test_config());
        assert_eq!(
            f.fetch(hash, len, Priority::Bulk).await.unwrap().data(),
            b"fresh"
        );
        assert!(store.contains(&hash));
        f.fetch(hash, len, Priority::Bulk).await.unwrap();
        assert_eq!(net.total().calls, 1);
    }

    #[tokio::test]
    async fn no_peers_is_its_own_error() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"nobody");
        let (f, _) = fetcher(&net, &[], test_config());
        let e = f.fetch(hash, len, Priority::Urgent).await.unwrap_err();
        assert!(
            matches!(e, FetchError::NoPeers { hash: h, .. } if h == hash),
            "{e}"
        );
    }

    /// Waits until `n` callers wait on the flight for `hash`.
    async fn waiters(f: &Fetcher, hash: BlobHash, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while f.inner.flights.waiters(&hash) < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "fetches never joined"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Starts 10 concurrent fetches of `hash` and waits until all joined one flight.
    async fn ten_waiters(
        f: &Fetcher,
        hash: BlobHash,
        len: Option<u64>,
    ) -> Vec<tokio::task::JoinHandle<Result<VerifiedBlob, FetchError>>> {
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let f = f.clone();
                tokio::spawn(async move { f.fetch(hash, len, Priority::Urgent).await })
            })
            .collect();
        waiters(f, hash, 10).await;
        tasks
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_fetches_of_one_blob_make_one_call() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"popular");
        let gate = Gate::new();
        net.set(
            addr(1),
            Behave::Gated(gate.clone(), Box::new(Behave::Serve)),
        );
        let (f, _) = fetcher(&net, &[addr(1), addr(2)], test_config());
        let tasks = ten_waiters(&f, hash, len).await;
        gate.open();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().data(), b"popular");
        }
        assert_eq!(net.total().calls, 1);
    }

    #[tokio::test]
    async fn every_waiter_gets_the_same_error() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"unlucky");
        let gate = Gate::new();
        let refuse = Behave::Fail(PeerError::Connect("refused".into()));
        net.set(addr(1), Behave::Gated(gate.clone(), Box::new(refuse)));
        let (f, _) = fetcher(&net, &[addr(1)], test_config());
        let tasks = ten_waiters(&f, hash, len).await;
        gate.open();
        for t in tasks {
            let e = t.await.unwrap().unwrap_err();
            assert!(e.to_string().contains("refused"), "{e}");
        }
        assert_eq!(net.total().calls, 1);
    }

    #[tokio::test]
    async fn a_cancelled_first_caller_does_not_strand_the_others() {
        let net = MockNet::new();
        let (hash, len) = net.add(b"patience");
        let gate = Gate::new();
        net.set(
            addr(1),
            Behave::Gated(gate.clone(), Box::new(Behave::Serve)),
        );
        let (f, _) = fetcher(&net, &[addr(1)], test_config());
        let first = {
            let f = f.clone();
            tokio::spawn(async move { f.fetch(hash, len, Priority::Urgent).await })
        };
        net.until("the transfer started", |n| n.total().calls == 1)
            .await;
        let second = {
            let f = f.clone();
            tokio::spawn(async move { f.fetch(hash, len, Priority::Urgent).await })
        };
        waiters(&f, hash, 2).await;
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        gate.open();
        assert_eq!(second.await.unwrap().unwrap().data(), b"patience");
        assert_eq!(net.total().calls, 1);
        assert_eq!(net.total().cancelled, 0);
    }
}
