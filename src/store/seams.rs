//! The store's capabilities, one small trait each, so that every consumer
//! names exactly what it calls (docs/architecture.md §5).
//!
//! A consumer does not take "a store": it declares its own seam from these
//! parts — the blob server a `ServedStore` (`HasBlob + OpenRaw`), the
//! fetcher a `FetchStore` (`HasBlob + ReadBlob + PutBlob`), the filesystem a
//! `VfsStore`, the announcer an `AnnounceStore`, and functions such as
//! `publish` or `catalog::stream_rows` a generic bound — and a test double
//! implements only those parts. [`DiskStore`](super::DiskStore) and
//! [`MemStore`](super::MemStore) implement all of them by forwarding to
//! their inherent methods of the same names.
//!
//! Each trait is synchronous (plain file I/O); async callers use
//! `tokio::task::spawn_blocking`.

use super::{Keep, RawBlob, StoreError, StoreStats};
use crate::blob::VerifiedBlob;
use crate::hash::BlobHash;

/// Whether a blob is present.
pub trait HasBlob {
    /// Whether the blob is present (no I/O).
    fn contains(&self, hash: &BlobHash) -> bool;
}

/// Reading a blob as a use of it.
pub trait ReadBlob {
    /// Reads and re-verifies a blob; `Ok(None)` when absent. Marks it used (LRU).
    /// A corrupt blob is removed and reported as `Corrupt`.
    fn get(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError>;
}

/// Reading a blob while looking around (`ls`), which must not reorder the cache.
pub trait ReadQuiet {
    /// [`ReadBlob::get`] without marking the blob used.
    fn get_quiet(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError>;
}

/// A glance at a blob's first bytes.
pub trait PeekBlob {
    /// The first `max` bytes of a blob (fewer if it is shorter), unverified
    /// and not a use; `Ok(None)` when absent.
    fn peek(&self, hash: &BlobHash, max: usize) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Every blob present.
pub trait ListBlobs {
    /// Every blob present, in no particular order.
    fn list(&self) -> Vec<BlobHash>;
}

/// Storing a verified blob.
pub trait PutBlob {
    /// Stores a verified blob durably. Storing a blob already present only
    /// updates its keep class (a cached blob that gets pinned stays).
    fn put(&self, blob: &VerifiedBlob, keep: Keep) -> Result<(), StoreError>;
}

/// A blob opened for sending as it is.
pub trait OpenRaw {
    /// Opens a blob for sending, hashing it only if this store has not yet
    /// verified it (a blob found at open is trusted by name until then); a
    /// corrupt one is removed and reported as `Corrupt`. Marks it used (LRU).
    fn open_raw(&self, hash: &BlobHash) -> Result<Option<RawBlob>, StoreError>;
}

/// How a publish ends: its staged blobs pinned for good, or discarded.
pub trait PinBlobs {
    /// Pins blobs already present (published streams), persistently; staged
    /// blobs among them become pinned for good.
    fn pin(&self, hashes: &[BlobHash]) -> Result<(), StoreError>;
    /// Drops one stage of each of these blobs (a failed publish); a blob whose
    /// last stage goes is removed. Blobs pinned for good, cached or absent are
    /// left alone.
    fn discard(&self, hashes: &[BlobHash]);
}

/// Whether a blob is the user's own.
pub trait IsPinned {
    /// Whether the blob is pinned for good (published), not staged or cached (no I/O).
    fn is_pinned(&self, hash: &BlobHash) -> bool;
}

/// Removing a stream's blobs (unpublish).
pub trait RemoveBlobs {
    /// Removes these blobs, pinned or cached (an unpublished stream), and
    /// forgets their pins for good. Blobs staged by a publish in progress and
    /// absent ones are left alone. A reader holding one fetches it again.
    fn remove(&self, hashes: &[BlobHash]) -> Result<(), StoreError>;
}

/// Protecting blobs from eviction while they are read.
pub trait HoldBlobs {
    /// Protects a blob from eviction until the matching [`release`](Self::release)
    /// (an open file, an in-flight read). Holds are counted and may be taken
    /// before the blob arrives.
    fn hold(&self, hash: &BlobHash);
    /// Drops one [`hold`](Self::hold).
    fn release(&self, hash: &BlobHash);
}

/// The store's figures, for `status` and tests.
pub trait Stats {
    /// Current figures.
    fn stats(&self) -> StoreStats;
}

/// Implements every capability of a store by forwarding to its inherent
/// methods of the same names.
macro_rules! forward_capabilities {
    ($store:ty) => {
        impl HasBlob for $store {
            fn contains(&self, hash: &BlobHash) -> bool {
                <$store>::contains(self, hash)
            }
        }
        impl ReadBlob for $store {
            fn get(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
                <$store>::get(self, hash)
            }
        }
        impl ReadQuiet for $store {
            fn get_quiet(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
                <$store>::get_quiet(self, hash)
            }
        }
        impl PeekBlob for $store {
            fn peek(&self, hash: &BlobHash, max: usize) -> Result<Option<Vec<u8>>, StoreError> {
                <$store>::peek(self, hash, max)
            }
        }
        impl ListBlobs for $store {
            fn list(&self) -> Vec<BlobHash> {
                <$store>::list(self)
            }
        }
        impl PutBlob for $store {
            fn put(&self, blob: &VerifiedBlob, keep: Keep) -> Result<(), StoreError> {
                <$store>::put(self, blob, keep)
            }
        }
        impl OpenRaw for $store {
            fn open_raw(&self, hash: &BlobHash) -> Result<Option<RawBlob>, StoreError> {
                <$store>::open_raw(self, hash)
            }
        }
        impl PinBlobs for $store {
            fn pin(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
                <$store>::pin(self, hashes)
            }
            fn discard(&self, hashes: &[BlobHash]) {
                <$store>::discard(self, hashes)
            }
        }
        impl IsPinned for $store {
            fn is_pinned(&self, hash: &BlobHash) -> bool {
                <$store>::is_pinned(self, hash)
            }
        }
        impl RemoveBlobs for $store {
            fn remove(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
                <$store>::remove(self, hashes)
            }
        }
        impl HoldBlobs for $store {
            fn hold(&self, hash: &BlobHash) {
                <$store>::hold(self, hash)
            }
            fn release(&self, hash: &BlobHash) {
                <$store>::release(self, hash)
            }
        }
        impl Stats for $store {
            fn stats(&self) -> StoreStats {
                <$store>::stats(self)
            }
        }
    };
}

forward_capabilities!(super::DiskStore);
forward_capabilities!(super::MemStore);
