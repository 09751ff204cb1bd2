//! An in-memory store, for tests and for nodes that keep nothing on disk.
//!
//! Same contract as the disk store: only verified blobs go in, the same byte
//! cap, LRU eviction, pins and holds (all decided by [`Lru`]). Memory does not
//! rot, so reads do not hash again. `MemStore::new()` has no cap.

use super::lru::Lru;
use super::{Keep, RawBlob, StoreError, StoreStats};
use crate::blob::{VerifiedBlob, MAX_BLOB_SIZE};
use crate::hash::BlobHash;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

pub struct MemStore {
    inner: Mutex<Inner>,
}

struct Inner {
    blobs: HashMap<BlobHash, VerifiedBlob>,
    lru: Lru,
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemStore {
    /// A store without a cap: nothing is ever evicted.
    pub fn new() -> Self {
        Self::with_cap(u64::MAX)
    }

    /// A store whose cached (unpinned) blobs never exceed `cap_bytes`.
    pub fn with_cap(cap_bytes: u64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                blobs: HashMap::new(),
                lru: Lru::new(cap_bytes),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below leaves `blobs` and `lru` consistent before it can
        // panic, so a poisoned lock is still sound.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// The capabilities (`super::seams` forwards each trait here).
impl MemStore {
    pub fn put(&self, blob: &VerifiedBlob, keep: Keep) -> Result<(), StoreError> {
        let hash = *blob.hash();
        let size = blob.len() as u64;
        if blob.len() > MAX_BLOB_SIZE {
            return Err(StoreError::TooLarge { hash, len: size });
        }
        let mut inner = self.lock();
        let present = inner.blobs.contains_key(&hash);
        match keep {
            Keep::Pin if present => {
                inner.lru.pin(&hash);
            }
            Keep::Pin => inner.lru.insert_pinned(hash, size),
            Keep::Staged => {
                inner.lru.stage(hash, size);
            }
            Keep::Cache => {
                let victims = inner.lru.admit(hash, size).map_err(|f| StoreError::Full {
                    hash,
                    needed: f.needed,
                    cap: f.cap,
                    held: f.held,
                })?;
                for v in victims {
                    inner.blobs.remove(&v);
                    tracing::info!(blob = %v.short(), "evicted from the memory cache");
                }
            }
        }
        if !present {
            inner.blobs.insert(hash, blob.clone());
        }
        Ok(())
    }

    pub fn get(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        let mut inner = self.lock();
        inner.lru.touch(hash);
        Ok(inner.blobs.get(hash).cloned())
    }

    pub fn get_quiet(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        Ok(self.lock().blobs.get(hash).cloned())
    }

    pub fn peek(&self, hash: &BlobHash, max: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let inner = self.lock();
        Ok(inner.blobs.get(hash).map(|b| {
            let data = b.data();
            data[..max.min(data.len())].to_vec()
        }))
    }

    pub fn contains(&self, hash: &BlobHash) -> bool {
        self.lock().blobs.contains_key(hash)
    }

    pub fn is_pinned(&self, hash: &BlobHash) -> bool {
        self.lock().lru.is_pinned(hash)
    }

    pub fn open_raw(&self, hash: &BlobHash) -> Result<Option<RawBlob>, StoreError> {
        Ok(self.get(hash)?.map(|b| RawBlob::Bytes(b.into_data())))
    }

    pub fn pin(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for h in hashes {
            inner.lru.pin(h);
        }
        Ok(())
    }

    pub fn discard(&self, hashes: &[BlobHash]) {
        let mut inner = self.lock();
        for h in hashes {
            if inner.lru.unstage(h).is_some() {
                inner.blobs.remove(h);
                tracing::info!(blob = %h.short(), "discarded after a failed publish");
            }
        }
    }

    pub fn remove(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for h in hashes {
            if inner.blobs.contains_key(h) && !inner.lru.is_staged(h) {
                inner.lru.remove(h);
                inner.blobs.remove(h);
            }
        }
        Ok(())
    }

    pub fn list(&self) -> Vec<BlobHash> {
        self.lock().blobs.keys().copied().collect()
    }

    pub fn stats(&self) -> StoreStats {
        let inner = self.lock();
        StoreStats {
            blobs: inner.blobs.len(),
            cached_bytes: inner.lru.cached_bytes(),
            pinned_bytes: inner.lru.pinned_bytes(),
            cap_bytes: inner.lru.cap(),
        }
    }

    pub fn hold(&self, hash: &BlobHash) {
        self.lock().lru.hold(hash);
    }

    pub fn release(&self, hash: &BlobHash) {
        self.lock().lru.release(hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(fill: u8, len: usize) -> VerifiedBlob {
        VerifiedBlob::from_bytes(vec![fill; len])
    }

    #[test]
    fn uncapped_store_keeps_everything() {
        let s = MemStore::new();
        for i in 0..20 {
            s.put(&blob(i, 1000), Keep::Cache).unwrap();
        }
        assert_eq!(s.stats().blobs, 20);
        assert_eq!(s.stats().cached_bytes, 20_000);
    }

    #[test]
    fn capped_store_evicts_lru_and_keeps_pins_and_holds() {
        let s = MemStore::with_cap(3000);
        let (a, b, c, d) = (blob(1, 1000), blob(2, 1000), blob(3, 1000), blob(4, 1000));
        let p = blob(9, 5000);
        s.put(&p, Keep::Pin).unwrap();
        s.put(&a, Keep::Cache).unwrap();
        s.put(&b, Keep::Cache).unwrap();
        s.put(&c, Keep::Cache).unwrap();
        s.hold(a.hash());
        s.put(&d, Keep::Cache).unwrap();
        assert!(s.contains(a.hash()), "held blob was evicted");
        assert!(
            !s.contains(b.hash()),
            "least recently used unheld blob stays"
        );
        assert_eq!(s.get(p.hash()).unwrap().as_ref(), Some(&p));
        let st = s.stats();
        assert_eq!(
            (st.cached_bytes, st.pinned_bytes, st.cap_bytes),
            (3000, 5000, 3000)
        );
        s.release(a.hash());
        s.put(&blob(5, 3000), Keep::Cache).unwrap();
        assert_eq!(s.list().len(), 2, "only the pinned blob and the newcomer");
    }

    #[test]
    fn a_blob_that_cannot_fit_is_refused_with_the_reason() {
        let s = MemStore::with_cap(1500);
        let a = blob(1, 1000);
        s.put(&a, Keep::Cache).unwrap();
        s.hold(a.hash());
        let err = s.put(&blob(2, 1000), Keep::Cache).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Full {
                    needed: 1000,
                    cap: 1500,
                    held: 1000,
                    ..
                }
            ),
            "{err}"
        );
        assert!(s.contains(a.hash()));
    }

    #[test]
    fn pinning_a_cached_blob_takes_it_out_of_the_cap() {
        let s = MemStore::with_cap(1000);
        let a = blob(1, 1000);
        s.put(&a, Keep::Cache).unwrap();
        s.pin(&[*a.hash()]).unwrap();
        s.put(&blob(2, 1000), Keep::Cache).unwrap();
        assert!(s.contains(a.hash()));
        assert_eq!(s.stats().pinned_bytes, 1000);
    }
}
