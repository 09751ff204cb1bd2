//! The DHT as the one-shot commands use it: a short-lived node, and the
//! peers of one stream for `get`. (Long-running nodes are wired in
//! `crate::node`, which also decides what is announced.)

use crate::dht::lookup::LookupStats;
use crate::dht::Node;
use crate::fetch::{BoxFuture, PeerFinder, PeerSearch};
use crate::hash::{BlobHash, SdHash};
use crate::node::peers::why_no_peers;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The UDP address to bind for a short-lived node (as `get` runs one): on the
/// loopback interface when every bootstrap node is there (loopback peers can
/// only be reached from it), else every interface.
pub fn client_bind(bootstrap: &[SocketAddr]) -> SocketAddr {
    let local = !bootstrap.is_empty() && bootstrap.iter().all(|a| a.ip().is_loopback());
    let ip = if local {
        Ipv4Addr::LOCALHOST
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    SocketAddr::new(IpAddr::V4(ip), 0)
}

pub use crate::node::{join_dht as start, resolve};

/// Peers for every blob of one stream: those announced for its sd hash
/// (looked up once), plus any given by hand, as lbry-sdk's downloader does.
pub struct StreamPeers {
    node: Arc<Node>,
    sd: SdHash,
    fixed: Vec<SocketAddr>,
    found: OnceCell<(Vec<SocketAddr>, LookupStats)>,
}

impl StreamPeers {
    pub fn new(node: Arc<Node>, sd: SdHash, fixed: Vec<SocketAddr>) -> Self {
        Self {
            node,
            sd,
            fixed,
            found: OnceCell::new(),
        }
    }
}

impl StreamPeers {
    /// The peers for `hash`, and why none when none.
    async fn search_all(&self, hash: BlobHash) -> PeerSearch {
        let (stream, mut stats) = self
            .found
            .get_or_init(|| self.node.find_peers_with_stats(self.sd.as_blob()))
            .await
            .clone();
        let mut all = self.fixed.clone();
        all.extend(stream);
        if all.is_empty() {
            // Nobody announced the stream; someone may have announced this blob.
            let (peers, blob_stats) = self.node.find_peers_with_stats(hash).await;
            all.extend(peers);
            stats = blob_stats;
        }
        all.dedup();
        PeerSearch {
            why_none: all
                .is_empty()
                .then(|| why_no_peers(&stats, self.node.seed_count())),
            peers: all,
        }
    }
}

impl PeerFinder for StreamPeers {
    fn find_peers(&self, hash: BlobHash) -> BoxFuture<'_, Vec<SocketAddr>> {
        Box::pin(async move { self.search_all(hash).await.peers })
    }

    fn search(&self, hash: BlobHash) -> BoxFuture<'_, PeerSearch> {
        Box::pin(self.search_all(hash))
    }
}
