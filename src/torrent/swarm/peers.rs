//! A swarm's peers: those it was given, those added later (`add`), and
//! more from its [`PeerFinder`] when all have failed; one connection each,
//! and a ban for one that sent a corrupt piece.

use super::{Swarm, BAN};
use crate::torrent::peer::{PeerConn, PeerError};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Peers one torrent asks, at most (those given first are kept).
pub const MAX_PEERS: usize = 64;

/// How often a swarm whose peers all failed asks for more, at most.
const FIND_EVERY: Duration = Duration::from_secs(30);

/// Where a swarm finds more peers when those it has all fail or there are
/// none (the mount asks the mainline DHT again): a seed that moved, or came
/// online after the torrent was opened, is found without a restart.
pub trait PeerFinder: Send + Sync + 'static {
    fn find(&self) -> crate::stream::BoxFuture<'_, Vec<SocketAddr>>;
}

pub(super) struct Peer {
    pub(super) addr: SocketAddr,
    pub(super) conn: tokio::sync::Mutex<Option<PeerConn>>,
    pub(super) banned_until: Mutex<Option<Instant>>,
}

impl Peer {
    pub(super) fn new(addr: SocketAddr) -> Arc<Self> {
        Arc::new(Self {
            addr,
            conn: tokio::sync::Mutex::new(None),
            banned_until: Mutex::new(None),
        })
    }

    pub(super) fn banned(&self, now: Instant) -> bool {
        let b = self
            .banned_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        b.is_some_and(|until| now < until)
    }
}

impl Swarm {
    /// Adds peers to ask (those already known, and any beyond
    /// [`MAX_PEERS`], are left out); returns how many were new.
    pub fn add_peers(&self, addrs: &[SocketAddr]) -> usize {
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut added = 0;
        for &addr in addrs {
            if peers.len() < MAX_PEERS && !peers.iter().any(|p| p.addr == addr) {
                peers.push(Peer::new(addr));
                added += 1;
            }
        }
        added
    }

    /// Peers known to this swarm.
    pub fn peer_count(&self) -> usize {
        self.peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The peers to ask now.
    pub(super) fn peer_list(&self) -> Vec<Arc<Peer>> {
        self.peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A peer failed: one that sent a corrupt piece is not asked for a while.
    pub(super) fn peer_failed(&self, peer: &Peer, e: &PeerError) {
        if matches!(e, PeerError::Corrupt(_)) {
            let mut b = peer
                .banned_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *b = Some(Instant::now() + BAN);
        }
        tracing::info!(peer = %peer.addr, error = %e, "peer failed");
    }

    /// Asks the finder for peers, unless it was asked lately; returns how
    /// many new ones it named.
    pub(super) async fn find_more(&self) -> usize {
        let Some(finder) = &self.finder else {
            return 0;
        };
        {
            let mut at = self.found_at.lock().unwrap_or_else(PoisonError::into_inner);
            if at.is_some_and(|t| t.elapsed() < FIND_EVERY) {
                return 0;
            }
            *at = Some(Instant::now());
        }
        let found = tokio::time::timeout(self.deadline / 2, finder.find()).await;
        let added = self.add_peers(&found.unwrap_or_default());
        tracing::info!(added, "asked for more peers");
        added
    }
}
