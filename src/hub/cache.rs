//! Answers kept for later: a few minutes in memory, so a directory listing
//! that looks up every name asks the hub once, and the last answer per name
//! on disk, so a name whose stream is in the store still opens when no hub
//! answers (the caller says how old that answer is).
//!
//! [`MemCache`] is pure (it takes `now`); [`Saved`] is one small JSON file
//! per name under `<data-dir>/names/`, named by the SHA-256 of the key,
//! replaced atomically, read with a size bound, and pruned to
//! [`MAX_SAVED`] files, oldest first. Its file work (an fsync per answer)
//! runs on tokio's blocking pool, off the threads that serve the mount.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How many names are kept on disk.
pub const MAX_SAVED: usize = 20_000;
/// A saved answer larger than this is ignored (a channel page is tens of KiB).
const MAX_SAVED_BYTES: u64 = 4 << 20;
/// Prune the directory once per this many writes.
const PRUNE_EVERY: u32 = 256;

/// A bounded map whose entries expire after `ttl`.
#[derive(Debug)]
pub struct MemCache<V> {
    ttl: Duration,
    cap: usize,
    map: HashMap<String, (Instant, V)>,
}

impl<V: Clone> MemCache<V> {
    pub fn new(ttl: Duration, cap: usize) -> Self {
        MemCache {
            ttl,
            cap: cap.max(1),
            map: HashMap::new(),
        }
    }

    /// The value stored under `key` less than `ttl` before `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        let (at, v) = self.map.get(key)?;
        (now.saturating_duration_since(*at) < self.ttl).then(|| v.clone())
    }

    /// Stores `v`; when full, expired entries go first, then the oldest.
    pub fn put(&mut self, key: String, v: V, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        if self.map.len() >= self.cap && !self.map.contains_key(&key) {
            let ttl = self.ttl;
            self.map
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < ttl);
            if self.map.len() >= self.cap {
                let oldest = self
                    .map
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.map.remove(&k);
                }
            }
        }
        self.map.insert(key, (now, v));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[derive(Serialize, Deserialize)]
struct Entry<V> {
    key: String,
    /// Seconds since the Unix epoch.
    saved_at: u64,
    value: V,
}

/// The last answer per key, in a directory.
#[derive(Debug)]
pub struct Saved {
    dir: PathBuf,
    writes: AtomicU32,
}

impl Saved {
    pub fn new(data_dir: &Path) -> Self {
        Saved {
            dir: data_dir.join("names"),
            writes: AtomicU32::new(0),
        }
    }

    fn file(&self, key: &str) -> PathBuf {
        let h = Sha256::digest(key.as_bytes());
        self.dir.join(format!("{}.json", hex::encode(&h[..16])))
    }

    /// The saved answer for `key` and its age; `None` when absent or unreadable.
    pub fn load<V: DeserializeOwned>(&self, key: &str) -> Option<(Duration, V)> {
        use std::io::Read;
        let f = std::fs::File::open(self.file(key)).ok()?;
        let mut bytes = Vec::new();
        f.take(MAX_SAVED_BYTES + 1).read_to_end(&mut bytes).ok()?;
        if bytes.len() as u64 > MAX_SAVED_BYTES {
            return None;
        }
        let e: Entry<V> = serde_json::from_slice(&bytes).ok()?;
        if e.key != key {
            return None;
        }
        let age = unix_now().saturating_sub(e.saved_at);
        Some((Duration::from_secs(age), e.value))
    }

    /// [`Saved::load`] on the blocking pool.
    pub async fn get<V: DeserializeOwned + Send + 'static>(
        self: &Arc<Self>,
        key: &str,
    ) -> Option<(Duration, V)> {
        let (me, key) = (self.clone(), key.to_string());
        tokio::task::spawn_blocking(move || me.load(&key))
            .await
            .ok()
            .flatten()
    }

    /// [`Saved::store`] on the blocking pool.
    pub async fn put<V: Serialize>(self: &Arc<Self>, key: &str, value: &V) {
        let Some(bytes) = self.encode(key, value) else {
            return;
        };
        let (me, key) = (self.clone(), key.to_string());
        let _ = tokio::task::spawn_blocking(move || me.write(&key, &bytes)).await;
    }

    /// Replaces the saved answer for `key`; a failure is logged, not fatal.
    pub fn store<V: Serialize>(&self, key: &str, value: &V) {
        if let Some(bytes) = self.encode(key, value) {
            self.write(key, &bytes);
        }
    }

    fn encode<V: Serialize>(&self, key: &str, value: &V) -> Option<Vec<u8>> {
        let entry = Entry {
            key: key.to_string(),
            saved_at: unix_now(),
            value,
        };
        serde_json::to_vec(&entry)
            .inspect_err(|e| tracing::warn!(key, error = %e, "cannot encode the answer"))
            .ok()
    }

    fn write(&self, key: &str, bytes: &[u8]) {
        use std::os::unix::fs::DirBuilderExt;
        // The data dir is private (it holds stream keys); create it so.
        let written = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .and_then(|()| crate::atomic_file::write(&self.file(key), bytes));
        if let Err(e) = written {
            tracing::warn!(key, error = %e, dir = %self.dir.display(), "cannot save the answer for offline use");
        }
        if self.writes.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            prune(&self.dir, MAX_SAVED);
        }
    }
}

/// Removes the oldest files of `dir` until at most `keep` remain.
fn prune(dir: &Path, keep: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(SystemTime, PathBuf)> = rd
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort();
    let excess = files.len() - keep;
    for (_, p) in files.into_iter().take(excess) {
        let _ = std::fs::remove_file(p);
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_map_stays_bounded() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut c = MemCache::new(Duration::from_secs(60), 3);
        c.put("a".into(), 1, t0);
        assert_eq!(c.get("a", t0 + 59 * s), Some(1));
        assert_eq!(c.get("a", t0 + 60 * s), None, "expired");
        c.put("b".into(), 2, t0 + s);
        c.put("c".into(), 3, t0 + 2 * s);
        c.put("d".into(), 4, t0 + 3 * s);
        assert_eq!(c.len(), 3);
        assert_eq!(c.get("a", t0 + 3 * s), None, "the oldest went");
        assert_eq!(c.get("d", t0 + 3 * s), Some(4));
        let mut off = MemCache::new(Duration::ZERO, 3);
        off.put("a".into(), 1, t0);
        assert!(off.is_empty());
    }

    #[test]
    fn saved_answers_come_back_and_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let saved = Saved::new(dir.path());
        assert_eq!(saved.load::<u32>("lbry://a"), None);
        saved.store("lbry://a", &7u32);
        let (age, v) = saved.load::<u32>("lbry://a").unwrap();
        assert_eq!(v, 7);
        assert!(age < Duration::from_secs(5));
        assert_eq!(saved.load::<u32>("lbry://b"), None);
        std::fs::write(saved.file("lbry://b"), b"not json").unwrap();
        assert_eq!(saved.load::<u32>("lbry://b"), None, "garbage is ignored");
        for i in 0..5 {
            saved.store(&format!("k{i}"), &i);
        }
        prune(&dir.path().join("names"), 3);
        assert_eq!(
            std::fs::read_dir(dir.path().join("names")).unwrap().count(),
            3
        );
    }
}
