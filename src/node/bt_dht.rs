//! Peers for an infohash from BitTorrent's mainline DHT, for `get` of a
//! torrent and for torrents in the mount.
//!
//! One read-only node (it asks, it never answers, so it does not take a
//! place in others' routing tables it would not keep) is started at the
//! first question and kept for the next ones; a node that lost every
//! contact joins again through the bootstrap list. Bootstrap names are
//! resolved only then, so a mount that never opens a torrent never touches
//! the DHT, nor DNS for it.
//!
//! With `--bt-dht-listen ADDR:PORT` the node is a full one instead: bound
//! there at start, answering queries (so other nodes can join through it
//! and find what it stores), its table kept fresh by [`MainlineFinder::refresh`].
//! Either kind announces the torrents the mount serves (`bt_announce`).

use crate::mainline::{self, Node, NodeConfig};
use std::net::SocketAddr;
use std::sync::Arc;

/// Asks the mainline DHT for peers, through one lazily started node.
pub struct MainlineFinder {
    /// HOST:PORT specs; empty means the public routers.
    bootstrap: Vec<String>,
    /// Where a full node listens (`--bt-dht-listen`); `None`: read-only.
    listen: Option<SocketAddr>,
    node: tokio::sync::Mutex<Option<Arc<Node>>>,
}

impl MainlineFinder {
    pub fn new(bootstrap: Vec<String>) -> Self {
        Self::listening(bootstrap, None)
    }

    /// A finder whose node is a full one bound at `listen`, if given.
    pub fn listening(bootstrap: Vec<String>, listen: Option<SocketAddr>) -> Self {
        Self {
            bootstrap,
            listen,
            node: tokio::sync::Mutex::new(None),
        }
    }

    /// `read-only` or the full node's address, and its table's size (0
    /// while a join holds the node).
    pub fn state(&self) -> (String, usize) {
        let node = self.node.try_lock().ok().and_then(|n| n.clone());
        let contacts = node.as_ref().map_or(0, |n| n.contacts().len());
        let kind = match (self.listen, node.and_then(|n| n.local_addr())) {
            (None, _) => "read-only".to_string(),
            (Some(_), Some(bound)) => bound.to_string(),
            (Some(asked), None) => asked.to_string(),
        };
        (kind, contacts)
    }

    /// Whether the node is a full one (`--bt-dht-listen`).
    pub fn listens(&self) -> bool {
        self.listen.is_some()
    }

    /// Binds the full node's socket now (`--bt-dht-listen`), so a bad
    /// address fails the start; it joins at the first [`Self::refresh`].
    pub async fn bind(&self) -> Result<SocketAddr, String> {
        let mut slot = self.node.lock().await;
        let node = self.started(&mut slot).await?;
        node.local_addr()
            .ok_or_else(|| "the DHT socket has no address".into())
    }

    /// Keeps a full node's table fresh: joins again when it has no contact,
    /// else looks up a random id (as BEP 5 refreshes buckets). Nothing for
    /// a read-only node, which joins when it has a question.
    pub async fn refresh(&self) {
        if self.listen.is_none() {
            return;
        }
        let node = match self.joined().await {
            Ok(node) => node,
            Err(e) => return tracing::debug!(error = %e, "mainline DHT not joined"),
        };
        node.find_node(mainline::random_id()).await;
    }

    /// Announces that `port` serves `info_hash`; how many nodes took it.
    pub async fn announce(&self, info_hash: [u8; 20], port: u16) -> Result<usize, String> {
        let node = self.joined().await?;
        let (stored, _) = node
            .announce(info_hash, port)
            .await
            .map_err(|e| e.to_string())?;
        match stored {
            0 => Err("no node took the announce".into()),
            n => Ok(n),
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
        let node = self.started(&mut slot).await?;
        let seeds = self.seeds().await?;
        if node.join(&seeds).await == 0 {
            return Err("no mainline DHT node answered from the bootstrap list".into());
        }
        Ok(node)
    }

    /// The node in `slot`, started (and bound) if there is none.
    async fn started(&self, slot: &mut Option<Arc<Node>>) -> Result<Arc<Node>, String> {
        if let Some(n) = slot.as_ref() {
            return Ok(n.clone());
        }
        let cfg = NodeConfig {
            read_only: self.listen.is_none(),
            listen: self.listen.unwrap_or(NodeConfig::default().listen),
            ..NodeConfig::default()
        };
        let node = Node::start(cfg)
            .await
            .map_err(|e| format!("cannot start a mainline DHT node: {e}"))?;
        *slot = Some(node.clone());
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
