//! The DHT as the commands use it: start a node, join, announce what we
//! serve, and find the peers of a stream.
//!
//! The node itself (`crate::dht`) knows nothing of streams; this edge decides
//! what is announced (lbry-sdk's default: the sd blob and the first data blob
//! of every stream) and how `get` turns a stream's sd hash into peers.

use crate::dht::{AddrPolicy, Node, NodeConfig};
use crate::fetch::{BoxFuture, PeerFinder};
use crate::hash::{BlobHash, SdHash};
use anyhow::Context;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Starts a DHT node on `listen` and joins through `seeds` (none: we are the first node).
///
/// A node bound to a loopback or LAN address accepts such peers (the node
/// decides that itself). A node bound to every interface does too when all its
/// bootstrap nodes are on loopback or a LAN: that network is evidently local.
/// Otherwise it follows lbry-sdk's rules for the public network.
pub async fn start(listen: SocketAddr, seeds: &[SocketAddr]) -> anyhow::Result<Arc<Node>> {
    let local_seeds = !seeds.is_empty()
        && seeds
            .iter()
            .all(|a| AddrPolicy::for_bound(a.ip()) == AddrPolicy::Local);
    let config = NodeConfig {
        addr_policy: (listen.ip().is_unspecified() && local_seeds).then_some(AddrPolicy::Local),
        ..NodeConfig::default()
    };
    let node = Node::bind(listen, config)
        .await
        .with_context(|| format!("cannot start the DHT node on {listen}"))?;
    let node = Arc::new(node);
    if !seeds.is_empty() {
        match node.join(seeds).await {
            Ok(n) => tracing::info!(contacts = n, "joined the DHT"),
            Err(e) => tracing::warn!(error = %e, "could not join the DHT yet"),
        }
    }
    Ok(node)
}

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

pub use crate::node::resolve;

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
