//! Reused blob buffers.
//!
//! A mount streaming at 500 MiB/s allocates and frees a 2 MiB buffer for
//! every blob several times over: the receive buffer, the plaintext of a blob
//! shared with the cache write, the read of a cached blob. Each is its own
//! mapping (`large_alloc`), unmapped when freed: without reuse every blob
//! would pay a map, its page faults and an unmap several times over (with
//! 4 KiB pages that cost a CPU-second per GiB). Buffers taken from here and
//! given back when their blob is dropped are reused instead, and at most
//! [`KEEP`] wait idle, so memory stays bounded. (Before `large_alloc`,
//! glibc kept freed 2 MiB chunks in the arena of each thread that freed
//! them: 100 readers peaked at 143-151 MiB with 52 MiB live.)
//!
//! A reused buffer still holds the bytes of the blob it last carried; every
//! caller overwrites what it uses (a receiver exposes only what it received,
//! a decryption copies the whole ciphertext in first).

use std::sync::{Mutex, PoisonError};

/// Idle buffers kept, at most (each about 2 MiB).
pub const KEEP: usize = 8;
/// Smaller buffers (descriptors, a stream's short last blob) are not kept.
pub const MIN_KEEP: usize = 1 << 20;

/// A buffer that goes back to the pool when dropped (a decrypted blob
/// shared by the mount's cache and the reads' views of it).
pub struct Pooled(Vec<u8>);

impl From<Vec<u8>> for Pooled {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl std::ops::Deref for Pooled {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

/// A bounded set of idle buffers.
pub struct Pool {
    idle: Mutex<Vec<Vec<u8>>>,
}

static POOL: Pool = Pool::new();

/// [`Pool::take`] from the process's pool.
pub fn take(len: usize) -> Vec<u8> {
    POOL.take(len)
}

/// [`Pool::take_empty`] from the process's pool.
pub fn take_empty(cap: usize) -> Vec<u8> {
    POOL.take_empty(cap)
}

/// Puts `n` (at most [`KEEP`]) buffers of `cap` bytes in the process's
/// pool with every page already touched. A fresh process's first blobs
/// (the cold first byte: the receive buffer, then the plaintext) otherwise
/// pay their page faults as they are written: about 2 ms per 2 MiB buffer
/// on a VM with 4 KiB pages, 0.13 ms where `large_alloc` gets a huge page.
/// The buffers are the ones streaming would allocate anyway, so the peak
/// memory does not grow.
pub fn prewarm(n: usize, cap: usize) {
    POOL.prewarm(n, cap)
}

/// [`Pool::give`] to the process's pool.
pub fn give(buf: Vec<u8>) {
    POOL.give(buf)
}

impl Default for Pool {
    fn default() -> Self {
        Self::new()
    }
}

impl Pool {
    pub const fn new() -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A buffer of exactly `len` initialized bytes, reused when one is
    /// idle; its contents are unspecified.
    pub fn take(&self, len: usize) -> Vec<u8> {
        match self.reuse(len) {
            // Shrinking keeps the old bytes; only growth is zero-filled.
            Some(mut buf) => {
                buf.resize(len, 0);
                buf
            }
            None => vec![0; len],
        }
    }

    /// An empty buffer with room for at least `cap` bytes, for a reader
    /// that appends (`read_to_end`), reused when one is idle.
    pub fn take_empty(&self, cap: usize) -> Vec<u8> {
        match self.reuse(cap) {
            Some(mut buf) => {
                buf.clear();
                buf
            }
            None => Vec::with_capacity(cap),
        }
    }

    /// An idle buffer with room for `cap` bytes, if one is worth keeping.
    fn reuse(&self, cap: usize) -> Option<Vec<u8>> {
        if cap < MIN_KEEP {
            return None;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.pop().filter(|b| b.capacity() >= cap)
    }

    /// [`prewarm`] into this pool.
    pub fn prewarm(&self, n: usize, cap: usize) {
        for _ in 0..n.min(KEEP) {
            // Filled with ones, not zeros: calloc'd pages are not touched.
            self.give(vec![1u8; cap]);
        }
    }

    /// Keeps `buf` for reuse if it is large and fewer than [`KEEP`] wait;
    /// else frees it.
    pub fn give(&self, buf: Vec<u8>) {
        if buf.capacity() < MIN_KEEP {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < KEEP {
            idle.push(buf);
        }
    }

    #[cfg(test)]
    fn idle(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_buffer_given_back_is_the_next_one_taken() {
        let pool = Pool::new();
        let big = pool.take(2 << 20);
        assert_eq!(big.len(), 2 << 20);
        let ptr = big.as_ptr();
        pool.give(big);
        let again = pool.take(MIN_KEEP + 5);
        assert_eq!(again.len(), MIN_KEEP + 5, "exactly the length asked");
        assert_eq!(again.as_ptr(), ptr, "the same allocation");
        // Too small for what is asked: not handed out.
        pool.give(vec![0; MIN_KEEP]);
        assert_eq!(pool.take(2 << 20).len(), 2 << 20);
        assert_eq!(pool.idle(), 0, "the small one was dropped, not kept");
        // An empty one for appending, with the room asked.
        pool.give(again);
        let empty = pool.take_empty(MIN_KEEP + 5);
        assert!(empty.is_empty() && empty.capacity() >= MIN_KEEP + 5);
        assert_eq!(empty.as_ptr(), ptr, "the same allocation again");
    }

    #[test]
    fn prewarmed_buffers_are_taken_first_and_bounded() {
        let pool = Pool::new();
        pool.prewarm(KEEP + 3, MIN_KEEP);
        assert_eq!(pool.idle(), KEEP);
        let b = pool.take(MIN_KEEP);
        assert_eq!((b.len(), b[0]), (MIN_KEEP, 1), "a prewarmed buffer, reused");
        assert_eq!(pool.idle(), KEEP - 1);
    }

    #[test]
    fn small_buffers_are_not_kept_and_idle_ones_are_bounded() {
        let pool = Pool::new();
        pool.give(vec![0; 100]);
        assert_eq!(pool.idle(), 0);
        for _ in 0..3 * KEEP {
            pool.give(Vec::with_capacity(2 << 20));
        }
        assert_eq!(pool.idle(), KEEP);
    }
}
