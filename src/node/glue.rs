//! The node's side of the filesystem's seams: blobs come from the fetcher,
//! and stream events go to the peer finder and the announcer.

use super::peers::NetworkPeers;
use super::Announcer;
use crate::blob::VerifiedBlob;
use crate::fetch::{BoxFuture, FetchError, Fetcher, Priority};
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use crate::stream::BlobSource;
use crate::vfs::NodeHooks;
use std::sync::Arc;

/// Blobs for the filesystem: the cache first, then peers (then cached).
pub struct FetchSource(pub Fetcher);

impl BlobSource for FetchSource {
    fn blob(
        &self,
        hash: BlobHash,
        len: Option<u64>,
        urgent: bool,
    ) -> BoxFuture<'_, Result<VerifiedBlob, FetchError>> {
        let priority = if urgent {
            Priority::Urgent
        } else {
            Priority::Bulk
        };
        Box::pin(self.0.fetch(hash, len, priority))
    }
}

/// What the filesystem tells the node.
pub struct Hooks {
    pub peers: Arc<NetworkPeers>,
    pub announcer: Announcer,
}

impl NodeHooks for Hooks {
    fn stream_known(&self, desc: &StreamDescriptor) {
        self.peers.register(desc);
    }

    fn stream_cached(&self, sd: SdHash, first: Option<BlobHash>) {
        self.announcer.stream(sd, first);
    }

    fn peers_known(&self, sd: &SdHash) -> usize {
        self.peers.known(sd)
    }
}
