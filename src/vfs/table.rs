//! The inode table: which streams the mount knows, and the inode numbers
//! derived from their order. Streams are only ever added, so an inode never
//! changes meaning while the mount lives (the kernel caches them for long).
//! A stream the node stops sharing is *hidden*: gone from listings and name
//! lookups, while files already open keep reading; adding it again shows it
//! under the same inodes.

use crate::hash::SdHash;
use crate::stream::Stream;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

/// The root directory's inode (FUSE's fixed value).
pub const ROOT: u64 = 1;

/// The directory inode of the k-th stream.
pub fn dir_ino(k: usize) -> u64 {
    2 + 2 * k as u64
}

/// The listing cookie of a stream directory: its place among all streams
/// ever known, hidden or not, so it never moves (from 1).
pub fn cookie(dir: u64) -> u64 {
    dir / 2
}

/// The inode of the file inside directory `dir`.
pub fn file_ino(dir: u64) -> u64 {
    dir + 1
}

/// What an inode names.
pub enum Node {
    Root,
    Dir(Arc<Stream>),
    File(Arc<Stream>),
}

#[derive(Default)]
pub struct Table {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    streams: Vec<Arc<Stream>>,
    by_sd: HashMap<SdHash, usize>,
    hidden: HashSet<usize>,
}

impl Table {
    /// Adds a stream (or finds it) and returns its directory inode.
    pub fn insert(&self, stream: Arc<Stream>) -> u64 {
        let mut t = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let sd = stream.sd();
        if let Some(&k) = t.by_sd.get(&sd) {
            t.hidden.remove(&k);
            return dir_ino(k);
        }
        let k = t.streams.len();
        t.streams.push(stream);
        t.by_sd.insert(sd, k);
        dir_ino(k)
    }

    /// The directory of a listed stream.
    pub fn dir_of(&self, sd: &SdHash) -> Option<u64> {
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let k = *t.by_sd.get(sd)?;
        (!t.hidden.contains(&k)).then(|| dir_ino(k))
    }

    /// Hides a stream from listings and lookups; returns whether it was listed.
    pub fn hide(&self, sd: &SdHash) -> bool {
        let mut t = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        match t.by_sd.get(sd).copied() {
            Some(k) => t.hidden.insert(k),
            None => false,
        }
    }

    pub fn node(&self, ino: u64) -> Option<Node> {
        if ino == ROOT {
            return Some(Node::Root);
        }
        let k = usize::try_from(ino.checked_sub(2)? / 2).ok()?;
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let s = t.streams.get(k)?.clone();
        Some(if ino % 2 == 0 {
            Node::Dir(s)
        } else {
            Node::File(s)
        })
    }

    /// The listed streams with their directory inodes, in the order they became known.
    pub fn listed(&self) -> Vec<(u64, Arc<Stream>)> {
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let shown = t.streams.iter().enumerate();
        let shown = shown.filter(|(k, _)| !t.hidden.contains(k));
        shown.map(|(k, s)| (dir_ino(k), s.clone())).collect()
    }
}
