//! Streams the user pinned (`lbrymount pin`), as opposed to published ones.
//!
//! Both kinds keep their blobs pinned in the store (outside the cache cap,
//! never evicted), so the store alone cannot tell a stream the user
//! published from one fetched and pinned. This list, `<data_dir>/pinned-streams`
//! (one sd hash per line, replaced whole on each change), says which pinned
//! streams are the user's pins: `ls` shows them as pinned rather than
//! published, `unpin` may hand their blobs back to the cache, and `cache
//! drop` refuses them. The list lives beside the store under the same lock,
//! so one process at a time changes it.

use super::files::io_err;
use super::DiskStore;
use crate::hash::{BlobHash, SdHash};
use crate::store::StoreError;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file's name in the data dir.
pub const FILE_NAME: &str = "pinned-streams";

/// The user's pinned streams, kept in memory and on disk.
pub struct StreamPins {
    path: PathBuf,
    set: Mutex<BTreeSet<SdHash>>,
}

impl StreamPins {
    /// Reads the list in `data_dir` (empty if absent). Lines that are not an
    /// sd hash are skipped with a warning; they go at the next change.
    pub fn load(data_dir: &Path) -> Result<StreamPins, StoreError> {
        let path = data_dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        let mut set = BTreeSet::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match line.parse::<SdHash>() {
                Ok(sd) => {
                    set.insert(sd);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), line, error = %e, "ignoring a bad line in the pinned streams list")
                }
            }
        }
        Ok(StreamPins {
            path,
            set: Mutex::new(set),
        })
    }

    pub fn contains(&self, sd: &SdHash) -> bool {
        self.lock().contains(sd)
    }

    /// Every pinned stream, sorted.
    pub fn list(&self) -> Vec<SdHash> {
        self.lock().iter().copied().collect()
    }

    /// Adds a stream; returns whether it was new. Written before it counts.
    pub fn add(&self, sd: SdHash) -> Result<bool, StoreError> {
        self.change(|set| set.insert(sd))
    }

    /// Removes a stream; returns whether it was there.
    pub fn remove(&self, sd: &SdHash) -> Result<bool, StoreError> {
        self.change(|set| set.remove(sd))
    }

    fn change(&self, edit: impl FnOnce(&mut BTreeSet<SdHash>) -> bool) -> Result<bool, StoreError> {
        let mut set = self.lock();
        let mut next = set.clone();
        if !edit(&mut next) {
            return Ok(false);
        }
        let text: String = next.iter().map(|sd| format!("{sd}\n")).collect();
        crate::atomic_file::write(&self.path, text.as_bytes())
            .map_err(io_err("write", &self.path))?;
        *set = next;
        Ok(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<SdHash>> {
        self.set.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl DiskStore {
    /// The streams the user pinned.
    pub fn stream_pins(&self) -> &StreamPins {
        &self.streams
    }

    /// Hands blobs pinned for good back to the cache (an unpinned stream):
    /// they count against the cap again and may be evicted. Staged and
    /// absent blobs are left alone. Recorded in the pin log first.
    pub fn unpin(&self, hashes: &[BlobHash]) -> Result<(), StoreError> {
        let pinned: Vec<BlobHash> = {
            let index = self.lock();
            let is = |h: &&BlobHash| index.is_ready(h) && index.lru().is_pinned(h);
            hashes.iter().filter(is).copied().collect()
        };
        self.pins.append_removals(&pinned)?;
        let mut index = self.lock();
        for h in &pinned {
            index.lru_mut().unpin(h);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_survives_a_reload_and_skips_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b): (SdHash, SdHash) = (
            "ab".repeat(48).parse().unwrap(),
            "cd".repeat(48).parse().unwrap(),
        );
        let pins = StreamPins::load(dir.path()).unwrap();
        assert!(pins.add(a).unwrap());
        assert!(!pins.add(a).unwrap());
        assert!(pins.add(b).unwrap());
        assert!(pins.remove(&a).unwrap());
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        std::fs::write(dir.path().join(FILE_NAME), text + "junk\n").unwrap();
        let again = StreamPins::load(dir.path()).unwrap();
        assert_eq!(again.list(), vec![b]);
        assert!(!again.contains(&a));
    }
}
