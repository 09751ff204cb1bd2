//! Where peers come from: the small seam [`PeerSource`] that the one peer
//! policy ([`super::peers::Peers`]) asks, and today's sources: peers and
//! HTTP blob sources given by hand ([`GivenPeers`]) and the DHT
//! ([`DhtPeers`]); trackers are one more (`tracker_peers`), the LAN another
//! (`lan_peers`); lbry-sdk's fixed peers are the policy's fallback
//! (`fixed_peers`). Caching, deduplication, bounds, leaving ourselves out
//! and saying why nobody was found are the composer's, not theirs.
//!
//! A source answers for a key: a stream's sd hash (lbry-sdk announces
//! streams, not data blobs) or a blob's own hash. It also says, in the
//! user's terms, why its answer may hold nobody useful, so the composer can
//! tell a DHT that did not answer from one where nobody announced the stream.

use crate::dht;
use crate::dht::lookup::LookupStats;
use crate::fetch::{BoxFuture, PeerAddr};
use crate::hash::BlobHash;
use std::net::SocketAddr;
use std::sync::Arc;

/// What one source answered for one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub peers: Vec<SocketAddr>,
    /// What to tell the user when none of `peers` is usable (none found, or
    /// only ourselves): set by sources that ask a network.
    pub why_none: Option<String>,
}

/// One place peers come from. The composer owns this seam (docs/architecture.md §5).
pub trait PeerSource: Send + Sync + 'static {
    /// Candidates for every key known without asking (peers and HTTP
    /// sources given by hand, nodes heard on the LAN): asked first, never
    /// cached (a LAN peer heard a second ago is a candidate now), counted by
    /// `Peers::known`. `None` for a source that asks the network.
    fn given(&self) -> Option<Vec<PeerAddr>> {
        None
    }

    /// Peers for `key`, and why nobody when nobody.
    fn find(&self, key: BlobHash) -> BoxFuture<'_, Found>;
}

/// Peers and HTTP blob sources given by hand (`--peer HOST:PORT`,
/// `--blob-http URL`): candidates for every blob, asked at once.
#[derive(Debug, Clone, Default)]
pub struct GivenPeers(Vec<PeerAddr>);

impl GivenPeers {
    pub fn new(peers: Vec<PeerAddr>) -> Self {
        Self(peers)
    }
}

impl PeerSource for GivenPeers {
    fn given(&self) -> Option<Vec<PeerAddr>> {
        Some(self.0.clone())
    }

    fn find(&self, _key: BlobHash) -> BoxFuture<'_, Found> {
        let peers = self.0.iter().filter_map(PeerAddr::tcp).collect();
        Box::pin(async move {
            Found {
                peers,
                why_none: None,
            }
        })
    }
}

/// The peers announced in the DHT for a key, through our DHT node.
pub struct DhtPeers(pub Arc<dht::Node>);

impl PeerSource for DhtPeers {
    fn find(&self, key: BlobHash) -> BoxFuture<'_, Found> {
        Box::pin(async move {
            let (peers, stats) = self.0.find_peers_with_stats(key).await;
            tracing::debug!(key = %key.short(), peers = peers.len(), ?stats, "dht peer lookup");
            Found {
                peers,
                why_none: Some(why_no_peers(&stats, self.0.seed_count())),
            }
        })
    }
}

/// Why a DHT lookup found no peer, from what the lookup went through and
/// how many bootstrap nodes and saved contacts the node could rejoin through
/// (a lookup with no live contact rejoins through them first, so when it
/// then asks nobody, they did not answer).
pub fn why_no_peers(stats: &LookupStats, seeds: usize) -> String {
    if stats.queries == 0 && seeds > 0 {
        format!("no DHT node answered (none of {seeds} bootstrap nodes and saved contacts)")
    } else if stats.queries == 0 {
        "the DHT knows no node to ask (no contacts)".to_owned()
    } else if stats.responses == 0 {
        format!(
            "no DHT node answered ({} asked, {} timed out)",
            stats.queries, stats.timeouts
        )
    } else {
        format!(
            "nobody announced it in the DHT ({} nodes answered)",
            stats.responses
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(queries: u32, responses: u32, timeouts: u32) -> LookupStats {
        LookupStats {
            queries,
            responses,
            timeouts,
            ..LookupStats::default()
        }
    }

    #[test]
    fn an_empty_answer_says_what_the_dht_went_through() {
        assert!(why_no_peers(&stats(0, 0, 0), 0).contains("knows no node"));
        let unanswered = why_no_peers(&stats(0, 0, 0), 2);
        assert!(
            unanswered.contains("no DHT node answered (none of 2 bootstrap"),
            "{unanswered}"
        );
        let silent = why_no_peers(&stats(3, 0, 3), 2);
        assert!(
            silent.contains("no DHT node answered (3 asked, 3 timed out)"),
            "{silent}"
        );
        let answered = why_no_peers(&stats(8, 5, 3), 2);
        assert!(answered.contains("nobody announced it"), "{answered}");
    }

    #[tokio::test]
    async fn given_peers_answer_the_same_for_any_key() {
        let a: SocketAddr = "127.0.0.1:4444".parse().unwrap();
        let fixed = GivenPeers::new(vec![a.into()]);
        assert_eq!(fixed.given(), Some(vec![PeerAddr::Tcp(a)]));
        let found = fixed.find(BlobHash::digest(b"1")).await;
        assert_eq!(found, fixed.find(BlobHash::digest(b"2")).await);
        assert_eq!(found.peers, [a]);
    }
}
