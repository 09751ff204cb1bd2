//! Nodes heard on the LAN (`crate::lan`) put to use: each becomes a blob
//! peer at once ([`LanPeers`], asked for every blob like a peer given by
//! hand, since nobody need have announced anything in the DHT for a LAN
//! node to hold it) and, when our DHT accepts its address, a DHT contact:
//! it is pinged (an answer puts it in the routing table) and, while the
//! table is young, our own id is looked up through it, so the DHT joins
//! through the LAN with no bootstrap node.

use super::peer_source::{Found, PeerSource};
use super::shutdown::Lifecycle;
use crate::dht;
use crate::fetch::{BoxFuture, PeerAddr};
use crate::hash::{BlobHash, NodeId, HASH_LEN};
use crate::lan::{Lan, LanConfig, LanPeer, Me};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The LAN's live peers as a peer source.
pub struct LanPeers(pub Arc<Lan>);

impl LanPeers {
    fn addrs(&self) -> Vec<SocketAddr> {
        self.0.peers().iter().map(LanPeer::blob_addr).collect()
    }
}

impl PeerSource for LanPeers {
    fn given(&self) -> Option<Vec<PeerAddr>> {
        Some(self.addrs().into_iter().map(PeerAddr::Tcp).collect())
    }

    fn find(&self, _key: BlobHash) -> BoxFuture<'_, Found> {
        Box::pin(async move {
            Found {
                peers: self.addrs(),
                why_none: None,
            }
        })
    }
}

/// Starts LAN discovery for a node whose blob server listens on `listen`;
/// `None` when it cannot take part (its blob server is on loopback, or the
/// discovery socket cannot be opened: the node runs without).
pub async fn start(
    listen: SocketAddr,
    dht: Option<Arc<dht::Node>>,
    life: &Lifecycle,
) -> Option<Arc<Lan>> {
    if listen.ip().is_loopback() {
        tracing::info!(%listen, "blob server on loopback: no LAN discovery");
        return None;
    }
    let me = Me {
        node_id: dht.as_ref().map_or_else(random_id, |d| d.id()),
        tcp_port: listen.port(),
        udp_port: dht.as_ref().map_or(0, |d| d.local_addr().port()),
    };
    let (tx, rx) = mpsc::channel(LanConfig::default().limits.max_peers);
    let lan = match crate::lan::start(LanConfig::default(), me, tx, life.token()).await {
        Ok(lan) => lan,
        Err(e) => {
            tracing::warn!("no LAN discovery: {:#}", anyhow::Error::new(e));
            return None;
        }
    };
    tracing::info!(group = %crate::lan::GROUP, "LAN discovery on");
    if let Some(node) = dht {
        let span = tracing::info_span!("lan_contacts");
        crate::task::spawn("lan_contacts", span, life.track(make_contacts(rx, node)));
    }
    Some(lan)
}

/// Each new LAN peer with a DHT node our policy accepts is pinged, each on
/// its own task (bounded by the table: at most its size are new at once).
async fn make_contacts(mut rx: mpsc::Receiver<LanPeer>, node: Arc<dht::Node>) {
    while let Some(p) = rx.recv().await {
        let Some(addr) = p.dht_addr().filter(|a| node.policy().accepts(*a)) else {
            tracing::debug!(peer = %p.blob_addr(), "LAN peer is not a DHT contact for us");
            continue;
        };
        let node = node.clone();
        let span = tracing::debug_span!("lan_contact", peer = %addr);
        crate::task::spawn("lan_contact", span, async move {
            match node.ping(addr).await {
                Ok(_) if node.routing_len() < dht::K => {
                    let found = node.find_node(node.id()).await;
                    tracing::debug!(closest = found.len(), "joined through a LAN peer");
                }
                Ok(_) => tracing::debug!("LAN peer is a DHT contact"),
                Err(e) => tracing::debug!(error = %e, "LAN peer's DHT node did not answer"),
            }
        });
    }
}

/// A node without a DHT node still needs an id to recognise its own datagrams.
fn random_id() -> NodeId {
    let mut b = [0u8; HASH_LEN];
    rand::Rng::fill(&mut rand::thread_rng(), &mut b[..]);
    NodeId::from_bytes(b)
}
