//! Test helpers shared by the stream and filesystem tests.

use super::{BlobSource, BoxFuture, SourceError};
use crate::blob::VerifiedBlob;
use crate::fetch::FetchError;
use crate::hash::BlobHash;
use crate::store::MemStore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Serves blobs from a memory store and counts the calls.
pub struct MemSource {
    pub store: MemStore,
    pub calls: AtomicUsize,
    /// Blobs that never arrive (a stalled network).
    pub stall: std::sync::Mutex<Vec<BlobHash>>,
    /// Every blob asked for, in order.
    asked: std::sync::Mutex<Vec<BlobHash>>,
}

impl BlobSource for MemSource {
    fn blob(
        &self,
        hash: BlobHash,
        _len: Option<u64>,
        _urgent: bool,
    ) -> BoxFuture<'_, Result<Arc<VerifiedBlob>, SourceError>> {
        self.asked.lock().unwrap().push(hash);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let stalled = self.stall.lock().unwrap().contains(&hash);
        Box::pin(async move {
            if stalled {
                tokio::time::sleep(Duration::from_secs(86_400)).await;
            }
            match self.store.get(&hash) {
                Ok(Some(b)) => Ok(Arc::new(b)),
                _ => Err(SourceError::new(FetchError::NoPeers { hash, why: None })),
            }
        })
    }
}

pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

impl MemSource {
    pub fn new(store: MemStore) -> Self {
        Self {
            store,
            calls: AtomicUsize::new(0),
            stall: Default::default(),
            asked: Default::default(),
        }
    }

    pub fn asked(&self) -> Vec<BlobHash> {
        self.asked.lock().unwrap().clone()
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}
