//! Where a torrent's peers come from besides the ones given (`--bt-peer`,
//! `add`): the mainline DHT and the torrent's UDP trackers, asked at once
//! when the torrent opens and again ([`FindAgain`]) whenever every peer of
//! its swarm failed. Both are bounded by their own deadlines (a DHT lookup's
//! queries, a tracker's retries), and the caller bounds the whole.

use super::bt_dht::MainlineFinder;
use super::bt_trackers::TorrentTrackers;
use crate::stream::BoxFuture;
use crate::torrent::swarm::PeerFinder;
use crate::wire::krpc::Id20;
use std::net::SocketAddr;
use std::sync::Arc;

/// The DHT and the trackers of one torrent.
pub struct Discovery {
    pub dht: Option<Arc<MainlineFinder>>,
    pub trackers: Arc<TorrentTrackers>,
    /// Our `--bt-listen` port told to trackers (0: none).
    pub port: u16,
}

impl Discovery {
    /// The peers the DHT and the trackers name for `info_hash`, or why
    /// there are none.
    pub async fn find(&self, info_hash: Id20) -> Result<Vec<SocketAddr>, String> {
        let dht = async {
            match &self.dht {
                Some(d) => d.peers(info_hash).await,
                None => Err(String::new()),
            }
        };
        let trackers = self.trackers.ask(info_hash, self.port);
        let (dht, (from_trackers, answered)) = tokio::join!(dht, trackers);
        let mut peers = dht.as_ref().cloned().unwrap_or_default();
        add_new(&mut peers, from_trackers);
        if !peers.is_empty() {
            return Ok(peers);
        }
        let mut why: Vec<String> = dht.err().filter(|e| !e.is_empty()).into_iter().collect();
        let asked = self.trackers.of(info_hash).await.len();
        if asked > 0 {
            why.push(format!(
                "its trackers name no peer ({answered} of {asked} answered)"
            ));
        }
        Err(why.join("; "))
    }
}

/// Appends the peers of `more` that `peers` does not hold yet (both lists
/// are bounded by the swarm's `MAX_PEERS`, so a linear check is cheap).
pub fn add_new(peers: &mut Vec<SocketAddr>, more: impl IntoIterator<Item = SocketAddr>) {
    for p in more {
        if !peers.contains(&p) {
            peers.push(p);
        }
    }
}

/// Asks the DHT and the trackers again for one torrent's peers, when those
/// its swarm has all failed.
pub struct FindAgain {
    pub discovery: Discovery,
    pub info_hash: Id20,
}

impl PeerFinder for FindAgain {
    fn find(&self) -> BoxFuture<'_, Vec<SocketAddr>> {
        Box::pin(async move {
            let found = self.discovery.find(self.info_hash).await;
            found.unwrap_or_else(|why| {
                tracing::info!(%why, "no more peers in the mainline DHT nor the trackers");
                Vec::new()
            })
        })
    }
}
