//! A small in-memory cache of decrypted blobs, shared by every open file.
//!
//! FUSE reads arrive in pieces of 128 KiB to 1 MiB, and the kernel sends
//! several at once; decrypting a 2 MiB blob for each piece would cost sixteen
//! decryptions per blob. Each slot is a once-cell, so concurrent readers of
//! one blob share a single fetch and decryption (a failed one leaves the slot
//! empty for the next reader to retry). The byte count is bounded by the slot
//! count (blobs are at most 2 MiB), which bounds the mount's memory whatever
//! the size of the files being read.
//!
//! Keys are (stream, blob index), not blob hashes: the same encrypted blob in
//! two streams with different keys decrypts to different bytes.
//!
//! The slots bound what is kept, not what is being made: a hundred readers
//! at a hundred offsets, each with read-ahead, once had four hundred blobs
//! in flight (432 MiB). So making a plaintext (fetch, verify, decrypt) takes
//! one of [`MAKING`] permits, mount-wide, and read-ahead may hold at most
//! [`AHEAD`] of them, so a reader's own blob never waits behind read-ahead
//! for more than the remaining ones. A reader past the limit waits its turn;
//! with two cores busy hashing, more at once would not be faster.

use crate::hash::SdHash;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OnceCell, Semaphore, SemaphorePermit};

/// One decrypted blob, filled once.
pub type Slot = Arc<OnceCell<Arc<PlainBuf>>>;

/// A decrypted blob; its buffer goes back to the blob pool once the cache
/// and the last read's view let go of it.
pub type PlainBuf = crate::blob::pool::Pooled;

/// A decrypted blob as the owner of the bytes reads hand out (views of it).
pub struct Plain(pub Arc<PlainBuf>);

impl AsRef<[u8]> for Plain {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Plaintexts being made at once, mount-wide (each up to 2 MiB, twice while
/// its ciphertext is shared with the cache write).
pub const MAKING: usize = 8;
/// Of those, how many read-ahead may hold.
pub const AHEAD: usize = 4;

pub struct PlainCache {
    slots: Mutex<LruCache<(SdHash, usize), Slot>>,
    making: Semaphore,
    ahead: Semaphore,
}

/// Leave to make one plaintext; held until it is made or has failed.
pub struct Making<'a> {
    _ahead: Option<SemaphorePermit<'a>>,
    _making: Option<SemaphorePermit<'a>>,
}

impl PlainCache {
    /// A cache of at most `blobs` decrypted blobs (at least one).
    pub fn new(blobs: usize) -> Self {
        let cap = NonZeroUsize::new(blobs.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            slots: Mutex::new(LruCache::new(cap)),
            making: Semaphore::new(MAKING),
            ahead: Semaphore::new(AHEAD),
        }
    }

    /// Waits for leave to make a plaintext: `urgent` for a reader's own
    /// blob, otherwise read-ahead, which also needs one of its own permits.
    pub async fn making(&self, urgent: bool) -> Making<'_> {
        // The semaphores are never closed, so acquiring cannot fail; if it
        // did, going on without the permit is the safe side.
        let ahead = match urgent {
            true => None,
            false => self.ahead.acquire().await.ok(),
        };
        Making {
            _ahead: ahead,
            _making: self.making.acquire().await.ok(),
        }
    }

    /// The slot of blob `index` of stream `sd`, created empty if absent; marks it used.
    pub fn slot(&self, sd: SdHash, index: usize) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .get_or_insert((sd, index), || Arc::new(OnceCell::new()))
            .clone()
    }

    /// The decrypted blob if it is already here (does not mark it used).
    pub fn peek(&self, sd: SdHash, index: usize) -> Option<Arc<PlainBuf>> {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.peek(&(sd, index)).and_then(|s| s.get().cloned())
    }

    /// Bytes of decrypted data held (for tests).
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .iter()
            .filter_map(|(_, s)| s.get())
            .map(|p| p.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd(n: u8) -> SdHash {
        SdHash::from(crate::hash::BlobHash::digest(&[n]))
    }

    #[tokio::test]
    async fn slots_are_shared_and_bounded() {
        let c = PlainCache::new(2);
        let a = c.slot(sd(1), 0);
        a.get_or_init(|| async { Arc::new(PlainBuf::from(vec![1; 10])) })
            .await;
        // The same key gives the same filled slot.
        assert_eq!(c.slot(sd(1), 0).get().map(|p| p.len()), Some(10));
        // Same index, other stream: a different slot.
        assert!(c.slot(sd(2), 0).get().is_none());
        c.slot(sd(3), 0);
        // Capacity 2: the least recently used entry (sd 1) went.
        assert!(c.peek(sd(1), 0).is_none());
        assert_eq!(c.bytes(), 0);
    }

    #[tokio::test]
    async fn read_ahead_leaves_room_for_readers_and_everyone_waits_past_the_limit() {
        let c = PlainCache::new(2);
        let mut ahead = Vec::new();
        for _ in 0..AHEAD {
            ahead.push(c.making(false).await);
        }
        let t = std::time::Duration::from_millis(50);
        // Read-ahead's share is used up: more read-ahead waits ...
        assert!(tokio::time::timeout(t, c.making(false)).await.is_err());
        // ... and a reader still gets in, up to the mount-wide limit.
        let mut urgent = Vec::new();
        for _ in AHEAD..MAKING {
            urgent.push(tokio::time::timeout(t, c.making(true)).await.unwrap());
        }
        assert!(tokio::time::timeout(t, c.making(true)).await.is_err());
        drop(ahead.pop());
        assert!(tokio::time::timeout(t, c.making(true)).await.is_ok());
    }
}
