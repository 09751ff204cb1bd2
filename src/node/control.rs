//! The node's answers to the control socket (`ls`, `status`, `publish`,
//! `get`; `content` requests in `content.rs`).

use super::peers::Peers;
use super::publisher::Publisher;
use crate::catalog::{disk_rows, StreamRow};
use crate::control::server::{ControlHandler, GetEvent};
use crate::control::{ContentRequest, GetJob, Reply, SearchJob, Status};
use crate::dht;
use crate::exchange::server::ServerStats;
use crate::fetch::BoxFuture;
use crate::hash::SdHash;
use crate::store::DiskStore;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

/// Shared-folder figures, filled in once the share folder runs.
pub trait ShareView: Send + Sync + 'static {
    fn dir(&self) -> PathBuf;
    fn shared_files(&self) -> usize;
    /// Why sharing is paused, if it is.
    fn paused(&self) -> Option<String>;
    /// Other folders whose files stay published, unwatched.
    fn kept_elsewhere(&self) -> Vec<(PathBuf, usize)>;
    /// The stream a file of the folder (an absolute path) was published as.
    fn stream_of(&self, path: &Path) -> Option<SdHash>;
    /// Keeps the folder from publishing this stream's file again while the
    /// file is unchanged (it is being unpublished).
    fn exclude<'a>(&'a self, sd: &'a SdHash) -> BoxFuture<'a, ()>;
}

pub struct NodeControl {
    pub store: Arc<DiskStore>,
    pub publisher: Publisher,
    pub peers: Arc<Peers>,
    pub dht: Option<Arc<dht::Node>>,
    pub names: Option<Arc<crate::hub::Resolver>>,
    pub trackers: Option<Arc<super::tracker_peers::TrackerPeers>>,
    pub lan: Option<Arc<crate::lan::Lan>>,
    /// Fixed peers and HTTP sources, with their health.
    pub sources: Arc<super::source_status::SourceBook>,
    pub served: Arc<ServerStats>,
    pub listen: std::net::SocketAddr,
    pub started: Instant,
    pub share: OnceLock<Arc<dyn ShareView>>,
    /// Cancelled by a `stop` request; the mount or `serve` waits on it as on a signal.
    pub stop_requested: tokio_util::sync::CancellationToken,
    /// The port mapping on the home router.
    pub upnp: crate::upnp::Upnp,
    /// Background reflection (`--reflect`), if on.
    pub reflect: Option<super::reflect::Reflect>,
    /// What a search asks: the store's names, the DHT, the hubs.
    pub search: super::search::Sources,
}

impl ControlHandler for NodeControl {
    fn ls(&self) -> Vec<StreamRow> {
        disk_rows(&self.store)
    }

    fn status(&self) -> Status {
        let rows = disk_rows(&self.store);
        let published = rows.iter().filter(|r| r.published).count();
        let pinned = rows.iter().filter(|r| r.pinned).count();
        let cache = self.store.stats();
        let served = self.served.snapshot();
        let mount = self.publisher.mount();
        let epoch = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        Status {
            pid: std::process::id(),
            data_dir: std::fs::canonicalize(self.store.data_dir())
                .unwrap_or_else(|_| self.store.data_dir().to_path_buf()),
            uptime_secs: self.started.elapsed().as_secs(),
            mountpoint: mount.as_ref().map(|m| m.mountpoint()),
            share_dir: self.share.get().map(|s| s.dir()),
            shared_files: self.share.get().map_or(0, |s| s.shared_files()),
            share_paused: self.share.get().and_then(|s| s.paused()),
            share_kept: self
                .share
                .get()
                .map(|s| s.kept_elsewhere())
                .unwrap_or_default(),
            listen: self.listen.to_string(),
            dht_listen: self.dht.as_ref().map(|d| d.local_addr().to_string()),
            dht_contacts: self.dht.as_ref().map_or(0, |d| d.routing_len()),
            dht_stored: self.dht.as_ref().map_or(0, |d| d.stored_len()),
            peers_known: self.peers.distinct(),
            connections_served: served.connections,
            blobs_served: served.blobs_served,
            bytes_served: served.bytes_served,
            cache_used: cache.cached_bytes,
            cache_cap: cache.cap_bytes,
            pinned_bytes: cache.pinned_bytes,
            streams_published: published,
            streams_pinned: pinned,
            streams_cached: rows.len() - published - pinned,
            max_upload_rate: crate::exchange::rate::upload().rate(),
            max_download_rate: crate::exchange::rate::download().rate(),
            hub: self.names.as_ref().map(|n| n.status()),
            trackers: self
                .trackers
                .as_ref()
                .map(|t| t.status())
                .unwrap_or_default(),
            lan: self.lan.as_deref().map(lan_status),
            upnp: Some(self.upnp.status()),
            reflect: self.reflect.as_ref().map(|r| r.status()),
            sources: self.sources.status(),
            bt: mount.as_ref().and_then(|m| m.bt_status()),
            recent_errors: mount
                .map(|m| m.recent_errors())
                .unwrap_or_default()
                .into_iter()
                .map(|(t, e)| (epoch(t), e))
                .collect(),
        }
    }

    fn get(
        &self,
        job: GetJob,
        events: tokio::sync::mpsc::Sender<GetEvent>,
    ) -> BoxFuture<'_, Result<Reply, String>> {
        Box::pin(self.get_stream(job, events))
    }

    fn stop(&self) -> Result<u32, String> {
        tracing::info!("stop requested through the control socket, shutting down");
        self.stop_requested.cancel();
        Ok(std::process::id())
    }

    fn content(&self, req: ContentRequest) -> BoxFuture<'_, Result<Reply, String>> {
        Box::pin(NodeControl::content(self, req))
    }

    fn search(&self, job: SearchJob) -> BoxFuture<'_, Result<Reply, String>> {
        Box::pin(async move {
            let rows = super::search::search(&self.search, &job).await?;
            Ok(Reply::Found { rows })
        })
    }

    fn publish(&self, path: &Path, progress: &(dyn Fn(u64) + Sync)) -> Result<Reply, String> {
        let p = self
            .publisher
            .publish(path, progress)
            .map_err(|e| format!("{:#}", anyhow::Error::new(e)))?;
        Ok(Reply::Published {
            sd_hash: p.sd_hash.to_string(),
            name: p.descriptor.file_name(),
            size: p.size,
        })
    }
}

/// The LAN peers, each with when it was last heard (seconds since the epoch).
fn lan_status(lan: &crate::lan::Lan) -> crate::control::LanStatus {
    let now = (Instant::now(), SystemTime::now());
    let peers = lan
        .peers()
        .iter()
        .map(|p| crate::control::LanPeerRow {
            ip: p.ip.to_string(),
            tcp_port: p.tcp_port,
            udp_port: p.udp_port,
            last_seen: (now.1 - now.0.saturating_duration_since(p.last_seen))
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        })
        .collect();
    let i = lan.ignored();
    crate::control::LanStatus {
        peers,
        ignored: [i.malformed, i.rate_limited, i.own_id, i.table_full],
    }
}

impl ShareView for crate::share::ShareHandle {
    fn dir(&self) -> PathBuf {
        crate::share::ShareHandle::dir(self)
    }

    fn shared_files(&self) -> usize {
        self.shared().len()
    }

    fn paused(&self) -> Option<String> {
        crate::share::ShareHandle::paused(self)
    }

    fn kept_elsewhere(&self) -> Vec<(PathBuf, usize)> {
        crate::share::ShareHandle::kept_elsewhere(self)
    }

    fn stream_of(&self, path: &Path) -> Option<SdHash> {
        let rel = path
            .strip_prefix(crate::share::ShareHandle::dir(self))
            .ok()?;
        let shared = self.shared();
        shared.into_iter().find(|(p, _)| p == rel).map(|(_, sd)| sd)
    }

    fn exclude<'a>(&'a self, sd: &'a SdHash) -> BoxFuture<'a, ()> {
        Box::pin(crate::share::ShareHandle::exclude(self, sd))
    }
}
