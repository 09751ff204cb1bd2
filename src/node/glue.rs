//! The node's side of the filesystem's seams: blobs come from the fetcher,
//! and stream events go to the peer finder and the announcer.

use super::peers::Peers;
use super::Announcer;
use crate::blob::VerifiedBlob;
use crate::fetch::{Fetcher, Priority};
use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use crate::stream::{BlobSource, BoxFuture, SourceError};
use crate::vfs::NodeHooks;
use std::sync::Arc;

/// Blobs for the filesystem: the cache first, then peers (then cached).
pub struct FetchSource(pub Fetcher);

impl BlobSource for FetchSource {
    /// A reader waiting for the blob gets it as soon as it is verified,
    /// shared with the store still writing it (see `Fetcher::fetch_shared`).
    /// Read-ahead waits for the write and then owns the blob, so it can be
    /// decrypted in place: no 2 MiB copy on the sequential path.
    fn blob(
        &self,
        hash: BlobHash,
        len: Option<u64>,
        urgent: bool,
    ) -> BoxFuture<'_, Result<Arc<VerifiedBlob>, SourceError>> {
        Box::pin(async move {
            let fetched = if urgent {
                self.0.fetch_shared(hash, len, Priority::Urgent).await
            } else {
                self.0.fetch(hash, len, Priority::Bulk).await.map(Arc::new)
            };
            fetched.map_err(SourceError::new)
        })
    }
}

/// What the filesystem tells the node.
pub struct Hooks {
    pub peers: Arc<Peers>,
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
