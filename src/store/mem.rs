//! An in-memory `BlobStore`, for tests and for nodes that keep nothing on disk.
//!
//! Same contract as the disk store: only verified blobs go in, reads
//! re-verify. (The cache cap arrives with the LRU accounting.)

use super::{BlobStore, Keep, RawBlob, StoreError, StoreStats};
use crate::blob::VerifiedBlob;
use crate::hash::BlobHash;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemStore {
    blobs: Mutex<HashMap<BlobHash, (VerifiedBlob, Keep)>>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BlobHash, (VerifiedBlob, Keep)>> {
        // A panic while holding this lock cannot leave the map half-updated.
        self.blobs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl BlobStore for MemStore {
    fn put(&self, blob: &VerifiedBlob, keep: Keep) -> Result<(), StoreError> {
        let mut map = self.lock();
        let entry = map
            .entry(*blob.hash())
            .or_insert_with(|| (blob.clone(), keep));
        if keep == Keep::Pin {
            entry.1 = Keep::Pin;
        }
        Ok(())
    }

    fn get(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        Ok(self.lock().get(hash).map(|(b, _)| b.clone()))
    }

    fn contains(&self, hash: &BlobHash) -> bool {
        self.lock().contains_key(hash)
    }

    fn len_of(&self, hash: &BlobHash) -> Option<u64> {
        self.lock().get(hash).map(|(b, _)| b.len() as u64)
    }

    fn open_raw(&self, hash: &BlobHash) -> Result<Option<RawBlob>, StoreError> {
        Ok(self
            .lock()
            .get(hash)
            .map(|(b, _)| RawBlob::Bytes(b.data().to_vec())))
    }

    fn pin(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        let mut map = self.lock();
        for h in hashes {
            if let Some(e) = map.get_mut(h) {
                e.1 = Keep::Pin;
            }
        }
        Ok(())
    }

    fn list(&self) -> Vec<BlobHash> {
        self.lock().keys().copied().collect()
    }

    fn stats(&self) -> StoreStats {
        let map = self.lock();
        let mut s = StoreStats {
            blobs: map.len(),
            cap_bytes: u64::MAX,
            ..Default::default()
        };
        for (b, k) in map.values() {
            match k {
                Keep::Pin => s.pinned_bytes += b.len() as u64,
                Keep::Cache => s.cached_bytes += b.len() as u64,
            }
        }
        s
    }
}
