//! Byte-capped LRU accounting with pins and holds: decides what to evict.
//!
//! PURE: no I/O, no clock, no logging. The stores call it under their index
//! lock and do the file work themselves, so the policy is tested on its own by
//! a model test (`lru/tests.rs`) against a naive reference.
//!
//! Three kinds of residents:
//! - *pinned* (published) blobs sit outside the cap and are never evicted;
//! - *cached* blobs count against a hard byte cap and are evicted least
//!   recently used first;
//! - *held* cached blobs (open files, in-flight reads and writes) still count
//!   against the cap but are never evicted while held.
//!
//! Admission is decided before the bytes are stored: [`Lru::admit`] either
//! returns the victims to delete first (already taken out of the accounting)
//! or refuses with [`Full`] and changes nothing, so the cap is never exceeded,
//! not even transiently. Holds are counted per hash and may precede the blob
//! (a reader holds a hash before its fetch lands), so a blob admitted while
//! held is protected from the start.
//!
//! Every operation is O(1) amortized (an admit costs O(1 + victims)): the
//! evictable blobs live in an intrusive LRU list, held ones beside it.

use crate::hash::BlobHash;
use ::lru::LruCache;
use std::collections::HashMap;

/// Admission refused: even after evicting every evictable blob, `needed`
/// bytes would not fit under `cap` because `held` bytes are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub needed: u64,
    pub cap: u64,
    pub held: u64,
}

/// The accounting of one store. See the module docs.
#[derive(Debug)]
pub struct Lru {
    cap: u64,
    /// Cached, not held: LRU first. Value: size in bytes.
    evictable: LruCache<BlobHash, u64>,
    /// Cached and held: never evicted. Value: size in bytes.
    held: HashMap<BlobHash, u64>,
    /// Pinned: outside the cap. Value: size in bytes.
    pinned: HashMap<BlobHash, u64>,
    /// Hold counts (never zero), for resident and absent hashes alike.
    holds: HashMap<BlobHash, u64>,
    /// Bytes of cached blobs (evictable + held); invariant: `used <= cap`.
    used: u64,
    held_bytes: u64,
    pinned_bytes: u64,
}

impl Lru {
    /// Empty accounting with a cap on cached bytes (`u64::MAX` for none).
    pub fn new(cap: u64) -> Self {
        Self {
            cap,
            evictable: LruCache::unbounded(),
            held: HashMap::new(),
            pinned: HashMap::new(),
            holds: HashMap::new(),
            used: 0,
            held_bytes: 0,
            pinned_bytes: 0,
        }
    }

    /// Admits a cached blob as the most recently used one. Returns the blobs
    /// to evict first, least recently used first, already removed from the
    /// accounting. A blob already resident is only touched. On `Err` nothing
    /// changed.
    pub fn admit(&mut self, hash: BlobHash, size: u64) -> Result<Vec<BlobHash>, Full> {
        if self.touch(&hash) {
            return Ok(Vec::new());
        }
        if size > self.cap.saturating_sub(self.held_bytes) {
            return Err(Full {
                needed: size,
                cap: self.cap,
                held: self.held_bytes,
            });
        }
        let mut victims = Vec::new();
        // Terminates: evicting everything evictable leaves `used == held_bytes`,
        // and `held_bytes + size <= cap` was checked above.
        while self.cap - self.used < size {
            match self.evictable.pop_lru() {
                Some((victim, vsize)) => {
                    self.used -= vsize;
                    victims.push(victim);
                }
                None => break,
            }
        }
        self.used += size;
        if self.holds.contains_key(&hash) {
            self.held.insert(hash, size);
            self.held_bytes += size;
        } else {
            self.evictable.push(hash, size);
        }
        Ok(victims)
    }

    /// Adds a pinned blob (outside the cap); pins it if it is already cached.
    pub fn insert_pinned(&mut self, hash: BlobHash, size: u64) {
        if !self.pin(&hash) {
            self.pinned.insert(hash, size);
            self.pinned_bytes += size;
        }
    }

    /// Moves a resident blob out of the cap accounting for good. Returns
    /// whether it is resident (pinned now).
    pub fn pin(&mut self, hash: &BlobHash) -> bool {
        if self.pinned.contains_key(hash) {
            return true;
        }
        let Some(size) = self.take_cached(hash) else {
            return false;
        };
        self.pinned.insert(*hash, size);
        self.pinned_bytes += size;
        true
    }

    /// Marks a blob used. Returns whether it is resident. A held blob keeps
    /// no position: it becomes the most recently used when released.
    pub fn touch(&mut self, hash: &BlobHash) -> bool {
        self.evictable.get(hash).is_some()
            || self.held.contains_key(hash)
            || self.pinned.contains_key(hash)
    }

    /// Adds one hold on a hash, resident or not.
    pub fn hold(&mut self, hash: &BlobHash) {
        let count = self.holds.entry(*hash).or_insert(0);
        *count += 1;
        if *count == 1 {
            if let Some(size) = self.evictable.pop(hash) {
                self.held.insert(*hash, size);
                self.held_bytes += size;
            }
        }
    }

    /// Drops one hold. When the last goes, a cached blob becomes evictable
    /// again as the most recently used. Returns false if the hash was not held.
    pub fn release(&mut self, hash: &BlobHash) -> bool {
        let Some(count) = self.holds.get_mut(hash) else {
            return false;
        };
        *count -= 1;
        if *count == 0 {
            self.holds.remove(hash);
            if let Some(size) = self.held.remove(hash) {
                self.held_bytes -= size;
                self.evictable.push(*hash, size);
            }
        }
        true
    }

    /// Forgets a resident blob (deleted, corrupt, or a failed write); its
    /// holds, if any, stay. Returns its size.
    pub fn remove(&mut self, hash: &BlobHash) -> Option<u64> {
        if let Some(size) = self.pinned.remove(hash) {
            self.pinned_bytes -= size;
            return Some(size);
        }
        self.take_cached(hash)
    }

    fn take_cached(&mut self, hash: &BlobHash) -> Option<u64> {
        if let Some(size) = self.held.remove(hash) {
            self.held_bytes -= size;
            self.used -= size;
            return Some(size);
        }
        let size = self.evictable.pop(hash)?;
        self.used -= size;
        Some(size)
    }

    /// The size of a resident blob (does not count as a use).
    pub fn size_of(&self, hash: &BlobHash) -> Option<u64> {
        self.evictable
            .peek(hash)
            .or_else(|| self.held.get(hash))
            .or_else(|| self.pinned.get(hash))
            .copied()
    }

    pub fn contains(&self, hash: &BlobHash) -> bool {
        self.size_of(hash).is_some()
    }

    pub fn is_pinned(&self, hash: &BlobHash) -> bool {
        self.pinned.contains_key(hash)
    }

    /// Whether the hash has at least one hold (resident or not).
    pub fn is_held(&self, hash: &BlobHash) -> bool {
        self.holds.contains_key(hash)
    }

    /// The pinned blobs, in no particular order.
    pub fn pinned(&self) -> impl Iterator<Item = &BlobHash> {
        self.pinned.keys()
    }

    /// Every resident blob, in no particular order.
    pub fn residents(&self) -> impl Iterator<Item = &BlobHash> {
        self.evictable
            .iter()
            .map(|(h, _)| h)
            .chain(self.held.keys())
            .chain(self.pinned.keys())
    }

    /// Resident blobs, pinned and cached.
    pub fn len(&self) -> usize {
        self.evictable.len() + self.held.len() + self.pinned.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Bytes of cached blobs, held ones included; never more than the cap.
    pub fn cached_bytes(&self) -> u64 {
        self.used
    }

    /// Bytes of cached blobs currently held.
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    pub fn pinned_bytes(&self) -> u64 {
        self.pinned_bytes
    }
}

#[cfg(test)]
mod tests;
