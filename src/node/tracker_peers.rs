//! Trackers as one more [`PeerSource`] of the one peer policy: a lookup
//! asks every tracker at once (each within [`LOOKUP_DEADLINE`]) who
//! announced the key's first 20 bytes, and says why when nobody did. A
//! tracker that failed within the last minute is not asked: with LBRY's
//! default list some are dead, and each would cost every lookup its deadline.

use super::peer_source::{Found, PeerSource};
use crate::fetch::BoxFuture;
use crate::hash::BlobHash;
use crate::tracker::{Tracker, TrackerStatus, LOOKUP_DEADLINE, REST_AFTER_FAILURE};
use std::net::SocketAddr;
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
            let info_hash = crate::tracker::info_hash(key);
            let (peers, asked, answered) = announce_all(&self.trackers, info_hash, self.port).await;
            tracing::debug!(key = %key.short(), peers = peers.len(), answered, "tracker peer lookup");
            let why_none = if asked == 0 {
                format!(
                    "every tracker failed in the last {} s",
                    REST_AFTER_FAILURE.as_secs()
                )
            } else if answered == 0 {
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

/// Announces `info_hash` (as a leecher on `port`) to every tracker that is
/// not resting, all at once, each within [`LOOKUP_DEADLINE`]: the peers they
/// named, how many were asked and how many answered. Each tracker records
/// its outcome for `status`.
pub(super) async fn announce_all(
    trackers: &[Arc<Tracker>],
    info_hash: [u8; 20],
    port: u16,
) -> (Vec<SocketAddr>, usize, usize) {
    let mut asks = JoinSet::new();
    let now = tokio::time::Instant::now();
    for t in trackers.iter().filter(|t| !t.resting(now)) {
        let t = t.clone();
        asks.spawn(async move {
            t.announce_hash(info_hash, port, false, LOOKUP_DEADLINE)
                .await
        });
    }
    let asked = asks.len();
    let (mut peers, mut answered) = (Vec::new(), 0);
    while let Some(done) = asks.join_next().await {
        if let Ok(Ok(a)) = done {
            answered += 1;
            peers.extend(a.peers);
        }
    }
    (peers, asked, answered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_tracker_that_failed_is_left_out_of_lookups_for_a_while() {
        // Nothing listens on UDP port 1 of loopback.
        let dead = Arc::new(Tracker::new("127.0.0.1:1".into(), [1; 20]));
        let source = TrackerPeers {
            trackers: vec![dead.clone()],
            port: 4444,
        };
        let first = source.find(BlobHash::digest(b"x")).await;
        assert_eq!(
            first.why_none.as_deref(),
            Some("no tracker answered (1 asked)")
        );
        assert!(dead.status().last_error.is_some());
        let second = source.find(BlobHash::digest(b"x")).await;
        assert_eq!(
            second.why_none.as_deref(),
            Some("every tracker failed in the last 60 s")
        );
        tokio::time::advance(REST_AFTER_FAILURE).await;
        assert!(!dead.resting(tokio::time::Instant::now()));
    }
}
