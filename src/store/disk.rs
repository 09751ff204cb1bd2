//! The disk store: lbrynet's `blobfiles/` layout, crash-safe, capped, shared.
//!
//! One file per blob in `<data_dir>/blobfiles/`, named by its 96-char hex hash,
//! so an existing lbrynet blob folder works as-is. What this module owns:
//! - **one process per data dir**: `flock` on `<data_dir>/lock` (holder's pid inside);
//! - **no half blobs**: a blob is written to a `.tmp-*` file, fsynced, renamed
//!   into place and the directory fsynced; `open` removes stray temp files;
//! - **the index**, rebuilt at open from the folder (LRU order from mtime, no
//!   hashing: caches hold thousands of blobs) in `index.rs`, on top of the
//!   pure [`Lru`](super::lru::Lru) accounting;
//! - **pins** that survive restarts, in `<data_dir>/pinned`;
//! - **the cap**: admission is decided before writing and victims are deleted
//!   first, so the cached bytes on disk never exceed it.
//!
//! Reads re-verify (`get`), so a blob rotted or edited on disk is removed and
//! reported, never returned. The index mutex guards only bookkeeping; all file
//! I/O happens outside it, so readers and writers on different blobs never wait
//! for each other's disk. Synchronous like the trait: a durable `put` spends
//! milliseconds in fsync, so async callers use `spawn_blocking`.

mod files;
mod index;
#[cfg(test)]
mod tests;

use super::{BlobStore, Keep, RawBlob, StoreError, StoreStats};
use crate::blob::{VerifiedBlob, MAX_BLOB_SIZE};
use crate::hash::BlobHash;
use files::{install, io_err, DirLock, PinLog};
use index::{Index, PutStep};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::SystemTime;

/// Blobs on disk in lbrynet's layout. See the module docs.
pub struct DiskStore {
    data_dir: PathBuf,
    blob_dir: PathBuf,
    /// Kept open so the directory fsync after each rename is one syscall.
    blob_dir_handle: File,
    index: Mutex<Index>,
    /// Signalled when blobs being removed are gone.
    removed: Condvar,
    pins: PinLog,
    _lock: DirLock,
}

impl DiskStore {
    /// Opens (creating if needed) the store in `data_dir`, with a cap on
    /// cached bytes. Fails with `Locked` if another store has it open.
    pub fn open(data_dir: &Path, cap_bytes: u64) -> Result<DiskStore, StoreError> {
        fs::create_dir_all(data_dir).map_err(io_err("create directory", data_dir))?;
        let lock = files::lock_dir(data_dir)?;
        let blob_dir = data_dir.join("blobfiles");
        fs::create_dir_all(&blob_dir).map_err(io_err("create directory", &blob_dir))?;
        let blob_dir_handle = File::open(&blob_dir).map_err(io_err("open", &blob_dir))?;
        let temps = files::remove_temp_files(&blob_dir)? + files::remove_temp_files(data_dir)?;

        let found = files::scan_blobs(&blob_dir)?;
        let pin_path = data_dir.join("pinned");
        let (pin_lines, bad_lines) = PinLog::load(&pin_path)?;
        let (index, evict) = Index::rebuild(cap_bytes, found, &pin_lines);
        let lru = index.lru();
        if bad_lines > 0 || pin_lines.len() != lru.pinned().count() {
            // Drop duplicates, bad lines and pins of blobs that are gone.
            let text: String = lru.pinned().map(|h| h.to_hex() + "\n").collect();
            let data_dir_handle = File::open(data_dir).map_err(io_err("open", data_dir))?;
            let write = |f: &mut File, d: &[u8]| f.write_all(d);
            install(data_dir, &data_dir_handle, "pinned", text.as_bytes(), write)?;
        }
        for h in &evict {
            remove_file_logged(&blob_dir.join(h.to_hex()));
        }
        tracing::info!(
            dir = %data_dir.display(), blobs = lru.len(), cached_bytes = lru.cached_bytes(),
            pinned_bytes = lru.pinned_bytes(), cap_bytes, evicted = evict.len(),
            stray_temp_files = temps, "opened blob store"
        );
        Ok(DiskStore {
            data_dir: data_dir.to_path_buf(),
            blob_dir_handle,
            index: Mutex::new(index),
            removed: Condvar::new(),
            pins: PinLog::open(&pin_path)?,
            blob_dir,
            _lock: lock,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The `blobfiles/` folder.
    pub fn blob_dir(&self) -> &Path {
        &self.blob_dir
    }

    /// Protects a blob from eviction until [`release`](Self::release) (an open
    /// file, an in-flight read). May be taken before the blob is stored.
    pub fn hold(&self, hash: &BlobHash) {
        self.lock().lru_mut().hold(hash);
    }

    /// Drops one hold.
    pub fn release(&self, hash: &BlobHash) {
        self.lock().lru_mut().release(hash);
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // Each index method leaves it consistent before anything that could
        // panic, so a poisoned lock is still sound.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path_of(&self, hash: &BlobHash) -> PathBuf {
        self.blob_dir.join(hash.to_hex())
    }

    /// Deletes the files of blobs the index marked `Removing`, then lets
    /// any `put` of them waiting go on.
    fn unlink_removing(&self, hashes: &[BlobHash], why: &'static str) {
        if hashes.is_empty() {
            return;
        }
        for h in hashes {
            remove_file_logged(&self.path_of(h));
            tracing::info!(blob = %h.short(), why, "removed blob");
        }
        self.lock().finish_removal(hashes);
        self.removed.notify_all();
    }

    /// A visible blob's file vanished behind our back: forget it.
    fn forget(&self, hash: &BlobHash) {
        if self.lock().forget(hash) {
            tracing::warn!(blob = %hash.short(), "blob file disappeared from the store");
        }
    }

    /// Reports and deletes a blob whose content does not match its name.
    fn corrupt(&self, hash: &BlobHash, actual: BlobHash) -> StoreError {
        tracing::warn!(blob = %hash.short(), actual = %actual.short(), "corrupt blob on disk");
        if self.lock().start_removal(hash) {
            self.unlink_removing(&[*hash], "corrupt");
        }
        StoreError::Corrupt {
            hash: *hash,
            actual,
        }
    }

    /// Opens a visible blob's file, marking it used; `None` if absent.
    fn open_file(&self, hash: &BlobHash) -> Result<Option<(File, u64)>, StoreError> {
        let Some(len) = self.lock().use_ready(hash) else {
            return Ok(None);
        };
        let path = self.path_of(hash);
        match File::open(&path) {
            Ok(f) => Ok(Some((f, len))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.forget(hash);
                Ok(None)
            }
            Err(e) => Err(io_err("open", &path)(e)),
        }
    }

    /// `put` with the byte writer injectable, so tests can make it fail.
    fn put_with<W>(&self, blob: &VerifiedBlob, keep: Keep, write: W) -> Result<(), StoreError>
    where
        W: FnOnce(&mut File, &[u8]) -> io::Result<()>,
    {
        let hash = *blob.hash();
        let _span = tracing::debug_span!("put", blob = %hash.short()).entered();
        if blob.len() > MAX_BLOB_SIZE {
            return Err(StoreError::TooLarge {
                hash,
                len: blob.len() as u64,
            });
        }
        let mut ix = self.lock();
        let victims = loop {
            match ix.begin_put(hash, blob.len() as u64, keep)? {
                PutStep::Wait => ix = self.removed.wait(ix).unwrap_or_else(|e| e.into_inner()),
                PutStep::Stored if keep == Keep::Pin => {
                    drop(ix);
                    return self.pin(&[hash]);
                }
                PutStep::Stored => return Ok(()),
                PutStep::Write(victims) => break victims,
            }
        };
        drop(ix);
        self.unlink_removing(&victims, "evicted");
        // The pin is recorded before the blob appears, so a crash in between
        // never leaves a published blob unpinned (a pin without its blob is
        // dropped at open).
        let result = match keep {
            Keep::Pin => self.pins.append(&[hash]),
            Keep::Cache => Ok(()),
        }
        .and_then(|()| {
            install(
                &self.blob_dir,
                &self.blob_dir_handle,
                &hash.to_hex(),
                blob.data(),
                write,
            )
        });
        self.lock().end_put(&hash, result.is_ok());
        match &result {
            Ok(()) => tracing::debug!(len = blob.len(), ?keep, "stored"),
            Err(e) => tracing::warn!(error = %e, "blob not stored"),
        }
        result
    }
}

/// Marks a blob file recently used, so LRU order survives a restart.
fn refresh_mtime(file: &File, hash: &BlobHash) {
    if let Err(e) = file.set_modified(SystemTime::now()) {
        tracing::debug!(blob = %hash.short(), error = %e, "cannot update mtime");
    }
}

fn remove_file_logged(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot delete blob file"),
    }
}

impl BlobStore for DiskStore {
    fn put(&self, blob: &VerifiedBlob, keep: Keep) -> Result<(), StoreError> {
        self.put_with(blob, keep, |f, data| f.write_all(data))
    }

    fn get(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        let Some((mut file, _)) = self.open_file(hash)? else {
            return Ok(None);
        };
        let mut data = Vec::new();
        (&mut file)
            .take(MAX_BLOB_SIZE as u64 + 1)
            .read_to_end(&mut data)
            .map_err(io_err("read", &self.path_of(hash)))?;
        match VerifiedBlob::verify(hash, data) {
            Ok(blob) => {
                refresh_mtime(&file, hash);
                Ok(Some(blob))
            }
            Err(actual) => Err(self.corrupt(hash, actual)),
        }
    }

    fn contains(&self, hash: &BlobHash) -> bool {
        self.lock().is_ready(hash)
    }

    fn len_of(&self, hash: &BlobHash) -> Option<u64> {
        self.lock().ready_len(hash)
    }

    fn open_raw(&self, hash: &BlobHash) -> Result<Option<RawBlob>, StoreError> {
        let Some((file, len)) = self.open_file(hash)? else {
            return Ok(None);
        };
        let path = self.path_of(hash);
        if file.metadata().map_err(io_err("stat", &path))?.len() != len {
            // Changed on disk since it was indexed: only a full check can say.
            return Ok(self.get(hash)?.map(|b| RawBlob::Bytes(b.into_data())));
        }
        refresh_mtime(&file, hash);
        Ok(Some(RawBlob::File(file, len)))
    }

    fn pin(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        let newly = self.lock().pin_present(hashes);
        for h in &newly {
            tracing::debug!(blob = %h.short(), "pinned");
        }
        self.pins.append(&newly)
    }

    fn list(&self) -> Vec<BlobHash> {
        self.lock().list()
    }

    fn stats(&self) -> StoreStats {
        self.lock().stats()
    }

    fn hold(&self, hash: &BlobHash) {
        DiskStore::hold(self, hash);
    }

    fn release(&self, hash: &BlobHash) {
        DiskStore::release(self, hash);
    }
}
