//! The mount as the node sees it (`MountView`): publishes appear in it,
//! unpublished streams leave it, and its read errors show in `status`.

use crate::hash::SdHash;
use crate::node::MountView;
use crate::sd::StreamDescriptor;
use crate::vfs::Vfs;
use std::path::PathBuf;
use std::sync::Arc;

pub(super) struct VfsView {
    pub(super) vfs: Arc<Vfs>,
    pub(super) mountpoint: PathBuf,
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
}
