//! Open files and their reads: an open file holds its first and last blob
//! (container headers and trailers live there) and starts fetching them; a
//! read waits at most the read timeout, and a range that just failed slowly
//! fails again at once (the kernel retries at once).

use super::{FsError, Vfs};
use crate::hash::SdHash;
use crate::stream::Stream;
use std::sync::PoisonError;
use tracing::Instrument;

impl Vfs {
    /// Opens a file: holds its first and last blob and starts fetching them.
    pub async fn open(&self, ino: u64) -> Result<u64, FsError> {
        if super::sources::is_source_ino(ino) {
            return self.open_source(ino);
        }
        let stream = self.file_stream(ino).await?;
        let ends = ends(&stream);
        for &i in &ends {
            if let Some(b) = stream.descriptor().blobs().get(i) {
                self.store.hold(&b.hash);
            }
        }
        let fh = self.handles.open(stream.clone(), ends.clone());
        let hooks = self.hooks.clone();
        let span = tracing::debug_span!("open", sd = %stream.sd().short(), fh);
        let prefetch = async move {
            let first = stream.descriptor().blobs().first().map(|b| b.hash);
            // A reader usually comes for the first blob right after open.
            for i in ends {
                stream.clone().prefetch(i, i == 0).await;
            }
            if stream.is_decrypted(0) {
                hooks.stream_cached(stream.sd(), first);
            }
        };
        let stop = self.cfg.stop.clone();
        crate::task::spawn("open prefetch", span, async move {
            stop.run_until_cancelled(prefetch).await;
        });
        Ok(fh)
    }

    /// Starts fetching a stream's first blob as soon as its descriptor is
    /// known: whoever looks a stream up usually opens its file next (a
    /// player stats, then reads the header), and the fetch then overlaps the
    /// lookups and the open instead of following them. One single-flight
    /// fetch, joined by the open's; nothing is held, so the cache may evict it.
    /// What the file's size depends on (usually the small last blob, when
    /// the size is not known from the descriptor) is asked first, and the
    /// first blob right behind it on another connection: the `stat` that
    /// follows a lookup waits for the small one, which must not queue behind
    /// 2 MiB, and the read that follows the `stat` must not wait for both
    /// one after the other.
    pub(super) fn warm_first_blob(&self, dir: u64) {
        let Some(super::table::Node::Dir(stream)) = self.table.node(dir) else {
            return;
        };
        if stream.blob_count() == 0 || stream.is_decrypted(0) {
            return;
        }
        let span = tracing::debug_span!("first blob", sd = %stream.sd().short());
        let stop = self.cfg.stop.clone();
        let warm = async move {
            let size = async {
                if let Err(e) = stream.size().await {
                    tracing::debug!(error = %e, "the size is not known yet");
                }
            };
            // Polled in this order: the size's request goes out first.
            tokio::join!(size, stream.clone().prefetch(0, true));
        };
        crate::task::spawn("first-blob prefetch", span, async move {
            stop.run_until_cancelled(warm).await;
        });
    }

    /// Reads up to `size` bytes at `offset` of open file `fh`.
    pub async fn read(
        &self,
        fh: u64,
        offset: u64,
        size: u32,
    ) -> Result<crate::stream::Bytes, FsError> {
        if fh & super::source_files::SOURCE_FH != 0 {
            return self.read_source(fh, offset, size).await;
        }
        let (stream, wish) = self
            .handles
            .on_read(fh, offset, u64::from(size))
            .ok_or(FsError::BadHandle)?;
        if let Some(why) = self.failed_recently(stream.sd(), offset, size) {
            tracing::debug!(sd = %stream.sd().short(), offset, "the range just failed; failing the retry at once");
            return Err(FsError::Io(why));
        }
        let span = tracing::trace_span!("read", sd = %stream.sd().short(), fh, offset, size);
        let read = stream.read(offset, size as usize).instrument(span);
        let started = std::time::Instant::now();
        let result = self.bounded("reading", read).await;
        // Read-ahead starts once this read has its bytes: the blobs it wants
        // lie beyond the one being read, and started earlier they would take
        // peer slots and CPU (hashing) from it. That matters for the first
        // read of a file, whose blob is not there yet: time to first byte.
        wish.start(&stream);
        let why = match result {
            Ok(Ok(data)) => return Ok(data),
            Ok(Err(e)) => crate::error_chain(&e),
            Err(e) => e,
        };
        let e = self.io_error(stream.sd(), &format!("read at {offset}"), why);
        // Only a failure that waited out most of the timeout is worth
        // remembering: a quick one would fail (or succeed) as quickly again.
        let waited = started.elapsed() >= self.cfg.read_timeout / 2;
        if let (true, FsError::Io(reason)) = (waited, &e) {
            let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
            let now = std::time::Instant::now();
            failed.record(stream.sd(), offset, u64::from(size), reason, now);
        }
        Err(e)
    }

    /// Why a read of this range failed a moment ago, if it did.
    fn failed_recently(&self, sd: SdHash, offset: u64, size: u32) -> Option<String> {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        failed.recent(sd, offset, u64::from(size), std::time::Instant::now())
    }

    /// Closes a file handle, releasing its blobs.
    pub fn release(&self, fh: u64) {
        if self.release_source(fh) {
            return;
        }
        if let Some((stream, held)) = self.handles.close(fh) {
            for i in held {
                if let Some(b) = stream.descriptor().blobs().get(i) {
                    self.store.release(&b.hash);
                }
            }
        }
    }
}

/// The blob indexes an open file holds: the first and the last.
fn ends(s: &Stream) -> Vec<usize> {
    match s.blob_count() {
        0 => vec![],
        1 => vec![0],
        n => vec![0, n - 1],
    }
}
