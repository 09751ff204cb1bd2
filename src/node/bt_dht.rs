//! Peers for an infohash from BitTorrent's mainline DHT, for `get` of a
//! torrent and for torrents in the mount.
//!
//! One read-only node (it asks, it never answers, so it does not take a
//! place in others' routing tables it would not keep) is started at the
//! first question and kept for the next ones; a node that lost every
//! contact joins again through the bootstrap list. Bootstrap names are
//! resolved only then, so a mount that never opens a torrent never touches
//! the DHT, nor DNS for it.

use crate::mainline::{self, Node, NodeConfig};
use std::net::SocketAddr;
use std::sync::Arc;

/// Asks the mainline DHT for peers, through one lazily started node.
pub struct MainlineFinder {
    /// HOST:PORT specs; empty means the public routers.
    bootstrap: Vec<String>,
    node: tokio::sync::Mutex<Option<Arc<Node>>>,
}

impl MainlineFinder {
    pub fn new(bootstrap: Vec<String>) -> Self {
        Self {
            bootstrap,
            node: tokio::sync::Mutex::new(None),
        }
    }

    /// The peers announced for `info_hash`, or why there are none.
    pub async fn peers(&self, info_hash: [u8; 20]) -> Result<Vec<SocketAddr>, String> {
        let node = self.joined().await?;
        let found = node.get_peers(info_hash).await;
        if found.peers.is_empty() {
            return Err(format!(
                "the mainline DHT knows no peer for {} ({} nodes asked)",
                hex::encode(info_hash),
                found.responders.len()
            ));
        }
        Ok(found.peers.into_iter().map(SocketAddr::V4).collect())
    }

    /// The node, started and joined if it has no contact.
    async fn joined(&self) -> Result<Arc<Node>, String> {
        let mut slot = self.node.lock().await;
        if let Some(n) = slot.as_ref().filter(|n| !n.contacts().is_empty()) {
            return Ok(n.clone());
        }
        let node = match slot.as_ref() {
            Some(n) => n.clone(),
            None => Node::start(NodeConfig {
                read_only: true,
                ..NodeConfig::default()
            })
            .await
            .map_err(|e| format!("cannot start a mainline DHT node: {e}"))?,
        };
        *slot = Some(node.clone());
        let seeds = self.seeds().await?;
        if node.join(&seeds).await == 0 {
            return Err("no mainline DHT node answered from the bootstrap list".into());
        }
        Ok(node)
    }

    /// The bootstrap list, resolved (IPv4 only: the node is IPv4).
    async fn seeds(&self) -> Result<Vec<std::net::SocketAddrV4>, String> {
        let specs: Vec<String> = match self.bootstrap.as_slice() {
            [] => mainline::DEFAULT_BOOTSTRAP
                .iter()
                .map(|s| s.to_string())
                .collect(),
            given => given.to_vec(),
        };
        let addrs = super::resolve(&specs).await.map_err(|e| format!("{e:#}"))?;
        Ok(addrs
            .into_iter()
            .filter_map(|a| match a {
                SocketAddr::V4(a) => Some(a),
                SocketAddr::V6(_) => None,
            })
            .collect())
    }
}
