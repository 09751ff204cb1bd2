//! Where blobs live: the `BlobStore` trait, a disk store and an in-memory one.
//!
//! Every blob in a store was verified before it became visible: `put` takes a
//! [`VerifiedBlob`], which only exists once its hash has been computed from its
//! bytes. Reads verify again (`get`), because disks rot and people edit folders;
//! a blob that fails is removed and reported, never returned. Only `peek`
//! returns unverified bytes (a few, to tell descriptors from data).
//!
//! Three kinds of residents share a store:
//! - *pinned* blobs (published streams) are the user's own data: kept outside
//!   the cache cap, never evicted, remembered across restarts;
//! - *staged* blobs (a publish in progress) are protected like pinned ones
//!   but not remembered: a publish pins them with its descriptor when it
//!   succeeds and discards them when it fails, and after a crash they come
//!   back as ordinary cache;
//! - *cached* blobs (fetched from peers) count against a hard byte cap, checked
//!   before insert, and are evicted least-recently-used first.
//!
//! Uses (`get`, `open_raw`) drive the LRU order; looking around (`peek`,
//! `get_quiet`, `len_of`, `list`) does not, so listing streams leaves the
//! cache exactly as it was.
//!
//! The trait is synchronous (plain file I/O); async callers use
//! `tokio::task::spawn_blocking`.

pub mod disk;
pub mod lru;
pub mod mem;

use crate::blob::VerifiedBlob;
use crate::hash::BlobHash;
use std::path::PathBuf;

pub use disk::DiskStore;
pub use mem::MemStore;

/// Whether a new blob is the user's own (pinned) or a cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Counted against the cache cap, evictable.
    Cache,
    /// Published: outside the cap, never evicted, persisted.
    Pin,
    /// Part of a publish in progress: outside the cap and never evicted like
    /// `Pin`, but not persisted until [`BlobStore::pin`], and removed by
    /// [`BlobStore::discard`]. A blob already pinned stays pinned.
    Staged,
}

/// A blob opened for sending as it is (already verified when it was stored).
#[derive(Debug)]
pub enum RawBlob {
    /// A file the kernel can send directly (`sendfile`), and its length.
    File(std::fs::File, u64),
    /// Bytes held in memory.
    Bytes(Vec<u8>),
}

/// Figures for `ls`/`status` and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub blobs: usize,
    pub cached_bytes: u64,
    pub pinned_bytes: u64,
    pub cap_bytes: u64,
}

/// Errors of the blob store. Each names the blob or path concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "blob {hash} in the store is corrupt (its content hashes to {actual}); it was removed"
    )]
    Corrupt { hash: BlobHash, actual: BlobHash },
    #[error("blob {hash} is {len} bytes, more than the 2 MiB maximum")]
    TooLarge { hash: BlobHash, len: u64 },
    #[error("cache full: blob {hash} needs {needed} bytes but the cap is {cap} bytes and {held} bytes are held by open streams")]
    Full {
        hash: BlobHash,
        needed: u64,
        cap: u64,
        held: u64,
    },
    #[error("data directory {path} is in use by another lbrymount process{}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked { path: PathBuf, pid: Option<u32> },
    #[error("cannot {op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A place that holds verified blobs.
pub trait BlobStore: Send + Sync + 'static {
    /// Stores a verified blob durably. Storing a blob already present only
    /// updates its keep class (a cached blob that gets pinned stays).
    fn put(&self, blob: &VerifiedBlob, keep: Keep) -> Result<(), StoreError>;
    /// Reads and re-verifies a blob; `Ok(None)` when absent. Marks it used (LRU).
    /// A corrupt blob is removed and reported as `Corrupt`.
    fn get(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError>;
    /// [`get`](Self::get) without marking the blob used: for looking around
    /// (`ls`), which must not reorder the cache.
    fn get_quiet(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError>;
    /// The first `max` bytes of a blob (fewer if it is shorter), unverified
    /// and not a use; `Ok(None)` when absent.
    fn peek(&self, hash: &BlobHash, max: usize) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether the blob is present (no I/O).
    fn contains(&self, hash: &BlobHash) -> bool;
    /// Whether the blob is pinned for good (published), not staged or cached (no I/O).
    fn is_pinned(&self, _hash: &BlobHash) -> bool {
        false
    }
    /// The stored length of a blob, if present (no I/O).
    fn len_of(&self, hash: &BlobHash) -> Option<u64>;
    /// Opens a blob for sending, hashing it only if this store has not yet
    /// verified it (a blob found at open is trusted by name until then); a
    /// corrupt one is removed and reported as `Corrupt`. Marks it used (LRU).
    fn open_raw(&self, hash: &BlobHash) -> Result<Option<RawBlob>, StoreError>;
    /// Pins blobs already present (published streams), persistently; staged
    /// blobs among them become pinned for good.
    fn pin(&self, hashes: &[BlobHash]) -> Result<(), StoreError>;
    /// Drops one stage of each of these blobs (a failed publish); a blob whose
    /// last stage goes is removed. Blobs pinned for good, cached or absent are
    /// left alone.
    fn discard(&self, hashes: &[BlobHash]);
    /// Removes these blobs, pinned or cached (an unpublished stream), and
    /// forgets their pins for good. Blobs staged by a publish in progress and
    /// absent ones are left alone. A reader holding one fetches it again.
    fn remove(&self, hashes: &[BlobHash]) -> Result<(), StoreError>;
    /// Every blob present, in no particular order.
    fn list(&self) -> Vec<BlobHash>;
    /// Current figures.
    fn stats(&self) -> StoreStats;
    /// Protects a blob from eviction until the matching [`release`](Self::release)
    /// (an open file, an in-flight read). Holds are counted and may be taken
    /// before the blob arrives. Stores without eviction need not track them.
    fn hold(&self, _hash: &BlobHash) {}
    /// Drops one [`hold`](Self::hold).
    fn release(&self, _hash: &BlobHash) {}
}
