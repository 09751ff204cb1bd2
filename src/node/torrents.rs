//! Torrents in the mount: `~/net/<infohash>/` (or `btih:<infohash>`) is
//! resolved here, for the filesystem's [`TreeSource`] seam.
//!
//! The torrent's metadata comes from its peers (BEP 9), checked against the
//! infohash; its files show under the torrent's name (a multi-file
//! torrent's folder, or its one file), BEP 47 padding files hidden. Reads go
//! to a [`Swarm`], which fetches only the pieces they cover (and what the
//! filesystem's read-ahead asks for) and keeps them in the node's store,
//! under the same cap and eviction as stream blobs. Peers are the
//! `--bt-peer`s, those `add` gave (`given`), and those the mainline DHT
//! names when the torrent is opened and again when all of them failed
//! (`DhtAgain`); held pieces are served back through `bt_seed`
//! (docs/architecture.md §8).

use super::bt_dht::MainlineFinder;
use super::bt_peers::{add_new, Discovery, FindAgain};
use super::bt_seed::Seeding;
use super::bt_trackers::TorrentTrackers;
use super::torrent_state;
use super::torrent_tree::TorrentTree;
use crate::store::DiskStore;
use crate::stream::BoxFuture;
use crate::torrent::swarm::Swarm;
use crate::torrent::swarm::MAX_PEERS;
use crate::torrent::{download, magnet, Metainfo};
use crate::vfs::{TreeContent, TreeSource};
use crate::wire::krpc::Id20;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How the mount reaches torrents.
#[derive(Debug, Clone, Default)]
pub struct BtConfig {
    /// Peers asked for every torrent (`--bt-peer`, HOST:PORT).
    pub peers: Vec<String>,
    /// The mainline DHT's bootstrap nodes (`--bt-bootstrap`; empty: the
    /// public routers), or `None` to stay off the DHT (`--no-bt-dht`).
    pub dht: Option<Vec<String>>,
    /// Where to serve cached pieces to peers (`--bt-listen`), if anywhere.
    pub listen: Option<SocketAddr>,
    /// Where a full mainline DHT node answers (`--bt-dht-listen`); `None`:
    /// a read-only node asks, and answers nobody.
    pub dht_listen: Option<SocketAddr>,
}

pub struct BtSource {
    peers: Vec<String>,
    dht: Option<Arc<MainlineFinder>>,
    store: Arc<DiskStore>,
    /// Each wait on a peer (the mount's read timeout).
    deadline: Duration,
    stop: CancellationToken,
    seeding: Arc<Seeding>,
    /// Peers given for one torrent (`lbrymount add`: a magnet's `x.pe`,
    /// `--peer`), asked beside the `--bt-peer`s.
    given: Mutex<HashMap<Id20, Vec<SocketAddr>>>,
    /// The port `--bt-listen` bound, once bound (announced to trackers).
    listen_addr: std::sync::OnceLock<SocketAddr>,
    /// Told when a torrent opens (`bt_announce` announces it at once).
    opened: Arc<tokio::sync::Notify>,
    /// Open torrents the DHT last took an announce of.
    announced: Arc<std::sync::atomic::AtomicUsize>,
    /// Each torrent's UDP trackers (`add`, kept in the data dir).
    trackers: Arc<TorrentTrackers>,
}

/// Torrents with peers of their own (`given`), at most.
const MAX_GIVEN: usize = 1024;

impl BtSource {
    pub fn new(
        cfg: BtConfig,
        store: Arc<DiskStore>,
        deadline: Duration,
        stop: CancellationToken,
    ) -> Self {
        let trackers = Arc::new(TorrentTrackers::new(store.data_dir().to_path_buf()));
        Self {
            peers: cfg.peers,
            dht: cfg
                .dht
                .map(|b| Arc::new(MainlineFinder::listening(b, cfg.dht_listen))),
            store,
            deadline,
            stop,
            seeding: Arc::default(),
            given: Mutex::default(),
            listen_addr: std::sync::OnceLock::new(),
            opened: Arc::default(),
            announced: Arc::default(),
            trackers,
        }
    }

    /// What `status` shows of torrents.
    pub fn status(&self) -> super::bt_status::BtStatus {
        let (dht, dht_contacts) = match &self.dht {
            Some(d) => d.state(),
            None => ("off".to_string(), 0),
        };
        super::bt_status::BtStatus {
            torrents_open: self.seeding.info_hashes().len(),
            listen: self.listen_addr.get().map(|a| a.to_string()),
            dht,
            dht_contacts,
            announced: self.announced.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Binds the full DHT node (`--bt-dht-listen`), if there is one, and
    /// starts announcing the torrents opened to the DHT and their trackers
    /// (with the `--bt-listen` port, once [`Self::listen`] bound it).
    /// Returns the DHT address bound.
    pub async fn start_announcing(&self) -> Result<Option<SocketAddr>, String> {
        let bound = match self.dht.as_ref().filter(|d| d.listens()) {
            Some(dht) => Some(dht.bind().await?),
            None => None,
        };
        let port = self.listen_addr.get().map(SocketAddr::port);
        if port.is_some() || bound.is_some() {
            let announcer = super::bt_announce::Announcer {
                discovery: self.discovery(),
                seeding: self.seeding.clone(),
                port,
                opened: self.opened.clone(),
                announced: self.announced.clone(),
            };
            announcer.spawn(self.stop.clone());
        }
        Ok(bound)
    }

    /// The port peers can reach our pieces on, or 0 without `--bt-listen`.
    pub fn listen_port(&self) -> u16 {
        self.listen_addr.get().map_or(0, SocketAddr::port)
    }

    /// Peers to ask for one torrent besides the `--bt-peer`s, from now on
    /// and by the torrent already open if it is.
    pub fn add_peers(&self, info_hash: Id20, addrs: &[SocketAddr]) {
        if let Some(swarm) = self.seeding.find(&info_hash) {
            swarm.add_peers(addrs);
        }
        let mut given = self.given.lock().unwrap_or_else(PoisonError::into_inner);
        if given.len() >= MAX_GIVEN && !given.contains_key(&info_hash) {
            tracing::warn!("too many torrents with peers of their own; these are not kept");
            return;
        }
        let list = given.entry(info_hash).or_default();
        for a in addrs {
            if list.len() < MAX_PEERS && !list.contains(a) {
                list.push(*a);
            }
        }
    }

    fn given_peers(&self, info_hash: &Id20) -> Vec<SocketAddr> {
        let given = self.given.lock().unwrap_or_else(PoisonError::into_inner);
        given.get(info_hash).cloned().unwrap_or_default()
    }

    /// Keeps a torrent's metadata (the info dict's exact bytes, which hash
    /// to `info_hash`), so that it opens with no peer to ask for it.
    pub async fn keep_metadata(&self, info_hash: Id20, info: Vec<u8>) -> Result<(), String> {
        if crate::torrent::sha1(&info) != info_hash {
            return Err("the info dict does not hash to its infohash".into());
        }
        let dir = self.store.data_dir().to_path_buf();
        blocking(move || torrent_state::save_info(&dir, &info_hash, &info))
            .await?
            .map_err(|e| format!("cannot keep the torrent's metadata: {e}"))
    }

    /// Serves the pieces of open torrents on `addr` (`--bt-listen`).
    pub async fn listen(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let bound = self.seeding.listen(addr, self.stop.clone()).await?;
        let _ = self.listen_addr.set(bound);
        Ok(bound)
    }

    /// Where peers are found beyond those given.
    fn discovery(&self) -> Discovery {
        Discovery {
            dht: self.dht.clone(),
            trackers: self.trackers.clone(),
            port: self.listen_port(),
        }
    }

    /// A torrent's trackers (`add`), asked from now on and kept for the
    /// next start; if the torrent is open, the peers they name join it now.
    pub async fn add_trackers(&self, info_hash: Id20, urls: &[String]) -> Result<(), String> {
        if urls.is_empty() {
            return Ok(());
        }
        self.trackers.add(info_hash, urls).await?;
        if let Some(swarm) = self.seeding.find(&info_hash) {
            let (found, _) = self.trackers.ask(info_hash, self.listen_port()).await;
            swarm.add_peers(&found);
        }
        Ok(())
    }

    /// The `--bt-peer`s, the peers given, and those the DHT and the
    /// trackers name, or why there are none.
    async fn peers(&self, info_hash: [u8; 20]) -> Result<Vec<SocketAddr>, String> {
        let mut peers = super::parts::resolve(&self.peers)
            .await
            .map_err(|e| format!("{e:#}"))?;
        add_new(&mut peers, self.given_peers(&info_hash));
        let mut why = String::from("no peer to ask (give --bt-peer HOST:PORT)");
        match self.discovery().find(info_hash).await {
            Ok(found) => add_new(&mut peers, found),
            Err(e) if !e.is_empty() => why = e,
            Err(_) => {}
        }
        if peers.is_empty() {
            return Err(why);
        }
        peers.truncate(MAX_PEERS);
        Ok(peers)
    }
}

impl BtSource {
    /// The torrent's metadata (parsed, and the info dict's bytes, served to
    /// peers by BEP 9), kept from an earlier run or else asked of its peers
    /// (and then kept), with the peers found. With kept metadata the
    /// torrent opens even when no peer is found in half the read timeout:
    /// its cached pieces read offline.
    async fn metadata(
        &self,
        info_hash: [u8; 20],
    ) -> Result<(Metainfo, Vec<u8>, Vec<SocketAddr>), String> {
        let dir = self.store.data_dir().to_path_buf();
        let kept = blocking(move || torrent_state::load_info(&dir, &info_hash)).await?;
        if let Some((meta, bytes)) = kept {
            let found = tokio::time::timeout(self.deadline / 2, self.peers(info_hash)).await;
            return Ok((
                meta,
                bytes,
                found.ok().and_then(Result::ok).unwrap_or_default(),
            ));
        }
        let peers = self.peers(info_hash).await?;
        let (meta, bytes) = download::metadata_bytes(info_hash, &peers, self.deadline)
            .await
            .map_err(|e| e.to_string())?;
        let dir = self.store.data_dir().to_path_buf();
        let kept = blocking(move || {
            let kept = torrent_state::save_info(&dir, &info_hash, &bytes);
            (kept, bytes)
        });
        let (kept, bytes) = kept.await?;
        if let Err(e) = kept {
            tracing::warn!(error = %e, "cannot keep the torrent's metadata");
        }
        Ok((meta, bytes, peers))
    }
}

/// Runs file work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    crate::blocking::run(f).await.map_err(|e| e.to_string())
}

/// Torrents reopened at start, at most.
const MAX_REOPEN: usize = 256;

/// Opens, in the background, the torrents earlier runs kept, so the root
/// lists them beside the streams; each open is the filesystem's own root
/// lookup, with its read timeout, and ends when the node stops.
pub fn reopen_kept(
    vfs: Arc<crate::vfs::Vfs>,
    data_dir: std::path::PathBuf,
    stop: CancellationToken,
) {
    let span = tracing::info_span!("reopen torrents");
    crate::task::spawn("reopen torrents", span, async move {
        let reopen = async {
            let kept = blocking(move || torrent_state::kept(&data_dir, MAX_REOPEN)).await?;
            for key in kept {
                let found = vfs.lookup(crate::vfs::ROOT, key.as_ref()).await;
                tracing::debug!(key = %key, ok = found.is_ok(), "kept torrent reopened");
            }
            Ok::<_, String>(())
        };
        stop.run_until_cancelled(reopen).await;
    });
}

impl TreeSource for BtSource {
    fn key_of(&self, name: &str) -> Option<String> {
        if name.starts_with("magnet:") {
            return None;
        }
        magnet::parse(name).ok().map(|m| hex::encode(m.info_hash))
    }

    fn open(&self, key: &str) -> BoxFuture<'_, Result<Arc<dyn TreeContent>, String>> {
        let key = key.to_owned();
        Box::pin(async move {
            let info_hash = magnet::parse(&key).map_err(|e| e.to_string())?.info_hash;
            let (meta, info, peers) = self.metadata(info_hash).await?;
            let meta = Arc::new(meta);
            let dir = self.store.data_dir().to_path_buf();
            let (known, log) =
                blocking(move || torrent_state::open_pieces(&dir, &info_hash)).await?;
            let swarm = Swarm::new(
                meta.clone(),
                peers,
                self.store.clone(),
                self.deadline,
                self.stop.clone(),
            );
            let mut swarm = swarm.remembering(known, log);
            swarm = swarm.finding(Box::new(FindAgain {
                discovery: self.discovery(),
                info_hash,
            }));
            let swarm = Arc::new(swarm);
            self.seeding.add(swarm.clone(), info.into());
            self.opened.notify_one();
            Ok(Arc::new(TorrentTree::new(&meta, swarm)) as Arc<dyn TreeContent>)
        })
    }
}
