//! Open files of source trees (`sources`): the same rules as stream files.
//! Opening a file starts fetching its first and last bytes (container
//! headers and trailers); a read waits at most the read timeout; a range
//! that just failed slowly fails again at once; sequential readers get
//! read-ahead from the same policy as streams, in units of 2 MiB (a blob's
//! size), which the content maps onto its own pieces.

use super::failed::{RecentFailures, RETRY_WINDOW};
use super::sources::{is_source_ino, Loaded};
use super::{FsError, Vfs};
use crate::stream::readahead::{ReadAhead, ReadAheadConfig};
use crate::stream::Bytes;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Handles of source files have this bit set (stream handles count from 1).
pub const SOURCE_FH: u64 = 1 << 62;
/// The read-ahead unit.
const UNIT: u64 = 2 << 20;

struct Open {
    l: Arc<Loaded>,
    file: usize,
    readahead: ReadAhead,
}

pub(super) struct SourceHandles {
    cfg: ReadAheadConfig,
    inner: Mutex<(u64, HashMap<u64, Open>)>,
    /// Failed ranges by (content, file).
    failed: Mutex<RecentFailures<(usize, usize)>>,
}

impl SourceHandles {
    pub(super) fn new(cfg: ReadAheadConfig) -> Self {
        Self {
            cfg,
            inner: Mutex::new((SOURCE_FH, HashMap::new())),
            failed: Mutex::new(RecentFailures::new(RETRY_WINDOW)),
        }
    }

    fn open(&self, l: Arc<Loaded>, file: usize) -> u64 {
        let mut h = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let fh = h.0;
        h.0 += 1;
        let readahead = ReadAhead::new(self.cfg);
        h.1.insert(fh, Open { l, file, readahead });
        fh
    }

    /// Records a read; returns the file and the bytes to fetch ahead.
    fn on_read(&self, fh: u64, offset: u64, len: u64) -> Option<(Arc<Loaded>, usize, Range<u64>)> {
        let mut h = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let o = h.1.get_mut(&fh)?;
        let size = o.l.size_of(o.file);
        let units = usize::try_from(size.div_ceil(UNIT)).unwrap_or(usize::MAX);
        let unit = usize::try_from(offset / UNIT).unwrap_or(usize::MAX);
        let ahead = if unit < units {
            o.readahead
                .on_read(offset, len, unit, units, UNIT, Instant::now())
        } else {
            0..0
        };
        let bytes = (ahead.start as u64 * UNIT)..(ahead.end as u64 * UNIT).min(size);
        Some((o.l.clone(), o.file, bytes))
    }

    fn close(&self, fh: u64) -> bool {
        let mut h = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        h.1.remove(&fh).is_some()
    }
}

impl Vfs {
    /// Opens a file of a source tree and starts fetching its ends.
    pub(super) fn open_source(&self, ino: u64) -> Result<u64, FsError> {
        debug_assert!(is_source_ino(ino));
        let (l, i) = self.sources.find(ino).ok_or(FsError::NotFound)?;
        let file = l.file_of(i).ok_or(FsError::IsDir)?;
        let size = l.size_of(file);
        if size > 0 {
            l.content.prefetch(file, 0..1);
            l.content.prefetch(file, size - 1..size);
        }
        Ok(self.source_handles.open(l, file))
    }

    /// Reads up to `size` bytes at `offset` of open source file `fh`.
    pub(super) async fn read_source(
        &self,
        fh: u64,
        offset: u64,
        size: u32,
    ) -> Result<Bytes, FsError> {
        let (l, file, ahead) = self
            .source_handles
            .on_read(fh, offset, u64::from(size))
            .ok_or(FsError::BadHandle)?;
        let key = (l.k, file);
        let now = Instant::now();
        let recent = self.failed_source(|f| f.recent(key, offset, u64::from(size), now));
        if let Some(why) = recent {
            return Err(FsError::Io(why));
        }
        let span = tracing::trace_span!("read", key = %l.key, file, fh, offset, size);
        let read =
            tracing::Instrument::instrument(l.content.read(file, offset, size as usize), span);
        let started = Instant::now();
        let result = self.bounded("reading", read).await;
        if !ahead.is_empty() {
            l.content.prefetch(file, ahead);
        }
        let why = match result {
            Ok(Ok(data)) => return Ok(data),
            Ok(Err(e)) | Err(e) => e,
        };
        let path = l.content.files().get(file).map_or("", |f| f.0.as_str());
        let reason = format!("{}/{path}: read at {offset} failed: {why}", l.key);
        self.record(reason.clone());
        if started.elapsed() >= self.cfg.read_timeout / 2 {
            let now = Instant::now();
            self.failed_source(|f| f.record(key, offset, u64::from(size), &reason, now));
        }
        Err(FsError::Io(reason))
    }

    fn failed_source<T>(&self, f: impl FnOnce(&mut RecentFailures<(usize, usize)>) -> T) -> T {
        let mut failed = self
            .source_handles
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut failed)
    }

    /// Closes a source file handle; false if `fh` is not one.
    pub(super) fn release_source(&self, fh: u64) -> bool {
        fh & SOURCE_FH != 0 && self.source_handles.close(fh)
    }
}
