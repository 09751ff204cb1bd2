//! A running lbrymount node: the one place that knows every concrete part.
//!
//! It opens the store, starts the blob server (re-seeding what the store
//! holds), the DHT node and its announcer, and the fetcher with its peer
//! finder; `serve` runs just this, the mount adds a filesystem on top.
//! It also answers the control socket (`ls`, `status`, `publish` from other
//! terminals). Shutdown is ordered (docs/architecture.md §6.4): cancel every
//! background part through one tree ([`shutdown::Lifecycle`]), close the
//! control socket, stop the share folder, stop accepting peers, stop the
//! DHT, then wait (bounded) for what was cancelled.

pub mod announce;
pub mod control;
mod get;
mod glue;
mod peer_memo;
pub mod peers;
pub mod publisher;
pub mod shutdown;

pub use announce::Announcer;
pub use glue::{FetchSource, Hooks};
pub use publisher::{MountView, Publisher};
pub use shutdown::{Lifecycle, STOP_GRACE};

use crate::config::Config;
use crate::control::server::ControlServer;
use crate::dht::{self, AddrPolicy, NodeConfig};
use crate::exchange::client::{ClientConfig, ExchangeClient};
use crate::exchange::server::{BlobServer, RunningServer, ServerConfig, StatsSnapshot};
use crate::fetch::{FetchConfig, Fetcher};
use crate::store::DiskStore;
use anyhow::Context;
use peers::NetworkPeers;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Where the node joins the DHT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// LBRY's public list; names that do not resolve are skipped.
    Default,
    /// These nodes; each must resolve.
    Nodes(Vec<String>),
    /// None: wait to be found (the first node of a network).
    None,
}

/// How a node is set up (validated flags).
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// TCP address of the blob server.
    pub listen: SocketAddr,
    pub max_connections: usize,
    /// UDP address of the DHT node; `None` runs no DHT.
    pub dht_listen: Option<SocketAddr>,
    pub bootstrap: Bootstrap,
    /// Peers to fetch from besides those the DHT names (`HOST:PORT`).
    pub peers: Vec<String>,
    /// Longest time spent fetching one blob.
    pub fetch_deadline: Duration,
    /// The share folder to watch, if any.
    pub share_dir: Option<std::path::PathBuf>,
}

pub struct Node {
    pub store: Arc<DiskStore>,
    pub fetcher: Fetcher,
    pub peers: Arc<NetworkPeers>,
    pub dht: Option<Arc<dht::Node>>,
    pub announcer: Announcer,
    pub publisher: Publisher,
    pub control: Arc<control::NodeControl>,
    control_server: Option<ControlServer>,
    share_dir: Option<std::path::PathBuf>,
    data_dir: std::path::PathBuf,
    share: Option<Arc<crate::share::ShareHandle>>,
    server: RunningServer,
    life: Lifecycle,
}

impl Node {
    /// Opens the store and starts every network part. Must run inside a tokio runtime.
    pub async fn start(cfg: &Config, opts: NodeOptions) -> anyhow::Result<Node> {
        let store = {
            let (dir, cap) = (cfg.data_dir.clone(), cfg.cache_bytes);
            tokio::task::spawn_blocking(move || DiskStore::open(&dir, cap)).await??
        };
        let store = Arc::new(store);
        let life = Lifecycle::new();
        let config = ServerConfig {
            max_connections: opts.max_connections,
            ..ServerConfig::default()
        };
        let server = BlobServer::bind(opts.listen, store.clone(), config)
            .await
            .with_context(|| format!("cannot listen on {}", opts.listen))?
            .spawn();
        let tcp_port = server.local_addr().port();
        let fixed = resolve(&opts.peers).await?;
        let (dht, announcer) = match opts.dht_listen {
            Some(udp) => {
                let state = cfg.data_dir.join("dht.json");
                let node = start_dht(udp, &opts.bootstrap, &state).await?;
                tracing::info!("dht node ready at {}", node.local_addr());
                let announcer = announce::start(node.clone(), store.clone(), tcp_port, &life);
                (Some(node), announcer)
            }
            None => (None, Announcer::disabled()),
        };
        let peers = Arc::new(NetworkPeers::new(fixed, dht.clone(), tcp_port));
        let fetch = FetchConfig {
            deadline: opts.fetch_deadline,
            ..FetchConfig::default()
        };
        let client = Arc::new(ExchangeClient::new(ClientConfig::default()));
        let fetcher =
            Fetcher::new(store.clone(), peers.clone(), client, fetch).stopped_by(life.token());
        let publisher = Publisher::new(store.clone(), announcer.clone(), life.token());
        let control = Arc::new(control::NodeControl {
            store: store.clone(),
            publisher: publisher.clone(),
            peers: peers.clone(),
            dht: dht.clone(),
            served: server.stats(),
            listen: server.local_addr(),
            started: std::time::Instant::now(),
            share: std::sync::OnceLock::new(),
        });
        // Without the socket the node still works; other commands then
        // cannot reach it, and say the data dir is in use.
        let control_server = match crate::control::server::start(&cfg.data_dir, control.clone()) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("no control socket: {:#}", anyhow::Error::new(e));
                None
            }
        };
        Ok(Node {
            store,
            fetcher,
            peers,
            dht,
            announcer,
            publisher,
            control,
            control_server,
            share_dir: opts.share_dir,
            data_dir: cfg.data_dir.clone(),
            share: None,
            server,
            life,
        })
    }

    /// A token cancelled when the node stops (for what is wired around it: the mount).
    pub fn stop_token(&self) -> tokio_util::sync::CancellationToken {
        self.life.token()
    }

    /// Starts watching the share folder (if the options name one). Called
    /// once whatever shows streams (the mount) is attached to the publisher,
    /// so no publish goes unseen.
    pub fn start_share(&mut self) -> anyhow::Result<()> {
        let Some(dir) = self.share_dir.clone() else {
            return Ok(());
        };
        let cfg = crate::share::ShareConfig::new(&dir, self.data_dir.join("share.json"));
        let handle = crate::share::start(cfg, Arc::new(self.publisher.clone()))
            .with_context(|| format!("cannot use the share folder {}", dir.display()))?;
        let handle = Arc::new(handle);
        tracing::info!("share folder {}", handle.dir().display());
        let _ = self.control.share.set(handle.clone());
        self.share = Some(handle);
        Ok(())
    }

    /// Cancels background work (a publish stops between chunks), stops
    /// serving peers, leaves the DHT, then waits up to [`STOP_GRACE`] for the
    /// cancelled tasks; returns what was served.
    pub async fn shutdown(self) -> StatsSnapshot {
        // Cancelled first, so a publish winds down while the rest stops.
        let stopped = self.life.clone();
        let stopping = tokio::spawn(async move { stopped.stop(STOP_GRACE).await });
        if let Some(c) = &self.control_server {
            c.shutdown();
        }
        if let Some(share) = &self.share {
            share.shutdown();
            share.stopped().await;
        }
        let stats = self.server.stats();
        self.server.shutdown().await;
        if let Some(node) = &self.dht {
            node.shutdown();
        }
        let _ = stopping.await;
        stats.snapshot()
    }
}

/// Starts the DHT node and joins through the chosen bootstrap nodes.
async fn start_dht(
    udp: SocketAddr,
    bootstrap: &Bootstrap,
    state: &Path,
) -> anyhow::Result<Arc<dht::Node>> {
    let seeds = bootstrap_addrs(bootstrap).await?;
    join_dht(udp, &seeds, Some(state)).await
}

/// The addresses of the chosen bootstrap nodes. Names given by hand must
/// resolve; names of the public list that do not are skipped with a warning.
pub async fn bootstrap_addrs(bootstrap: &Bootstrap) -> anyhow::Result<Vec<SocketAddr>> {
    Ok(match bootstrap {
        Bootstrap::Nodes(specs) => resolve(specs).await?,
        Bootstrap::None => Vec::new(),
        Bootstrap::Default => {
            let mut seeds = Vec::new();
            for spec in dht::DEFAULT_BOOTSTRAP {
                match resolve(&[spec.to_string()]).await {
                    Ok(a) => seeds.extend(a),
                    Err(e) => tracing::warn!("skipping bootstrap node {spec}: {e:#}"),
                }
            }
            if seeds.is_empty() {
                tracing::warn!("no bootstrap node of the public list resolves");
            }
            seeds
        }
    })
}

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
pub async fn join_dht(
    listen: SocketAddr,
    seeds: &[SocketAddr],
    state: Option<&Path>,
) -> anyhow::Result<Arc<dht::Node>> {
    let local_seeds = !seeds.is_empty()
        && seeds
            .iter()
            .all(|a| AddrPolicy::for_bound(a.ip()) == AddrPolicy::Local);
    let config = NodeConfig {
        addr_policy: (listen.ip().is_unspecified() && local_seeds).then_some(AddrPolicy::Local),
        state_file: state.map(Path::to_path_buf),
        ..NodeConfig::default()
    };
    let node = dht::Node::bind(listen, config)
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

/// Name resolution of peer and bootstrap hosts.
const RESOLVE_DEADLINE: Duration = Duration::from_secs(5);

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
