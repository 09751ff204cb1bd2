//! The node's answers to the control socket (`ls`, `status`, `publish`, `get`).

use super::peers::Peers;
use super::publisher::Publisher;
use crate::catalog::{stream_rows, StreamRow};
use crate::control::server::{ControlHandler, GetEvent};
use crate::control::{GetJob, Reply, Status};
use crate::dht;
use crate::exchange::server::ServerStats;
use crate::fetch::BoxFuture;
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
}

pub struct NodeControl {
    pub store: Arc<DiskStore>,
    pub publisher: Publisher,
    pub peers: Arc<Peers>,
    pub dht: Option<Arc<dht::Node>>,
    pub names: Option<Arc<crate::hub::Resolver>>,
    pub trackers: Option<Arc<super::tracker_peers::TrackerPeers>>,
    /// Fixed peers and HTTP sources, with their health.
    pub sources: Arc<super::source_status::SourceBook>,
    pub served: Arc<ServerStats>,
    pub listen: std::net::SocketAddr,
    pub started: Instant,
    pub share: OnceLock<Arc<dyn ShareView>>,
}

impl ControlHandler for NodeControl {
    fn ls(&self) -> Vec<StreamRow> {
        stream_rows(&*self.store)
    }

    fn status(&self) -> Status {
        let rows = stream_rows(&*self.store);
        let published = rows.iter().filter(|r| r.published).count();
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
            streams_cached: rows.len() - published,
            hub: self.names.as_ref().map(|n| n.status()),
            trackers: self
                .trackers
                .as_ref()
                .map(|t| t.status())
                .unwrap_or_default(),
            sources: self.sources.status(),
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
}
