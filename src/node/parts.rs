//! How each part of a node is built: the one construction path. A running
//! node (`Node::start`), the mount on top of it, a `get` through it and a
//! one-shot `get` or `dht` command all open the store, make the fetcher,
//! choose peers and start DHT nodes through these functions, so each part
//! is configured in one place (docs/architecture.md §2.5).

use super::fixed_peers::FixedPeers;
use super::peers::{DhtPeers, GivenPeers, PeerSource, Peers};
use super::source_status::{SourceBook, Watched};
use super::tracker_peers::TrackerPeers;
use super::{Bootstrap, Reach};
use crate::config::Config;
use crate::dht::{self, AddrPolicy, NodeConfig};
use crate::exchange::client::{ClientConfig, ExchangeClient};
use crate::exchange::server::{BlobServer, RunningServer, ServerConfig};
use crate::fetch::{FetchConfig, FetchStore, Fetcher, PeerAddr, PeerFinder};
use crate::store::{DiskStore, StoreError};
use anyhow::Context;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Opens the data dir's store (taking its lock), on the calling thread.
pub fn open_store(cfg: &Config) -> Result<DiskStore, StoreError> {
    DiskStore::open(&cfg.data_dir, cfg.cache_bytes)
}

/// [`open_store`] on the blocking pool, shared.
pub async fn open_store_async(cfg: &Config) -> anyhow::Result<Arc<DiskStore>> {
    let cfg = cfg.clone();
    Ok(Arc::new(
        tokio::task::spawn_blocking(move || open_store(&cfg)).await??,
    ))
}

/// Binds the blob server on `listen` over `store` and starts accepting.
pub async fn start_server(
    listen: SocketAddr,
    max_connections: usize,
    store: Arc<DiskStore>,
    names: Arc<crate::search::NameIndex>,
) -> anyhow::Result<RunningServer> {
    let config = ServerConfig {
        max_connections,
        ..ServerConfig::default()
    };
    Ok(BlobServer::bind(listen, store, config)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?
        .with_search(names)
        .spawn())
}

/// A fetcher over `store` and `finder`, giving up on a blob after
/// `deadline`; the sources `book` lists have their outcomes recorded.
pub fn fetcher(
    store: Arc<dyn FetchStore>,
    finder: Arc<dyn PeerFinder>,
    deadline: Duration,
    book: &Arc<SourceBook>,
) -> Fetcher {
    let config = FetchConfig {
        deadline,
        ..FetchConfig::default()
    };
    let client = Arc::new(Watched {
        inner: Arc::new(ExchangeClient::new(ClientConfig::default())),
        book: book.clone(),
    });
    Fetcher::new(store, finder, client, config)
}

/// The sources of a [`Reach`], listed in one book for `status`.
pub struct ReachParts {
    pub book: Arc<SourceBook>,
    /// The fallback; `None` without fixed peers.
    pub fixed: Option<Arc<FixedPeers>>,
    /// HTTP sources: candidates for every blob, like peers given by hand.
    pub http: Vec<PeerAddr>,
}

/// Builds the sources of `reach`; nothing is resolved or contacted yet.
pub fn reach(reach: &Reach) -> ReachParts {
    let book = Arc::new(SourceBook::default());
    let http: Vec<PeerAddr> = reach.blob_http.iter().map(|u| (*u).into()).collect();
    for (url, addr) in reach.blob_http.iter().zip(&http) {
        book.add(format!("HTTP source {url}"), Some(*addr));
    }
    let fixed = (!reach.fixed_peers.is_empty())
        .then(|| Arc::new(FixedPeers::new(reach.fixed_peers.clone(), book.clone())));
    ReachParts { book, fixed, http }
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

/// A short-lived DHT node for a one-shot command, joined through `seeds`
/// (none: it only talks to whom it is told to); no state file.
pub async fn short_lived_dht(seeds: &[SocketAddr]) -> anyhow::Result<Arc<dht::Node>> {
    join_dht(client_bind(seeds), seeds, None).await
}

/// The one peer policy over the peers (and HTTP sources) given by hand and,
/// when there are, the nodes heard on the LAN (asked for every blob, like
/// peers given by hand), the DHT node and the trackers; `own_tcp_port` is
/// our blob server's, never a candidate.
pub fn peer_policy(
    given: Vec<PeerAddr>,
    dht: Option<Arc<dht::Node>>,
    trackers: Option<Arc<TrackerPeers>>,
    lan: Option<Arc<crate::lan::Lan>>,
    own_tcp_port: Option<u16>,
) -> Peers {
    let mut sources: Vec<Arc<dyn PeerSource>> = vec![Arc::new(GivenPeers::new(given))];
    if let Some(lan) = lan {
        sources.push(Arc::new(super::lan_peers::LanPeers(lan)));
    }
    if let Some(node) = dht {
        sources.push(Arc::new(DhtPeers(node)));
    }
    if let Some(t) = trackers {
        sources.push(t);
    }
    Peers::new(sources, own_tcp_port)
}

/// The trackers of `specs` (none: `None`), for a node serving on `tcp_port`;
/// names are resolved when first used, so a dead one never delays start-up.
pub fn trackers(specs: &[String], tcp_port: u16) -> Option<Arc<TrackerPeers>> {
    if specs.is_empty() {
        return None;
    }
    let id = crate::tracker::peer_id();
    let trackers = specs
        .iter()
        .map(|s| Arc::new(crate::tracker::Tracker::new(s.clone(), id)))
        .collect();
    Some(Arc::new(TrackerPeers {
        trackers,
        port: tcp_port,
    }))
}

/// Starts the DHT node and joins through the chosen bootstrap nodes.
pub(super) async fn start_dht(
    udp: SocketAddr,
    bootstrap: &Bootstrap,
    state: &Path,
    lan: bool,
) -> anyhow::Result<Arc<dht::Node>> {
    let seeds = bootstrap_addrs(bootstrap).await?;
    join_dht_on(udp, &seeds, Some(state), lan).await
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
    join_dht_on(listen, seeds, state, false).await
}

/// [`join_dht`] for a node that takes part in LAN discovery (`lan`): bound
/// to every interface with no bootstrap node at all, its network is the
/// LAN, so it accepts LAN addresses as contacts (the nodes it hears there).
/// With public bootstrap nodes it keeps lbry-sdk's rules, and LAN nodes are
/// only its blob peers.
async fn join_dht_on(
    listen: SocketAddr,
    seeds: &[SocketAddr],
    state: Option<&Path>,
    lan: bool,
) -> anyhow::Result<Arc<dht::Node>> {
    let local_seeds = if seeds.is_empty() {
        lan
    } else {
        seeds
            .iter()
            .all(|a| AddrPolicy::for_bound(a.ip()) == AddrPolicy::Local)
    };
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
