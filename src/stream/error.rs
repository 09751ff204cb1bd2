//! Why a read of a stream failed: `stream`'s own error, so the layer above
//! (the filesystem) sees one type whatever the blobs came from.
//!
//! A [`BlobSource`](super::BlobSource) fails with its own error (the
//! fetcher's names every peer tried and why); [`SourceError`] carries it
//! whole, so its text and causes reach the log and `status` as they were,
//! and the stream never names the fetcher's types.

use crate::blob::PlainError;
use crate::hash::SdHash;
use crate::layout::LayoutError;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// Why a read failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StreamError {
    /// The source could not deliver a blob.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A blob does not fit its descriptor (length or key).
    #[error(transparent)]
    Plain(#[from] PlainError),
    #[error("stream {sd}: {source}")]
    Layout {
        sd: SdHash,
        #[source]
        source: LayoutError,
    },
    #[error("stream {0}: the blob lengths never settle (a descriptor the layout cannot resolve)")]
    Unresolvable(SdHash),
    #[error("the decryption task was interrupted")]
    Interrupted,
}

/// A [`BlobSource`](super::BlobSource)'s error, kept whole: it shows as the
/// source's error does (its text, then its causes), and the source's type
/// is still there for [`downcast_ref`](Self::downcast_ref). Shared, since
/// every reader waiting on one blob gets the same failure.
#[derive(Clone)]
pub struct SourceError(Arc<dyn Error + Send + Sync + 'static>);

impl SourceError {
    pub fn new(e: impl Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(e))
    }

    /// The source's error as its own type, if it is an `E` (nothing in the
    /// crate needs more than the text yet; tests check the type survives).
    #[cfg(test)]
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

/// Transparent: the causes are the source error's own.
impl Error for SourceError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_chain;
    use crate::fetch::FetchError;
    use crate::hash::BlobHash;
    use crate::store::StoreError;

    /// A fetch that failed with causes: the store, and the disk under it.
    fn fetch_failure() -> FetchError {
        let hash = BlobHash::digest(b"wanted");
        let disk = std::io::Error::other("disk on fire");
        let path = "/data/blobfiles".into();
        let op = "write";
        FetchError::store(
            hash,
            StoreError::Io {
                op,
                path,
                source: disk,
            },
        )
    }

    #[test]
    fn a_failed_fetch_reads_as_it_did_and_keeps_its_type() {
        let fetch = fetch_failure();
        let read = StreamError::from(SourceError::new(fetch.clone()));
        assert_eq!(error_chain(&read), error_chain(&fetch));
        assert!(error_chain(&read).ends_with(": cannot write /data/blobfiles: disk on fire"));
        let StreamError::Source(source) = &read else {
            panic!("not a source error: {read:?}");
        };
        let kept = source.downcast_ref::<FetchError>();
        assert_eq!(kept.map(ToString::to_string), Some(fetch.to_string()));
    }
}
