//! The DHT as the commands use it: start a node, join, announce what we
//! serve, and find the peers of a stream.
//!
//! The node itself (`crate::dht`) knows nothing of streams; this edge decides
//! what is announced (lbry-sdk's default: the sd blob and the first data blob
//! of every stream) and how `get` turns a stream's sd hash into peers.

use crate::dht::{AddrPolicy, Node, NodeConfig, DATA_EXPIRATION};
use crate::fetch::{BoxFuture, PeerFinder};
use crate::hash::{BlobHash, SdHash};
use crate::store::BlobStore;
use anyhow::Context;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Name resolution of peer and bootstrap hosts.
const RESOLVE_DEADLINE: Duration = Duration::from_secs(5);

/// Starts a DHT node on `listen` and joins through `seeds` and the contacts
/// saved in `state` (none of either: we are the first node).
///
/// `state` is the node's state file: its id and live contacts are kept there
/// across restarts. Long-running nodes pass one; short-lived client nodes
/// pass `None` and get a fresh id each time.
///
/// A node bound to a loopback or LAN address accepts such peers (the node
/// decides that itself). A node bound to every interface does too when all its
/// bootstrap nodes are on loopback or a LAN: that network is evidently local.
/// Otherwise it follows lbry-sdk's rules for the public network.
pub async fn start(
    listen: SocketAddr,
    seeds: &[SocketAddr],
    state: Option<&Path>,
) -> anyhow::Result<Arc<Node>> {
    let local_seeds = !seeds.is_empty()
        && seeds
            .iter()
            .all(|a| AddrPolicy::for_bound(a.ip()) == AddrPolicy::Local);
    let config = NodeConfig {
        addr_policy: (listen.ip().is_unspecified() && local_seeds).then_some(AddrPolicy::Local),
        state_file: state.map(Path::to_path_buf),
        ..NodeConfig::default()
    };
    let node = Node::bind(listen, config)
        .await
        .with_context(|| format!("cannot start the DHT node on {listen}"))?;
    let node = Arc::new(node);
    if !seeds.is_empty() || !node.saved_contacts().is_empty() {
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

/// Resolves `HOST:PORT` specs (peers or DHT nodes), with a deadline each.
/// IPv4 is preferred: LBRY peers and DHT nodes are IPv4.
pub async fn resolve(specs: &[String]) -> anyhow::Result<Vec<SocketAddr>> {
    let mut out = Vec::new();
    for spec in specs {
        let addrs = tokio::time::timeout(RESOLVE_DEADLINE, tokio::net::lookup_host(spec.as_str()))
            .await
            .with_context(|| format!("resolving {spec} timed out"))?
            .with_context(|| format!("cannot resolve {spec}"))?;
        let mut addrs: Vec<SocketAddr> = addrs.collect();
        addrs.sort_by_key(|a| !a.is_ipv4());
        match addrs.first() {
            Some(a) => out.push(*a),
            None => anyhow::bail!("{spec} resolves to no address"),
        }
    }
    Ok(out)
}

/// Announces the sd blob and first data blob of every stream in `store`, now
/// and again before the announcements expire (every 12 hours).
pub async fn announce_loop(node: Arc<Node>, store: Arc<dyn BlobStore>, tcp_port: u16) {
    loop {
        let heads = tokio::task::spawn_blocking({
            let store = store.clone();
            move || stream_heads(&*store)
        })
        .await
        .unwrap_or_default();
        let mut stored = 0;
        for blob in &heads {
            match node.announce(*blob, tcp_port).await {
                Ok(n) => stored += n,
                Err(e) => {
                    tracing::debug!(blob = %blob.short(), error = %e, "announce reached no node")
                }
            }
        }
        tracing::info!(blobs = heads.len(), stores = stored, "announced");
        tokio::time::sleep(DATA_EXPIRATION / 2).await;
    }
}

/// The blobs LBRY announces for each stream: its sd blob and first data blob.
fn stream_heads(store: &dyn BlobStore) -> Vec<BlobHash> {
    let mut out = Vec::new();
    for (sd, desc) in super::ls::streams(store) {
        out.push(sd.as_blob());
        if let Some(first) = desc.blobs().first().filter(|b| store.contains(&b.hash)) {
            out.push(first.hash);
        }
    }
    out
}

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
