//! Stores for server tests: one that hands out files (so the server takes its
//! `sendfile` path), one that holds `open_raw` until the test lets it go.

use lbrymount::blob::VerifiedBlob;
use lbrymount::hash::BlobHash;
use lbrymount::store::{BlobStore, Keep, MemStore, RawBlob, StoreError, StoreStats};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{mpsc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Blobs as files in a temporary directory; `open_raw` returns `RawBlob::File`.
pub struct FileStore {
    dir: tempfile::TempDir,
    lens: Mutex<HashMap<BlobHash, u64>>,
    mem: MemStore,
}

impl FileStore {
    pub fn with<'a>(blobs: impl IntoIterator<Item = &'a VerifiedBlob>) -> Self {
        let store = FileStore {
            dir: tempfile::tempdir().expect("temp dir"),
            lens: Mutex::new(HashMap::new()),
            mem: MemStore::new(),
        };
        for b in blobs {
            store.put(b, Keep::Pin).expect("write blob file");
        }
        store
    }

    fn path(&self, hash: &BlobHash) -> PathBuf {
        self.dir.path().join(hash.to_hex())
    }
}

impl BlobStore for FileStore {
    fn put(&self, blob: &VerifiedBlob, keep: Keep) -> Result<(), StoreError> {
        let path = self.path(blob.hash());
        std::fs::write(&path, blob.data()).map_err(|source| StoreError::Io {
            op: "write",
            path,
            source,
        })?;
        self.lens
            .lock()
            .unwrap()
            .insert(*blob.hash(), blob.len() as u64);
        self.mem.put(blob, keep)
    }
    fn get(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        self.mem.get(hash)
    }
    fn get_quiet(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        self.mem.get_quiet(hash)
    }
    fn peek(&self, hash: &BlobHash, max: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.mem.peek(hash, max)
    }
    fn contains(&self, hash: &BlobHash) -> bool {
        self.lens.lock().unwrap().contains_key(hash)
    }
    fn len_of(&self, hash: &BlobHash) -> Option<u64> {
        self.lens.lock().unwrap().get(hash).copied()
    }
    fn open_raw(&self, hash: &BlobHash) -> Result<Option<RawBlob>, StoreError> {
        let Some(len) = self.len_of(hash) else {
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
    fn pin(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        self.mem.pin(hashes)
    }
    fn discard(&self, hashes: &[BlobHash]) {
        self.mem.discard(hashes)
    }
    fn remove(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        self.mem.remove(hashes)
    }
    fn list(&self) -> Vec<BlobHash> {
        self.mem.list()
    }
    fn stats(&self) -> StoreStats {
        self.mem.stats()
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

impl BlobStore for GateStore {
    fn put(&self, blob: &VerifiedBlob, keep: Keep) -> Result<(), StoreError> {
        self.mem.put(blob, keep)
    }
    fn get(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        self.mem.get(hash)
    }
    fn get_quiet(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        self.mem.get_quiet(hash)
    }
    fn peek(&self, hash: &BlobHash, max: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.mem.peek(hash, max)
    }
    fn contains(&self, hash: &BlobHash) -> bool {
        self.mem.contains(hash)
    }
    fn len_of(&self, hash: &BlobHash) -> Option<u64> {
        self.mem.len_of(hash)
    }
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
    fn pin(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        self.mem.pin(hashes)
    }
    fn discard(&self, hashes: &[BlobHash]) {
        self.mem.discard(hashes)
    }
    fn remove(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        self.mem.remove(hashes)
    }
    fn list(&self) -> Vec<BlobHash> {
        self.mem.list()
    }
    fn stats(&self) -> StoreStats {
        self.mem.stats()
    }
}
