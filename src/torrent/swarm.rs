//! One torrent's bytes on demand: a read names a byte range, and only the
//! pieces it covers are fetched (plus what the caller prefetches), each
//! once however many readers wait for it (single flight), SHA-1-checked by
//! [`PeerConn`] and kept in the store by [`Pieces`].
//!
//! Peers are tried in turn, starting from a rotating one so parallel
//! fetches spread over them; each peer has one connection, kept open
//! between pieces and dropped on any failure. A peer that sent a corrupt
//! piece is left alone for [`BAN`] unless it is the only one left. When
//! every peer failed, the swarm's [`PeerFinder`] is asked for more (at most
//! every 30 s) and the piece tried once more (`peers`). Read-ahead fetches
//! runs of pieces (`batch`). Every wait on a peer has the swarm's deadline;
//! prefetches end when the node stops.

use super::metainfo::Metainfo;
use super::peer::{PeerConn, PeerError};
use super::pieces::{Chunk, ChunkStore, KnownPieces, PieceLog, Pieces, Place};
use crate::blob::pool::Pooled;
use crate::store::StoreError;
use crate::stream::Bytes;
use crate::wire::krpc::Id20;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long a peer that sent a corrupt piece is not asked again.
const BAN: Duration = Duration::from_secs(300);
mod batch;
mod peers;

use peers::Peer;
pub use peers::{PeerFinder, MAX_PEERS};

/// Pieces being prefetched at once, at most.
const MAX_PREFETCH: usize = 64;
/// Bytes of pieces one prefetch run asks for, at most (at least a piece).
const RUN_BYTES: u64 = 32 << 20;
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error("no peer to ask for this torrent (give --bt-peer HOST:PORT)")]
    NoPeers,
    #[error("no peer gave piece {piece}: {}", reasons.join("; "))]
    AllFailed { piece: u32, reasons: Vec<String> },
    #[error("the cache failed")]
    Store(#[from] StoreError),
    #[error("the cache lost piece {0} as it was read")]
    Lost(u32),
    #[error("a blocking job failed: {0}")]
    Join(String),
}

pub struct Swarm {
    meta: Arc<Metainfo>,
    peers: Mutex<Vec<Arc<Peer>>>,
    pieces: Pieces,
    flights: Mutex<HashMap<u32, Arc<tokio::sync::Mutex<()>>>>,
    prefetching: Mutex<HashSet<u32>>,
    next_peer: AtomicUsize,
    deadline: Duration,
    stop: CancellationToken,
    peer_id: Id20,
    fetched: AtomicU64,
    finder: Option<Box<dyn PeerFinder>>,
    /// When the finder was last asked.
    found_at: Mutex<Option<Instant>>,
}

impl Swarm {
    pub fn new(
        meta: Arc<Metainfo>,
        peers: Vec<SocketAddr>,
        store: Arc<dyn ChunkStore>,
        deadline: Duration,
        stop: CancellationToken,
    ) -> Self {
        let mut peers: Vec<_> = peers.into_iter().map(Peer::new).collect();
        peers.truncate(MAX_PEERS);
        Self {
            meta,
            peers: Mutex::new(peers),
            pieces: Pieces::new(store),
            flights: Mutex::new(HashMap::new()),
            prefetching: Mutex::new(HashSet::new()),
            next_peer: AtomicUsize::new(0),
            deadline,
            stop,
            peer_id: super::download::peer_id(),
            fetched: AtomicU64::new(0),
            finder: None,
            found_at: Mutex::new(None),
        }
    }

    /// Asks `finder` for more peers when all fail (at most every [`FIND_EVERY`]).
    pub fn finding(mut self, finder: Box<dyn PeerFinder>) -> Self {
        self.finder = Some(finder);
        self
    }

    /// Pieces stored before this swarm, and where to record new ones.
    pub fn remembering(mut self, known: KnownPieces, log: Box<dyn PieceLog>) -> Self {
        let count = self.meta.pieces.len();
        let meta = self.meta.clone();
        let known = known
            .into_iter()
            .filter(|(i, place)| (*i as usize) < count && place.fits(meta.piece_len(*i)))
            .collect();
        self.pieces.restore(known, log);
        self
    }

    pub fn meta(&self) -> &Arc<Metainfo> {
        &self.meta
    }

    /// Pieces fetched from peers so far.
    pub fn pieces_fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// How many pieces of `range` (piece indices) are stored.
    pub fn held_between(&self, range: Range<u64>) -> u64 {
        let held = self.pieces.indices().into_iter();
        held.filter(|i| range.contains(&u64::from(*i))).count() as u64
    }

    /// The pieces stored, as a BEP 3 bitfield (high bit first).
    pub fn bitfield(&self) -> Vec<u8> {
        let mut bits = vec![0u8; self.meta.pieces.len().div_ceil(8)];
        for i in self.pieces.indices() {
            if let Some(b) = bits.get_mut((i / 8) as usize) {
                *b |= 0x80 >> (i % 8);
            }
        }
        bits
    }

    /// `length` bytes at `begin` in piece `index`, only if the piece is
    /// stored and the range lies inside it: serving never fetches.
    pub async fn stored_block(
        self: &Arc<Self>,
        index: u32,
        begin: u32,
        length: u32,
    ) -> Option<Bytes> {
        let start = u64::from(index).checked_mul(self.meta.piece_length)?;
        let size = self
            .meta
            .piece_length
            .min(self.meta.total.checked_sub(start)?);
        let end = u64::from(begin) + u64::from(length);
        if (index as usize) >= self.meta.pieces.len() || end > size || length == 0 {
            return None;
        }
        if let Some((data, at)) = self.pieces.pending(index) {
            let from = at as usize + begin as usize;
            let bytes = Bytes::from_owner(Chunk(data));
            return (from + length as usize <= bytes.len())
                .then(|| bytes.slice(from..from + length as usize));
        }
        let place = self.pieces.stored(index)?;
        let (me, begin) = (self.clone(), u64::from(begin));
        // From the store only: a chunk evicted since is not fetched to serve.
        let read = move || {
            let mut out = Vec::with_capacity(length as usize);
            let mut at = begin;
            while at < end {
                let (hash, from) = place.locate(at)?;
                let data = me.pieces.chunk(hash).ok()??;
                let to = data.len().min(from + (end - at) as usize);
                out.extend_from_slice(data.get(from..to).filter(|d| !d.is_empty())?);
                at += (to - from) as u64;
            }
            Some(Bytes::from(out))
        };
        crate::blocking::run(read).await.ok()?
    }

    /// Bytes `[offset, offset + len)` of the torrent (fewer at its end): a
    /// view of the cached chunk when one holds them all (the usual read,
    /// inside one piece), else a copy of the parts.
    pub async fn read(self: &Arc<Self>, offset: u64, len: usize) -> Result<Bytes, SwarmError> {
        let end = offset.saturating_add(len as u64).min(self.meta.total);
        let mut out = Vec::new();
        let mut at = offset;
        while at < end {
            let piece = (at / self.meta.piece_length) as u32;
            let in_piece = at - u64::from(piece) * self.meta.piece_length;
            let piece_end = self.meta.piece_len(piece).saturating_sub(in_piece);
            let (data, from) = self.chunk_at(piece, in_piece).await?;
            // A packed chunk goes on with the next piece: stop at this one's end.
            let want = (end - at).min(piece_end) as usize;
            let to = data.len().min(from + want);
            if from >= to {
                return Err(SwarmError::Lost(piece));
            }
            if at == offset && (to - from) as u64 == end - offset {
                return Ok(Bytes::from_owner(Chunk(data)).slice(from..to));
            }
            out.reserve_exact((end - at) as usize);
            out.extend_from_slice(&data[from..to]);
            at += (to - from) as u64;
        }
        Ok(Bytes::from(out))
    }

    /// Starts fetching the pieces under a byte range of the torrent that
    /// are not stored yet; returns at once.
    pub fn prefetch(self: &Arc<Self>, range: Range<u64>) {
        let end = range.end.min(self.meta.total);
        if range.start >= end {
            return;
        }
        let first = (range.start / self.meta.piece_length) as u32;
        let last = ((end - 1) / self.meta.piece_length) as u32;
        let most = (RUN_BYTES / self.meta.piece_length.max(1)).max(1) as usize;
        let mut run = Vec::new();
        {
            let mut p = self
                .prefetching
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for piece in first..=last {
                if run.len() >= most || p.len() >= MAX_PREFETCH || self.stop.is_cancelled() {
                    break;
                }
                if !self.pieces.has(piece) && p.insert(piece) {
                    run.push(piece);
                }
            }
        }
        if run.is_empty() {
            return;
        }
        let me = self.clone();
        let span = tracing::debug_span!("pieces prefetch", first = run[0], count = run.len());
        crate::task::spawn("pieces prefetch", span, async move {
            let stop = me.stop.clone();
            stop.run_until_cancelled(me.prefetch_run(run.clone())).await;
            let mut p = me
                .prefetching
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for piece in run {
                p.remove(&piece);
            }
        });
    }

    /// The chunk holding byte `in_piece` of piece `piece`, and where in it
    /// that byte is, fetching the piece if it is not stored.
    async fn chunk_at(
        self: &Arc<Self>,
        piece: u32,
        in_piece: u64,
    ) -> Result<(Arc<Pooled>, usize), SwarmError> {
        // A chunk evicted between the piece's arrival and this read, or a
        // pack stored (or failed) while we looked: once more.
        for _ in 0..3 {
            if let Some((data, at)) = self.pieces.pending(piece) {
                return Ok((data, (u64::from(at) + in_piece) as usize));
            }
            let Some(place) = self.ensure(piece).await? else {
                continue;
            };
            let (hash, from) = place.locate(in_piece).ok_or(SwarmError::Lost(piece))?;
            // A chunk shorter than its record says (a damaged piece log):
            // the piece is forgotten and fetched again.
            if let Some(data) = self.pieces.cached(hash).filter(|d| from < d.len()) {
                return Ok((data, from));
            }
            let (me, hash) = (self.clone(), *hash);
            let got = crate::blocking::run(move || me.pieces.chunk(&hash))
                .await
                .map_err(|e| SwarmError::Join(e.to_string()))??;
            match got {
                Some(data) if from < data.len() => return Ok((data, from)),
                Some(_) => self.pieces.forget(piece),
                None => self.pieces.forget(piece),
            }
        }
        Err(SwarmError::Lost(piece))
    }

    /// Where a stored piece is, fetching and storing it first if needed:
    /// one fetch per piece however many wait. `None`: a run's pack holds
    /// it now ([`Pieces::pending`]), to be read from there.
    async fn ensure(self: &Arc<Self>, piece: u32) -> Result<Option<Place>, SwarmError> {
        if let Some(h) = self.pieces.stored(piece) {
            return Ok(Some(h));
        }
        let flight = {
            let mut f = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            f.entry(piece).or_default().clone()
        };
        let result = {
            let _one = flight.lock().await;
            match self.pieces.stored(piece) {
                Some(h) => Ok(Some(h)),
                None if self.pieces.pending(piece).is_some() => Ok(None),
                None => self.fetch_and_store(piece).await.map(Some),
            }
        };
        let mut f = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if Arc::strong_count(&flight) <= 2 {
            f.remove(&piece);
        }
        result
    }

    async fn fetch_and_store(self: &Arc<Self>, piece: u32) -> Result<Place, SwarmError> {
        let data = self.fetch(piece).await?;
        self.fetched.fetch_add(1, Ordering::Relaxed);
        let me = self.clone();
        let stored = crate::blocking::run(move || me.pieces.put(piece, data))
            .await
            .map_err(|e| SwarmError::Join(e.to_string()))??;
        Ok(stored)
    }

    /// Piece `piece` from the first peer that gives it, checked; when every
    /// peer failed, once more with the new peers the finder names.
    async fn fetch(&self, piece: u32) -> Result<Vec<u8>, SwarmError> {
        match self.fetch_from_known(piece).await {
            Err(e @ (SwarmError::NoPeers | SwarmError::AllFailed { .. })) => {
                if self.find_more().await == 0 {
                    return Err(e);
                }
                self.fetch_from_known(piece).await
            }
            done => done,
        }
    }

    /// Piece `piece` from the first known peer that gives it, checked.
    async fn fetch_from_known(&self, piece: u32) -> Result<Vec<u8>, SwarmError> {
        let peers = self.peer_list();
        let n = peers.len();
        if n == 0 {
            return Err(SwarmError::NoPeers);
        }
        let start = self.next_peer.fetch_add(1, Ordering::Relaxed);
        let len = self.meta.piece_len(piece) as u32;
        let sha1 = self
            .meta
            .pieces
            .get(piece as usize)
            .ok_or(SwarmError::Lost(piece))?;
        let mut reasons = Vec::new();
        for k in 0..n {
            let peer = &peers[(start + k) % n];
            if peer.banned(Instant::now()) && k + 1 < n {
                reasons.push(format!("{}: sent a corrupt piece lately", peer.addr));
                continue;
            }
            let mut conn = peer.conn.lock().await;
            let got = async {
                if conn.is_none() {
                    let (hash, id) = (self.meta.info_hash, self.peer_id);
                    *conn = Some(PeerConn::connect(peer.addr, hash, id, self.deadline).await?);
                }
                let c = conn.as_mut().ok_or(PeerError::Closed)?;
                c.fetch_piece(piece, len, sha1, self.deadline).await
            };
            match got.await {
                Ok(data) => return Ok(data),
                Err(e) => {
                    *conn = None;
                    self.peer_failed(peer, &e);
                    reasons.push(format!("{}: {e}", peer.addr));
                }
            }
        }
        Err(SwarmError::AllFailed { piece, reasons })
    }
}
