//! Open file handles: the stream each reads and its read-ahead state (the
//! policy, and the queue of blobs it wants).

use crate::blob::PLAIN_CHUNK;
use crate::stream::queue::ReadAheadQueue;
use crate::stream::readahead::{ReadAhead, ReadAheadConfig};
use crate::stream::Stream;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

struct Handle {
    stream: Arc<Stream>,
    readahead: ReadAhead,
    queue: Arc<ReadAheadQueue>,
    /// Blob indexes held in the store while the handle is open.
    held: Vec<usize>,
}

pub struct Handles {
    cfg: ReadAheadConfig,
    /// Given to every handle's read-ahead queue: the mount is stopping.
    stop: CancellationToken,
    inner: Mutex<Inner>,
}

struct Inner {
    next: u64,
    open: HashMap<u64, Handle>,
}

impl Handles {
    pub fn new(cfg: ReadAheadConfig, stop: CancellationToken) -> Self {
        Self {
            cfg,
            stop,
            inner: Mutex::new(Inner {
                next: 1,
                open: HashMap::new(),
            }),
        }
    }

    /// Registers an open file; returns its handle number.
    pub fn open(&self, stream: Arc<Stream>, held: Vec<usize>) -> u64 {
        let mut h = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let fh = h.next;
        h.next += 1;
        let readahead = ReadAhead::new(self.cfg);
        h.open.insert(
            fh,
            Handle {
                stream,
                readahead,
                queue: Arc::new(ReadAheadQueue::new(self.stop.clone())),
                held,
            },
        );
        fh
    }

    /// Records a read; returns the stream and what to fetch ahead.
    pub fn on_read(&self, fh: u64, offset: u64, len: u64) -> Option<(Arc<Stream>, Wish)> {
        let mut h = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let handle = h.open.get_mut(&fh)?;
        let stream = handle.stream.clone();
        let runs = handle.readahead.runs();
        let blobs = match stream.blob_at(offset) {
            Some(blob) => handle.readahead.on_read(
                offset,
                len,
                blob,
                stream.blob_count(),
                PLAIN_CHUNK as u64,
                Instant::now(),
            ),
            None => 0..0,
        };
        if handle.readahead.runs() != runs {
            // A seek: what was queued is no longer ahead of the reader.
            handle.queue.clear();
        }
        let wish = Wish {
            blobs,
            queue: handle.queue.clone(),
            parallel: self.cfg.parallel,
        };
        Some((stream, wish))
    }

    /// Forgets a handle; returns its stream and held blobs.
    pub fn close(&self, fh: u64) -> Option<(Arc<Stream>, Vec<usize>)> {
        let mut h = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        h.open.remove(&fh).map(|x| {
            x.queue.clear();
            (x.stream, x.held)
        })
    }
}

/// Blobs a read wants fetched ahead, and the handle's queue for them.
pub struct Wish {
    blobs: Range<usize>,
    queue: Arc<ReadAheadQueue>,
    parallel: usize,
}

impl Wish {
    /// Queues the blobs, nearest first, behind those already wanted.
    pub fn start(self, stream: &Arc<Stream>) {
        if !self.blobs.is_empty() {
            self.queue.push(stream, self.blobs, self.parallel);
        }
    }
}
