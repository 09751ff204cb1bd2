//! The disk store's bookkeeping: which blobs exist and in what state, on top
//! of the [`Lru`] accounting. No I/O: `DiskStore` calls it under its mutex and
//! does the file work outside.
//!
//! A blob is visible (`get`, `contains`, `list`) only in the `Ready` state.
//! `Writing` blobs already count against the cap and are held, so the space a
//! write needs is reserved before its first byte and cannot be taken by
//! another; `Removing` blobs are out of the accounting but their file is still
//! being deleted, so a new `put` of the same hash must wait for it.

use super::files::Found;
use crate::hash::BlobHash;
use crate::store::lru::Lru;
use crate::store::{Keep, StoreError, StoreStats};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Admitted, being written by this many concurrent `put`s.
    Writing(u32),
    Ready,
    Removing,
}

/// What a `put` must do next.
pub(super) enum PutStep {
    /// Already stored: nothing to write.
    Stored,
    /// The old file of this hash is being deleted: wait, then ask again.
    Wait,
    /// Delete these victims (already `Removing`), then write the blob.
    Write(Vec<BlobHash>),
}

pub(super) struct Index {
    lru: Lru,
    slots: HashMap<BlobHash, Slot>,
}

impl Index {
    /// The index of the blobs found at open, pinned ones first, the others
    /// admitted oldest mtime first. Returns the blobs that do not fit the cap:
    /// their files are to be deleted.
    pub fn rebuild(cap: u64, mut found: Vec<Found>, pins: &[BlobHash]) -> (Index, Vec<BlobHash>) {
        let mut lru = Lru::new(cap);
        let sizes: HashMap<BlobHash, u64> = found.iter().map(|f| (f.hash, f.len)).collect();
        for h in pins {
            if let Some(&len) = sizes.get(h) {
                lru.insert_pinned(*h, len);
            }
        }
        found.sort_by_key(|f| (f.mtime, f.hash));
        let mut evict = Vec::new();
        // Admitting a pinned blob only touches it, so pins need no filtering.
        for f in &found {
            match lru.admit(f.hash, f.len) {
                Ok(victims) => evict.extend(victims),
                Err(_) => evict.push(f.hash),
            }
        }
        let slots = lru.residents().map(|h| (*h, Slot::Ready)).collect();
        (Index { lru, slots }, evict)
    }

    pub fn lru(&self) -> &Lru {
        &self.lru
    }

    pub fn lru_mut(&mut self) -> &mut Lru {
        &mut self.lru
    }

    pub fn is_ready(&self, hash: &BlobHash) -> bool {
        self.slots.get(hash) == Some(&Slot::Ready)
    }

    /// The length of a visible blob.
    pub fn ready_len(&self, hash: &BlobHash) -> Option<u64> {
        self.is_ready(hash)
            .then(|| self.lru.size_of(hash))
            .flatten()
    }

    /// The length of a visible blob, marking it used.
    pub fn use_ready(&mut self, hash: &BlobHash) -> Option<u64> {
        let len = self.ready_len(hash)?;
        self.lru.touch(hash);
        Some(len)
    }

    /// Reserves room and a slot for a new blob, or joins a write in flight.
    pub fn begin_put(
        &mut self,
        hash: BlobHash,
        size: u64,
        keep: Keep,
    ) -> Result<PutStep, StoreError> {
        match self.slots.get(&hash).copied() {
            Some(Slot::Removing) => Ok(PutStep::Wait),
            Some(Slot::Ready) => {
                self.lru.touch(&hash);
                Ok(PutStep::Stored)
            }
            Some(Slot::Writing(n)) => {
                self.slots.insert(hash, Slot::Writing(n + 1));
                self.lru.hold(&hash);
                if keep == Keep::Pin {
                    self.lru.pin(&hash);
                }
                Ok(PutStep::Write(Vec::new()))
            }
            None => {
                let victims = match keep {
                    Keep::Pin => {
                        self.lru.insert_pinned(hash, size);
                        Vec::new()
                    }
                    Keep::Cache => self.lru.admit(hash, size).map_err(|f| StoreError::Full {
                        hash,
                        needed: f.needed,
                        cap: f.cap,
                        held: f.held,
                    })?,
                };
                for v in &victims {
                    self.slots.insert(*v, Slot::Removing);
                }
                self.lru.hold(&hash);
                self.slots.insert(hash, Slot::Writing(1));
                Ok(PutStep::Write(victims))
            }
        }
    }

    /// Ends one writer's `put`: the blob becomes visible, or (if this was the
    /// last writer and none succeeded) its reservation is dropped.
    pub fn end_put(&mut self, hash: &BlobHash, ok: bool) {
        match self.slots.get(hash).copied() {
            Some(Slot::Writing(_)) if ok => {
                self.slots.insert(*hash, Slot::Ready);
            }
            Some(Slot::Writing(1)) => {
                self.slots.remove(hash);
                self.lru.remove(hash);
            }
            Some(Slot::Writing(n)) => {
                self.slots.insert(*hash, Slot::Writing(n - 1));
            }
            _ => {}
        }
        self.lru.release(hash);
    }

    /// Takes a visible blob out (corrupt): returns whether its file is now
    /// this caller's to delete.
    pub fn start_removal(&mut self, hash: &BlobHash) -> bool {
        if !self.is_ready(hash) {
            return false;
        }
        self.lru.remove(hash);
        self.slots.insert(*hash, Slot::Removing);
        true
    }

    /// The files of these `Removing` blobs are gone.
    pub fn finish_removal(&mut self, hashes: &[BlobHash]) {
        for h in hashes {
            if self.slots.get(h) == Some(&Slot::Removing) {
                self.slots.remove(h);
            }
        }
    }

    /// A visible blob's file vanished: forget it. Returns whether it was visible.
    pub fn forget(&mut self, hash: &BlobHash) -> bool {
        let visible = self.is_ready(hash);
        if visible {
            self.slots.remove(hash);
            self.lru.remove(hash);
        }
        visible
    }

    /// Pins those of `hashes` that are stored or being written and were not
    /// pinned yet; returns them (to be persisted).
    pub fn pin_present(&mut self, hashes: &[BlobHash]) -> Vec<BlobHash> {
        let mut newly = Vec::new();
        for h in hashes {
            let present = matches!(self.slots.get(h), Some(Slot::Ready | Slot::Writing(_)));
            if present && !self.lru.is_pinned(h) && self.lru.pin(h) {
                newly.push(*h);
            }
        }
        newly
    }

    pub fn list(&self) -> Vec<BlobHash> {
        let ready = self.slots.iter().filter(|(_, s)| **s == Slot::Ready);
        ready.map(|(h, _)| *h).collect()
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats {
            blobs: self.slots.values().filter(|s| **s == Slot::Ready).count(),
            cached_bytes: self.lru.cached_bytes(),
            pinned_bytes: self.lru.pinned_bytes(),
            cap_bytes: self.lru.cap(),
        }
    }
}
