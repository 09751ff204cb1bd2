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
use tokio_util::sync::CancellationToken;
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
    /// Cancelled when the node stops: transfers end, and no new one starts.
    stop: CancellationToken,
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
            stop: CancellationToken::new(),
        }
    }

    /// This fetcher, stopped by `stop` (the node's cancellation tree):
    /// once it is cancelled, running transfers end and their waiters get
    /// [`FetchError::Interrupted`], as does every later fetch not in the store.
    pub fn stopped_by(mut self, stop: CancellationToken) -> Self {
        self.stop = stop;
        self
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
                let stop = self.stop.clone();
                let span = tracing::debug_span!("transfer", blob = %hash.short());
                task::spawn("blob transfer", span, async move {
                    let urgent = leader.urgent.clone();
                    let run = transfer::run(&inner, hash, expected_len, urgent);
                    // Biased: a transfer that starts after the stop asks nobody.
                    let ran = tokio::select! {
                        biased;
                        () = stop.cancelled() => None,
                        got = run => Some(got),
                    };
                    let result = match ran {
                        Some(Ok(Got::Stored(blob))) => Ok(Arc::new(blob)),
                        Some(Ok(Got::Fetched(blob))) => {
                            let blob = Arc::new(blob);
                            leader.deliver(blob.clone());
                            store(&inner, blob).await
                        }
                        Some(Err(e)) => Err(e),
                        None => {
                            tracing::debug!("stopped with the node");
                            Err(FetchError::Interrupted { hash })
                        }
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
#[path = "fetcher_tests.rs"]
mod tests;
