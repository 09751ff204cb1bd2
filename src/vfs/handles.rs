//! Open file handles: the stream each reads and its read-ahead state.

use crate::blob::PLAIN_CHUNK;
use crate::stream::readahead::{ReadAhead, ReadAheadConfig};
use crate::stream::Stream;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

struct Handle {
    stream: Arc<Stream>,
    readahead: ReadAhead,
    /// Blob indexes held in the store while the handle is open.
    held: Vec<usize>,
}

pub struct Handles {
    cfg: ReadAheadConfig,
    inner: Mutex<Inner>,
}

struct Inner {
    next: u64,
    open: HashMap<u64, Handle>,
}

impl Handles {
    pub fn new(cfg: ReadAheadConfig) -> Self {
        Self {
            cfg,
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
                held,
            },
        );
        fh
    }

    /// Records a read; returns the stream and the blobs to fetch ahead.
    pub fn on_read(&self, fh: u64, offset: u64, len: u64) -> Option<(Arc<Stream>, Range<usize>)> {
        let mut h = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let handle = h.open.get_mut(&fh)?;
        let stream = handle.stream.clone();
        let wish = match stream.blob_at(offset) {
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
        Some((stream, wish))
    }

    /// Forgets a handle; returns its stream and held blobs.
    pub fn close(&self, fh: u64) -> Option<(Arc<Stream>, Vec<usize>)> {
        let mut h = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        h.open.remove(&fh).map(|x| (x.stream, x.held))
    }
}
