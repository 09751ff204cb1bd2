//! Stores for server tests: one that hands out files (so the server takes its
//! `sendfile` path), one that holds `open_raw` until the test lets it go.
//! Each implements only what the server reads ([`ServedStore`]).
//!
//! [`ServedStore`]: lbrymount::exchange::ServedStore

use lbrymount::blob::VerifiedBlob;
use lbrymount::hash::BlobHash;
use lbrymount::store::{HasBlob, Keep, MemStore, OpenRaw, RawBlob, StoreError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{mpsc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Blobs as files in a temporary directory; `open_raw` returns `RawBlob::File`.
/// Only what the server reads of a store.
pub struct FileStore {
    dir: tempfile::TempDir,
    lens: Mutex<HashMap<BlobHash, u64>>,
}

impl FileStore {
    pub fn with<'a>(blobs: impl IntoIterator<Item = &'a VerifiedBlob>) -> Self {
        let store = FileStore {
            dir: tempfile::tempdir().expect("temp dir"),
            lens: Mutex::new(HashMap::new()),
        };
        for b in blobs {
            std::fs::write(store.path(b.hash()), b.data()).expect("write blob file");
            store.lens.lock().unwrap().insert(*b.hash(), b.len() as u64);
        }
        store
    }

    fn path(&self, hash: &BlobHash) -> PathBuf {
        self.dir.path().join(hash.to_hex())
    }
}

impl HasBlob for FileStore {
    fn contains(&self, hash: &BlobHash) -> bool {
        self.lens.lock().unwrap().contains_key(hash)
    }
}

impl OpenRaw for FileStore {
    fn open_raw(&self, hash: &BlobHash) -> Result<Option<RawBlob>, StoreError> {
        let Some(len) = self.lens.lock().unwrap().get(hash).copied() else {
            return Ok(None);
        };
        let path = self.path(hash);
        let file = std::fs::File::open(&path).map_err(|source| StoreError::Io {
            op: "open",
            path,
            source,
        })?;
        Ok(Some(RawBlob::File(file, len)))
    }
}

/// A `MemStore` whose `open_raw` reports that it was entered, then waits for
/// the test to open the gate: a transfer the test can hold "in flight".
pub struct GateStore {
    mem: MemStore,
    entered: UnboundedSender<()>,
    gate: Mutex<mpsc::Receiver<()>>,
}

impl GateStore {
    /// The store, where it reports entries, and the gate's key.
    pub fn new<'a>(
        blobs: impl IntoIterator<Item = &'a VerifiedBlob>,
    ) -> (
        Self,
        tokio::sync::mpsc::UnboundedReceiver<()>,
        mpsc::Sender<()>,
    ) {
        let mem = MemStore::new();
        for b in blobs {
            mem.put(b, Keep::Pin).expect("put in memory");
        }
        let (entered, entries) = tokio::sync::mpsc::unbounded_channel();
        let (open, gate) = mpsc::channel();
        let store = GateStore {
            mem,
            entered,
            gate: Mutex::new(gate),
        };
        (store, entries, open)
    }
}

impl HasBlob for GateStore {
    fn contains(&self, hash: &BlobHash) -> bool {
        self.mem.contains(hash)
    }
}

impl OpenRaw for GateStore {
    fn open_raw(&self, hash: &BlobHash) -> Result<Option<RawBlob>, StoreError> {
        let _ = self.entered.send(());
        // Bounded, so a failing test cannot leave a blocking thread behind forever.
        let _ = self
            .gate
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(10));
        self.mem.open_raw(hash)
    }
}
