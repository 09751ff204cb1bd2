//! The disk store's bookkeeping: which blobs exist and in what state, on top
//! of the [`Lru`] accounting. No I/O: `DiskStore` calls it under its mutex and
//! does the file work outside.
//!
//! A blob is visible (`get`, `contains`, `list`) only in the `Ready` state.
//! `Writing` blobs already count against the cap and are held, so the space a
//! write needs is reserved before its first byte and cannot be taken by
//! another; `Removing` blobs are out of the accounting but their file is still
//! being deleted, so a new `put` of the same hash must wait for it.
//!
//! Each entry carries a generation, unique within the process. File work
//! happens outside the lock, so by the time a reader reports what it found
//! (the file vanished, or its bytes are corrupt) the blob may have been
//! evicted and stored again; the reader names the generation it saw and a
//! newer entry is left alone. Each entry also records whether its bytes were
//! hashed in this process: blobs found at open are trusted by name and size
//! only, until a read checks them (`open_raw` hashes them before their first
//! send). And it holds the blob's checksum record (`sums.rs`) if there is
//! one, so a read can check the bytes without SHA-384; the records in use
//! are those of the entries, so they go when their blob goes.

use super::files::Found;
use super::sums::Sum;
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

#[derive(Debug, Clone, Copy)]
struct Entry {
    slot: Slot,
    /// The bytes were hashed in this process (written by `put`, or read back).
    verified: bool,
    /// The checksum record of the hash's verified bytes, if known.
    sum: Option<Sum>,
    gen: u64,
}

/// What a reader learns about a visible blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ready {
    pub len: u64,
    pub gen: u64,
    pub verified: bool,
    pub sum: Option<Sum>,
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
    entries: HashMap<BlobHash, Entry>,
    next_gen: u64,
}

impl Index {
    /// The index of the blobs found at open (unverified, with their checksum
    /// records from `sums`), pinned ones first, the others loaded oldest
    /// mtime first. Nothing is evicted, even over the cap: the next `put`
    /// evicts back under it.
    pub fn rebuild(
        cap: u64,
        mut found: Vec<Found>,
        pins: &[BlobHash],
        sums: &HashMap<BlobHash, Sum>,
    ) -> Index {
        let mut lru = Lru::new(cap);
        let sizes: HashMap<BlobHash, u64> = found.iter().map(|f| (f.hash, f.len)).collect();
        for h in pins {
            if let Some(&len) = sizes.get(h) {
                lru.insert_pinned(*h, len);
            }
        }
        found.sort_by_key(|f| (f.mtime, f.hash));
        // Loading a pinned blob leaves it as it is, so pins need no filtering.
        for f in &found {
            lru.load(f.hash, f.len);
        }
        let mut index = Index {
            lru,
            entries: HashMap::new(),
            next_gen: 0,
        };
        for f in &found {
            index.insert(f.hash, Slot::Ready, false, sums.get(&f.hash).copied());
        }
        index
    }

    fn insert(&mut self, hash: BlobHash, slot: Slot, verified: bool, sum: Option<Sum>) {
        let gen = self.next_gen;
        self.next_gen += 1;
        let entry = Entry {
            slot,
            verified,
            sum,
            gen,
        };
        self.entries.insert(hash, entry);
    }

    fn slot(&self, hash: &BlobHash) -> Option<Slot> {
        self.entries.get(hash).map(|e| e.slot)
    }

    fn set_slot(&mut self, hash: &BlobHash, slot: Slot) {
        if let Some(e) = self.entries.get_mut(hash) {
            e.slot = slot;
        }
    }

    /// The visible entry of `hash`, if it is generation `gen`.
    fn ready_gen(&mut self, hash: &BlobHash, gen: u64) -> Option<&mut Entry> {
        self.entries
            .get_mut(hash)
            .filter(|e| e.slot == Slot::Ready && e.gen == gen)
    }

    pub fn lru(&self) -> &Lru {
        &self.lru
    }

    pub fn lru_mut(&mut self) -> &mut Lru {
        &mut self.lru
    }

    pub fn is_ready(&self, hash: &BlobHash) -> bool {
        self.slot(hash) == Some(Slot::Ready)
    }

    /// The length of a visible blob.
    pub fn ready_len(&self, hash: &BlobHash) -> Option<u64> {
        self.is_ready(hash)
            .then(|| self.lru.size_of(hash))
            .flatten()
    }

    /// A visible blob, marked used if `touch`.
    pub fn ready(&mut self, hash: &BlobHash, touch: bool) -> Option<Ready> {
        let len = self.ready_len(hash)?;
        let e = self.entries.get(hash)?;
        let ready = Ready {
            len,
            gen: e.gen,
            verified: e.verified,
            sum: e.sum,
        };
        if touch {
            self.lru.touch(hash);
        }
        Some(ready)
    }

    /// A reader hashed generation `gen` of a blob and found it intact, with
    /// checksum `sum`. Returns whether that record is new to the entry (and
    /// so worth logging).
    pub fn mark_verified(&mut self, hash: &BlobHash, gen: u64, sum: Sum) -> bool {
        let Some(e) = self.ready_gen(hash, gen) else {
            return false;
        };
        e.verified = true;
        e.sum.replace(sum) != Some(sum)
    }

    /// The checksum records of the blobs present or being written.
    pub fn sums(&self) -> Vec<(BlobHash, Sum)> {
        let live = self
            .entries
            .iter()
            .filter(|(_, e)| e.slot != Slot::Removing);
        live.filter_map(|(h, e)| Some((*h, e.sum?))).collect()
    }

    /// Reserves room and a slot for a new blob whose verified bytes have
    /// checksum `sum`, or joins a write in flight.
    pub fn begin_put(
        &mut self,
        hash: BlobHash,
        sum: Sum,
        keep: Keep,
    ) -> Result<PutStep, StoreError> {
        let size = sum.len();
        match self.slot(&hash) {
            Some(Slot::Removing) => Ok(PutStep::Wait),
            Some(Slot::Ready) => {
                self.lru.touch(&hash);
                if keep == Keep::Staged {
                    self.lru.stage(hash, size);
                }
                Ok(PutStep::Stored)
            }
            Some(Slot::Writing(n)) => {
                self.set_slot(&hash, Slot::Writing(n + 1));
                self.lru.hold(&hash);
                match keep {
                    Keep::Pin => {
                        self.lru.pin(&hash);
                    }
                    Keep::Staged => {
                        self.lru.stage(hash, size);
                    }
                    Keep::Cache => {}
                }
                Ok(PutStep::Write(Vec::new()))
            }
            None => {
                let victims = match keep {
                    Keep::Pin => {
                        self.lru.insert_pinned(hash, size);
                        Vec::new()
                    }
                    Keep::Staged => {
                        self.lru.stage(hash, size);
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
                    self.set_slot(v, Slot::Removing);
                }
                self.lru.hold(&hash);
                // The bytes come from a `VerifiedBlob`.
                self.insert(hash, Slot::Writing(1), true, Some(sum));
                Ok(PutStep::Write(victims))
            }
        }
    }

    /// Ends one writer's `put`: the blob becomes visible, or (if this was the
    /// last writer and none succeeded) its reservation is dropped.
    pub fn end_put(&mut self, hash: &BlobHash, ok: bool) {
        match self.slot(hash) {
            Some(Slot::Writing(_)) if ok => self.set_slot(hash, Slot::Ready),
            Some(Slot::Writing(1)) => {
                self.entries.remove(hash);
                self.lru.remove(hash);
            }
            Some(Slot::Writing(n)) => self.set_slot(hash, Slot::Writing(n - 1)),
            _ => {}
        }
        self.lru.release(hash);
    }

    /// Takes generation `gen` of a visible blob out (corrupt): returns whether
    /// its file is now this caller's to delete.
    pub fn start_removal(&mut self, hash: &BlobHash, gen: u64) -> bool {
        let Some(e) = self.ready_gen(hash, gen) else {
            return false;
        };
        e.slot = Slot::Removing;
        self.lru.remove(hash);
        true
    }

    /// The files of these `Removing` blobs are gone.
    pub fn finish_removal(&mut self, hashes: &[BlobHash]) {
        for h in hashes {
            if self.slot(h) == Some(Slot::Removing) {
                self.entries.remove(h);
            }
        }
    }

    /// Generation `gen` of a visible blob lost its file: forget it. Returns
    /// whether it was still that generation and visible.
    pub fn forget(&mut self, hash: &BlobHash, gen: u64) -> bool {
        if self.ready_gen(hash, gen).is_none() {
            return false;
        }
        self.entries.remove(hash);
        self.lru.remove(hash);
        true
    }

    /// Those of `hashes` that are stored or being written and not pinned for
    /// good yet.
    pub fn unpinned_present(&self, hashes: &[BlobHash]) -> Vec<BlobHash> {
        let present = |h: &&BlobHash| matches!(self.slot(h), Some(Slot::Ready | Slot::Writing(_)));
        let unpinned = |h: &&BlobHash| !self.lru.is_pinned(h);
        hashes
            .iter()
            .filter(present)
            .filter(unpinned)
            .copied()
            .collect()
    }

    /// Pins those of `hashes` that are still stored or being written and were
    /// not pinned for good yet; returns them.
    pub fn pin_present(&mut self, hashes: &[BlobHash]) -> Vec<BlobHash> {
        let newly = self.unpinned_present(hashes);
        for h in &newly {
            self.lru.pin(h);
        }
        newly
    }

    /// Drops one stage of each visible blob of `hashes`; returns those whose
    /// last stage went, now `Removing`, for the caller to delete. A blob still
    /// being written keeps its stages: its writer has not finished.
    pub fn discard(&mut self, hashes: &[BlobHash]) -> Vec<BlobHash> {
        let mut removing = Vec::new();
        for h in hashes {
            if self.is_ready(h) && self.lru.unstage(h).is_some() {
                self.set_slot(h, Slot::Removing);
                removing.push(*h);
            }
        }
        removing
    }

    /// Takes every visible blob of `hashes` out, pinned or cached, except
    /// staged ones (a publish in progress owns them). Returns those now
    /// `Removing`, for the caller to delete, and those of them that were pinned.
    pub fn remove_visible(&mut self, hashes: &[BlobHash]) -> (Vec<BlobHash>, Vec<BlobHash>) {
        let (mut removing, mut were_pinned) = (Vec::new(), Vec::new());
        for h in hashes {
            if !self.is_ready(h) || self.lru.is_staged(h) {
                continue;
            }
            if self.lru.is_pinned(h) {
                were_pinned.push(*h);
            }
            self.lru.remove(h);
            self.set_slot(h, Slot::Removing);
            removing.push(*h);
        }
        (removing, were_pinned)
    }

    pub fn list(&self) -> Vec<BlobHash> {
        let ready = self.entries.iter().filter(|(_, e)| e.slot == Slot::Ready);
        ready.map(|(h, _)| *h).collect()
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats {
            blobs: self
                .entries
                .values()
                .filter(|e| e.slot == Slot::Ready)
                .count(),
            cached_bytes: self.lru.cached_bytes(),
            pinned_bytes: self.lru.pinned_bytes(),
            cap_bytes: self.lru.cap(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u8) -> BlobHash {
        BlobHash::from_bytes([i; 48])
    }

    fn put(ix: &mut Index, hash: BlobHash, size: u64) -> Vec<BlobHash> {
        let sum = Sum::of(&vec![0; size as usize]);
        let Ok(PutStep::Write(victims)) = ix.begin_put(hash, sum, Keep::Cache) else {
            panic!("expected a write");
        };
        ix.finish_removal(&victims);
        ix.end_put(&hash, true);
        victims
    }

    /// A reader learns a blob's generation, then (outside the lock) the blob
    /// is evicted, its file unlinked and the same hash stored again before
    /// the reader reports that its open failed or its bytes were corrupt.
    #[test]
    fn a_reader_of_an_evicted_blob_cannot_remove_its_successor() {
        let mut ix = Index::rebuild(100, Vec::new(), &[], &HashMap::new());
        put(&mut ix, h(1), 60);
        let seen = ix.ready(&h(1), true).unwrap();
        assert_eq!(put(&mut ix, h(2), 60), vec![h(1)]);
        assert_eq!(put(&mut ix, h(1), 60), vec![h(2)]);
        assert!(!ix.forget(&h(1), seen.gen), "forgot the newer entry");
        assert!(
            !ix.start_removal(&h(1), seen.gen),
            "removed the newer entry"
        );
        assert!(ix.is_ready(&h(1)));
        assert_eq!(ix.stats().cached_bytes, 60);
        let now = ix.ready(&h(1), false).unwrap();
        assert!(now.verified && now.gen != seen.gen);
        assert!(ix.forget(&h(1), now.gen));
        assert_eq!(ix.stats().cached_bytes, 0);
    }
}
