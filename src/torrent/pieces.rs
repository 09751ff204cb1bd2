//! A torrent's verified pieces in the node's blob store, so one cache, one
//! `--cache-size` cap and one eviction rule hold for torrents and streams.
//!
//! The store holds items of at most 2 MiB named by their SHA-384. A piece
//! that passed its SHA-1 check is cut into chunks of at most 2 MiB, each
//! stored as a cache blob (evictable); the piece's [`Place`] (its chunk
//! hashes, and where in the first it starts) is kept here. Consecutive
//! pieces a read-ahead run fetched are packed into one chunk of up to
//! 2 MiB ([`Pieces::put_pack`]): a torrent's pieces are often 256–512 KiB,
//! and one file per piece cost more CPU in the filesystem (creating,
//! renaming and later deleting four times the files) than the hashing. A chunk read back is checked by the store as any blob is (XXH3 for
//! its own writes, SHA-384 otherwise), and a chunk the store evicted makes
//! its piece missing again, to be fetched anew. The last chunks read are
//! kept in memory (a reader's 128 KiB requests fall within one chunk).

use crate::blob::pool::Pooled;
use crate::blob::{VerifiedBlob, MAX_BLOB_SIZE};
use crate::hash::BlobHash;
use crate::store::{Keep, PutBlob, ReadBlob, StoreError};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

/// Chunks kept in memory, shared by a torrent's readers (2 MiB each at most).
const MEM_CHUNKS: usize = 8;
/// Arc<Pooled> of packs readable while they are being stored, at most.
const PENDING_BYTES: usize = 16 << 20;

/// What pieces need of the store; any blob store is one.
pub trait ChunkStore: Send + Sync + 'static {
    fn put_cached(&self, blob: &VerifiedBlob) -> Result<(), StoreError>;
    fn read(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError>;
}

/// Pieces stored in an earlier run: index and place.
pub type KnownPieces = Vec<(u32, Place)>;

/// A cached chunk's bytes, shared: reads are views of it (`Arc<Pooled>::from_owner`).
pub struct Chunk(pub Arc<Pooled>);

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Where a stored piece's bytes are: its chunks, from byte `at` of the
/// first (not 0 only for a piece packed with others in one chunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub chunks: Arc<[BlobHash]>,
    pub at: u32,
}

impl Place {
    /// A piece stored alone, from the start of its first chunk.
    pub fn alone(chunks: Vec<BlobHash>) -> Self {
        Self {
            chunks: chunks.into(),
            at: 0,
        }
    }

    /// Whether a piece of `len` bytes can lie where this says (a record
    /// read back from disk may not).
    pub fn fits(&self, len: u64) -> bool {
        let room = self.chunks.len() as u64 * MAX_BLOB_SIZE as u64;
        len > 0 && u64::from(self.at) + len <= room
    }

    /// The chunk holding byte `p` of the piece, and where in it that byte
    /// is; `None` past the chunks (a record that does not fit its piece).
    pub fn locate(&self, p: u64) -> Option<(&BlobHash, usize)> {
        let q = u64::from(self.at) + p;
        let ci = usize::try_from(q / MAX_BLOB_SIZE as u64).ok()?;
        Some((self.chunks.get(ci)?, (q % MAX_BLOB_SIZE as u64) as usize))
    }
}

/// Where the piece index outlives the process (the node keeps it beside
/// the store), so a torrent read once is read from the cache after a
/// restart. Called from the blocking pool.
pub trait PieceLog: Send + Sync + 'static {
    /// Piece `i` is stored at `place`.
    fn record(&self, i: u32, place: &Place);
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
    index: Mutex<HashMap<u32, Place>>,
    mem: Mutex<lru::LruCache<BlobHash, Arc<Pooled>>>,
    /// Packs being stored, readable meanwhile: piece index -> (the pack's
    /// bytes, where the piece starts in them). At most [`PENDING_BYTES`].
    pending: Mutex<Pending>,
    log: Option<Box<dyn PieceLog>>,
}

#[derive(Default)]
struct Pending {
    pieces: HashMap<u32, (Arc<Pooled>, u32)>,
    bytes: usize,
}

impl Pieces {
    pub fn new(store: Arc<dyn ChunkStore>) -> Self {
        let cap = NonZeroUsize::new(MEM_CHUNKS).unwrap_or(NonZeroUsize::MIN);
        Self {
            store,
            index: Mutex::new(HashMap::new()),
            mem: Mutex::new(lru::LruCache::new(cap)),
            pending: Mutex::new(Pending::default()),
            log: None,
        }
    }

    /// Pieces stored before (from a [`PieceLog`]), and where to record the
    /// next ones. A chunk since evicted is found missing when read.
    pub fn restore(&mut self, known: KnownPieces, log: Box<dyn PieceLog>) {
        let index = self.index.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (i, place) in known {
            index.insert(i, place);
        }
        self.log = Some(log);
    }

    /// Where piece `i` is, if it was stored (its chunks may have been
    /// evicted since: [`Pieces::chunk`] then says so).
    pub fn stored(&self, i: u32) -> Option<Place> {
        let index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.get(&i).cloned()
    }

    /// The indices of the pieces stored or being stored.
    pub fn indices(&self) -> Vec<u32> {
        let mut all: Vec<u32> = {
            let index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
            index.keys().copied().collect()
        };
        let p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        all.extend(p.pieces.keys().copied());
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Forgets piece `i` (a chunk of it is gone).
    pub fn forget(&self, i: u32) {
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.remove(&i);
    }

    /// Stores verified piece `i` alone (blocking: call from the blocking
    /// pool); its chunks stay in memory for the reader waiting on them.
    pub fn put(&self, i: u32, piece: Vec<u8>) -> Result<Place, StoreError> {
        let mut hashes = Vec::with_capacity(piece.len().div_ceil(MAX_BLOB_SIZE));
        if piece.len() <= MAX_BLOB_SIZE {
            hashes.push(self.put_chunk(piece)?);
        } else {
            for part in piece.chunks(MAX_BLOB_SIZE) {
                hashes.push(self.put_chunk(part.to_vec())?);
            }
        }
        let place = Place::alone(hashes);
        self.note(i, place.clone());
        Ok(place)
    }

    /// Makes a pack readable before it is stored ([`Pieces::pending`]),
    /// unless [`PENDING_BYTES`] are held already; whether it did. The
    /// caller then stores it with [`Pieces::put_pack`], which ends this.
    pub fn hold(&self, pieces: &[(u32, u32)], data: &Arc<Pooled>) -> bool {
        let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if p.bytes + data.len() > PENDING_BYTES {
            return false;
        }
        p.bytes += data.len();
        for (i, at) in starts(pieces) {
            p.pieces.insert(i, (data.clone(), at));
        }
        true
    }

    /// A piece held by [`Pieces::hold`] and not yet stored: the pack's
    /// bytes and where the piece starts in them.
    pub fn pending(&self, i: u32) -> Option<(Arc<Pooled>, u32)> {
        let p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        p.pieces.get(&i).cloned()
    }

    /// Whether piece `i` is stored or being stored.
    pub fn has(&self, i: u32) -> bool {
        let stored = (self.index.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&i);
        stored
            || (self.pending.lock())
                .unwrap_or_else(PoisonError::into_inner)
                .pieces
                .contains_key(&i)
    }

    /// Stores consecutive verified pieces, `(index, length)` in `pieces`,
    /// whose bytes follow one another in `data` (at most a blob), as one
    /// chunk (blocking); ends their [`Pieces::hold`] if `held`, stored or not.
    pub fn put_pack(
        &self,
        pieces: &[(u32, u32)],
        data: Arc<Pooled>,
        held: bool,
    ) -> Result<(), StoreError> {
        let mut bytes = crate::blob::pool::take_empty(data.len());
        bytes.extend_from_slice(&data);
        let stored = self.store_chunk(bytes);
        if let Ok(blob) = &stored {
            self.remember(*blob.hash(), data.clone());
            let chunks: Arc<[BlobHash]> = Arc::new([*blob.hash()]);
            for (i, at) in starts(pieces) {
                let chunks = chunks.clone();
                self.note(i, Place { chunks, at });
            }
        }
        if held {
            let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            for (i, _) in pieces {
                p.pieces.remove(i);
            }
            p.bytes = p.bytes.saturating_sub(data.len());
        }
        stored.map(|_| ())
    }

    /// Stores `data` as a chunk and keeps it in memory under its name.
    fn put_chunk(&self, data: Vec<u8>) -> Result<BlobHash, StoreError> {
        let blob = self.store_chunk(data)?;
        let hash = *blob.hash();
        self.remember(hash, Arc::new(Pooled::from(blob.into_data())));
        Ok(hash)
    }

    fn store_chunk(&self, bytes: Vec<u8>) -> Result<VerifiedBlob, StoreError> {
        let blob = VerifiedBlob::from_bytes(bytes);
        self.store.put_cached(&blob)?;
        Ok(blob)
    }

    fn note(&self, i: u32, place: Place) {
        if let Some(log) = &self.log {
            log.record(i, &place);
        }
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.insert(i, place);
    }

    /// A chunk's bytes if they are in memory (no I/O: a reader's usual
    /// case, answered without a trip to the blocking pool).
    pub fn cached(&self, hash: &BlobHash) -> Option<Arc<Pooled>> {
        let mut mem = self.mem.lock().unwrap_or_else(PoisonError::into_inner);
        mem.get(hash).cloned()
    }

    /// A chunk's bytes, from memory or the store (blocking); `None` if the
    /// store no longer has it.
    pub fn chunk(&self, hash: &BlobHash) -> Result<Option<Arc<Pooled>>, StoreError> {
        if let Some(c) = self.cached(hash) {
            return Ok(Some(c));
        }
        let Some(blob) = self.store.read(hash)? else {
            return Ok(None);
        };
        let data = Arc::new(Pooled::from(blob.into_data()));
        self.remember(*hash, data.clone());
        Ok(Some(data))
    }

    fn remember(&self, hash: BlobHash, data: Arc<Pooled>) {
        let mut mem = self.mem.lock().unwrap_or_else(PoisonError::into_inner);
        mem.put(hash, data);
    }
}

/// Each piece of a pack, `(index, length)` in order, with where it starts.
fn starts(pieces: &[(u32, u32)]) -> impl Iterator<Item = (u32, u32)> + '_ {
    pieces.iter().scan(0u32, |at, &(i, len)| {
        let start = *at;
        *at = at.saturating_add(len);
        Some((i, start))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    fn read_back(p: &Pieces, place: &Place, len: usize) -> Vec<u8> {
        (0..len as u64)
            .map(|b| {
                let (hash, at) = place.locate(b).unwrap();
                p.chunk(hash).unwrap().unwrap()[at]
            })
            .collect()
    }

    #[test]
    fn a_piece_larger_than_a_blob_is_stored_as_chunks_and_read_back() {
        let store = Arc::new(MemStore::new());
        let p = Pieces::new(store.clone());
        let piece: Vec<u8> = (0..MAX_BLOB_SIZE + 100).map(|i| (i % 251) as u8).collect();
        let place = p.put(7, piece.clone()).unwrap();
        assert_eq!(place.chunks.len(), 2);
        assert_eq!(p.stored(7).unwrap(), place);
        assert!(read_back(&p, &place, piece.len()) == piece);
        assert!(place
            .locate(piece.len() as u64 + MAX_BLOB_SIZE as u64)
            .is_none());
        assert!(place.fits(piece.len() as u64) && !place.fits(2 * MAX_BLOB_SIZE as u64 + 1));
        let far = Place {
            chunks: place.chunks.clone(),
            at: (2 * MAX_BLOB_SIZE - 10) as u32,
        };
        assert!(
            far.fits(10) && !far.fits(11),
            "a packed piece past its chunks"
        );
        assert!(p.stored(8).is_none());
    }

    #[test]
    fn packed_pieces_share_one_chunk_and_each_reads_its_own_bytes() {
        let store = Arc::new(MemStore::new());
        let p = Pieces::new(store.clone());
        let (a, b, c) = (vec![1u8; 300], vec![2u8; 500], vec![3u8; 200]);
        let data = Arc::new(Pooled::from([a.clone(), b.clone(), c.clone()].concat()));
        let pieces = [(4, 300), (5, 500), (6, 200)];
        assert!(p.hold(&pieces, &data));
        assert_eq!(p.pending(5).map(|(d, at)| (d.len(), at)), Some((1000, 300)));
        assert!(p.has(6) && p.stored(6).is_none());
        p.put_pack(&pieces, data, true).unwrap();
        assert!(p.pending(5).is_none() && p.has(5));
        let places: Vec<Place> = (4..7).map(|i| p.stored(i).unwrap()).collect();
        assert!(places.iter().all(|pl| pl.chunks == places[0].chunks));
        assert_eq!(store.stats().blobs, 1);
        assert_eq!(read_back(&p, &places[0], 300), a);
        assert_eq!(read_back(&p, &places[1], 500), b);
        assert_eq!(read_back(&p, &places[2], 200), c);
    }

    #[test]
    fn a_chunk_the_store_lost_is_reported_missing() {
        let store = Arc::new(MemStore::new());
        let p = Pieces::new(store.clone());
        let place = p.put(0, b"abc".to_vec()).unwrap();
        // Push it out of memory, then out of the store.
        for i in 1..=MEM_CHUNKS as u32 {
            p.put(i, i.to_be_bytes().to_vec()).unwrap();
        }
        store.remove(&place.chunks).unwrap();
        assert!(p.chunk(&place.chunks[0]).unwrap().is_none());
    }
}
