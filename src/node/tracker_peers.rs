//! Trackers as one more [`PeerSource`] of the one peer policy: a lookup
//! asks every tracker at once (each within [`LOOKUP_DEADLINE`]) who
//! announced the key's first 20 bytes, and says why when nobody did.

use super::peer_source::{Found, PeerSource};
use crate::fetch::BoxFuture;
use crate::hash::BlobHash;
use crate::tracker::{Tracker, TrackerStatus, LOOKUP_DEADLINE};
use std::sync::Arc;
use tokio::task::JoinSet;

/// The configured trackers; `port` is our blob server's, announced with
/// each lookup as BEP-15 requires (a leecher, `left` > 0).
pub struct TrackerPeers {
    pub trackers: Vec<Arc<Tracker>>,
    pub port: u16,
}

impl TrackerPeers {
    pub fn status(&self) -> Vec<TrackerStatus> {
        self.trackers.iter().map(|t| t.status()).collect()
    }
}

impl PeerSource for TrackerPeers {
    fn find(&self, key: BlobHash) -> BoxFuture<'_, Found> {
        Box::pin(async move {
            let mut asks = JoinSet::new();
            for t in &self.trackers {
                let (t, port) = (t.clone(), self.port);
                asks.spawn(async move { t.announce(key, port, false, LOOKUP_DEADLINE).await });
            }
            let (mut peers, mut answered) = (Vec::new(), 0);
            while let Some(done) = asks.join_next().await {
                if let Ok(Ok(a)) = done {
                    answered += 1;
                    peers.extend(a.peers);
                }
            }
            tracing::debug!(key = %key.short(), peers = peers.len(), answered, "tracker peer lookup");
            let asked = self.trackers.len();
            let why_none = if answered == 0 {
                format!("no tracker answered ({asked} asked)")
            } else {
                format!("nobody announced it to the trackers ({answered} of {asked} answered)")
            };
            Found {
                peers,
                why_none: Some(why_none),
            }
        })
    }
}
