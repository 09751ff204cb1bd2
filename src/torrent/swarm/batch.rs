//! Read-ahead as runs of pieces: the pieces a prefetch names are asked of
//! one peer over one connection with the request pipeline kept full across
//! piece boundaries (`PeerConn::fetch_run`), so a sequential reader pays one
//! round trip per run rather than one per piece (a torrent's pieces are
//! often 16–256 KiB, a few blocks each).
//!
//! A run first claims each piece's flight, the same single-flight lock a
//! reader's fetch takes: a piece a reader is fetching already is left to
//! it, and a reader that wants a claimed piece waits on its flight until the
//! run stores it (or gives it up, when the reader fetches it itself). Pieces
//! are stored as they arrive, each on the blocking pool. Peers are tried in
//! turn, as for one piece; what no peer gave is released.

use super::{Peer, Swarm};
use crate::torrent::peer::{PeerConn, PeerError};
use crate::torrent::window::Want;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Instant;
use tokio::sync::OwnedMutexGuard;

/// Pieces claimed by a run, each with its flight held.
type Claimed = BTreeMap<u32, OwnedMutexGuard<()>>;

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
            if self.pieces.stored(piece).is_some() {
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
        let ran = async {
            if conn.is_none() {
                let (hash, id) = (self.meta.info_hash, self.peer_id);
                *conn = Some(PeerConn::connect(peer.addr, hash, id, self.deadline).await?);
            }
            let c = conn.as_mut().ok_or(PeerError::Closed)?;
            c.fetch_run(wants, self.deadline, |index, data| {
                if let Some(guard) = claimed.remove(&index) {
                    self.store_claimed(index, data, guard);
                }
                Ok(())
            })
            .await
        };
        if let Err(e) = ran.await {
            *conn = None;
            self.peer_failed(peer, &e);
            tracing::debug!(peer = %peer.addr, error = %e, left = claimed.len(), "prefetch run ended");
        }
    }

    /// Stores a piece a run fetched (SHA-1-checked), then frees its flight.
    fn store_claimed(self: &Arc<Self>, index: u32, data: Vec<u8>, guard: OwnedMutexGuard<()>) {
        self.fetched.fetch_add(1, Ordering::Relaxed);
        let me = self.clone();
        let span = tracing::debug_span!("piece store", piece = index);
        crate::task::spawn("piece store", span, async move {
            let store = me.clone();
            let stored = crate::blocking::run(move || store.pieces.put(index, &data)).await;
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
