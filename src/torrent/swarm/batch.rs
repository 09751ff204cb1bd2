//! Read-ahead as runs of pieces: the pieces a prefetch names are asked of
//! one peer over one connection with the request pipeline kept full across
//! piece boundaries (`PeerConn::fetch_run`), so a sequential reader pays one
//! round trip per run rather than one per piece (a torrent's pieces are
//! often 16–256 KiB, a few blocks each).
//!
//! A run first claims each piece's flight, the same single-flight lock a
//! reader's fetch takes: a piece a reader is fetching already is left to
//! it, and a reader that wants a claimed piece waits on its flight until the
//! run stores it (or gives it up, when the reader fetches it itself).
//! Consecutive pieces are packed as they arrive into chunks of up to 2 MiB
//! (`Pack`), each stored on the blocking pool as soon as no further piece
//! would fit; a piece larger than half a chunk is stored alone. Peers are
//! tried in turn, as for one piece; what no peer gave is released.

use super::{Peer, Swarm};
use crate::blob::{pool, MAX_BLOB_SIZE};
use crate::torrent::peer::{PeerConn, PeerError};
use crate::torrent::window::Want;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Instant;
use tokio::sync::OwnedMutexGuard;

/// Pieces claimed by a run, each with its flight held.
type Claimed = BTreeMap<u32, OwnedMutexGuard<()>>;

/// Consecutive pieces of a run waiting to be stored as one chunk, with
/// their flights held until it is.
#[derive(Default)]
struct Pack {
    data: Vec<u8>,
    /// `(index, length)` of each piece, in order.
    pieces: Vec<(u32, u32)>,
    flights: Vec<OwnedMutexGuard<()>>,
}

impl Pack {
    /// Whether piece `index` of `len` bytes may join.
    fn takes(&self, index: u32, len: usize) -> bool {
        let follows = self
            .pieces
            .last()
            .is_none_or(|&(last, _)| last.checked_add(1) == Some(index));
        follows && self.data.len() + len <= MAX_BLOB_SIZE
    }
}

impl Swarm {
    /// Fetches and stores `pieces` ahead of readers, in one run per peer.
    pub(super) async fn prefetch_run(self: &Arc<Self>, pieces: Vec<u32>) {
        let mut claimed = self.claim(pieces);
        let peers = self.peer_list();
        let n = peers.len();
        let start = self.next_peer.fetch_add(1, Ordering::Relaxed);
        for k in 0..n {
            if claimed.is_empty() {
                break;
            }
            let peer = &peers[(start + k) % n];
            if peer.banned(Instant::now()) {
                continue;
            }
            self.run_on(peer, &mut claimed).await;
        }
        for (piece, guard) in claimed {
            drop(guard);
            self.release(piece);
        }
    }

    /// Takes the flight of each piece not stored and not being fetched.
    fn claim(&self, pieces: Vec<u32>) -> Claimed {
        let mut claimed = Claimed::new();
        let mut f = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        for piece in pieces {
            if self.pieces.has(piece) {
                continue;
            }
            let flight = f.entry(piece).or_default().clone();
            if let Ok(guard) = flight.try_lock_owned() {
                claimed.insert(piece, guard);
            }
        }
        claimed
    }

    /// Drops a piece's flight from the table once nobody holds it.
    pub(super) fn release(&self, piece: u32) {
        let mut f = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if f.get(&piece).is_some_and(|a| Arc::strong_count(a) <= 1) {
            f.remove(&piece);
        }
    }

    /// Asks `peer` for every claimed piece; those it gives leave `claimed`
    /// (stored, their flights released as the store finishes).
    async fn run_on(self: &Arc<Self>, peer: &Peer, claimed: &mut Claimed) {
        let wants: Vec<Want> = claimed
            .keys()
            .filter_map(|&index| {
                let sha1 = *self.meta.pieces.get(index as usize)?;
                let len = u32::try_from(self.meta.piece_len(index)).ok()?;
                Some(Want { index, len, sha1 })
            })
            .collect();
        let mut conn = peer.conn.lock().await;
        let mut pack = Pack::default();
        let ran = async {
            if conn.is_none() {
                let (hash, id) = (self.meta.info_hash, self.peer_id);
                *conn = Some(PeerConn::connect(peer.addr, hash, id, self.deadline).await?);
            }
            let c = conn.as_mut().ok_or(PeerError::Closed)?;
            c.fetch_run(wants, self.deadline, |index, data| {
                if let Some(guard) = claimed.remove(&index) {
                    self.pack_or_store(&mut pack, index, data, guard);
                }
                Ok(())
            })
            .await
        };
        let ran = ran.await;
        self.store_pack(pack);
        if let Err(e) = ran {
            *conn = None;
            self.peer_failed(peer, &e);
            tracing::debug!(peer = %peer.addr, error = %e, left = claimed.len(), "prefetch run ended");
        }
    }

    /// Adds a piece a run fetched (SHA-1-checked) to `pack`, storing the
    /// pack once no piece of this size would fit; a piece larger than half
    /// a chunk is stored alone.
    fn pack_or_store(
        self: &Arc<Self>,
        pack: &mut Pack,
        index: u32,
        data: Vec<u8>,
        guard: OwnedMutexGuard<()>,
    ) {
        let len = data.len();
        if len * 2 > MAX_BLOB_SIZE {
            return self.store_claimed(index, data, guard);
        }
        if !pack.takes(index, len) {
            self.store_pack(std::mem::take(pack));
        }
        if pack.pieces.is_empty() {
            pack.data = pool::take_empty(MAX_BLOB_SIZE);
        }
        self.fetched.fetch_add(1, Ordering::Relaxed);
        pack.data.extend_from_slice(&data);
        pack.pieces.push((index, len as u32));
        pack.flights.push(guard);
        if pack.data.len() + len > MAX_BLOB_SIZE {
            self.store_pack(std::mem::take(pack));
        }
    }

    /// Stores a pack as one chunk on the blocking pool. Its pieces are
    /// readable from memory at once ([`Pieces::hold`](crate::torrent::pieces::Pieces::hold)),
    /// so their flights are freed before the hashing and the disk write,
    /// which then stay off the readers' path; if the pending memory is full,
    /// the flights are freed once the pack is stored.
    fn store_pack(self: &Arc<Self>, pack: Pack) {
        let Some(&(first, _)) = pack.pieces.first() else {
            return;
        };
        let Pack {
            data,
            pieces,
            flights,
        } = pack;
        let data = Arc::new(pool::Pooled::from(data));
        let indices: Vec<u32> = pieces.iter().map(|&(i, _)| i).collect();
        let held = self.pieces.hold(&pieces, &data);
        let mut flights = Some(flights);
        if held {
            drop(flights.take());
            self.release_all(&indices);
        }
        let me = self.clone();
        let span = tracing::debug_span!("pieces store", first, count = pieces.len());
        crate::task::spawn("pieces store", span, async move {
            let store = me.clone();
            let put = move || store.pieces.put_pack(&pieces, data, held);
            let stored = crate::blocking::run(put).await;
            if let Err(e) = stored
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
            {
                tracing::warn!(first, error = %e, "prefetched pieces were not stored");
            }
            if let Some(flights) = flights.take() {
                drop(flights);
                me.release_all(&indices);
            }
        });
    }

    fn release_all(&self, indices: &[u32]) {
        for &i in indices {
            self.release(i);
        }
    }

    /// Stores a piece a run fetched (SHA-1-checked), then frees its flight.
    fn store_claimed(self: &Arc<Self>, index: u32, data: Vec<u8>, guard: OwnedMutexGuard<()>) {
        self.fetched.fetch_add(1, Ordering::Relaxed);
        let me = self.clone();
        let span = tracing::debug_span!("piece store", piece = index);
        crate::task::spawn("piece store", span, async move {
            let store = me.clone();
            let stored = crate::blocking::run(move || store.pieces.put(index, data)).await;
            if let Err(e) = stored
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
            {
                tracing::warn!(piece = index, error = %e, "a prefetched piece was not stored");
            }
            drop(guard);
            me.release(index);
        });
    }
}
