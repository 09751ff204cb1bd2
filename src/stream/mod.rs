//! One stream as a random-access file: plaintext offsets in, exact bytes out.
//!
//! A [`Stream`] is shared by every open handle of one file. A read locates
//! its offset in the [`Layout`], gets the blobs it covers from the
//! [`BlobSource`] (the cache or the network), decrypts each once
//! (`blob::Described`, on the capped blocking pool) into the shared
//! [`PlainCache`], and learns each blob's true length as it goes, so
//! offsets stay exact even for writers that break LBRY's size convention.
//!
//! This module owns no deadline: the caller (the filesystem) bounds each read,
//! and a read that is cancelled leaves the fetches it started running for the
//! next reader (they live in the fetcher, not in the read).

mod error;
pub mod plain;
pub mod queue;
pub mod readahead;
#[cfg(test)]
pub(crate) mod testing;

use crate::blob::{VerifiedBlob, PLAIN_CHUNK};
use crate::hash::{BlobHash, SdHash};
use crate::layout::{Layout, LayoutError, Locate, Size};
use crate::sd::StreamDescriptor;
use plain::{Plain, PlainBuf, PlainCache};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use bytes::Bytes;
pub use error::{SourceError, StreamError};

/// A boxed future, as [`BlobSource::blob`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a stream's blobs come from. Implemented by the node over the fetcher
/// (cache first, then peers); tests implement it over a map.
pub trait BlobSource: Send + Sync + 'static {
    /// A verified blob: `len` is its length per the descriptor (`None` for an
    /// sd blob); `urgent` when a reader waits for it, not read-ahead.
    fn blob(
        &self,
        hash: BlobHash,
        len: Option<u64>,
        urgent: bool,
    ) -> BoxFuture<'_, Result<Arc<VerifiedBlob>, SourceError>>;
}

pub struct Stream {
    sd: SdHash,
    desc: Arc<StreamDescriptor>,
    layout: Mutex<Layout>,
    source: Arc<dyn BlobSource>,
    plain: Arc<PlainCache>,
}

impl Stream {
    pub fn new(
        desc: Arc<StreamDescriptor>,
        source: Arc<dyn BlobSource>,
        plain: Arc<PlainCache>,
    ) -> Self {
        Self {
            sd: desc.sd_hash(),
            layout: Mutex::new(Layout::for_stream(&desc)),
            desc,
            source,
            plain,
        }
    }

    pub fn sd(&self) -> SdHash {
        self.sd
    }

    pub fn descriptor(&self) -> &Arc<StreamDescriptor> {
        &self.desc
    }

    pub fn blob_count(&self) -> usize {
        self.desc.blobs().len()
    }

    fn layout(&self) -> MutexGuard<'_, Layout> {
        self.layout.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The file's size without fetching anything: exact, presumed (LBRY's
    /// convention, true for every stream lbry-sdk and lbrymount write) or unknown.
    pub fn known_size(&self) -> Option<u64> {
        match self.layout().size() {
            Size::Exact(n) | Size::Presumed(n) => Some(n),
            Size::Range { .. } => None,
        }
    }

    /// The file's size, fetching the blobs it depends on (usually the last one).
    pub async fn size(&self) -> Result<u64, StreamError> {
        for _ in 0..=self.blob_count() {
            let need = match self.layout().size() {
                Size::Exact(n) | Size::Presumed(n) => return Ok(n),
                Size::Range { need, .. } => need,
            };
            self.plaintext(need, true).await?;
        }
        Err(StreamError::Unresolvable(self.sd))
    }

    /// Index of the blob holding `offset`, if known without fetching.
    pub fn blob_at(&self, offset: u64) -> Option<usize> {
        match self.layout().locate(offset) {
            Locate::At { blob, .. } => Some(blob),
            Locate::NeedBlob(i) => Some(i),
            Locate::End { .. } => None,
        }
    }

    /// Up to `len` bytes at `offset` (fewer only at the end of the file).
    /// A read inside one blob (most of them: reads are at most 1 MiB, blobs
    /// 2 MiB) is a view of the decrypted blob, neither copied nor allocated;
    /// only a read across blobs is gathered into a buffer of its own.
    pub async fn read(&self, offset: u64, len: usize) -> Result<Bytes, StreamError> {
        let mut out = Vec::new();
        let mut pos = offset;
        // Each turn either copies bytes or learns a blob's length, and a
        // blob is learned once; the bound only guards against a layout bug.
        let mut turns = 2 * self.blob_count() + 2 + len / PLAIN_CHUNK;
        while out.len() < len {
            turns = turns
                .checked_sub(1)
                .ok_or(StreamError::Unresolvable(self.sd))?;
            let loc = self.layout().locate(pos);
            match loc {
                Locate::End { .. } => break,
                Locate::NeedBlob(i) => {
                    self.plaintext(i, true).await?;
                }
                Locate::At { blob, offset, .. } => {
                    let plain = self.plaintext(blob, true).await?;
                    // A presumed length proven wrong is learned by `plaintext`;
                    // locate again.
                    let Some(avail) = plain.get(offset as usize..) else {
                        continue;
                    };
                    let n = avail.len().min(len - out.len());
                    if n == 0 {
                        continue;
                    }
                    if n == len {
                        let at = offset as usize;
                        return Ok(Bytes::from_owner(Plain(plain)).slice(at..at + n));
                    }
                    if out.is_empty() {
                        out.reserve(len.min(4 << 20));
                    }
                    out.extend_from_slice(&avail[..n]);
                    pos += n as u64;
                }
            }
        }
        Ok(Bytes::from(out))
    }

    /// Fetches and decrypts blobs ahead of a reader (into the shared cache);
    /// errors are left for the reader to meet. `urgent` when a reader is
    /// about to wait for it (the first blob on open), not read-ahead.
    pub async fn prefetch(self: Arc<Self>, blob: usize, urgent: bool) {
        if let Err(e) = self.plaintext(blob, urgent).await {
            tracing::debug!(sd = %self.sd.short(), blob, error = %e, "read-ahead failed");
        }
    }

    /// Whether blob `i` is decrypted in memory already.
    pub fn is_decrypted(&self, i: usize) -> bool {
        self.plain.peek(self.sd, i).is_some()
    }

    /// Blob `i` decrypted: from the shared cache, or fetched and decrypted
    /// once however many readers ask at the same time. Learns its length.
    async fn plaintext(&self, i: usize, urgent: bool) -> Result<Arc<PlainBuf>, StreamError> {
        let info = self
            .desc
            .blobs()
            .get(i)
            .cloned()
            .ok_or(StreamError::Layout {
                sd: self.sd,
                source: LayoutError::NoSuchBlob {
                    blob: i,
                    count: self.blob_count(),
                },
            })?;
        let slot = self.plain.slot(self.sd, i);
        let plain = slot
            .get_or_try_init(|| async {
                let _making = self.plain.making(urgent).await;
                let blob = self
                    .source
                    .blob(info.hash, Some(u64::from(info.length)), urgent)
                    .await?;
                let desc = self.desc.clone();
                // In place when nobody else holds the blob, else into a copy.
                let decrypt = move || match Arc::try_unwrap(blob) {
                    Ok(owned) => desc.described(&info).decrypt(owned),
                    Err(shared) => desc.described(&info).decrypt_shared(&shared),
                };
                let plain = crate::blocking::run(decrypt)
                    .await
                    .map_err(|_| StreamError::Interrupted)??;
                Ok::<_, StreamError>(Arc::new(PlainBuf::from(plain)))
            })
            .await?
            .clone();
        // Lengths fit in u32: a blob holds at most 2 MiB.
        let learned = self.layout().learn(i, plain.len() as u32);
        if let Err(source) = learned {
            return Err(StreamError::Layout {
                sd: self.sd,
                source,
            });
        }
        Ok(plain)
    }
}

#[cfg(test)]
mod tests;
