//! Seeding what the mount holds: `--bt-listen ADDR:PORT` accepts
//! BitTorrent peers and serves them, from the store, the pieces of the
//! torrents open in this mount, and their metadata to peers that know only
//! the infohash (BEP 9; `torrent::seed`). The info dict's bytes are kept
//! beside the swarm, about as large as the piece hashes the swarm holds.
//!
//! The torrents are those opened since the node started (at most
//! [`MAX_TORRENTS`]); connections at once are at most [`MAX_CONNS`], and
//! every one ends when the node stops.

use crate::torrent::seed::Served;
use crate::torrent::swarm::Swarm;
use crate::wire::krpc::Id20;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Torrents offered to peers, at most.
const MAX_TORRENTS: usize = 1024;
/// Peer connections served at once, at most.
const MAX_CONNS: usize = 64;

/// The torrents open in the mount, by infohash.
#[derive(Default)]
pub struct Seeding {
    open: Mutex<HashMap<Id20, Served>>,
}

impl Seeding {
    /// Offers `swarm`'s stored pieces and its metadata (`info`, the info
    /// dict's bytes) to peers, unless the table is full.
    pub fn add(&self, swarm: Arc<Swarm>, info: Arc<[u8]>) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.len() < MAX_TORRENTS {
            open.insert(swarm.meta().info_hash, Served { swarm, info });
        }
    }

    /// The infohashes of the torrents open.
    pub fn info_hashes(&self) -> Vec<Id20> {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.keys().copied().collect()
    }

    pub fn find(&self, info_hash: &Id20) -> Option<Arc<Swarm>> {
        self.served(info_hash).map(|s| s.swarm)
    }

    fn served(&self, info_hash: &Id20) -> Option<Served> {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(info_hash).cloned()
    }

    /// Binds `addr` and serves peers on it until `stop`; returns the
    /// address bound.
    pub async fn listen(
        self: &Arc<Self>,
        addr: SocketAddr,
        stop: CancellationToken,
    ) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        tracing::info!(%local, "serving torrent pieces to BitTorrent peers");
        let me = self.clone();
        let span = tracing::info_span!("bt seed", %local);
        crate::task::spawn("bt seed", span, async move {
            stop.clone()
                .run_until_cancelled(me.accept(listener, stop))
                .await;
        });
        Ok(local)
    }

    async fn accept(self: Arc<Self>, listener: TcpListener, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(MAX_CONNS));
        let peer_id = crate::torrent::download::peer_id();
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    continue;
                }
            };
            let me = self.clone();
            let stop = stop.clone();
            let span = tracing::debug_span!("bt peer", %peer);
            crate::task::spawn("bt peer", span, async move {
                let serve = crate::torrent::seed::serve(stream, peer_id, |ih| me.served(ih));
                if let Some(Err(e)) = stop.run_until_cancelled(serve).await {
                    tracing::debug!(error = %e, "peer connection ended");
                }
                drop(permit);
            });
        }
    }
}
