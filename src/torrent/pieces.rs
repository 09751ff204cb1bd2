//! A torrent's verified pieces in the node's blob store, so one cache, one
//! `--cache-size` cap and one eviction rule hold for torrents and streams.
//!
//! The store holds items of at most 2 MiB named by their SHA-384. A piece
//! that passed its SHA-1 check is cut into chunks of at most 2 MiB, each
//! stored as a cache blob (evictable); the piece's chunk hashes are kept
//! here. A chunk read back is checked by the store as any blob is (XXH3 for
//! its own writes, SHA-384 otherwise), and a chunk the store evicted makes
//! its piece missing again, to be fetched anew. The last chunks read are
//! kept in memory (a reader's 128 KiB requests fall within one chunk).

use crate::blob::{VerifiedBlob, MAX_BLOB_SIZE};
use crate::hash::BlobHash;
use crate::store::{Keep, PutBlob, ReadBlob, StoreError};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

/// Chunks kept in memory, shared by a torrent's readers (2 MiB each at most).
const MEM_CHUNKS: usize = 16;

/// What pieces need of the store; any blob store is one.
pub trait ChunkStore: Send + Sync + 'static {
    fn put_cached(&self, blob: &VerifiedBlob) -> Result<(), StoreError>;
    fn read(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError>;
}

/// Pieces stored in an earlier run: index and chunk hashes.
pub type KnownPieces = Vec<(u32, Vec<BlobHash>)>;

/// Where the piece index outlives the process (the node keeps it beside
/// the store), so a torrent read once is read from the cache after a
/// restart. Called from the blocking pool.
pub trait PieceLog: Send + Sync + 'static {
    /// Piece `i` is stored as these chunks.
    fn record(&self, i: u32, chunks: &[BlobHash]);
}

impl<S: PutBlob + ReadBlob + Send + Sync + 'static> ChunkStore for S {
    fn put_cached(&self, blob: &VerifiedBlob) -> Result<(), StoreError> {
        self.put(blob, Keep::Cache)
    }
    fn read(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        self.get(hash)
    }
}

pub struct Pieces {
    store: Arc<dyn ChunkStore>,
    /// Chunk hashes of pieces stored, by piece index (bounded by the
    /// torrent's piece count).
    index: Mutex<HashMap<u32, Arc<[BlobHash]>>>,
    mem: Mutex<lru::LruCache<BlobHash, Arc<Vec<u8>>>>,
    log: Option<Box<dyn PieceLog>>,
}

impl Pieces {
    pub fn new(store: Arc<dyn ChunkStore>) -> Self {
        let cap = NonZeroUsize::new(MEM_CHUNKS).unwrap_or(NonZeroUsize::MIN);
        Self {
            store,
            index: Mutex::new(HashMap::new()),
            mem: Mutex::new(lru::LruCache::new(cap)),
            log: None,
        }
    }

    /// Pieces stored before (from a [`PieceLog`]), and where to record the
    /// next ones. A chunk since evicted is found missing when read.
    pub fn restore(&mut self, known: KnownPieces, log: Box<dyn PieceLog>) {
        let index = self.index.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (i, chunks) in known {
            index.insert(i, chunks.into());
        }
        self.log = Some(log);
    }

    /// The chunk hashes of piece `i`, if it was stored (its chunks may
    /// have been evicted since: [`Pieces::chunk`] then says so).
    pub fn stored(&self, i: u32) -> Option<Arc<[BlobHash]>> {
        let index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.get(&i).cloned()
    }

    /// The indices of the pieces stored.
    pub fn indices(&self) -> Vec<u32> {
        let index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.keys().copied().collect()
    }

    /// Forgets piece `i` (a chunk of it is gone).
    pub fn forget(&self, i: u32) {
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.remove(&i);
    }

    /// Stores verified piece `i` (blocking: call from the blocking pool);
    /// its chunks stay in memory for the reader waiting on them.
    pub fn put(&self, i: u32, piece: &[u8]) -> Result<Arc<[BlobHash]>, StoreError> {
        let mut hashes = Vec::with_capacity(piece.len().div_ceil(MAX_BLOB_SIZE));
        for part in piece.chunks(MAX_BLOB_SIZE) {
            let blob = VerifiedBlob::from_bytes(part.to_vec());
            self.store.put_cached(&blob)?;
            let hash = *blob.hash();
            self.remember(hash, Arc::new(blob.into_data()));
            hashes.push(hash);
        }
        if let Some(log) = &self.log {
            log.record(i, &hashes);
        }
        let hashes: Arc<[BlobHash]> = hashes.into();
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.insert(i, hashes.clone());
        Ok(hashes)
    }

    /// A chunk's bytes, from memory or the store (blocking); `None` if the
    /// store no longer has it.
    pub fn chunk(&self, hash: &BlobHash) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        {
            let mut mem = self.mem.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(c) = mem.get(hash) {
                return Ok(Some(c.clone()));
            }
        }
        let Some(blob) = self.store.read(hash)? else {
            return Ok(None);
        };
        let data = Arc::new(blob.into_data());
        self.remember(*hash, data.clone());
        Ok(Some(data))
    }

    fn remember(&self, hash: BlobHash, data: Arc<Vec<u8>>) {
        let mut mem = self.mem.lock().unwrap_or_else(PoisonError::into_inner);
        mem.put(hash, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    #[test]
    fn a_piece_larger_than_a_blob_is_stored_as_chunks_and_read_back() {
        let store = Arc::new(MemStore::new());
        let p = Pieces::new(store.clone());
        let piece: Vec<u8> = (0..MAX_BLOB_SIZE + 100).map(|i| (i % 251) as u8).collect();
        let hashes = p.put(7, &piece).unwrap();
        assert_eq!(hashes.len(), 2);
        assert_eq!(p.stored(7).unwrap(), hashes);
        let back: Vec<u8> = hashes
            .iter()
            .flat_map(|h| p.chunk(h).unwrap().unwrap().to_vec())
            .collect();
        assert!(back == piece);
        assert!(p.stored(8).is_none());
    }

    #[test]
    fn a_chunk_the_store_lost_is_reported_missing() {
        let store = Arc::new(MemStore::new());
        let p = Pieces::new(store.clone());
        let hashes = p.put(0, b"abc").unwrap();
        // Push it out of memory, then out of the store.
        for i in 1..=MEM_CHUNKS as u32 {
            p.put(i, &i.to_be_bytes()).unwrap();
        }
        store.remove(&hashes).unwrap();
        assert!(p.chunk(&hashes[0]).unwrap().is_none());
    }
}
