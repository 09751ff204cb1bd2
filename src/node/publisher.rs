//! Publishing and unpublishing while the node runs, for the control socket
//! and the share folder: the stream is stored pinned, announced at once and
//! shown in the mount (and queued for the reflector with `--reflect`); unpublished, its blobs leave the store (so it is no
//! longer served, listed or re-announced) and the mount.

use super::Announcer;
use crate::assemble::load_descriptor_quiet;
use crate::hash::SdHash;
use crate::publish::{publish_file, PublishError, PublishOptions, Published};
use crate::sd::StreamDescriptor;
use crate::store::DiskStore;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;
use tokio_util::sync::CancellationToken;

/// What the node needs of a mounted filesystem (the mount implements it).
pub trait MountView: Send + Sync + 'static {
    /// A stream was published here: list it.
    fn stream_added(&self, desc: &StreamDescriptor);
    /// A stream is no longer shared: stop listing it.
    fn stream_removed(&self, sd: &SdHash);
    /// Recent read errors with their reasons, oldest first.
    fn recent_errors(&self) -> Vec<(SystemTime, String)>;
    fn mountpoint(&self) -> PathBuf;
    /// Registers a torrent (`lbrymount add`: a magnet or btih link, or the
    /// absolute path of a `.torrent` file) with peers of its own, opens it,
    /// and says where it shows.
    fn add_torrent<'a>(
        &'a self,
        source: &'a str,
        peers: &'a [String],
    ) -> crate::stream::BoxFuture<'a, Result<PathBuf, String>>;
    /// The BitTorrent side, or `None` with torrents off.
    fn bt_status(&self) -> Option<super::bt_status::BtStatus>;
}

/// Publishes into the node's store. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    store: Arc<DiskStore>,
    announcer: Announcer,
    mount: Arc<RwLock<Option<Arc<dyn MountView>>>>,
    /// Cancelled when the node stops: a publish then ends between chunks.
    cancel: CancellationToken,
    /// Uploads what is published to a reflector (`--reflect`).
    reflect: Option<super::reflect::Reflect>,
}

impl Publisher {
    pub fn new(store: Arc<DiskStore>, announcer: Announcer, cancel: CancellationToken) -> Self {
        Self {
            store,
            announcer,
            mount: Arc::default(),
            cancel,
            reflect: None,
        }
    }

    /// The same publisher, also queueing each stream for a reflector.
    pub fn with_reflect(self, reflect: Option<super::reflect::Reflect>) -> Self {
        Self { reflect, ..self }
    }

    /// Lets the mount follow publishes from now on.
    pub fn attach(&self, view: Arc<dyn MountView>) {
        *self.mount.write().unwrap_or_else(PoisonError::into_inner) = Some(view);
    }

    pub fn mount(&self) -> Option<Arc<dyn MountView>> {
        self.mount
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Publishes a file (blocking): stored pinned, announced, listed.
    pub fn publish(
        &self,
        path: &Path,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Published, PublishError> {
        let opts = PublishOptions {
            cancel: self.cancel.clone(),
            ..PublishOptions::default()
        };
        let p = publish_file(&*self.store, path, &opts, progress)?;
        let first = p.descriptor.blobs().first().map(|b| b.hash);
        self.announcer.stream(p.sd_hash, first);
        if let Some(r) = &self.reflect {
            r.stream(p.sd_hash);
        }
        if let Some(m) = self.mount() {
            m.stream_added(&p.descriptor);
        }
        Ok(p)
    }

    /// Publishes a collection document as stream `name` (blocking): its key
    /// and IVs derive from the bytes, so the same tree gets the same sd hash.
    pub fn publish_collection(&self, name: &str, bytes: &[u8]) -> Result<Published, PublishError> {
        let key =
            crate::blob::StreamKey::new(&crate::collection::stream_key(bytes)).map_err(|e| {
                PublishError::Read {
                    path: PathBuf::from(name),
                    source: std::io::Error::other(e),
                }
            })?;
        let opts = PublishOptions {
            key: Some(key),
            ivs: crate::publish::IvSource::Sequence,
            cancel: self.cancel.clone(),
            ..PublishOptions::default()
        };
        let p = crate::publish::publish_reader(&*self.store, name, bytes, &opts, &|_| {})?;
        let first = p.descriptor.blobs().first().map(|b| b.hash);
        self.announcer.stream(p.sd_hash, first);
        if let Some(m) = self.mount() {
            m.stream_added(&p.descriptor);
        }
        Ok(p)
    }

    /// Stops sharing a stream (blocking): its blobs leave the store, so it
    /// is no longer served, listed or announced, and it leaves the mount.
    pub fn unpublish(&self, sd: &SdHash) {
        let mut blobs = vec![sd.as_blob()];
        match load_descriptor_quiet(&*self.store, sd) {
            Ok(desc) => blobs.extend(desc.blobs().iter().map(|b| b.hash)),
            Err(e) => {
                tracing::warn!(sd = %sd.short(), error = %e, "unpublishing a stream whose descriptor cannot be read")
            }
        }
        // Out of the mount first, so nothing lists a stream whose blobs are going.
        if let Some(m) = self.mount() {
            m.stream_removed(sd);
        }
        if let Err(e) = self.store.remove(&blobs) {
            tracing::error!(sd = %sd.short(), error = %e, "cannot record the unpublish; the stream may be pinned again at the next start");
        }
        tracing::info!(sd = %sd, "unpublished");
    }

    /// Whether the stream is published here (its descriptor is pinned).
    pub fn is_published(&self, sd: &SdHash) -> bool {
        self.store.is_pinned(&sd.as_blob())
    }
}

impl crate::share::SharePublisher for Publisher {
    fn publish(&self, path: &Path) -> Result<SdHash, String> {
        Publisher::publish(self, path, &|_| {})
            .map(|p| p.sd_hash)
            .map_err(|e| crate::error_chain(&e))
    }

    fn unpublish(&self, sd: &SdHash) {
        Publisher::unpublish(self, sd)
    }

    fn is_published(&self, sd: &SdHash) -> bool {
        Publisher::is_published(self, sd)
    }

    fn publish_collection(&self, name: &str, bytes: &[u8]) -> Result<SdHash, String> {
        Publisher::publish_collection(self, name, bytes)
            .map(|p| p.sd_hash)
            .map_err(|e| crate::error_chain(&e))
    }
}
