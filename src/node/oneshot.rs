//! The parts a one-shot command runs on when no node holds the data dir:
//! the store, opened by the command itself; for `get`, a fetcher with the
//! node's peer policy over the `--peer`s given and, when asked, a
//! short-lived DHT node (no server, no announcer, no state file); for
//! `lbrymount dht …`, a short-lived DHT node. Built by `parts`, as a
//! running node's are.

use super::parts;
use super::peers::Peers;
use super::Bootstrap;
use crate::config::Config;
use crate::dht;
use crate::fetch::{Fetcher, PeerAddr};
use crate::store::{DiskStore, StoreError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Where a one-shot `get` looks for blobs.
#[derive(Debug, Clone)]
pub struct GetConfig {
    /// Peers given by hand (`HOST:PORT`).
    pub peers: Vec<String>,
    /// Where a short-lived DHT node joins; [`Bootstrap::None`] runs none.
    pub bootstrap: Bootstrap,
    /// Longest time spent fetching one blob.
    pub fetch_deadline: Duration,
    /// Fixed peers and HTTP blob sources.
    pub reach: super::Reach,
}

/// What a one-shot `get` fetches with. The DHT node, if any, lives as long
/// as this (the peer policy holds it).
pub struct Fetching {
    pub fetcher: Fetcher,
    /// The peer policy the fetcher asks: register the stream once its
    /// descriptor is known, so its blobs are looked up by its sd hash.
    pub peers: Arc<Peers>,
    /// How many peers (and HTTP sources) were given by hand.
    pub fixed: usize,
    /// Whether there is anywhere to look: a DHT node, a peer or HTTP source
    /// given by hand, or a fixed peer.
    pub has_sources: bool,
}

/// Opens the data dir's store (taking its lock), for a command that runs
/// without a node.
pub fn open_store(cfg: &Config) -> Result<DiskStore, StoreError> {
    parts::open_store(cfg)
}

/// The fetcher of a one-shot `get` over `store`: the peers given, resolved
/// first, then (unless [`Bootstrap::None`]) a DHT node joined through the
/// chosen bootstrap nodes.
pub async fn fetching(store: Arc<DiskStore>, cfg: &GetConfig) -> anyhow::Result<Fetching> {
    let fixed = parts::resolve(&cfg.peers).await?;
    let reach = parts::reach(&cfg.reach);
    let dht = match &cfg.bootstrap {
        Bootstrap::None => None,
        chosen => {
            let seeds = parts::bootstrap_addrs(chosen).await?;
            Some(parts::short_lived_dht(&seeds).await?)
        }
    };
    let has_sources =
        dht.is_some() || !fixed.is_empty() || !reach.http.is_empty() || reach.fixed.is_some();
    let mut given: Vec<PeerAddr> = fixed.into_iter().map(Into::into).collect();
    given.extend(&reach.http);
    let n = given.len();
    let peers = parts::peer_policy(given, dht, None, None, None).with_fallback(reach.fixed);
    let peers = Arc::new(peers);
    let fetcher = parts::fetcher(store, peers.clone(), cfg.fetch_deadline, &reach.book);
    Ok(Fetching {
        fetcher,
        peers,
        fixed: n,
        has_sources,
    })
}

/// A short-lived DHT node for `lbrymount dht …`: joined through `seeds`
/// when `join`, else only talking to whom it is told to (`ping`).
pub async fn dht_node(seeds: &[SocketAddr], join: bool) -> anyhow::Result<Arc<dht::Node>> {
    if join {
        parts::short_lived_dht(seeds).await
    } else {
        parts::join_dht(parts::client_bind(seeds), &[], None).await
    }
}
