//! The DHT as the one-shot commands use it: a short-lived node, and the
//! peers of one stream for `get`. (Long-running nodes are wired in
//! `crate::node`, which also decides what is announced.)

use crate::dht::Node;
use crate::fetch::{BoxFuture, PeerFinder};
use crate::hash::{BlobHash, SdHash};
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
    found: OnceCell<Vec<SocketAddr>>,
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

impl PeerFinder for StreamPeers {
    fn find_peers(&self, hash: BlobHash) -> BoxFuture<'_, Vec<SocketAddr>> {
        Box::pin(async move {
            let stream = self
                .found
                .get_or_init(|| self.node.find_peers(self.sd.as_blob()))
                .await;
            let mut all = self.fixed.clone();
            all.extend(stream.iter().copied());
            if all.is_empty() {
                // Nobody announced the stream; someone may have announced this blob.
                all.extend(self.node.find_peers(hash).await);
            }
            all.dedup();
            all
        })
    }
}
