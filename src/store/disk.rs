//! The disk store: lbrynet's `blobfiles/` layout, crash-safe, capped, shared.
//!
//! One file per blob in `<data_dir>/blobfiles/`, named by its 96-char hex hash,
//! so an existing lbrynet blob folder works as-is. What this module owns:
//! - **one process per data dir**: `flock` on `<data_dir>/lock` (holder's pid inside);
//! - **no half blobs**: a blob is written to a `.tmp-*` file and renamed into
//!   place; `open` removes stray temp files. Published and staged blobs are
//!   fsynced before the rename and the directory after it, so they survive a
//!   power cut. Cached blobs are not: they can be fetched again, and the
//!   fsyncs would halve the mount's cold read speed; a torn cached blob left
//!   by a power cut fails its hash when read or first served and is removed;
//! - **the index**, rebuilt at open from the folder (LRU order from mtime, no
//!   hashing: caches hold thousands of blobs) in `index.rs`, on top of the
//!   pure [`Lru`](super::lru::Lru) accounting;
//! - **pins** that survive restarts, in `<data_dir>/pinned`; staged blobs (a
//!   publish in progress) are pinned in memory only, so after a crash they
//!   come back as ordinary cache;
//! - **the cap**: admission is decided before writing and victims are deleted
//!   first, so a `put` never takes the cached bytes on disk over it.
//!
//! Opening never deletes a blob: every command opens the store with its own
//! cap, and a read-only one (`ls`) must not shrink a cache another command
//! filled, nor an existing lbrynet folder. Bytes found over the cap stay
//! until the next `put`, whose admission evicts back under it.
//!
//! Names found at open are trusted, not hashed. Reads check every blob
//! (`get`), and `open_raw` hashes a blob with SHA-384 before its first send
//! by this process, so a blob rotted, truncated or edited on disk is removed
//! and reported, never returned nor served to a peer. A read checks a blob
//! against the XXH3-64 checksum recorded when this data dir wrote it or
//! last hashed it (`sums.rs`, in `<data_dir>/blobsums`), which is many
//! times as fast as SHA-384; a blob without a record (an lbrynet folder's)
//! or whose bytes miss it is hashed with SHA-384 as before, and then
//! recorded if intact, removed if not.
//!
//! The index mutex guards only bookkeeping; all file I/O happens outside it,
//! so readers and writers on different blobs never wait for each other's
//! disk, and a reader names the index generation it saw when it reports back. Synchronous like the trait: a durable `put` spends
//! milliseconds in fsync, so async callers use `spawn_blocking`.

mod direct;
mod files;
mod index;
mod read;
mod streams;
mod sums;
#[cfg(test)]
mod tests;

pub use streams::StreamPins;
pub use sums::OwnWrite;

use super::{Keep, RawBlob, StoreError, StoreStats};
use crate::blob::{VerifiedBlob, MAX_BLOB_SIZE};
use crate::hash::BlobHash;
use files::{exists, install, io_err, private_dir, sync_dir, DirLock, PinLog};
use files::{refresh_mtime, remove_file_logged};
use index::{Index, PutStep, Ready};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use sums::{Sum, SumLog};

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
    sums: SumLog,
    streams: StreamPins,
    _lock: DirLock,
}

impl DiskStore {
    /// Opens (creating if needed) the store in `data_dir`, with a cap on
    /// cached bytes. Fails with `Locked` if another store has it open.
    /// Never deletes a blob, even when the cached bytes exceed `cap_bytes`.
    pub fn open(data_dir: &Path, cap_bytes: u64) -> Result<DiskStore, StoreError> {
        let new_data_dir = !exists(data_dir)?;
        private_dir(data_dir)?;
        let lock = files::lock_dir(data_dir)?;
        let blob_dir = data_dir.join("blobfiles");
        let pin_path = data_dir.join("pinned");
        let new_entries = !exists(&blob_dir)? || !exists(&pin_path)?;
        private_dir(&blob_dir)?;
        let blob_dir_handle = File::open(&blob_dir).map_err(io_err("open", &blob_dir))?;
        let temps = files::remove_temp_files(&blob_dir)? + files::remove_temp_files(data_dir)?;

        let found = files::scan_blobs(&blob_dir)?;
        let names: std::collections::HashSet<BlobHash> = found.iter().map(|f| f.hash).collect();
        let (sums, sum_map) = SumLog::open(data_dir, |h| names.contains(h))?;
        let (pin_lines, bad_lines) = PinLog::load(&pin_path)?;
        let index = Index::rebuild(cap_bytes, found, &pin_lines, &sum_map);
        let lru = index.lru();
        if bad_lines > 0 || pin_lines.len() != lru.pinned().count() {
            // Drop duplicates, bad lines and pins of blobs that are gone.
            let text: String = lru.pinned().map(|h| h.to_hex() + "\n").collect();
            let data_dir_handle = File::open(data_dir).map_err(io_err("open", data_dir))?;
            let write = |f: &mut File, d: &[u8]| f.write_all(d);
            install(
                data_dir,
                &data_dir_handle,
                "pinned",
                text.as_bytes(),
                true,
                write,
            )?;
        }
        let pins = PinLog::open(&pin_path)?;
        let streams = StreamPins::load(data_dir)?;
        // Without these, a power cut could lose the new `blobfiles/` or
        // `pinned` entry (and with it the pins) while blobs survive.
        if new_entries {
            sync_dir(data_dir)?;
        }
        if let Some(parent) = data_dir.parent().filter(|_| new_data_dir) {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            sync_dir(parent)?;
        }
        tracing::info!(
            dir = %data_dir.display(), blobs = lru.len(), cached_bytes = lru.cached_bytes(),
            pinned_bytes = lru.pinned_bytes(), cap_bytes, checksums = sum_map.len(),
            over_cap = lru.cached_bytes() > cap_bytes, stray_temp_files = temps,
            "opened blob store"
        );
        Ok(DiskStore {
            data_dir: data_dir.to_path_buf(),
            blob_dir_handle,
            index: Mutex::new(index),
            removed: Condvar::new(),
            pins,
            sums,
            streams,
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

    /// Generation `gen` of a visible blob lost its file behind our back:
    /// forget it (a newer entry of the same hash stays).
    fn forget(&self, hash: &BlobHash, gen: u64) {
        if self.lock().forget(hash, gen) {
            tracing::warn!(blob = %hash.short(), "blob file disappeared from the store");
        }
    }

    /// Reports a blob whose content does not match its name, and deletes it
    /// unless it was replaced by a newer generation meanwhile.
    fn corrupt(&self, hash: &BlobHash, gen: u64, actual: BlobHash) -> StoreError {
        tracing::warn!(blob = %hash.short(), actual = %actual.short(), "corrupt blob on disk");
        if self.lock().start_removal(hash, gen) {
            self.unlink_removing(&[*hash], "corrupt");
        }
        StoreError::Corrupt {
            hash: *hash,
            actual,
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
        let sum = Sum::of(blob.data());
        let mut ix = self.lock();
        let victims = loop {
            match ix.begin_put(hash, sum, keep)? {
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
            Keep::Staged | Keep::Cache => Ok(()),
        }
        .and_then(|()| {
            install(
                &self.blob_dir,
                &self.blob_dir_handle,
                &hash.to_hex(),
                blob.data(),
                keep != Keep::Cache,
                write,
            )
        });
        self.lock().end_put(&hash, result.is_ok());
        match &result {
            Ok(()) => {
                self.sums.append(&hash, sum, || self.lock().sums());
                tracing::debug!(len = blob.len(), ?keep, "stored")
            }
            Err(e) => tracing::warn!(error = %crate::error_chain(e), "blob not stored"),
        }
        result
    }
}

// The capabilities (`super::seams` forwards each trait here).
impl DiskStore {
    pub fn put(&self, blob: &VerifiedBlob, keep: Keep) -> Result<(), StoreError> {
        match keep {
            Keep::Cache => self.put_with(blob, keep, direct::write_all),
            Keep::Pin | Keep::Staged => self.put_with(blob, keep, |f, data| f.write_all(data)),
        }
    }

    pub fn get(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        self.read_blob(hash, true)
    }

    pub fn get_quiet(&self, hash: &BlobHash) -> Result<Option<VerifiedBlob>, StoreError> {
        self.read_blob(hash, false)
    }

    pub fn peek(&self, hash: &BlobHash, max: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((file, _)) = self.open_file(hash, false)? else {
            return Ok(None);
        };
        let mut head = Vec::with_capacity(max.min(MAX_BLOB_SIZE));
        file.take(max as u64)
            .read_to_end(&mut head)
            .map_err(io_err("read", &self.path_of(hash)))?;
        Ok(Some(head))
    }

    pub fn contains(&self, hash: &BlobHash) -> bool {
        self.lock().is_ready(hash)
    }

    pub fn is_pinned(&self, hash: &BlobHash) -> bool {
        let index = self.lock();
        index.is_ready(hash) && index.lru().is_pinned(hash)
    }

    pub fn len_of(&self, hash: &BlobHash) -> Option<u64> {
        self.lock().ready_len(hash)
    }

    pub fn open_raw(&self, hash: &BlobHash) -> Result<Option<RawBlob>, StoreError> {
        let Some((mut file, ready)) = self.open_file(hash, true)? else {
            return Ok(None);
        };
        let path = self.path_of(hash);
        let len = file.metadata().map_err(io_err("stat", &path))?.len();
        refresh_mtime(&file, hash);
        if !ready.verified || len != ready.len {
            // Never hashed by this process, or changed on disk since it was
            // indexed: a peer that gets bad bytes bans us, so check first and
            // send exactly the bytes checked.
            let blob = self.read_verified(hash, &mut file, &ready)?;
            return Ok(Some(RawBlob::Bytes(blob.into_data())));
        }
        Ok(Some(RawBlob::File(file, len)))
    }

    pub fn pin(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        // Persisted first: if that fails nothing changed, and a failed
        // publish can still discard its staged blobs. A line for a blob
        // removed meanwhile is harmless (dropped at the next open).
        let unpinned = self.lock().unpinned_present(hashes);
        self.pins.append(&unpinned)?;
        let newly = self.lock().pin_present(&unpinned);
        for h in &newly {
            tracing::debug!(blob = %h.short(), "pinned");
        }
        Ok(())
    }

    pub fn discard(&self, hashes: &[BlobHash]) {
        let removing = self.lock().discard(hashes);
        self.unlink_removing(&removing, "discarded after a failed publish");
    }

    pub fn remove(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        let (removing, were_pinned) = self.lock().remove_visible(hashes);
        // The files go first: a crash before the removal lines are written
        // leaves pin lines for absent blobs, which the next open drops.
        self.unlink_removing(&removing, "removed on request");
        self.pins.append_removals(&were_pinned)
    }

    pub fn list(&self) -> Vec<BlobHash> {
        self.lock().list()
    }

    pub fn stats(&self) -> StoreStats {
        self.lock().stats()
    }

    pub fn hold(&self, hash: &BlobHash) {
        self.lock().lru_mut().hold(hash);
    }

    pub fn release(&self, hash: &BlobHash) {
        self.lock().lru_mut().release(hash);
    }
}
