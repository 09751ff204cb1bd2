//! The mount as the node sees it (`MountView`): publishes appear in it,
//! unpublished streams leave it, and its read errors show in `status`.

use crate::hash::SdHash;
use crate::node::MountView;
use crate::sd::StreamDescriptor;
use crate::stream::BoxFuture;
use crate::vfs::Vfs;
use std::path::PathBuf;
use std::sync::Arc;

pub(super) struct VfsView {
    pub(super) vfs: Arc<Vfs>,
    pub(super) mountpoint: PathBuf,
    /// Where torrents come from, if torrents are on.
    pub(super) torrents: Option<Arc<crate::node::torrents::BtSource>>,
}

impl MountView for VfsView {
    fn stream_added(&self, desc: &StreamDescriptor) {
        self.vfs.add_stream(desc.clone());
    }

    fn stream_removed(&self, sd: &SdHash) {
        self.vfs.remove_stream(sd);
    }

    fn recent_errors(&self) -> Vec<(std::time::SystemTime, String)> {
        self.vfs.recent_errors()
    }

    fn mountpoint(&self) -> PathBuf {
        self.mountpoint.clone()
    }

    fn bt_status(&self) -> Option<crate::node::bt_status::BtStatus> {
        self.torrents.as_ref().map(|bt| bt.status())
    }

    fn add_torrent<'a>(
        &'a self,
        source: &'a str,
        peers: &'a [String],
    ) -> BoxFuture<'a, Result<PathBuf, String>> {
        Box::pin(async move {
            let Some(bt) = &self.torrents else {
                return Err("this mount runs with --no-bt: torrents are off".into());
            };
            let vfs = &self.vfs;
            crate::node::torrent_add::add(bt, vfs, &self.mountpoint, source, peers).await
        })
    }
}
