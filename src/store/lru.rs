//! Byte-capped LRU accounting with pins and holds: decides what to evict.
//!
//! PURE: no I/O, no clock, no logging. The stores call it under their index
//! lock and do the file work themselves, so the policy is tested on its own by
//! a model test (`lru/tests.rs`) against a naive reference.
//!
//! Kinds of residents:
//! - *pinned* (published) blobs sit outside the cap and are never evicted;
//! - *staged* blobs (a publish in progress) are accounted like pinned ones
//!   until [`Lru::pin`] makes them permanent or the last [`Lru::unstage`]
//!   drops them; the store does not persist them;
//! - *cached* blobs count against a hard byte cap and are evicted least
//!   recently used first;
//! - *held* cached blobs (open files, in-flight reads and writes) still count
//!   against the cap but are never evicted while held.
//!
//! Admission is decided before the bytes are stored: [`Lru::admit`] either
//! returns the victims to delete first (already taken out of the accounting)
//! or refuses with [`Full`] and changes nothing, so a write never takes the
//! cache over its cap, not even transiently. Blobs found at open are
//! [`Lru::load`]ed without evicting anything, so a store opened with a smaller
//! cap than its contents is over the cap until the next admission evicts it
//! back under: opening never deletes. Holds are counted per hash and may precede the blob
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
    /// Pinned or staged: outside the cap. Value: size in bytes.
    pinned: HashMap<BlobHash, u64>,
    /// Those of `pinned` that are only staged, with their stage counts (never zero).
    staged: HashMap<BlobHash, u64>,
    /// Hold counts (never zero), for resident and absent hashes alike.
    holds: HashMap<BlobHash, u64>,
    /// Bytes of cached blobs (evictable + held); `used <= cap` after every
    /// admission of a new blob (only `load` may leave it above).
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
            staged: HashMap::new(),
            holds: HashMap::new(),
            used: 0,
            held_bytes: 0,
            pinned_bytes: 0,
        }
    }

    /// Admits a cached blob as the most recently used one. Returns the blobs
    /// to evict first, least recently used first, already removed from the
    /// accounting, enough to bring the cached bytes (even if they were over
    /// the cap) back under it with the newcomer. A blob already resident is
    /// only touched. On `Err` nothing changed.
    pub fn admit(&mut self, hash: BlobHash, size: u64) -> Result<Vec<BlobHash>, Full> {
        if self.touch(&hash) {
            return Ok(Vec::new());
        }
        if self.held_bytes.saturating_add(size) > self.cap {
            return Err(Full {
                needed: size,
                cap: self.cap,
                held: self.held_bytes,
            });
        }
        let mut victims = Vec::new();
        // Terminates: evicting everything evictable leaves `used == held_bytes`,
        // and `held_bytes + size <= cap` was checked above.
        while self.used.saturating_add(size) > self.cap {
            match self.evictable.pop_lru() {
                Some((victim, vsize)) => {
                    self.used -= vsize;
                    victims.push(victim);
                }
                None => break,
            }
        }
        self.insert_cached(hash, size);
        Ok(victims)
    }

    /// Adds a cached blob that already exists (found at open) as the most
    /// recently used one, evicting nothing even if that takes the cached
    /// bytes over the cap: the next admission evicts back under it. A
    /// resident blob is left as it is.
    pub fn load(&mut self, hash: BlobHash, size: u64) {
        if !self.contains(&hash) {
            self.insert_cached(hash, size);
        }
    }

    fn insert_cached(&mut self, hash: BlobHash, size: u64) {
        self.used += size;
        if self.holds.contains_key(&hash) {
            self.held.insert(hash, size);
            self.held_bytes += size;
        } else {
            self.evictable.push(hash, size);
        }
    }

    /// Adds a pinned blob (outside the cap); pins it if it is already cached.
    pub fn insert_pinned(&mut self, hash: BlobHash, size: u64) {
        if !self.pin(&hash) {
            self.pinned.insert(hash, size);
            self.pinned_bytes += size;
        }
    }

    /// Moves a resident blob out of the cap accounting for good (a staged
    /// one stops being staged). Returns whether it is resident (pinned now).
    pub fn pin(&mut self, hash: &BlobHash) -> bool {
        if self.pinned.contains_key(hash) {
            self.staged.remove(hash);
            return true;
        }
        let Some(size) = self.take_cached(hash) else {
            return false;
        };
        self.pinned.insert(*hash, size);
        self.pinned_bytes += size;
        true
    }

    /// Moves a blob pinned for good back into the cache, as the most recently
    /// used one (an unpinned stream). Like [`load`](Self::load) it evicts
    /// nothing, so the cached bytes may stand over the cap until the next
    /// admission. Returns whether it was pinned for good (staged blobs stay).
    pub fn unpin(&mut self, hash: &BlobHash) -> bool {
        if !self.is_pinned(hash) {
            return false;
        }
        let Some(size) = self.pinned.remove(hash) else {
            return false;
        };
        self.pinned_bytes -= size;
        self.insert_cached(*hash, size);
        true
    }

    /// Stages a blob for a publish in progress: outside the cap and never
    /// evicted, like a pin, until [`pin`](Self::pin) makes it permanent or
    /// [`unstage`](Self::unstage) drops it. A cached blob is moved (its size
    /// kept), an absent one added. Stages are counted, so publishes sharing a
    /// blob do not undo each other. Returns false, changing nothing, for a
    /// blob already pinned for good.
    pub fn stage(&mut self, hash: BlobHash, size: u64) -> bool {
        if let Some(count) = self.staged.get_mut(&hash) {
            *count += 1;
            return true;
        }
        if self.pinned.contains_key(&hash) {
            return false;
        }
        let size = self.take_cached(&hash).unwrap_or(size);
        self.pinned.insert(hash, size);
        self.pinned_bytes += size;
        self.staged.insert(hash, 1);
        true
    }

    /// Drops one stage. When the last one goes the blob leaves the accounting
    /// (its publish failed) and its size is returned, for the caller to delete
    /// it; otherwise (still staged, pinned for good, or absent) `None`.
    pub fn unstage(&mut self, hash: &BlobHash) -> Option<u64> {
        let count = self.staged.get_mut(hash)?;
        *count -= 1;
        if *count > 0 {
            return None;
        }
        self.remove(hash)
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
        self.staged.remove(hash);
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

    /// Whether the blob is pinned for good (staged ones are not).
    pub fn is_pinned(&self, hash: &BlobHash) -> bool {
        self.pinned.contains_key(hash) && !self.staged.contains_key(hash)
    }

    pub fn is_staged(&self, hash: &BlobHash) -> bool {
        self.staged.contains_key(hash)
    }

    /// Whether the hash has at least one hold (resident or not).
    pub fn is_held(&self, hash: &BlobHash) -> bool {
        self.holds.contains_key(hash)
    }

    /// The blobs pinned for good, in no particular order.
    pub fn pinned(&self) -> impl Iterator<Item = &BlobHash> {
        self.pinned.keys().filter(|h| !self.staged.contains_key(*h))
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

    /// Bytes of cached blobs, held ones included; more than the cap only
    /// after blobs were loaded over it and before the next admission.
    pub fn cached_bytes(&self) -> u64 {
        self.used
    }

    /// Bytes of cached blobs currently held.
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    /// Bytes of pinned and staged blobs.
    pub fn pinned_bytes(&self) -> u64 {
        self.pinned_bytes
    }
}

#[cfg(test)]
mod tests;
