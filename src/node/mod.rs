//! A running lbrymount node: the one place that knows every concrete part.
//!
//! The command line turns flags into a [`NodeConfig`] (and a
//! [`MountConfig`] for the mount) and calls [`serve`], [`mount`], or for a
//! `get` without a node, [`oneshot`]. Every part is built in `parts` (the
//! store, the blob server, the DHT node, the peer policy, the fetcher), so
//! each is configured once; [`Node::start`] puts them together: the store,
//! the blob server (re-seeding what the store holds), the DHT node and its
//! announcer, LAN discovery, the fetcher with its peers, and the control socket (`ls`,
//! `status`, `publish`, `get` from other terminals). `serve` runs just
//! this, the mount adds a filesystem on top (`mount`). Shutdown is ordered
//! (docs/architecture.md §6.4): cancel every background part through one
//! tree ([`shutdown::Lifecycle`]), close the control socket, stop the share
//! folder, stop accepting peers, stop the DHT, then wait (bounded) for what
//! was cancelled.

pub mod announce;
mod announce_retry;
mod announce_waiting;
pub mod bt_announce;
pub mod bt_dht;
pub mod bt_peers;
pub mod bt_seed;
pub mod bt_status;
pub mod bt_trackers;
mod content;
pub mod control;
pub mod fixed_peers;
mod get;
mod glue;
mod lan_peers;
pub mod mount;
mod names;
pub mod oneshot;
mod parts;
mod peer_lookup;
mod peer_memo;
mod peer_source;
pub mod peers;
mod port_map;
pub mod publisher;
pub mod reflect;
mod run;
pub mod search;
pub mod shutdown;
pub mod source_status;
pub mod torrent_add;
pub mod torrent_state;
pub mod torrent_tree;
pub mod torrents;
mod tracker_peers;

pub use announce::Announcer;
pub use glue::{FetchSource, Hooks};
pub use mount::{mount, stop_mount, MountConfig, OnReady, Stopped};
pub use parts::{bootstrap_addrs, resolve};
pub use publisher::{MountView, Publisher};
pub use run::{serve, shutdown_signal};
pub use shutdown::{Lifecycle, STOP_GRACE};

use crate::config::Config;
use crate::control::server::ControlServer;
use crate::dht;
use crate::exchange::server::{RunningServer, StatsSnapshot};
use crate::fetch::{Fetcher, PeerAddr};
use crate::store::DiskStore;
use anyhow::Context;
use peers::Peers;
use std::net::SocketAddr;
use std::path::PathBuf;
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

/// How a node is set up: everything the flags decide, validated. A part
/// added to the node (a name resolver, trackers) adds its settings here and
/// is built in `parts`, so the command line only fills in the field.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The data dir and the cache's cap.
    pub data: Config,
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
    pub share_dir: Option<PathBuf>,
    /// The hubs names are resolved through; `None` resolves no names.
    pub hubs: Option<crate::hub::HubConfig>,
    /// BEP-15 trackers (`HOST:PORT`) to announce to and ask; empty: none.
    pub trackers: Vec<String>,
    /// Fixed peers and HTTP blob sources.
    pub reach: Reach,
    /// Accept reflector uploads (`--reflector-listen`); `None` runs no reflector.
    pub reflector: Option<crate::reflector::ReflectorConfig>,
    /// Find nodes on the LAN and be found (multicast; `--no-lan` turns it off).
    pub lan: bool,
    /// Map our ports on the home router (UPnP); `None`: `--no-upnp`.
    pub upnp: Option<crate::upnp::UpnpConfig>,
    /// Reflect what the node publishes to this reflector (`--reflect`).
    pub reflect: Option<String>,
    /// Bytes per second sent to and received from peers; 0: no limit.
    /// The control socket changes them while the node runs.
    pub max_upload_rate: u64,
    pub max_download_rate: u64,
}

/// Blob sources beyond the DHT and trackers (`--fixed-peer`, `--blob-http`).
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// lbry-sdk's fixed peers (`HOST:PORT`), asked as a fallback; empty: none.
    pub fixed_peers: Vec<String>,
    /// HTTP blob sources, candidates for every blob like peers given by hand.
    pub blob_http: Vec<crate::fetch::HttpUrl>,
}

pub struct Node {
    pub store: Arc<DiskStore>,
    pub fetcher: Fetcher,
    pub peers: Arc<Peers>,
    pub dht: Option<Arc<dht::Node>>,
    pub announcer: Announcer,
    pub publisher: Publisher,
    /// Names through LBRY hubs, unless turned off.
    pub names: Option<Arc<crate::hub::Resolver>>,
    pub control: Arc<control::NodeControl>,
    control_server: Option<ControlServer>,
    share_dir: Option<PathBuf>,
    data_dir: PathBuf,
    share: Option<Arc<crate::share::ShareHandle>>,
    server: RunningServer,
    life: Lifecycle,
}

impl Node {
    /// Opens the store and starts every network part. Must run inside a tokio runtime.
    pub async fn start(cfg: NodeConfig) -> anyhow::Result<Node> {
        let store = parts::open_store_async(&cfg.data).await?;
        crate::exchange::rate::upload().set_rate(cfg.max_upload_rate);
        crate::exchange::rate::download().set_rate(cfg.max_download_rate);
        let life = Lifecycle::new();
        let index = Arc::new(crate::search::NameIndex::new(store.clone()));
        let server = parts::start_server(
            cfg.listen,
            cfg.max_connections,
            store.clone(),
            index.clone(),
        )
        .await?;
        let tcp_port = server.local_addr().port();
        let announced = announce::AnnouncedPort::new(tcp_port);
        let mut given: Vec<PeerAddr> = resolve(&cfg.peers)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let reach = parts::reach(&cfg.reach);
        given.extend(reach.http.iter().copied());
        let (dht, announcer) = match cfg.dht_listen {
            Some(udp) => {
                let state = cfg.data.data_dir.join("dht.json");
                let node = parts::start_dht(udp, &cfg.bootstrap, &state, cfg.lan).await?;
                tracing::info!("dht node ready at {}", node.local_addr());
                let announcer =
                    announce::start(node.clone(), store.clone(), announced.clone(), &life);
                (Some(node), announcer)
            }
            None => (None, Announcer::disabled()),
        };
        let trackers = parts::trackers(&cfg.trackers, tcp_port);
        let announcer = match &trackers {
            Some(t) => announcer.with_trackers(crate::tracker::announce::start(
                &t.trackers,
                store.clone(),
                announced.clone(),
                &life,
            )),
            None => announcer,
        };
        let lan = match cfg.lan {
            true => lan_peers::start(server.local_addr(), dht.clone(), &life).await,
            false => None,
        };
        let ports = crate::upnp::Ports {
            tcp: server.local_addr(),
            udp: dht.as_ref().map(|d| d.local_addr()),
        };
        let upnp = port_map::start_upnp(cfg.upnp, ports, &announced, &announcer, &life);
        let peers = parts::peer_policy(
            given,
            dht.clone(),
            trackers.clone(),
            lan.clone(),
            Some(tcp_port),
        );
        let peers = Arc::new(peers.with_fallback(reach.fixed));
        let fetcher = parts::fetcher(
            store.clone(),
            peers.clone(),
            cfg.fetch_deadline,
            &reach.book,
        )
        .stopped_by(life.token());
        let reflect = cfg
            .reflect
            .map(|addr| reflect::start(store.clone(), addr, &life));
        let publisher = Publisher::new(store.clone(), announcer.clone(), life.token())
            .with_reflect(reflect.clone());
        if let Some(r) = cfg.reflector {
            start_reflector(r, &store, &announcer, &life).await?;
        }
        let names = cfg.hubs.map(|h| Arc::new(crate::hub::Resolver::new(h)));
        let control = Arc::new(control::NodeControl {
            names: names.clone(),
            store: store.clone(),
            publisher: publisher.clone(),
            peers: peers.clone(),
            dht: dht.clone(),
            trackers,
            lan,
            sources: reach.book,
            served: server.stats(),
            listen: server.local_addr(),
            started: std::time::Instant::now(),
            share: std::sync::OnceLock::new(),
            stop_requested: Default::default(),
            upnp,
            reflect,
            search: search::Sources {
                index: Some(index),
                dht: dht.clone(),
                own: Some(server.local_addr()),
                hub: names.clone(),
            },
        });
        let control_server = start_control(&cfg.data, control.clone());
        Ok(Node {
            store,
            fetcher,
            peers,
            dht,
            announcer,
            publisher,
            names,
            control,
            control_server,
            share_dir: cfg.share_dir,
            data_dir: cfg.data.data_dir,
            share: None,
            server,
            life,
        })
    }

    /// A token cancelled when the node stops (for what is wired around it: the mount).
    pub fn stop_token(&self) -> tokio_util::sync::CancellationToken {
        self.life.token()
    }

    /// Resolves when a signal (SIGINT, SIGTERM, SIGHUP) or a `stop` request
    /// through the control socket asks the node to stop.
    pub fn stop_asked(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let stop = self.control.stop_requested.clone();
        async move {
            tokio::select! {
                () = shutdown_signal() => {}
                () = stop.cancelled() => {}
            }
        }
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

/// The reflector: streams it receives are announced like published ones.
async fn start_reflector(
    cfg: crate::reflector::ReflectorConfig,
    store: &Arc<DiskStore>,
    announcer: &Announcer,
    life: &Lifecycle,
) -> anyhow::Result<()> {
    let listen = cfg.listen;
    let announcer = announcer.clone();
    let on_stream = Arc::new(move |sd, first| announcer.stream(sd, first));
    crate::reflector::start(cfg, store.clone(), on_stream, life.token())
        .await
        .with_context(|| format!("cannot accept reflector uploads at {listen}"))?;
    Ok(())
}

/// The control socket. Without it the node still works; other commands
/// then cannot reach it, and say the data dir is in use.
fn start_control(cfg: &Config, control: Arc<control::NodeControl>) -> Option<ControlServer> {
    match crate::control::server::start(&cfg.data_dir, control) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!("no control socket: {:#}", anyhow::Error::new(e));
            None
        }
    }
}
