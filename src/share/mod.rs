//! The share folder: files put into it are published as LBRY streams.
//!
//! The mount is read-only; this folder is the write path. A file copied in
//! is published once it has stopped changing (so `cp` of a large file never
//! publishes half of it), a modified file is published again and its old
//! stream dropped, a deleted file's stream is dropped. Files are known by
//! their content: `touch`, a restore or a rename keeps a file's sd hash. A
//! missing folder or another `--share` unpublishes nothing (see `folder`). Subfolders are
//! shared too; hidden and temporary names (`.x`, `x.part`, `x~`) and
//! symbolic links are not (see [`scan`]).
//!
//! The parts:
//! - [`state`]: the decisions, a pure state machine fed scans and `now`;
//! - [`scan`]: walking and stat-ing the folder (blocking);
//! - [`manifest`]: `share.json`, so a restart keeps every file's sd hash;
//! - `folder`: which manifest entries are this folder's, and waiting for a
//!   missing folder;
//! - `collections`: each folder directly inside the share folder published
//!   as a collection (docs/protocol.md §12), the previous one kept whole;
//! - `driver`: the async task that learns about changes (inotify through
//!   `notify`, see `watcher`, with a periodic full rescan as safety net, or
//!   rescans alone when inotify cannot run) and runs publishes one at a time
//!   on a blocking thread (`job`).
//!
//! The node's side is [`SharePublisher`], defined here because this module
//! is its consumer: chunking, storing and announcing are the node's business.

mod collections;
mod driver;
pub mod excluded;
mod folder;
mod job;
pub mod manifest;
pub mod scan;
pub mod state;
mod watcher;

#[cfg(test)]
mod tests;

use crate::hash::SdHash;
use driver::{Setup, Status};
use manifest::ManifestError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a file must stay unchanged before it is published.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_secs(2);
/// How often the whole folder is scanned although inotify reports changes.
pub const DEFAULT_RESCAN: Duration = Duration::from_secs(60);
/// How often it is scanned when inotify cannot be used (or `rescan`, if shorter).
pub const FALLBACK_RESCAN: Duration = Duration::from_secs(5);

/// What the share folder needs from the node (the consumer owns the seam).
pub trait SharePublisher: Send + Sync + 'static {
    /// Publishes the file at `path` (blocking: chunk, encrypt, store pinned, announce); returns its sd hash.
    fn publish(&self, path: &Path) -> Result<SdHash, String>;
    /// Stops sharing a stream published earlier: unpin it and stop announcing it (blocking).
    fn unpublish(&self, sd: &SdHash);
    /// Whether the stream's sd blob is still held pinned (false: publish again).
    fn is_published(&self, sd: &SdHash) -> bool;
    /// Publishes a folder's collection document `bytes` as stream `name`
    /// (blocking), under a key derived from the bytes
    /// ([`crate::collection::stream_key`]) so one tree gets one sd hash.
    fn publish_collection(&self, name: &str, bytes: &[u8]) -> Result<SdHash, String>;
}

/// Where the share folder is and how it is watched.
#[derive(Debug, Clone)]
pub struct ShareConfig {
    /// The share folder (created by [`start`] if missing and without
    /// manifest entries; waited for if missing with some).
    pub dir: PathBuf,
    /// The manifest, e.g. `<data-dir>/share.json`.
    pub manifest: PathBuf,
    /// A file must keep its size, mtime and inode this long before it is published.
    pub debounce: Duration,
    /// Period of the full rescan. Also how long a file whose publish failed
    /// waits before it is tried again (a change retries it sooner).
    pub rescan: Duration,
}

impl ShareConfig {
    /// A configuration with the default timings.
    pub fn new(dir: impl Into<PathBuf>, manifest: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            manifest: manifest.into(),
            debounce: DEFAULT_DEBOUNCE,
            rescan: DEFAULT_RESCAN,
        }
    }
}

/// How the share folder learns about changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// inotify (recursive) plus the periodic rescan; if inotify cannot run
    /// (its watch limit is reached), rescans every [`FALLBACK_RESCAN`] instead.
    Notify,
    /// Full rescans at this period and no watcher: for file systems inotify
    /// does not see changes on (network shares), and for tests. No flag asks
    /// for it yet, so only the tests build it.
    #[cfg_attr(not(test), allow(dead_code))]
    Poll(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("cannot create share folder {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("share folder {0} is not a folder")]
    NotAFolder(PathBuf),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("the share folder watcher must be started inside a tokio runtime")]
    NoRuntime,
}

/// Starts watching; must run inside a tokio runtime. Performs an initial scan
/// at once (a missing folder with manifest entries: once it is back).
pub fn start(
    cfg: ShareConfig,
    publisher: Arc<dyn SharePublisher>,
) -> Result<ShareHandle, ShareError> {
    start_with(cfg, publisher, Watch::Notify)
}

/// [`start`] with a chosen way of watching.
pub fn start_with(
    cfg: ShareConfig,
    publisher: Arc<dyn SharePublisher>,
    watch: Watch,
) -> Result<ShareHandle, ShareError> {
    let setup = match watch {
        Watch::Notify => Setup::Notify,
        Watch::Poll(every) => Setup::Poll(every),
    };
    start_inner(cfg, publisher, setup)
}

fn start_inner(
    cfg: ShareConfig,
    publisher: Arc<dyn SharePublisher>,
    setup: Setup,
) -> Result<ShareHandle, ShareError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(ShareError::NoRuntime);
    }
    let manifest = match manifest::load(&cfg.manifest) {
        Ok(m) => m,
        Err(e) if e.is_corrupt() => {
            let aside = manifest::set_aside(&cfg.manifest);
            tracing::error!(
                error = %driver::chain(&e),
                kept_as = ?aside,
                "the share manifest cannot be used: every shared file is published anew, \
                 under new sd hashes"
            );
            manifest::Manifest::default()
        }
        Err(e) => return Err(e.into()),
    };
    // Absolute and without links, so watcher events map to relative paths.
    let presence = folder::open(&cfg.dir, &manifest)?;
    let dir = presence.dir().to_path_buf();

    let status = Arc::new(Status::default());
    if let Setup::Poll(_) = setup {
        status
            .polling
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    if let folder::Presence::Missing(dir) = &presence {
        driver::mark_missing(&status, &manifest, dir);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let span = tracing::info_span!("share", dir = %dir.display());
    let params_dir = dir.clone();
    let params = driver::Params {
        manifest: cfg.manifest,
        contents: manifest,
        presence,
        debounce: cfg.debounce,
        rescan: cfg.rescan,
        setup,
        publisher,
        status: status.clone(),
    };
    let task = crate::task::spawn("share-watcher", span, driver::run(params, stopped));
    Ok(ShareHandle {
        dir: params_dir,
        status,
        stop,
        task: Mutex::new(Some(task)),
    })
}

/// A running share folder. Dropping it stops the watcher.
pub struct ShareHandle {
    dir: PathBuf,
    status: Arc<Status>,
    stop: tokio::sync::watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl ShareHandle {
    /// The files currently shared: (path relative to the share dir, sd hash), sorted by path.
    ///
    /// A modified file keeps its old stream here until the new one is published.
    pub fn shared(&self) -> Vec<(PathBuf, SdHash)> {
        self.status
            .shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The share folder (absolute).
    pub fn dir(&self) -> PathBuf {
        self.dir.clone()
    }

    /// Why sharing is paused (the folder is missing or unreadable), if it is:
    /// its files stay published as they were, and nothing is unpublished.
    pub fn paused(&self) -> Option<String> {
        self.status
            .paused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Other share folders whose files stay published, unwatched, with how many.
    pub fn kept_elsewhere(&self) -> Vec<(PathBuf, usize)> {
        self.status
            .others
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Keeps the files shared as `sd` from being published again while they
    /// are unchanged (the caller unpublishes the stream). Waits until that
    /// is saved, or up to 10 s if the folder is not being watched (paused):
    /// then the files may be published again once it is.
    pub async fn exclude(&self, sd: &SdHash) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        lock_status(&self.status.exclude).push((*sd, tx));
        self.status.wake.notify_one();
        if tokio::time::timeout(std::time::Duration::from_secs(10), rx)
            .await
            .is_err()
        {
            tracing::warn!(sd = %sd.short(), "the share folder is not watched now; its file may be published again");
        }
    }

    /// Whether changes are found by rescans alone (forced, or inotify could not run).
    #[cfg(test)]
    pub fn is_polling(&self) -> bool {
        self.status
            .polling
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops the watcher task (idempotent); also on Drop.
    ///
    /// A publish already running cannot be interrupted: it finishes on its
    /// blocking thread and its stream is then unpublished, since no manifest
    /// records it any more.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until the watcher task has ended (after [`shutdown`](Self::shutdown)).
    pub async fn stopped(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            // The task logs how it ended; a panic there is already reported.
            let _ = task.await;
        }
    }
}

impl Drop for ShareHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock_status<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
