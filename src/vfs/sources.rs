//! Content from other networks in the mount: a [`TreeSource`] names some
//! root entries (a torrent's infohash, say) that are not sd hashes, and
//! resolves each to a [`TreeContent`], a read-only folder tree of files
//! read by offset. The filesystem knows nothing of the network behind it:
//! it builds the tree, gives it inodes, and applies the same rules as to
//! streams (every wait bounded by the read timeout, reasons logged and kept
//! for `status`, a retry of a range that just failed slowly fails at once,
//! read-ahead for sequential readers in 2 MiB units, the ends of a file
//! fetched on open).
//!
//! Inodes: the k-th content resolved gets the range `base_k ..
//! base_k + nodes`, with its top folder at `base_k` (node 0 of its tree),
//! in a range of its own below collection trees. Contents stay for the
//! life of the mount, bounded by [`MAX_NODES`] nodes in all; past that, a
//! further one is refused (not found, with the reason logged).

use super::{Attr, DirEntry, FsError, Kind, Vfs};
use crate::collection::tree::{Kind as TreeKind, Tree};
use crate::stream::{BoxFuture, Bytes};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, PoisonError, RwLock};

/// The first inode of source trees.
pub const SOURCE_BASE: u64 = 1 << 46;
/// Most nodes (files and folders) of all source trees together.
pub const MAX_NODES: usize = 4_000_000;
/// Listing cookies of source roots in the root: after streams, before names.
const COOKIE_BASE: u64 = 1 << 45;

/// Whether `ino` belongs to a source tree.
pub fn is_source_ino(ino: u64) -> bool {
    (SOURCE_BASE..super::trees::TREE_BASE).contains(&ino)
}

/// Root entries the mount resolves through another network. Implemented
/// by the node; the filesystem defines it (the consumer owns the seam).
pub trait TreeSource: Send + Sync + 'static {
    /// The key `name` stands for, if this source reads such names (pure,
    /// no network): the name the content is then listed under.
    fn key_of(&self, name: &str) -> Option<String>;
    /// Resolves a key (from `key_of`) to its content; the filesystem bounds
    /// the wait with the read timeout.
    fn open(&self, key: &str) -> BoxFuture<'_, Result<Arc<dyn TreeContent>, String>>;
}

/// A resolved folder tree of files.
pub trait TreeContent: Send + Sync + 'static {
    /// `/`-joined paths, checked (no `..`, no clash), and exact sizes.
    fn files(&self) -> &[(String, u64)];
    /// Bytes `[offset, offset + len)` of file `file` (fewer only at its
    /// end); may wait on the network (the filesystem bounds it).
    fn read(&self, file: usize, offset: u64, len: usize) -> BoxFuture<'_, Result<Bytes, String>>;
    /// Starts fetching a byte range of `file` a reader will want soon;
    /// returns at once.
    fn prefetch(&self, file: usize, range: Range<u64>);
    /// Extended attributes of file `file` (`user.…` names and values);
    /// asked on each `getxattr`/`listxattr`, so cheap and offline.
    fn xattrs(&self, _file: usize) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// A resolved content and its place in the inode space.
pub(super) struct Loaded {
    pub(super) key: String,
    base: u64,
    /// Its place among contents: listing cookie, failed-range key.
    pub(super) k: usize,
    pub(super) content: Arc<dyn TreeContent>,
    tree: Tree,
}

impl Loaded {
    fn ino(&self, i: usize) -> u64 {
        self.base + i as u64
    }

    /// The file index of tree node `i`, if it is a file.
    pub(super) fn file_of(&self, i: usize) -> Option<usize> {
        match self.tree.node(i)?.kind {
            TreeKind::File(f) => Some(f),
            TreeKind::Dir(_) => None,
        }
    }

    pub(super) fn size_of(&self, file: usize) -> u64 {
        self.content.files().get(file).map_or(0, |f| f.1)
    }
}

#[derive(Default)]
pub(super) struct Sources {
    pub(super) source: Option<Arc<dyn TreeSource>>,
    inner: RwLock<Inner>,
    /// Held while a key resolves, so two lookups do not resolve it twice.
    opening: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Inner {
    /// By increasing `base`.
    list: Vec<Arc<Loaded>>,
    by_key: HashMap<String, usize>,
    nodes: usize,
}

impl Sources {
    fn by_key(&self, key: &str) -> Option<Arc<Loaded>> {
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        t.by_key.get(key).map(|&k| t.list[k].clone())
    }

    fn insert(&self, key: String, content: Arc<dyn TreeContent>) -> Result<Arc<Loaded>, String> {
        let tree = Tree::from_paths(content.files().iter().map(|f| f.0.as_str()))
            .ok_or("too many files and folders")?;
        let mut t = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if t.nodes + tree.len() > MAX_NODES {
            return Err(format!(
                "more than {MAX_NODES} files and folders in the mount"
            ));
        }
        let (base, k) = (SOURCE_BASE + t.nodes as u64, t.list.len());
        t.nodes += tree.len();
        let l = Arc::new(Loaded {
            key: key.clone(),
            base,
            k,
            content,
            tree,
        });
        t.list.push(l.clone());
        t.by_key.insert(key, k);
        Ok(l)
    }

    /// The content and tree node of a source inode.
    /// The extended attributes of a source's file inode (`None`: not a
    /// source inode; empty: a folder).
    pub(super) fn xattrs_of(&self, ino: u64) -> Option<Vec<(&'static str, String)>> {
        let (l, i) = self.find(ino)?;
        Some(
            l.file_of(i)
                .map(|f| l.content.xattrs(f))
                .unwrap_or_default(),
        )
    }

    pub(super) fn find(&self, ino: u64) -> Option<(Arc<Loaded>, usize)> {
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let k = t.list.partition_point(|l| l.base <= ino).checked_sub(1)?;
        let l = t.list.get(k)?;
        let i = usize::try_from(ino - l.base).ok()?;
        (i < l.tree.len()).then(|| (l.clone(), i))
    }

    /// The root entries of resolved contents, in the order they came.
    pub(super) fn root_entries(&self) -> Vec<DirEntry> {
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let all = t.list.iter().map(|l| DirEntry {
            ino: l.base,
            kind: Kind::Dir,
            name: l.key.clone(),
            cookie: COOKIE_BASE + l.k as u64,
        });
        all.collect()
    }
}

impl Vfs {
    /// Content from another network: names resolve through `source`.
    pub fn with_tree_source(mut self, source: Arc<dyn TreeSource>) -> Self {
        self.sources.source = Some(source);
        self
    }

    /// The source key a root entry names, if a source reads it.
    pub(super) fn source_key(&self, name: &str) -> Option<String> {
        self.sources.source.as_ref()?.key_of(name)
    }

    /// The top folder of `key`'s content, resolving it within the read timeout.
    pub(super) async fn lookup_source_root(&self, key: String) -> Result<Attr, FsError> {
        let Some(source) = self.sources.source.clone() else {
            return Err(FsError::NotFound);
        };
        if let Some(l) = self.sources.by_key(&key) {
            return self.source_attr(&l, 0);
        }
        let _one = self.sources.opening.lock().await;
        if let Some(l) = self.sources.by_key(&key) {
            return self.source_attr(&l, 0);
        }
        let span = tracing::info_span!("resolve", key = %key);
        let opened = self
            .bounded(
                "resolving",
                tracing::Instrument::instrument(source.open(&key), span),
            )
            .await;
        let inserted = match opened {
            Ok(Ok(content)) => self.sources.insert(key.clone(), content),
            Ok(Err(e)) | Err(e) => Err(e),
        };
        match inserted {
            Ok(l) => {
                tracing::info!(key = %key, files = l.content.files().len(), "resolved");
                self.source_attr(&l, 0)
            }
            Err(why) => {
                self.record(format!("{key} not found: {why}"));
                Err(FsError::NotFound)
            }
        }
    }

    fn source_attr(&self, l: &Loaded, i: usize) -> Result<Attr, FsError> {
        match &l.tree.node(i).ok_or(FsError::NotFound)?.kind {
            TreeKind::Dir(_) => Ok(self.attr(l.ino(i), Kind::Dir, 0)),
            TreeKind::File(f) => Ok(self.attr(l.ino(i), Kind::File, l.size_of(*f))),
        }
    }

    pub(super) fn getattr_source(&self, ino: u64) -> Result<Attr, FsError> {
        let (l, i) = self.sources.find(ino).ok_or(FsError::NotFound)?;
        self.source_attr(&l, i)
    }

    pub(super) fn lookup_source(&self, parent: u64, name: &str) -> Result<Attr, FsError> {
        let (l, i) = self.sources.find(parent).ok_or(FsError::NotFound)?;
        if l.file_of(i).is_some() {
            return Err(FsError::NotDir);
        }
        let child = l.tree.lookup(i, name).ok_or(FsError::NotFound)?;
        self.source_attr(&l, child)
    }

    pub(super) fn readdir_source(&self, ino: u64, after: u64) -> Result<Vec<DirEntry>, FsError> {
        let (l, i) = self.sources.find(ino).ok_or(FsError::NotFound)?;
        super::trees::dir_entries(&l.tree, i, after, |c| l.ino(c))
    }

    /// Source contents listed in the root.
    pub(super) fn root_sources(&self) -> Vec<DirEntry> {
        self.sources.root_entries()
    }
}
