//! The mounted filesystem as a model: names, inodes, attributes, open files
//! and reads, with no FUSE types, so it is tested without a kernel.
//!
//! The tree is read-only, two levels deep but for collections (see `trees`):
//! - the root lists the streams this node knows (published, cached, looked
//!   up) as directories named by sd hash; looking up any other valid sd hash
//!   resolves it from the network, within the read timeout;
//! - each stream directory holds one file, named from its descriptor, with
//!   its exact size; names and `.search/TEXT/` are `by_name`, `search_dir`.
//!
//! Inodes are stable for the life of the mount: the root is 1, and the k-th
//! stream known gets directory `2 + 2k` and file `3 + 2k`. Listing cookies
//! derive from the same `k`, so a listing read in parts while streams come
//! and go skips none that stayed. A stream that leaves is also forgotten by
//! the kernel at once (through [`KernelCache`]), not when its name's long
//! cache time runs out.
//!
//! Every operation that may touch the network is async and bounded by the
//! read timeout; a read that cannot be served fails with [`FsError::Io`],
//! whose reason (with its causes) is logged and kept for `status`; the
//! kernel's immediate retry of a failed range fails at once (`failed`), so a
//! reader waits the read timeout once, not twice. Open files hold their first
//! and last blob in the cache (container headers and trailers live there);
//! other blobs are read through the shared decrypted-blob cache and may be
//! evicted from the disk cache once read, so a cache smaller than one file
//! still serves it.

mod by_name;
mod failed;
mod files;
mod handles;
mod name_table;
pub mod names;
pub mod search_dir;
mod source_files;
pub mod sources;
mod table;
#[cfg(test)]
mod tests;
mod trees;
mod xattrs;

use crate::hash::{BlobHash, SdHash};
use crate::sd::StreamDescriptor;
use crate::store::{HasBlob, HoldBlobs, Stats};
use crate::stream::plain::PlainCache;
use crate::stream::readahead::ReadAheadConfig;
use crate::stream::{BlobSource, Stream};
use handles::Handles;
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use table::{Node, Table};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use name_table::is_name_ino;
pub use search_dir::{Found, Searcher, SEARCH_DIR};
pub use sources::{TreeContent, TreeSource};
pub use table::ROOT;
pub use xattrs::CONTROL_XATTR;

/// What the filesystem needs of the store: holds on an open file's first and
/// last blob, which blobs are present (`user.lbry.cached`), and its figures.
pub trait VfsStore: HasBlob + HoldBlobs + Stats + Send + Sync + 'static {}

impl<S: HasBlob + HoldBlobs + Stats + Send + Sync + 'static> VfsStore for S {}

/// What the filesystem tells the node around it. Implemented by the node;
/// the filesystem defines it (the consumer owns the seam).
pub trait NodeHooks: Send + Sync + 'static {
    /// A stream became known to the mount: its blobs' peers are the sd hash's.
    fn stream_known(&self, desc: &StreamDescriptor);
    /// A stream's sd blob and first data blob are in the cache: announce it (re-seeding).
    fn stream_cached(&self, sd: SdHash, first: Option<BlobHash>);
    /// Peers known for a stream (for the `user.lbry.peers` attribute).
    fn peers_known(&self, sd: &SdHash) -> usize;
}

/// The kernel's caches of names, told when a name stops meaning what it
/// did. Implemented by the FUSE adapter; the filesystem defines it.
pub trait KernelCache: Send + Sync + 'static {
    /// Forget `name` in directory `parent` (and what it resolved to).
    fn forget_entry(&self, parent: u64, name: &str);
}

/// Why an operation failed; `fuse.rs` maps each to one errno.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    #[error("no such file or directory")]
    NotFound,
    #[error("not a directory")]
    NotDir,
    #[error("is a directory")]
    IsDir,
    #[error("no such attribute")]
    NoAttr,
    #[error("bad file handle")]
    BadHandle,
    #[error("not a symbolic link")]
    NotLink,
    #[error("{0}")]
    Io(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    /// A claim whose content lives elsewhere in the mount (a torrent's).
    Symlink,
}

/// What `stat` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub kind: Kind,
    pub size: u64,
    /// Permission bits: read-only for everyone.
    pub perm: u16,
    pub nlink: u32,
    pub mtime: SystemTime,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    pub kind: Kind,
    pub name: String,
    /// Where a listing resumes after this entry: at least 1, increasing
    /// along the listing, and the same for the entry while the mount lives,
    /// whatever joins or leaves the listing meanwhile.
    pub cookie: u64,
}

#[derive(Debug, Clone)]
pub struct VfsConfig {
    /// Longest time any operation waits on the network.
    pub read_timeout: Duration,
    pub readahead: ReadAheadConfig,
    /// Decrypted blobs kept in memory (2 MiB each), shared by all readers.
    pub plain_blobs: usize,
    /// Cancelled when the node stops: read-ahead and the prefetch on open end.
    pub stop: CancellationToken,
    /// The node's control socket, shown on the root as `user.lbrymount.control`
    /// so `lbrymount unmount MOUNTPOINT` finds the node behind a mount.
    pub control_socket: Option<std::path::PathBuf>,
}

impl Default for VfsConfig {
    fn default() -> Self {
        Self {
            read_timeout: Duration::from_secs(30),
            readahead: ReadAheadConfig::default(),
            plain_blobs: 16,
            stop: CancellationToken::new(),
            control_socket: None,
        }
    }
}

/// Read errors kept for `status`.
const RECENT_ERRORS: usize = 32;

pub struct Vfs {
    cfg: VfsConfig,
    store: Arc<dyn VfsStore>,
    source: Arc<dyn BlobSource>,
    hooks: Arc<dyn NodeHooks>,
    plain: Arc<PlainCache>,
    table: Table,
    handles: Handles,
    kernel: std::sync::OnceLock<Arc<dyn KernelCache>>,
    mounted_at: SystemTime,
    errors: Mutex<VecDeque<(SystemTime, String)>>,
    failed: Mutex<failed::RecentFailures>,
    names: Option<Arc<dyn names::Names>>,
    name_table: name_table::NameTable,
    searcher: Option<Arc<dyn Searcher>>,
    trees: trees::Trees,
    sources: sources::Sources,
    source_handles: source_files::SourceHandles,
}

impl Vfs {
    pub fn new(
        cfg: VfsConfig,
        store: Arc<dyn VfsStore>,
        source: Arc<dyn BlobSource>,
        hooks: Arc<dyn NodeHooks>,
    ) -> Self {
        Self {
            plain: Arc::new(PlainCache::new(cfg.plain_blobs)),
            handles: Handles::new(cfg.readahead, cfg.stop.clone()),
            source_handles: source_files::SourceHandles::new(cfg.readahead),
            cfg,
            store,
            source,
            hooks,
            table: Table::default(),
            kernel: std::sync::OnceLock::new(),
            mounted_at: SystemTime::now(),
            errors: Mutex::new(VecDeque::new()),
            failed: Mutex::new(failed::RecentFailures::new(failed::RETRY_WINDOW)),
            names: None,
            name_table: name_table::NameTable::default(),
            searcher: None,
            trees: trees::Trees::default(),
            sources: sources::Sources::default(),
        }
    }

    /// Names (`@chan`, `name`) resolve through `names`; without, only sd
    /// hashes do.
    pub fn with_names(mut self, names: Arc<dyn names::Names>) -> Self {
        self.names = Some(names);
        self
    }

    /// Makes a stream known (listed in the root) and returns its directory inode.
    pub fn add_stream(&self, desc: StreamDescriptor) -> u64 {
        let sd = desc.sd_hash();
        if let Some(ino) = self.table.dir_of(&sd) {
            return ino;
        }
        self.hooks.stream_known(&desc);
        let stream = Stream::new(Arc::new(desc), self.source.clone(), self.plain.clone());
        self.table.insert(Arc::new(stream))
    }

    /// Where to tell the kernel that names changed (once mounted).
    pub fn set_kernel_cache(&self, kernel: Arc<dyn KernelCache>) {
        if self.kernel.set(kernel).is_err() {
            tracing::warn!("the kernel cache was already set; keeping the first");
        }
    }

    /// Hides a stream the node no longer shares: it leaves the root listing,
    /// the kernel forgets its name, and name lookups resolve it afresh; open
    /// files keep reading.
    pub fn remove_stream(&self, sd: &SdHash) {
        if self.table.hide(sd) {
            if let Some(k) = self.kernel.get() {
                k.forget_entry(ROOT, &sd.to_string());
            }
            tracing::info!(sd = %sd.short(), "stream removed from the mount");
        }
    }

    /// Streams listed, in the order they became known.
    pub fn streams(&self) -> Vec<SdHash> {
        self.table.listed().iter().map(|(_, s)| s.sd()).collect()
    }

    /// The cache's figures (for `statfs` and `status`).
    pub fn cache_stats(&self) -> crate::store::StoreStats {
        self.store.stats()
    }

    /// The most recent read errors, oldest first.
    pub fn recent_errors(&self) -> Vec<(SystemTime, String)> {
        let e = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        e.iter().cloned().collect()
    }

    /// Finds `name` in directory `parent`, resolving unknown sd hashes from the network.
    pub async fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr, FsError> {
        let name = name.to_str().ok_or(FsError::NotFound)?;
        if name_table::is_name_ino(parent) {
            return self.lookup_name(parent, name).await;
        }
        if trees::is_tree_ino(parent) {
            return self.lookup_tree(parent, name).await;
        }
        if sources::is_source_ino(parent) {
            return self.lookup_source(parent, name);
        }
        if parent == ROOT {
            if let Some(key) = self.source_key(name) {
                return self.lookup_source_root(key).await;
            }
        }
        match self.table.node(parent) {
            Some(Node::Root) if name == SEARCH_DIR && self.searcher.is_some() => {
                self.getattr(self.search_root()?).await
            }
            Some(Node::Root) if names::is_name(name) && self.names.is_some() => {
                self.lookup_name(ROOT, name).await
            }
            Some(Node::Root) => {
                // Not an sd hash (nor a name): not found, without the network.
                let sd: SdHash = name.parse().map_err(|_| FsError::NotFound)?;
                let ino = match self.table.dir_of(&sd) {
                    Some(ino) => ino,
                    None => self.resolve(sd).await?,
                };
                self.getattr(ino).await
            }
            Some(Node::Dir(s)) => match self.tree_of(parent, &s).await? {
                Some(tree) => self.tree_lookup(&tree, 0, name),
                None if name == s.descriptor().file_name() => {
                    self.getattr(table::file_ino(parent)).await
                }
                None => Err(FsError::NotFound),
            },
            Some(Node::File(_)) => Err(FsError::NotDir),
            None => Err(FsError::NotFound),
        }
    }

    /// Fetches an unknown stream's descriptor and makes it known.
    async fn resolve(&self, sd: SdHash) -> Result<u64, FsError> {
        let span = tracing::info_span!("resolve", sd = %sd.short());
        let fetch = self.source.blob(sd.as_blob(), None, true).instrument(span);
        let fetched = self.bounded("resolving the stream", fetch).await;
        let blob = match fetched {
            Ok(Ok(blob)) => blob,
            Ok(Err(e)) => {
                self.record(format!("stream {sd} not found: {}", crate::error_chain(&e)));
                return Err(FsError::NotFound);
            }
            Err(e) => {
                self.record(format!("stream {sd} not found: {e}"));
                return Err(FsError::NotFound);
            }
        };
        match StreamDescriptor::parse_verified(blob.data(), &sd) {
            Ok(desc) => {
                tracing::info!(name = %desc.file_name(), "stream resolved");
                let ino = self.add_stream(desc);
                self.warm_first_blob(ino);
                Ok(ino)
            }
            Err(e) => {
                self.record(format!("stream {sd}: invalid descriptor: {e}"));
                Err(FsError::NotFound)
            }
        }
    }

    pub async fn getattr(&self, ino: u64) -> Result<Attr, FsError> {
        if name_table::is_name_ino(ino) {
            return self.getattr_name(ino).await;
        }
        if trees::is_tree_ino(ino) {
            return self.getattr_tree(ino);
        }
        if sources::is_source_ino(ino) {
            return self.getattr_source(ino);
        }
        let node = self.table.node(ino).ok_or(FsError::NotFound)?;
        let (kind, size) = match &node {
            Node::Root | Node::Dir(_) => (Kind::Dir, 0),
            Node::File(s) => match s.known_size() {
                Some(n) => (Kind::File, n),
                None => (Kind::File, self.file_size(s).await?),
            },
        };
        Ok(self.attr(ino, kind, size))
    }

    /// What `stat` shows of inode `ino`.
    fn attr(&self, ino: u64, kind: Kind, size: u64) -> Attr {
        Attr {
            ino,
            kind,
            size,
            perm: match kind {
                Kind::Dir => 0o555,
                Kind::File => 0o444,
                Kind::Symlink => 0o777,
            },
            nlink: if kind == Kind::Dir { 2 } else { 1 },
            mtime: self.mounted_at,
        }
    }

    async fn file_size(&self, s: &Arc<Stream>) -> Result<u64, FsError> {
        match self.bounded("finding the file size", s.size()).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(self.io_error(s.sd(), "finding the size", crate::error_chain(&e))),
            Err(e) => Err(self.io_error(s.sd(), "finding the size", e)),
        }
    }

    /// A directory's entries after cookie `after` (0: from the start), in
    /// cookie order. The root lists streams in the order they became known
    /// (hidden ones left out), then other networks' contents, then what
    /// was reached by name.
    pub async fn readdir(&self, ino: u64, after: u64) -> Result<Vec<DirEntry>, FsError> {
        if name_table::is_name_ino(ino) {
            return self.readdir_name(ino, after).await;
        }
        if trees::is_tree_ino(ino) {
            return self.readdir_tree(ino, after);
        }
        if sources::is_source_ino(ino) {
            return self.readdir_source(ino, after);
        }
        let all = match self.table.node(ino).ok_or(FsError::NotFound)? {
            Node::Root => {
                let streams = self.table.listed().into_iter();
                let streams = streams.map(|(ino, s)| DirEntry {
                    ino,
                    kind: Kind::Dir,
                    name: s.sd().to_string(),
                    cookie: table::cookie(ino),
                });
                let sources = self.root_sources().into_iter();
                streams.chain(sources).chain(self.root_names()).collect()
            }
            Node::Dir(s) if let Some(tree) = self.tree_of(ino, &s).await? => {
                return self.tree_readdir(&tree, 0, after);
            }
            Node::Dir(s) => vec![DirEntry {
                ino: table::file_ino(ino),
                kind: Kind::File,
                name: s.descriptor().file_name(),
                cookie: 1,
            }],
            Node::File(_) => return Err(FsError::NotDir),
        };
        Ok(all.into_iter().filter(|e| e.cookie > after).collect())
    }

    /// Runs `fut` within the read timeout.
    async fn bounded<T>(&self, what: &str, fut: impl Future<Output = T>) -> Result<T, String> {
        let t = self.cfg.read_timeout;
        tokio::time::timeout(t, fut)
            .await
            .map_err(|_| format!("{what} timed out after {} s", t.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests_names;
