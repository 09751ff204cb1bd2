//! Sharing paused: the share folder is missing at start (waited for, its
//! manifest entries kept published), or cannot be seen by a scan while the
//! node runs (see `folder::Root`); and the other folders whose entries stay
//! published, unwatched. The log says it loudly and `status` shows it.

use super::{lock, Driver, Params, Setup, Status};
use crate::share::folder::{self, Presence};
use crate::share::manifest::Manifest;
use crate::share::{watcher, FALLBACK_RESCAN};
use std::path::{Path, PathBuf};
use tokio::sync::watch;

/// The share folder once it is there: at once, or (missing, with manifest
/// entries) when it is back, its files kept published meanwhile; `None` if
/// stopped first.
pub(in crate::share) async fn present(
    p: &Params,
    stop: &mut watch::Receiver<bool>,
) -> Option<PathBuf> {
    let dir = match &p.presence {
        Presence::Here(dir) => return Some(dir.clone()),
        Presence::Missing(dir) => dir.clone(),
    };
    let every = match p.setup {
        Setup::Poll(every) => every.min(FALLBACK_RESCAN),
        _ => p.rescan.min(FALLBACK_RESCAN),
    };
    let back = folder::wait_for(&dir, every, stop).await?;
    tracing::info!("share folder {} is back; sharing resumes", back.display());
    *lock(&p.status.paused) = None;
    Some(back)
}

/// Marks sharing paused because the folder `dir` is missing (its manifest
/// entries stay published), in the log and the status.
pub(in crate::share) fn mark_missing(status: &Status, contents: &Manifest, dir: &Path) {
    let own = contents.get(dir).map(<[_]>::to_vec).unwrap_or_default();
    let why = format!(
        "share folder {} is missing: its {} files stay published as they were, and sharing resumes when it is back",
        dir.display(),
        own.len()
    );
    tracing::warn!("{why} (it is not created: a disk may be unmounted, or the path mistyped)");
    *lock(&status.paused) = Some(why);
    *lock(&status.shared) = own.iter().map(|r| (r.path.clone(), r.sd)).collect();
    report_others(&contents.with(dir, None, Vec::new()), status);
}

/// Says which other folders' files stay published, unwatched.
pub(in crate::share) fn report_others(others: &Manifest, status: &Status) {
    let list = folder::others(others);
    for (dir, files) in &list {
        let dir = if dir.as_os_str().is_empty() {
            "(not named: a version 1 manifest)".to_string()
        } else {
            dir.display().to_string()
        };
        tracing::warn!(
            "{files} files of another share folder {dir} stay published, not watched, while this node shares this one"
        );
    }
    *lock(&status.others) = list;
}

impl Driver {
    /// Says when the folder root became unseeable (sharing paused) or came
    /// back (resumed; inotify, whose watches died with it, restarted).
    pub(in crate::share) async fn root_changed(&mut self, blind: Option<folder::Blind>) {
        if blind == self.blind {
            return;
        }
        self.blind = blind;
        let Some(why) = blind else {
            tracing::info!(
                "share folder {} is back; sharing resumes",
                self.dir.display()
            );
            *lock(&self.status.paused) = None;
            self.restart_watcher().await;
            return;
        };
        let cause = match why {
            folder::Blind::Unreadable => "cannot be read (removed, or its disk unmounted?)",
            folder::Blind::OtherDevice => {
                "is empty and on another file system than before (its disk unmounted?)"
            }
        };
        let why = format!(
            "share folder {} {cause}: its {} files stay published as they were, and sharing resumes when it is back",
            self.dir.display(),
            self.state.shared().len()
        );
        tracing::warn!("{why}");
        *lock(&self.status.paused) = Some(why);
    }

    pub(in crate::share) async fn restart_watcher(&mut self) {
        let Some(tx) = self.events.clone() else {
            return;
        };
        self.watcher = None;
        let dir = self.dir.clone();
        match crate::blocking::run(move || watcher::start(&dir, tx)).await {
            Ok(Ok(w)) => self.watcher = Some(w),
            Ok(Err(e)) => self.fall_back(&e),
            Err(_) => self.fall_back(&notify::Error::generic("starting the watcher panicked")),
        }
    }
}
