//! Collections in the mount: `<collection sd hash>/` shows the folder tree
//! the collection names (docs/protocol.md §12) instead of the one file of
//! its document, and each file reads its own stream on demand.
//!
//! A stream directory whose descriptor names a collection is loaded (its
//! document read within the read timeout, at most 16 MiB, checked as `get`
//! checks it) the first time it is looked into; a document that does not
//! parse leaves the directory as a plain stream directory, with the reason
//! logged. A loaded tree is immutable, so its inodes are stable: the tree's
//! root is the stream directory's own inode, and node `i` (from 1) of the
//! k-th tree loaded is `TREE_BASE + base_k + i`, in a range of its own below
//! the name space. Trees stay loaded for the life of the mount, bounded by
//! [`MAX_LOADED_NODES`] nodes in all; past that, further collections show
//! as plain streams.

use super::table::Node;
use super::{name_table, Attr, DirEntry, FsError, Kind, Vfs};
use crate::collection::tree::{Kind as TreeKind, Tree};
use crate::collection::{self, Collection};
use crate::stream::Stream;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

/// The first inode of collection trees.
pub const TREE_BASE: u64 = 1 << 47;
/// Most tree nodes (files and folders) loaded at once, over all collections.
pub const MAX_LOADED_NODES: usize = 2_000_000;

/// Whether `ino` is a node of a collection tree (other than its root).
pub fn is_tree_ino(ino: u64) -> bool {
    (TREE_BASE..name_table::NAME_BASE).contains(&ino)
}

/// A loaded collection.
pub struct Mounted {
    /// The stream directory it shows in: the tree's root.
    dir: u64,
    /// Node `i` (from 1) has inode `base + i`.
    base: u64,
    coll: Collection,
    tree: Tree,
}

impl Mounted {
    fn ino(&self, i: usize) -> u64 {
        if i == 0 {
            self.dir
        } else {
            self.base + i as u64
        }
    }
}

#[derive(Default)]
pub struct Trees {
    inner: RwLock<Inner>,
    /// Held while a document loads, so two lookups do not load it twice.
    loading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Inner {
    /// By increasing `base`.
    list: Vec<Arc<Mounted>>,
    by_dir: HashMap<u64, usize>,
    nodes: usize,
}

impl Trees {
    fn by_dir(&self, dir: u64) -> Option<Arc<Mounted>> {
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        t.by_dir.get(&dir).map(|&k| t.list[k].clone())
    }

    /// Adds a tree; `None` past [`MAX_LOADED_NODES`].
    fn insert(&self, dir: u64, coll: Collection, tree: Tree) -> Option<Arc<Mounted>> {
        let mut t = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if t.nodes + tree.len() > MAX_LOADED_NODES {
            return None;
        }
        let base = TREE_BASE + t.nodes as u64;
        t.nodes += tree.len();
        let m = Arc::new(Mounted {
            dir,
            base,
            coll,
            tree,
        });
        let k = t.list.len();
        t.list.push(m.clone());
        t.by_dir.insert(dir, k);
        Some(m)
    }

    /// The tree and node index of a tree inode.
    fn find(&self, ino: u64) -> Option<(Arc<Mounted>, usize)> {
        let t = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let k = t.list.partition_point(|m| m.base < ino).checked_sub(1)?;
        let m = t.list.get(k)?;
        let i = usize::try_from(ino - m.base).ok()?;
        (i >= 1 && i < m.tree.len()).then(|| (m.clone(), i))
    }
}

impl Vfs {
    /// The tree shown in stream directory `dir`, loading it if its stream
    /// is a collection; `None` for a plain stream.
    pub(super) async fn tree_of(
        &self,
        dir: u64,
        s: &Arc<Stream>,
    ) -> Result<Option<Arc<Mounted>>, FsError> {
        if !collection::is_collection_name(s.descriptor().suggested_file_name()) {
            return Ok(None);
        }
        if let Some(m) = self.trees.by_dir(dir) {
            return Ok(Some(m));
        }
        let _one = self.trees.loading.lock().await;
        if let Some(m) = self.trees.by_dir(dir) {
            return Ok(Some(m));
        }
        let size = match s.known_size() {
            Some(n) => n,
            None => self.file_size(s).await?,
        };
        if size > collection::MAX_BYTES as u64 {
            tracing::warn!(sd = %s.sd().short(), size, "a collection too large to show; shown as a stream");
            return Ok(None);
        }
        let bytes = match self
            .bounded("reading the collection", s.read(0, size as usize))
            .await
        {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                return Err(self.io_error(s.sd(), "reading the collection", e.to_string()))
            }
            Err(e) => return Err(self.io_error(s.sd(), "reading the collection", e)),
        };
        let parsed = Collection::parse(&bytes).map_err(|e| e.to_string());
        let built = parsed.and_then(|c| match Tree::build(&c) {
            Some(t) => Ok((c, t)),
            None => Err("too many folders".to_owned()),
        });
        let (coll, tree) = match built {
            Ok(ct) => ct,
            Err(why) => {
                tracing::warn!(sd = %s.sd().short(), %why, "not a usable collection; shown as a stream");
                return Ok(None);
            }
        };
        let files = coll.entries().len();
        let m = self.trees.insert(dir, coll, tree);
        match &m {
            Some(_) => {
                tracing::info!(sd = %s.sd().short(), files, "collection shown as a folder tree")
            }
            None => {
                tracing::warn!(sd = %s.sd().short(), "too many collection nodes loaded; shown as a stream")
            }
        }
        Ok(m)
    }

    fn tree_attr(&self, m: &Mounted, i: usize) -> Result<Attr, FsError> {
        match &m.tree.node(i).ok_or(FsError::NotFound)?.kind {
            TreeKind::Dir(_) => Ok(self.attr(m.ino(i), Kind::Dir, 0)),
            TreeKind::File(e) => {
                let size = m.coll.entries().get(*e).map_or(0, |e| e.size);
                Ok(self.attr(m.ino(i), Kind::File, size))
            }
        }
    }

    /// `name` in folder `i` of tree `m`.
    pub(super) fn tree_lookup(&self, m: &Mounted, i: usize, name: &str) -> Result<Attr, FsError> {
        match &m.tree.node(i).ok_or(FsError::NotFound)?.kind {
            TreeKind::Dir(_) => {}
            TreeKind::File(_) => return Err(FsError::NotDir),
        }
        let child = m.tree.lookup(i, name).ok_or(FsError::NotFound)?;
        self.tree_attr(m, child)
    }

    /// Folder `i` of tree `m`, after cookie `after`.
    pub(super) fn tree_readdir(
        &self,
        m: &Mounted,
        i: usize,
        after: u64,
    ) -> Result<Vec<DirEntry>, FsError> {
        dir_entries(&m.tree, i, after, |c| m.ino(c))
    }

    pub(super) async fn lookup_tree(&self, parent: u64, name: &str) -> Result<Attr, FsError> {
        let (m, i) = self.trees.find(parent).ok_or(FsError::NotFound)?;
        self.tree_lookup(&m, i, name)
    }

    pub(super) fn getattr_tree(&self, ino: u64) -> Result<Attr, FsError> {
        let (m, i) = self.trees.find(ino).ok_or(FsError::NotFound)?;
        self.tree_attr(&m, i)
    }

    pub(super) fn readdir_tree(&self, ino: u64, after: u64) -> Result<Vec<DirEntry>, FsError> {
        let (m, i) = self.trees.find(ino).ok_or(FsError::NotFound)?;
        self.tree_readdir(&m, i, after)
    }

    /// The sd hash of a tree file.
    fn tree_file_sd(&self, ino: u64) -> Result<crate::hash::SdHash, FsError> {
        let (m, i) = self.trees.find(ino).ok_or(FsError::NotFound)?;
        match m.tree.node(i).ok_or(FsError::NotFound)?.kind {
            TreeKind::File(e) => m
                .coll
                .entries()
                .get(e)
                .map(|e| e.sd)
                .ok_or(FsError::NotFound),
            TreeKind::Dir(_) => Err(FsError::IsDir),
        }
    }

    /// The stream of a tree file, resolved from the network if unknown.
    pub(super) async fn tree_file_stream(&self, ino: u64) -> Result<Arc<Stream>, FsError> {
        let sd = self.tree_file_sd(ino)?;
        let dir = match self.table.dir_of(&sd) {
            Some(dir) => dir,
            None => self.resolve(sd).await?,
        };
        match self.table.node(dir) {
            Some(Node::Dir(s)) => Ok(s),
            _ => Err(FsError::NotFound),
        }
    }

    /// The stream of a tree file, if the mount knows it (no network).
    pub(super) fn tree_stream_known(&self, ino: u64) -> Option<Arc<Stream>> {
        let sd = self.tree_file_sd(ino).ok()?;
        match self.table.node(self.table.dir_of(&sd)?)? {
            Node::Dir(s) => Some(s),
            _ => None,
        }
    }
}

/// Folder `i` of `tree` as directory entries after cookie `after`; a
/// child's cookie is its position plus one, its inode `ino(child)`.
pub(super) fn dir_entries(
    tree: &Tree,
    i: usize,
    after: u64,
    ino: impl Fn(usize) -> u64,
) -> Result<Vec<DirEntry>, FsError> {
    let TreeKind::Dir(children) = &tree.node(i).ok_or(FsError::NotFound)?.kind else {
        return Err(FsError::NotDir);
    };
    let entries = children.iter().enumerate().filter_map(|(pos, &c)| {
        let n = tree.node(c)?;
        let kind = match n.kind {
            TreeKind::Dir(_) => Kind::Dir,
            TreeKind::File(_) => Kind::File,
        };
        Some(DirEntry {
            ino: ino(c),
            kind,
            name: n.name.clone(),
            cookie: pos as u64 + 1,
        })
    });
    Ok(entries.filter(|e| e.cookie > after).collect())
}
