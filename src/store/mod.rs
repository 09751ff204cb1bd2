//! Where blobs live: a disk store, an in-memory one, and the small traits
//! (`seams.rs`) from which each consumer names what it uses of them.
//!
//! Every blob in a store was verified before it became visible: `put` takes a
//! [`VerifiedBlob`], which only exists once its hash has been computed from its
//! bytes. Reads check again (`get`), because disks rot and people edit folders;
//! a blob that fails is removed and reported, never returned. The disk store
//! checks a blob it wrote itself by the checksum it recorded then (far faster
//! than SHA-384, see `disk/sums.rs`), and hashes any other. Only `peek`
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
//! Stores are synchronous (plain file I/O); async callers use
//! `tokio::task::spawn_blocking`.

pub mod disk;
pub mod lru;
pub mod mem;
mod seams;

use crate::hash::BlobHash;
use std::path::PathBuf;

pub use disk::{DiskStore, StreamPins};
pub use mem::MemStore;
pub use seams::{
    HasBlob, HoldBlobs, IsPinned, ListBlobs, OpenRaw, PeekBlob, PinBlobs, PutBlob, ReadBlob,
    ReadQuiet, RemoveBlobs, Stats,
};

/// Whether a new blob is the user's own (pinned) or a cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Counted against the cache cap, evictable.
    Cache,
    /// Published: outside the cap, never evicted, persisted.
    Pin,
    /// Part of a publish in progress: outside the cap and never evicted like
    /// `Pin`, but not persisted until [`PinBlobs::pin`], and removed by
    /// [`PinBlobs::discard`]. A blob already pinned stays pinned.
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
